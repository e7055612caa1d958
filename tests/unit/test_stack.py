"""The stack's resources: IAM, logging, the delivery-log table, alarms, outputs, cdk-nag."""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Match, Template
from cdk_nag import AwsSolutionsChecks

from constructs_lib import NotificationWorkflow
from tests.support.asl import definition, resources_of_type


@pytest.fixture(scope="module")
def template(synthesized: Any) -> dict[str, Any]:
    return synthesized.template()


@pytest.fixture(scope="module")
def assertions(template: dict[str, Any]) -> Template:
    return Template.from_json(template)


def _statements(template: dict[str, Any], prefix: str = "WorkflowStateMachineRole") -> list[dict[str, Any]]:
    """The statements of the state machine role's policies (the API and feedback roles are
    checked in their own tests)."""
    return [
        s for k, p in resources_of_type(template, "AWS::IAM::Policy").items() if k.startswith(prefix)
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]


def _actions(statement: dict[str, Any]) -> list[str]:
    actions = statement["Action"]
    return [actions] if isinstance(actions, str) else list(actions)


def test_iam_uses_ses_actions_and_no_sesv2_prefix(template: dict[str, Any]) -> None:
    actions = [a for s in _statements(template) for a in _actions(s)]
    assert "ses:SendEmail" in actions
    assert not [a for a in actions if a.startswith("sesv2:")]


def test_ses_send_is_scoped_to_the_identity_and_the_configuration_set(template: dict[str, Any]) -> None:
    [ses] = [s for s in _statements(template) if "ses:SendEmail" in _actions(s)]
    [set_id] = resources_of_type(template, "AWS::SES::ConfigurationSet")
    ends = sorted(json.dumps(r["Fn::Join"][1][-2:]) for r in ses["Resource"])
    # The domain, and each sender's own identity (SES authorizes on the address once it is verified).
    identities = ["example.com", "notifications@example.com", "alerts@example.com"]
    assert ends == sorted([json.dumps([":configuration-set/", {"Ref": set_id}]),
                           *(json.dumps([{"Ref": "AWS::AccountId"}, f":identity/{i}"]) for i in identities)])
    # IAM enforces the sender allowlist as well as the workflow's contract.
    assert ses["Condition"] == {"StringLike": {"ses:FromAddress": ["notifications@example.com", "alerts@example.com"]}}


def test_the_only_wildcard_statements_hold_the_acknowledged_actions(template: dict[str, Any]) -> None:
    wildcards = [s for s in _statements(template) if s["Resource"] == "*"]
    actions = {a for s in wildcards for a in _actions(s)}
    assert "sns:Publish" in actions
    assert {a.split(":")[0] for a in actions} == {"sns", "logs", "xray"}
    assert not [a for s in _statements(template) for a in _actions(s) if a.endswith(":*") or a == "*"]


def test_dynamodb_access_is_put_and_update_item_on_the_delivery_log_only(template: dict[str, Any]) -> None:
    dynamo = [s for s in _statements(template) if any(a.startswith("dynamodb:") for a in _actions(s))]
    assert sorted(a for s in dynamo for a in _actions(s)) == ["dynamodb:PutItem", "dynamodb:UpdateItem"]
    table = next(iter(resources_of_type(template, "AWS::DynamoDB::Table")))
    assert all(s["Resource"] == {"Fn::GetAtt": [table, "Arn"]} for s in dynamo)


def test_state_machine_logs_everything_but_execution_data_and_traces(assertions: Template) -> None:
    assertions.has_resource_properties("AWS::StepFunctions::StateMachine", {
        "StateMachineType": "STANDARD",
        "TracingConfiguration": {"Enabled": True},
        "LoggingConfiguration": {"Level": "ALL", "IncludeExecutionData": False,
                                 "Destinations": [Match.any_value()]},
    })


def test_state_machine_has_a_timeout(template: dict[str, Any]) -> None:
    assert definition(template)["TimeoutSeconds"] == 300


def test_log_group_is_vended_with_explicit_retention(template: dict[str, Any]) -> None:
    [group] = [g for k, g in resources_of_type(template, "AWS::Logs::LogGroup").items()
               if k.startswith("WorkflowExecutionLogs")]
    assert group["Properties"]["LogGroupName"].startswith("/aws/vendedlogs/states/")
    assert group["Properties"]["RetentionInDays"] == 30
    assert group["DeletionPolicy"] == "Retain"


def test_delivery_log_table_is_secure_and_retained(template: dict[str, Any]) -> None:
    [table] = resources_of_type(template, "AWS::DynamoDB::Table").values()
    props = table["Properties"]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["KeySchema"] == [{"AttributeName": "notificationId", "KeyType": "HASH"}]
    assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert props["SSESpecification"]["SSEEnabled"] is True
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expiresAt", "Enabled": True}
    assert table["DeletionPolicy"] == "Retain" and table["UpdateReplacePolicy"] == "Retain"


@pytest.mark.parametrize("metric", ["ExecutionsFailed", "ExecutionsTimedOut", "ExecutionThrottled",
                                    "ExecutionsAborted"])
def test_execution_alarms_notify_the_alarm_topic(template: dict[str, Any], metric: str) -> None:
    alarms = [a["Properties"] for a in resources_of_type(template, "AWS::CloudWatch::Alarm").values()
              if a["Properties"].get("MetricName") == metric]
    assert len(alarms) == 1
    [topic] = [k for k in resources_of_type(template, "AWS::SNS::Topic") if k.startswith("MonitoringAlarmTopic")]
    assert alarms[0]["AlarmActions"] == [{"Ref": topic}]
    assert alarms[0]["Namespace"] == "AWS/States"
    assert alarms[0]["Threshold"] == 1


def _partition_arn(rest: str) -> dict[str, Any]:
    return {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, rest]]}


def test_per_channel_alarms_watch_each_integration(template: dict[str, Any]) -> None:
    """Partition-aware: the integration ARNs hold the stack's partition (aws-cn, aws-us-gov too)."""
    dims = sorted(
        (d["Value"]
         for a in resources_of_type(template, "AWS::CloudWatch::Alarm").values()
         if a["Properties"].get("MetricName") == "ServiceIntegrationsFailed"
         for d in a["Properties"]["Dimensions"]),
        key=json.dumps,
    )
    assert dims == [_partition_arn(":states:::aws-sdk:sesv2:sendEmail"), _partition_arn(":states:::sns:publish")]


def test_no_arn_is_written_for_the_aws_partition_alone(template: dict[str, Any]) -> None:
    assert "arn:aws:" not in json.dumps(template)


def test_outputs_name_what_a_caller_needs(template: dict[str, Any]) -> None:
    assert set(template["Outputs"]) >= {"StateMachineArn", "DeliveryLogTableName", "AlarmTopicArn",
                                        "ExecutionLogGroupName", "FailedExecutionsQueueUrl", "ApiUrl",
                                        "SmsDeliveryStatusRoleArn", "FeedbackDeadLetterQueueUrl"}


# The stack's own gate (all three packs ran, nothing unacknowledged) is tested in test_nag_gate.py:
# an empty validation report alone cannot tell whether the packs ran.


def test_cdk_nag_gate_fails_on_a_finding_nobody_acknowledged(tmp_path: Any) -> None:
    """The gate can fail: beside the workflow (which acknowledges its own findings), a bare
    bucket stops the synth."""
    app = cdk.App(outdir=str(tmp_path))
    stack = cdk.Stack(app, "Probe")
    NotificationWorkflow(stack, "Workflow", sender="n@example.com", email_identities=["example.com"])
    s3.CfnBucket(stack, "Plain")
    cdk.Validations.of(stack).add_plugins(AwsSolutionsChecks(stack))
    with pytest.raises(RuntimeError, match=r"ValidationFailed(.|\n)*AwsSolutions-S1") as raised:
        app.synth()
    assert "AwsSolutions-IAM5" not in str(raised.value)


def _service_statements(template: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(service principal, statement) of every KMS key policy statement for an AWS service."""
    found = []
    for key in resources_of_type(template, "AWS::KMS::Key").values():
        for statement in key["Properties"]["KeyPolicy"]["Statement"]:
            service = statement.get("Principal", {}).get("Service")
            if service:
                found.append((json.dumps(service), statement))
    return found


def test_every_service_may_use_a_key_only_for_this_account_and_its_own_resources(template: dict[str, Any]) -> None:
    """The security review's key-policy finding: each service principal is tied to its source
    (aws:SourceAccount and aws:SourceArn), or, for CloudWatch Logs, to the log groups' encryption
    context (what the Logs key policy documentation gives)."""
    statements = _service_statements(template)
    assert {service for service, _ in statements} >= {'"events.amazonaws.com"', '"delivery.logs.amazonaws.com"',
                                                      '"cloudwatch.amazonaws.com"', '"ses.amazonaws.com"'}
    for service, statement in statements:
        conditions = {key for operator in statement.get("Condition", {}).values() for key in operator}
        if "logs." in service and "delivery" not in service:
            assert conditions == {"kms:EncryptionContext:aws:logs:arn"}, statement
        else:
            assert {"aws:SourceAccount", "aws:SourceArn"} <= conditions, statement


def test_eventbridge_may_use_the_workflow_key_only_from_its_rule_and_only_to_send(template: dict[str, Any]) -> None:
    [(_, statement)] = [(s, st) for s, st in _service_statements(template) if s == '"events.amazonaws.com"']
    assert sorted(statement["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey"]
    rule_arn = json.dumps(statement["Condition"]["ArnLike"]["aws:SourceArn"])
    [rule] = [k for k in resources_of_type(template, "AWS::Events::Rule") if k.startswith("WorkflowFailedExecutions")]
    assert f"*{rule}*" in rule_arn
