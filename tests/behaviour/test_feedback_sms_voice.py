"""AWS End User Messaging SMS delivery events through DeliveryFeedback, on the embedded AWS.

A stack of its own: a delivery log, DeliveryFeedback, a toll-free number it requests
(``AWS::SMSVOICE::PhoneNumber``) and EndUserMessagingSms sending from it with the feedback's
``sms_event_topic`` as its event destination. A text is sent through the emulated
``pinpoint-sms-voice-v2`` API with that configuration set (the workflow's own send is not what
these tests are about); End User Messaging publishes its events to the topic as
``sms-voice.amazonaws.com`` under the access check, SNS delivers them to the feedback queue, and
the delivery-status handler, called in process with the deployed function's environment and role
(the local engine runs no Lambda), applies them to the record the workflow would have written.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from itertools import count
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_smsvoice as smsvoice
from aws_cdk.assertions import Template

from constructs_lib.delivery_log import DeliveryLog
from constructs_lib.feedback import DeliveryFeedback
from constructs_lib.sms_voice import SERVICE_PRINCIPAL, EndUserMessagingSms
from lambda_src.delivery_status import handler as feedback
from local_aws import DeployedStack, LocalAws
from local_aws.access import guard_client
from tests.behaviour.conftest import new_id
from tests.lambda_handlers.test_delivery_status import sqs_batch
from tests.support.asl import resources_of_type
from tests.support.nag import REPORT_WITHOUT_FAILING, add_all_packs, add_nag_canary, beyond_the_canary

STACK = "NotifySmsVoiceFeedback"
_recipients = count(200)


def build(stack: cdk.Stack) -> DeliveryFeedback:
    table = DeliveryLog(stack, "DeliveryLog").table
    # SNS SMS logs have one name per account and Region: the dev stack owns them in this shared AWS.
    delivery_feedback = DeliveryFeedback(stack, "Feedback", table=table, create_sms_log_groups=False)
    keyword = smsvoice.CfnPhoneNumber.MandatoryKeywordProperty
    number = smsvoice.CfnPhoneNumber(
        stack, "Number", iso_country_code="US", number_capabilities=["SMS"], number_type="TOLL_FREE",
        mandatory_keywords=smsvoice.CfnPhoneNumber.MandatoryKeywordsProperty(
            help=keyword(message="Help: example.com/sms"), stop=keyword(message="You will get no more texts.")))
    sms = EndUserMessagingSms(stack, "Sms", origination_identity=number.attr_arn,
                              event_topic=delivery_feedback.sms_event_topic)
    outputs = {"NumberArn": number.attr_arn, "ConfigurationSetName": sms.configuration_set_name,
               "QueueUrl": delivery_feedback.event_queue.queue_url, "TableName": table.table_name,
               "FunctionName": delivery_feedback.function.function_name}
    for name, value in outputs.items():
        cdk.CfnOutput(stack, name, value=value)
    return delivery_feedback


def _stack(app: cdk.App) -> cdk.Stack:
    return cdk.Stack(app, STACK, synthesizer=cdk.DefaultStackSynthesizer(generate_bootstrap_version_rule=False))


@pytest.fixture(scope="module")
def deployed(local_aws: LocalAws, tmp_path_factory: pytest.TempPathFactory) -> DeployedStack:
    outdir = tmp_path_factory.mktemp("sms-voice-feedback")
    app = cdk.App(outdir=str(outdir), analytics_reporting=False)
    build(_stack(app))
    app.synth()
    return local_aws.deploy_assembly(outdir, STACK)  # the function's asset too


@pytest.fixture
def as_the_function(local_aws: LocalAws, deployed: DeployedStack, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The deployed function's environment; its DynamoDB calls made as its role, under the access check."""
    configuration = local_aws.client("lambda").get_function_configuration(
        FunctionName=deployed.outputs["FunctionName"])
    for key, value in configuration["Environment"]["Variables"].items():
        monkeypatch.setenv(key, value)
    feedback._dynamodb.cache_clear()
    assert local_aws.access is not None
    local_aws.access.clear()
    release = guard_client(feedback._dynamodb(), local_aws.access, principal=configuration["Role"],
                           caller="delivery-status function")
    yield
    release()
    feedback._dynamodb.cache_clear()
    assert local_aws.access.denials == [], local_aws.access.report()


def send_text(aws: LocalAws, deployed: DeployedStack, notification_id: str, to: str) -> str:
    """SendTextMessage through the stack's number and configuration set, as the workflow will."""
    response = aws.client("pinpoint-sms-voice-v2").send_text_message(
        DestinationPhoneNumber=to, OriginationIdentity=deployed.outputs["NumberArn"],
        ConfigurationSetName=deployed.outputs["ConfigurationSetName"], MessageBody="Your parcel has shipped",
        MessageType="TRANSACTIONAL", Context={"notificationId": notification_id})
    message_id: str = response["MessageId"]
    return message_id


def write_record(aws: LocalAws, deployed: DeployedStack, notification_id: str, message_id: str) -> None:
    """The record the workflow writes after the send: the SendTextMessage MessageId as smsMessageId."""
    aws.client("dynamodb").put_item(TableName=deployed.outputs["TableName"], Item={
        "notificationId": {"S": notification_id}, "status": {"S": "SENT"}, "channel": {"S": "sms"},
        "smsMessageId": {"S": message_id},
        "results": {"M": {"sms": {"M": {"status": {"S": "SENT"}, "messageId": {"S": message_id}}}}},
    })


def queued_bodies(aws: LocalAws, deployed: DeployedStack) -> list[str]:
    """What SNS delivered to the feedback queue, oldest first, taken off the queue."""
    sqs = aws.client("sqs")
    bodies: list[str] = []
    while True:
        messages = sqs.receive_message(QueueUrl=deployed.outputs["QueueUrl"], MaxNumberOfMessages=10,
                                       VisibilityTimeout=0).get("Messages", [])
        if not messages:
            return bodies
        bodies += [m["Body"] for m in messages]
        sqs.delete_message_batch(QueueUrl=deployed.outputs["QueueUrl"], Entries=[
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)])


def recipient() -> str:
    return f"+1425555{next(_recipients):04d}"


def sms_result(aws: LocalAws, deployed: DeployedStack, notification_id: str) -> dict[str, Any]:
    item = aws.table_item(deployed.outputs["TableName"], {"notificationId": notification_id})
    assert item is not None
    result: dict[str, Any] = item["results"]["sms"]
    return result


# ---- the loop ----------------------------------------------------------------------------------


def test_a_delivered_text_gets_delivered_on_its_record(
    local_aws: LocalAws, deployed: DeployedStack, as_the_function: None, capsys: pytest.CaptureFixture[str]
) -> None:
    nid = new_id("voice")
    message_id = send_text(local_aws, deployed, nid, recipient())
    write_record(local_aws, deployed, nid, message_id)
    bodies = queued_bodies(local_aws, deployed)
    events = [json.loads(json.loads(body)["Message"]) for body in bodies]  # SNS notifications, not raw
    assert [(e["eventType"], e["isFinal"], e["messageId"]) for e in events] == [
        ("TEXT_SUCCESSFUL", False, message_id), ("TEXT_DELIVERED", True, message_id)]

    capsys.readouterr()
    reply = feedback.handler(sqs_batch(*bodies), None)

    assert reply == {"batchItemFailures": []}
    [emf] = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert (emf["IgnoredEvents"], emf["DeliveryUpdates"]) == (1, 1)  # carrier acceptance, then delivery
    result = sms_result(local_aws, deployed, nid)
    assert result["deliveryStatus"] == "DELIVERED"
    assert result["deliveryDetail"].startswith("TEXT_DELIVERED: ")
    assert result["status"] == "SENT"  # what the workflow recorded stays as it was


@pytest.mark.parametrize("failure", ["TEXT_CARRIER_UNREACHABLE", "TEXT_BLOCKED"])
def test_a_text_that_fails_gets_failed_on_its_record(
    local_aws: LocalAws, deployed: DeployedStack, as_the_function: None, failure: str
) -> None:
    nid, to = new_id("voice"), recipient()
    local_aws.sms_voice_outcome(to, failure)
    message_id = send_text(local_aws, deployed, nid, to)
    write_record(local_aws, deployed, nid, message_id)

    reply = feedback.handler(sqs_batch(*queued_bodies(local_aws, deployed)), None)

    assert reply == {"batchItemFailures": []}
    result = sms_result(local_aws, deployed, nid)
    assert (result["deliveryStatus"], result["deliveryDetail"].split(":")[0]) == ("FAILED", failure)


def test_an_event_that_overtakes_the_record_is_handed_back_then_applied(
    local_aws: LocalAws, deployed: DeployedStack, as_the_function: None
) -> None:
    """Events can arrive before the workflow wrote the MessageId: SQS offers them again later."""
    nid = new_id("voice")
    message_id = send_text(local_aws, deployed, nid, recipient())
    batch = sqs_batch(*queued_bodies(local_aws, deployed))

    early = feedback.handler(batch, None)
    assert early == {"batchItemFailures": [{"itemIdentifier": batch["Records"][1]["messageId"]}]}  # the delivery

    write_record(local_aws, deployed, nid, message_id)
    assert feedback.handler({"Records": [batch["Records"][1]]}, None) == {"batchItemFailures": []}
    assert sms_result(local_aws, deployed, nid)["deliveryStatus"] == "DELIVERED"


def test_end_user_messaging_published_under_the_access_check(local_aws: LocalAws, deployed: DeployedStack) -> None:
    """The topic (and its key) let sms-voice.amazonaws.com publish: one event per SQS message, no denial."""
    assert local_aws.access is not None
    local_aws.access.clear()
    send_text(local_aws, deployed, new_id("voice"), recipient())
    assert len(queued_bodies(local_aws, deployed)) == 2
    assert local_aws.access.denials == [], local_aws.access.report()


# ---- the template ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    stack = _stack(cdk.App(analytics_reporting=False))
    build(stack)
    return dict(Template.from_stack(stack).to_json())


def _policy_statements(template: dict[str, Any], resource_type: str, key: str) -> list[dict[str, Any]]:
    return [s for r in resources_of_type(template, resource_type).values() for s in r["Properties"][key]["Statement"]]


def test_the_configuration_set_publishes_to_the_feedback_topic(template: dict[str, Any]) -> None:
    [topic_id] = resources_of_type(template, "AWS::SNS::Topic")
    [configuration_set] = resources_of_type(template, "AWS::SMSVOICE::ConfigurationSet").values()
    [destination] = configuration_set["Properties"]["EventDestinations"]
    assert destination["SnsDestination"] == {"TopicArn": {"Ref": topic_id}}
    # SES and End User Messaging events share the topic, its one queue and the function.
    assert len(resources_of_type(template, "AWS::SNS::Subscription")) == 1
    assert len(resources_of_type(template, "AWS::Lambda::EventSourceMapping")) == 1


def test_only_sms_voice_of_this_account_may_publish_and_use_the_topic_key(template: dict[str, Any]) -> None:
    granted = [s for kind, key in (("AWS::SNS::TopicPolicy", "PolicyDocument"), ("AWS::KMS::Key", "KeyPolicy"))
               for s in _policy_statements(template, kind, key)
               if s.get("Principal") == {"Service": SERVICE_PRINCIPAL}]
    assert sorted(json.dumps(s["Action"]) for s in granted) == sorted(
        ['"sns:Publish"', '["kms:GenerateDataKey*", "kms:Decrypt"]'])
    for statement in granted:
        assert statement["Effect"] == "Allow"
        assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
        assert "configuration-set/*" in json.dumps(statement["Condition"]["ArnLike"]["aws:SourceArn"])


def test_without_end_user_messaging_nothing_lets_sms_voice_in() -> None:
    stack = _stack(cdk.App(analytics_reporting=False))
    DeliveryFeedback(stack, "Feedback", table=DeliveryLog(stack, "DeliveryLog").table, create_sms_log_groups=False)
    template = dict(Template.from_stack(stack).to_json())
    assert SERVICE_PRINCIPAL not in json.dumps(template)


def test_the_three_packs_find_nothing_the_stack_was_not_told_of(tmp_path: Path) -> None:
    app = cdk.App(context=REPORT_WITHOUT_FAILING, outdir=str(tmp_path), analytics_reporting=False)
    stack = _stack(app)
    delivery_feedback = build(stack)
    for finding in delivery_feedback.unacknowledged_findings:  # no log key, no alarm topic: the stack's choice
        cdk.Validations.of(stack).acknowledge(cdk.Acknowledgment(id=finding, reason="test: defaults"))
    add_all_packs(app)
    add_nag_canary(app)
    app.synth()
    assert beyond_the_canary(tmp_path) == {}
