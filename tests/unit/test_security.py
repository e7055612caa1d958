"""Encryption with a customer-managed key, failed-execution capture, redrive, compliance packs."""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam

from constructs_lib import NotificationWorkflow
from tests.support.asl import resources_of_type


@pytest.fixture(scope="module")
def template(synthesized: Any) -> dict[str, Any]:
    return synthesized.template()


def _key(template: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    [(logical_id, key)] = [(k, r) for k, r in resources_of_type(template, "AWS::KMS::Key").items()
                           if k.startswith("WorkflowEncryptionKey")]
    return logical_id, key


def _one(template: dict[str, Any], cfn_type: str, prefix: str) -> tuple[str, dict[str, Any]]:
    [(logical_id, resource)] = [(k, r) for k, r in resources_of_type(template, cfn_type).items()
                                if k.startswith(prefix)]
    return logical_id, resource


def test_one_customer_managed_key_with_rotation_is_retained(template: dict[str, Any]) -> None:
    _, key = _key(template)
    assert key["Properties"]["EnableKeyRotation"] is True
    assert key["DeletionPolicy"] == "Retain"


def test_table_log_group_topic_queue_and_state_machine_use_the_key(template: dict[str, Any]) -> None:
    key_id, _ = _key(template)
    arn = {"Fn::GetAtt": [key_id, "Arn"]}
    [table] = resources_of_type(template, "AWS::DynamoDB::Table").values()
    assert table["Properties"]["SSESpecification"] == {"KMSMasterKeyId": arn, "SSEEnabled": True, "SSEType": "KMS"}
    assert _one(template, "AWS::Logs::LogGroup", "WorkflowExecutionLogs")[1]["Properties"]["KmsKeyId"] == arn
    assert _one(template, "AWS::SNS::Topic", "MonitoringAlarmTopic")[1]["Properties"]["KmsMasterKeyId"] == arn
    assert _one(template, "AWS::SQS::Queue", "WorkflowFailedExecutions")[1]["Properties"]["KmsMasterKeyId"] == arn
    # every log group and topic of the stack uses a customer-managed key; every queue is encrypted
    for cfn_type, prop in (("AWS::Logs::LogGroup", "KmsKeyId"), ("AWS::SNS::Topic", "KmsMasterKeyId")):
        assert all(prop in r["Properties"] for r in resources_of_type(template, cfn_type).values()), cfn_type
    assert all({"KmsMasterKeyId", "SqsManagedSseEnabled"} & set(r["Properties"])
               for r in resources_of_type(template, "AWS::SQS::Queue").values())
    [machine] = resources_of_type(template, "AWS::StepFunctions::StateMachine").values()
    assert machine["Properties"]["EncryptionConfiguration"] == {
        "KmsKeyId": arn, "KmsDataKeyReusePeriodSeconds": 300, "Type": "CUSTOMER_MANAGED_KMS_KEY"}


def test_key_policy_lets_logs_use_the_key_only_for_the_execution_log_group(template: dict[str, Any]) -> None:
    _, key = _key(template)
    statements = key["Properties"]["KeyPolicy"]["Statement"]
    [logs] = [s for s in statements if "/aws/vendedlogs/states/" in json.dumps(s.get("Condition", {}))]
    assert "logs." in json.dumps(logs["Principal"])
    condition = json.dumps(logs["Condition"]["ArnEquals"]["kms:EncryptionContext:aws:logs:arn"])
    assert "log-group:/aws/vendedlogs/states/" in condition
    assert "kms:Decrypt*" in logs["Action"] and "kms:CreateGrant" not in logs["Action"]
    [cloudwatch] = [s for s in statements if "cloudwatch.amazonaws.com" in json.dumps(s.get("Principal", {}))]
    assert sorted(cloudwatch["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey*"]


def test_failed_timed_out_and_aborted_executions_go_to_the_queue(template: dict[str, Any]) -> None:
    _, rule = _one(template, "AWS::Events::Rule", "WorkflowFailedExecutionsRule")
    pattern = rule["Properties"]["EventPattern"]
    assert pattern["source"] == ["aws.states"]
    assert pattern["detail-type"] == ["Step Functions Execution Status Change"]
    assert pattern["detail"]["status"] == ["FAILED", "TIMED_OUT", "ABORTED"]
    [machine_id] = resources_of_type(template, "AWS::StepFunctions::StateMachine")
    assert pattern["detail"]["stateMachineArn"] == [{"Ref": machine_id}]
    queue_id, queue = _one(template, "AWS::SQS::Queue", "WorkflowFailedExecutions")
    assert rule["Properties"]["Targets"][0]["Arn"] == {"Fn::GetAtt": [queue_id, "Arn"]}
    assert queue["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600
    policies = json.dumps(_one(template, "AWS::SQS::QueuePolicy", "WorkflowFailedExecutions")[1])
    assert '"aws:SecureTransport": "false"' in policies and "events.amazonaws.com" in policies


def test_a_non_empty_failed_execution_queue_raises_an_alarm(template: dict[str, Any]) -> None:
    queue_id, _ = _one(template, "AWS::SQS::Queue", "WorkflowFailedExecutions")
    alarms = [a["Properties"] for a in resources_of_type(template, "AWS::CloudWatch::Alarm").values()
              if a["Properties"].get("MetricName") == "ApproximateNumberOfMessagesVisible"
              and a["Properties"]["Dimensions"][0]["Value"] == {"Fn::GetAtt": [queue_id, "QueueName"]}]
    assert len(alarms) == 1
    assert alarms[0]["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue_id, "QueueName"]}}]
    assert alarms[0]["Threshold"] == 1 and alarms[0]["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"


def test_grant_redrive_scopes_redrive_to_this_state_machines_executions() -> None:
    stack = cdk.Stack(cdk.App(), "Redrive")
    workflow = NotificationWorkflow(stack, "Workflow", sender="n@example.com", email_identities=["example.com"])
    operator = iam.Role(stack, "Operator", assumed_by=iam.AccountRootPrincipal())
    workflow.grant_redrive(operator)
    policies = [r for r in stack.resolve(stack.node.find_child("Operator").node.find_child("DefaultPolicy")
                                         .node.default_child.policy_document)["Statement"]]
    [redrive] = [p for p in policies if "states:RedriveExecution" in p["Action"]]
    assert ":execution:" in json.dumps(redrive["Resource"])
    assert any("sqs:ReceiveMessage" in p["Action"] for p in policies)
