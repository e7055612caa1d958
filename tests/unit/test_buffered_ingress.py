"""BufferedIngress (issue 13 part 1): the encrypted queue, its dead-letter queue, the pipe to the
workflow and its role, the alarms, how the workflow reads the pipe's batch, and cdk-nag."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk.assertions import Template

from constructs_lib import BufferedIngress, NotificationService, NotificationWorkflow, PropError
from constructs_lib.contract import QUEUED_REQUEST
from tests.support.asl import evaluate_field, resources_of_type
from tests.support.nag import REPORT_WITHOUT_FAILING, add_all_packs, add_nag_canary, beyond_the_canary

SENDER = "n@example.com"
IDENTITIES = ["example.com"]


def _service_template(**props: Any) -> tuple[NotificationService, dict[str, Any]]:
    stack = cdk.Stack(cdk.App(analytics_reporting=False), "Buffered",
                      synthesizer=cdk.DefaultStackSynthesizer(generate_bootstrap_version_rule=False))
    service = NotificationService(stack, "Default", sender=SENDER, email_identities=IDENTITIES,
                                  buffered_ingress=True, **props)
    return service, Template.from_stack(stack).to_json()


@pytest.fixture(scope="module")
def buffered() -> tuple[NotificationService, dict[str, Any]]:
    return _service_template()


def _one(template: dict[str, Any], cfn_type: str) -> tuple[str, dict[str, Any]]:
    [(logical_id, resource)] = resources_of_type(template, cfn_type).items()
    return logical_id, resource


def test_the_pipe_starts_the_express_workflow_one_message_at_a_time(buffered: Any) -> None:
    service, template = buffered
    _, pipe = _one(template, "AWS::Pipes::Pipe")
    [machine_id] = resources_of_type(template, "AWS::StepFunctions::StateMachine")
    queue_id = cdk.Stack.of(service).get_logical_id(service.buffered_ingress.queue.node.default_child)

    props = pipe["Properties"]
    assert props["Source"] == {"Fn::GetAtt": [queue_id, "Arn"]}
    assert props["SourceParameters"] == {"SqsQueueParameters": {"BatchSize": 1}}
    assert props["Target"] == {"Ref": machine_id}
    assert props["TargetParameters"] == {
        "InputTemplate": '{"request": <$.body>, "messageId": "<$.messageId>"}',
        "StepFunctionStateMachineParameters": {"InvocationType": "FIRE_AND_FORGET"}}
    machine = template["Resources"][machine_id]["Properties"]
    assert machine["StateMachineType"] == "EXPRESS"  # the buffered path's default
    assert service.workflow.queued_input


def test_both_queues_are_encrypted_with_the_workflow_key_and_the_queue_has_a_dead_letter_queue(buffered: Any) -> None:
    service, template = buffered
    key_id = cdk.Stack.of(service).get_logical_id(service.workflow.encryption_key.node.default_child)
    queues = resources_of_type(template, "AWS::SQS::Queue")
    ingress = {cdk.Stack.of(service).get_logical_id(q.node.default_child): q for q in
               (service.buffered_ingress.queue, service.buffered_ingress.dead_letter_queue)}
    for logical_id in ingress:
        assert queues[logical_id]["Properties"]["KmsMasterKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    queue_id, dlq_id = ingress
    assert queues[queue_id]["Properties"]["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": [dlq_id, "Arn"]}, "maxReceiveCount": 5}
    # TLS only, on both.
    policies = [p["Properties"] for p in resources_of_type(template, "AWS::SQS::QueuePolicy").values()]
    tls_only = [p for p in policies if any(s["Effect"] == "Deny" and s["Condition"] == {
        "Bool": {"aws:SecureTransport": "false"}} for s in p["PolicyDocument"]["Statement"])]
    assert set(ingress) <= {q["Ref"] for p in tls_only for q in p["Queues"]}


def test_the_pipe_role_may_only_read_the_queue_and_start_the_workflow(buffered: Any) -> None:
    service, template = buffered
    role = service.buffered_ingress.pipe_role
    role_id = cdk.Stack.of(service).get_logical_id(role.node.default_child)
    trust = template["Resources"][role_id]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert [s["Principal"] for s in trust] == [{"Service": "pipes.amazonaws.com"}]
    assert trust[0]["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    assert "pipe/*" in json.dumps(trust[0]["Condition"]["ArnLike"])

    statements = [s for p in resources_of_type(template, "AWS::IAM::Policy").values()
                  if {"Ref": role_id} in p["Properties"]["Roles"]
                  for s in p["Properties"]["PolicyDocument"]["Statement"]]
    actions = sorted(a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"]))
    assert actions == sorted(["sqs:ReceiveMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueUrl",
                              "sqs:DeleteMessage", "sqs:GetQueueAttributes", "kms:Decrypt",
                              "states:StartExecution", "kms:GenerateDataKey"])
    assert all(s["Effect"] == "Allow" and s["Resource"] != "*" for s in statements)


def test_the_alarms_notify_the_monitoring_topic(buffered: Any) -> None:
    service, template = buffered
    topic_id = cdk.Stack.of(service).get_logical_id(service.monitoring.alarm_topic.node.default_child)
    alarms = resources_of_type(template, "AWS::CloudWatch::Alarm")
    ingress = service.buffered_ingress
    backlog = alarms[cdk.Stack.of(service).get_logical_id(ingress.backlog_alarm.node.default_child)]["Properties"]
    dead = alarms[cdk.Stack.of(service).get_logical_id(ingress.dead_letter_alarm.node.default_child)]["Properties"]
    assert (backlog["MetricName"], backlog["Threshold"], backlog["EvaluationPeriods"]) == (
        "ApproximateAgeOfOldestMessage", 300, 3)
    assert (dead["MetricName"], dead["Threshold"]) == ("ApproximateNumberOfMessagesVisible", 0)
    assert backlog["AlarmActions"] == dead["AlarmActions"] == [{"Ref": topic_id}]
    assert ingress.unacknowledged_findings == []


def test_the_first_state_reads_the_pipes_batch_of_one() -> None:
    request = {"channel": "sms", "message": "hi", "phoneNumber": "+15555550100"}
    assert evaluate_field(QUEUED_REQUEST, [{"request": request, "messageId": "m-1"}]) == {
        "notificationId": "m-1", **request}
    # The request's own id wins over the message id.
    assert evaluate_field(QUEUED_REQUEST, [{"request": {**request, "notificationId": "own"}, "messageId": "m-1"}])[
        "notificationId"] == "own"
    # A body that is not an object becomes a request the contract rejects, keyed by the message id.
    assert evaluate_field(QUEUED_REQUEST, [{"request": "not json", "messageId": "m-2"}]) == {
        "notificationId": "m-2", "queued": "not json"}
    # A request started directly (not by the pipe) is read as it is.
    assert evaluate_field(QUEUED_REQUEST, request) == request


def test_the_workflow_without_queued_input_has_no_extra_state() -> None:
    stack = cdk.Stack(cdk.App(), "Plain")
    NotificationWorkflow(stack, "Workflow", sender=SENDER, email_identities=IDENTITIES)
    assert "ReadQueuedRequest" not in json.dumps(Template.from_stack(stack).to_json())


@pytest.mark.parametrize(("build", "prop"), [
    (lambda stack: BufferedIngress(stack, "Ingress", workflow=NotificationWorkflow(
        stack, "Workflow", sender=SENDER, email_identities=IDENTITIES)), "workflow"),
    (lambda stack: BufferedIngress(stack, "Ingress", workflow=NotificationWorkflow(
        stack, "Workflow", sender=SENDER, email_identities=IDENTITIES, queued_input=True), max_receive_count=0),
     "max_receive_count"),
    (lambda stack: NotificationService(stack, "Service", sender=SENDER, email_identities=IDENTITIES,
                                       workflow_options={"queued_input": True}), "workflow_options['queued_input']"),
])
def test_fails_when_a_prop_is_unusable(build: Any, prop: str) -> None:
    with pytest.raises(PropError) as raised:
        build(cdk.Stack(cdk.App(), "Bad"))
    assert raised.value.prop == prop


def test_a_standard_workflow_may_be_chosen_for_the_buffered_path() -> None:
    _, template = _service_template(workflow_type=sfn.StateMachineType.STANDARD)
    [machine] = resources_of_type(template, "AWS::StepFunctions::StateMachine").values()
    assert machine["Properties"].get("StateMachineType", "STANDARD") == "STANDARD"


def test_the_three_packs_find_nothing_in_a_service_with_buffered_ingress(tmp_path: Path) -> None:
    app = cdk.App(context=REPORT_WITHOUT_FAILING, outdir=str(tmp_path), analytics_reporting=False)
    stack = cdk.Stack(app, "Buffered")
    NotificationService(stack, "Default", sender=SENDER, email_identities=IDENTITIES, buffered_ingress=True)
    add_all_packs(app)
    add_nag_canary(app)
    app.synth()
    assert beyond_the_canary(tmp_path) == {}
