"""An SMS through AWS End User Messaging with its delivery event recorded, end to end on the
embedded AWS (issue 14).

One stack: a toll-free number with its opt-out list, ``NotificationWorkflow(sms_provider=
EndUserMessagingSms(event_topic=feedback.sms_event_topic))`` and the ``DeliveryFeedback`` of its
delivery log. The three depend on one another in a circle (the provider wants the feedback's
topic, the feedback the workflow's table, the workflow the provider); the stack breaks it with no
library change by making the delivery log first (``DeliveryLog``, which has the message-id indexes
the feedback reads) and giving it to both the feedback and the workflow (``table=``).

The workflow sends through the emulated ``pinpoint-sms-voice-v2`` API as its role; End User
Messaging publishes the text's events to the feedback topic, SNS delivers them to the feedback
queue, and the delivery-status handler, called in process with the deployed function's environment
and role under the access check (the local engine runs no Lambda), applies them to the record the
workflow wrote.
"""

from __future__ import annotations

import json
from itertools import count
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_kms as kms
from aws_cdk import aws_smsvoice as smsvoice

from constructs_lib import NotificationWorkflow
from constructs_lib.delivery_log import REQUIRED_INDEXES, DeliveryLog
from constructs_lib.feedback import DeliveryFeedback
from constructs_lib.sms_voice import SEND_TEXT_MESSAGE_ACTION, EndUserMessagingSms
from lambda_src.delivery_status import handler as feedback
from local_aws import LocalAws
from local_aws.access import guard_client
from tests.behaviour.conftest import SENDER, Deployment, new_id, role_policy_changed, without_action
from tests.behaviour.test_feedback_sms_voice import queued_bodies
from tests.lambda_handlers.test_delivery_status import sqs_batch

STACK = "NotifySmsVoiceWorkflow"
OPT_OUT_LIST = "NotifySmsVoiceWorkflowOptOuts"
_recipients = count(300)


def build(stack: cdk.Stack) -> None:
    key = kms.Key(stack, "Key", enable_key_rotation=True, removal_policy=cdk.RemovalPolicy.DESTROY)
    # The delivery log first: the feedback needs its table before the workflow exists.
    log = DeliveryLog(stack, "DeliveryLog", encryption_key=key, removal_policy=cdk.RemovalPolicy.DESTROY)
    # SNS SMS logs have one name per account and Region: the dev stack owns them in this shared AWS.
    delivery_feedback = DeliveryFeedback(stack, "Feedback", table=log.table, create_sms_log_groups=False)
    opt_outs = smsvoice.CfnOptOutList(stack, "OptOuts", opt_out_list_name=OPT_OUT_LIST)
    keyword = smsvoice.CfnPhoneNumber.MandatoryKeywordProperty
    number = smsvoice.CfnPhoneNumber(
        stack, "Number", iso_country_code="US", number_capabilities=["SMS"], number_type="TOLL_FREE",
        opt_out_list_name=OPT_OUT_LIST,
        mandatory_keywords=smsvoice.CfnPhoneNumber.MandatoryKeywordsProperty(
            help=keyword(message="Help: example.com/sms"), stop=keyword(message="You will get no more texts.")))
    number.add_dependency(opt_outs)
    sms = EndUserMessagingSms(stack, "Sms", origination_identity=number.attr_arn, opt_out_list_name=OPT_OUT_LIST,
                              event_topic=delivery_feedback.sms_event_topic)
    workflow = NotificationWorkflow(stack, "Workflow", sender=SENDER, email_identities=["example.com"],
                                    table=log.table, encryption_key=key, sms_provider=sms)
    outputs = {"QueueUrl": delivery_feedback.event_queue.queue_url,
               "FunctionName": delivery_feedback.function.function_name,
               "StateMachineRoleArn": workflow.state_machine.role.role_arn}
    for name, value in outputs.items():
        cdk.CfnOutput(stack, name, value=value)


@pytest.fixture(scope="module")
def deployment(local_aws: LocalAws, tmp_path_factory: pytest.TempPathFactory) -> Deployment:
    outdir = tmp_path_factory.mktemp("sms-voice-workflow")
    app = cdk.App(outdir=str(outdir), analytics_reporting=False)
    build(cdk.Stack(app, STACK, synthesizer=cdk.DefaultStackSynthesizer(generate_bootstrap_version_rule=False)))
    app.synth()
    return Deployment(aws=local_aws, stack=local_aws.deploy_assembly(outdir, STACK))  # the function's asset too


@pytest.fixture(autouse=True)
def _nothing_left_over(deployment: Deployment) -> None:
    """Each test reads only its own events and denials."""
    queued_bodies(deployment.aws, deployment.stack)
    assert deployment.aws.access is not None
    deployment.aws.access.clear()


def apply_feedback(deployment: Deployment, bodies: list[str], monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The delivery-status handler on ``bodies`` (SQS message bodies), with the deployed function's
    environment, its DynamoDB calls made as its role under the access check; no call may be denied."""
    aws, function_name = deployment.aws, deployment.stack.outputs["FunctionName"]
    configuration = aws.client("lambda").get_function_configuration(FunctionName=function_name)
    for key, value in configuration["Environment"]["Variables"].items():
        monkeypatch.setenv(key, value)
    feedback._dynamodb.cache_clear()
    assert aws.access is not None
    release = guard_client(feedback._dynamodb(), aws.access, principal=configuration["Role"],
                           caller="delivery-status function")
    try:
        reply: dict[str, Any] = feedback.handler(sqs_batch(*bodies), None)
    finally:
        release()
        feedback._dynamodb.cache_clear()
    assert aws.access.denials == [], aws.access.report()
    return reply


def recipient() -> str:
    return f"+1425556{next(_recipients):04d}"


def send(deployment: Deployment, phone: str) -> tuple[str, Any]:
    nid = new_id("eum")
    result = deployment.run({"notificationId": nid, "channel": "sms", "phoneNumber": phone,
                             "message": "Your parcel has shipped"})
    return nid, result


# ---- the loop ----------------------------------------------------------------------------------


def test_the_stack_gives_the_feedback_the_indexes_it_reads(deployment: Deployment) -> None:
    table = deployment.aws.client("dynamodb").describe_table(TableName=deployment.stack.table_name)["Table"]
    indexes = {i["IndexName"]: i["KeySchema"][0]["AttributeName"] for i in table["GlobalSecondaryIndexes"]}
    assert indexes == REQUIRED_INDEXES
    assert len(deployment.stack.of_type("AWS::DynamoDB::Table")) == 1  # one log, shared


def test_a_text_sent_by_the_workflow_gets_delivered_on_its_record(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    phone = recipient()
    nid, result = send(deployment, phone)

    assert result.status == "SUCCEEDED", result.cause
    assert result.states_entered[:5] == ["ValidateRequest", "ClaimSms", "CheckSmsOptOut", "IsSmsOptedOut", "SendSms"]
    [text] = [m for m in deployment.aws.sms_voice_messages() if m.destination_phone_number == phone]
    assert text.context == {"notificationId": nid}
    assert text.message_body == "Your parcel has shipped"
    record = deployment.record(nid)
    assert record["status"] == "SENT"
    assert record["smsMessageId"] == text.message_id
    assert "deliveryStatus" not in record["results"]["sms"]  # nothing reported yet

    bodies = queued_bodies(deployment.aws, deployment.stack)
    events = [json.loads(json.loads(body)["Message"]) for body in bodies]
    assert [(e["eventType"], e["isFinal"], e["messageId"]) for e in events] == [
        ("TEXT_SUCCESSFUL", False, text.message_id), ("TEXT_DELIVERED", True, text.message_id)]
    assert {json.dumps(e.get("context")) for e in events} == {json.dumps({"notificationId": nid})}

    assert apply_feedback(deployment, bodies, monkeypatch) == {"batchItemFailures": []}

    result_sms = deployment.record(nid)["results"]["sms"]
    assert result_sms["deliveryStatus"] == "DELIVERED"
    assert result_sms["deliveryDetail"].startswith("TEXT_DELIVERED: ")
    assert result_sms["status"] == "SENT"  # what the workflow recorded stays as it was


def test_a_text_the_carrier_cannot_reach_gets_failed_on_its_record(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    phone = recipient()
    deployment.aws.sms_voice_outcome(phone, "TEXT_CARRIER_UNREACHABLE")
    nid, result = send(deployment, phone)

    assert result.status == "SUCCEEDED", result.cause  # End User Messaging accepted it
    record = deployment.record(nid)
    assert record["status"] == "SENT" and record["smsMessageId"]

    bodies = queued_bodies(deployment.aws, deployment.stack)
    assert apply_feedback(deployment, bodies, monkeypatch) == {"batchItemFailures": []}

    result_sms = deployment.record(nid)["results"]["sms"]
    assert result_sms["deliveryStatus"] == "FAILED"
    assert result_sms["deliveryDetail"].split(":")[0] == "TEXT_CARRIER_UNREACHABLE"


def test_without_send_text_message_the_text_fails_and_is_recorded(deployment: Deployment) -> None:
    phone = recipient()
    sent_before = len(deployment.aws.sms_voice_messages())
    with role_policy_changed(deployment.aws, deployment.stack.outputs["StateMachineRoleArn"],
                             without_action(SEND_TEXT_MESSAGE_ACTION)):
        nid, result = send(deployment, phone)

    assert (result.status, result.error) == ("FAILED", "DeliveryFailed")
    assert result.states_entered[-3:] == ["SendSms", "RecordFailed", "DeliveryFailed"]
    record = deployment.record(nid)
    assert record["status"] == "FAILED"
    assert "smsMessageId" not in record
    assert record["results"]["sms"]["error"] == "PinpointSmsVoiceV2.AccessDeniedException"
    assert len(deployment.aws.sms_voice_messages()) == sent_before
    assert queued_bodies(deployment.aws, deployment.stack) == []  # nothing sent, no event
    assert deployment.aws.access is not None
    # one denial: AccessDeniedException is permanent, so the send is not retried
    assert [d.request.action for d in deployment.aws.access.denials] == [SEND_TEXT_MESSAGE_ACTION]
    deployment.aws.access.clear()
