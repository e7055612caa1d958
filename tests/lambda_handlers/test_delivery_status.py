"""The delivery-status handler against DynamoDB in the embedded local AWS.

Sample events in tests/events/ are real-shaped: SES event-publishing notifications as SNS
delivers them (``ses_*.json``), AWS End User Messaging SMS events as SNS delivers them
(``sms_voice_*.json``, the event format of the End User Messaging SMS user guide) and SNS SMS
delivery-status log lines (``sms_success.json``, ``sms_failure.json``). The helpers below wrap
them the way SQS and CloudWatch Logs hand them to Lambda.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import tracemalloc
import uuid
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from moto.dynamodb.exceptions import DynamodbException, MockValidationException
from moto.dynamodb.models import DynamoDBBackend

from lambda_src.delivery_status import handler as feedback
from local_aws import LocalAws, inject_fault

EVENTS = Path(__file__).resolve().parent.parent / "events"
TABLE = "DeliveryLogTable"
REGION = "us-east-1"
ACCOUNT = "123456789012"
SMS_LOG_GROUP = f"sns/{REGION}/{ACCOUNT}/DirectPublishToPhoneNumber"
SMS_FAILURE_LOG_GROUP = f"{SMS_LOG_GROUP}/Failure"
QUEUE_ARN = f"arn:aws:sqs:{REGION}:{ACCOUNT}:NotifyCdk-dev-DeliveryFeedbackEmailEventsQueue"
# Long after the samples were sent: unmatched events are then too old to retry.
LATER = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
# Two minutes after the samples' SES send time: inside the retry window.
SOON_AFTER_SEND = datetime(2026, 11, 25, 20, 42, tzinfo=UTC)


# ---- sample events ----------------------------------------------------------------------------


def sample(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text())
    return loaded


def ses_event(name: str) -> dict[str, Any]:
    """The SES event inside a sample SNS notification."""
    inner: dict[str, Any] = json.loads(sample(name)["Message"])
    return inner


def sns_notification(ses: dict[str, Any], like: str = "ses_delivery") -> str:
    """An SNS notification body carrying ``ses`` (the envelope of sample ``like``)."""
    envelope = sample(like)
    envelope["Message"] = json.dumps(ses, separators=(",", ":"))
    return json.dumps(envelope)


def sms_voice_event(name: str) -> dict[str, Any]:
    """The End User Messaging SMS event inside a sample SNS notification."""
    return ses_event(name)


def sms_voice_notification(event: dict[str, Any], like: str = "sms_voice_delivered") -> str:
    """An SNS notification body carrying the End User Messaging ``event``."""
    return sns_notification(event, like=like)


EMAIL_MESSAGE_ID: str = ses_event("ses_delivery")["mail"]["messageId"]
SMS_MESSAGE_ID: str = sample("sms_success")["notification"]["messageId"]
SMS_VOICE_MESSAGE_ID: str = sms_voice_event("sms_voice_delivered")["messageId"]
# The numbers in the End User Messaging samples: never in a log line.
SMS_VOICE_NUMBERS = ("+14255550100", "+18445550123")


def sqs_record(body: str) -> dict[str, Any]:
    """One record of an SQS event as Lambda's event source mapping delivers it."""
    return {
        "messageId": str(uuid.uuid4()),
        "receiptHandle": "AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a" + uuid.uuid4().hex,
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": "1764103202311",
            "SenderId": "AIDAIT2UOQQY3AUEKVGXU",
            "ApproximateFirstReceiveTimestamp": "1764103202320",
        },
        "messageAttributes": {},
        "md5OfBody": hashlib.md5(body.encode()).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": QUEUE_ARN,
        "awsRegion": REGION,
    }


def sqs_batch(*bodies: str) -> dict[str, Any]:
    return {"Records": [sqs_record(body) for body in bodies]}


def sample_body(name: str) -> str:
    return (EVENTS / f"{name}.json").read_text()


def awslogs_payload(*messages: str, log_group: str = SMS_LOG_GROUP) -> dict[str, Any]:
    return {
        "messageType": "DATA_MESSAGE",
        "owner": ACCOUNT,
        "logGroup": log_group,
        "logStream": str(uuid.uuid4()),
        "subscriptionFilters": ["NotifyCdk-dev-DeliveryFeedbackSmsDeliveryFilter"],
        "logEvents": [
            {"id": str(37000000000000000000000000000000000000000000000000000000 + i),
             "timestamp": 1764103201000 + i, "message": message}
            for i, message in enumerate(messages)
        ],
    }


def awslogs_event(payload: dict[str, Any] | bytes) -> dict[str, Any]:
    """What CloudWatch Logs hands a subscribed function: base64 of gzip of the JSON payload."""
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return {"awslogs": {"data": base64.b64encode(gzip.compress(raw)).decode()}}


def sms_log_event(name: str, *, log_group: str | None = None) -> dict[str, Any]:
    group = log_group or (SMS_FAILURE_LOG_GROUP if sample(name)["status"] == "FAILURE" else SMS_LOG_GROUP)
    return awslogs_event(awslogs_payload(json.dumps(sample(name)), log_group=group))


# ---- the table ------------------------------------------------------------------------------


def create_table(aws: LocalAws) -> None:
    """The delivery log as the workflow will need it: key notificationId, two KEYS_ONLY GSIs."""
    aws.client("dynamodb").create_table(
        TableName=TABLE,
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "notificationId", "KeyType": "HASH"}],
        AttributeDefinitions=[
            {"AttributeName": name, "AttributeType": "S"}
            for name in ("notificationId", "smsMessageId", "emailMessageId")
        ],
        GlobalSecondaryIndexes=[
            {"IndexName": index, "KeySchema": [{"AttributeName": attribute, "KeyType": "HASH"}],
             "Projection": {"ProjectionType": "KEYS_ONLY"}}
            for index, attribute in (("BySmsMessageId", "smsMessageId"), ("ByEmailMessageId", "emailMessageId"))
        ],
    )


def channel_result(message_id: str) -> dict[str, Any]:
    return {"M": {"status": {"S": "SENT"}, "messageId": {"S": message_id}, "error": {"S": ""}, "cause": {"S": ""}}}


def seed(aws: LocalAws, notification_id: str, *, sms: str | None = None, email: str | None = None,
         indexed: dict[str, str] | None = None) -> None:
    """A record as the workflow leaves it after sending, with the GSI attributes it will write."""
    results = {}
    if sms is not None:
        results["sms"] = channel_result(sms)
    if email is not None:
        results["email"] = channel_result(email)
    item: dict[str, Any] = {
        "notificationId": {"S": notification_id},
        "status": {"S": "SENT"},
        "channel": {"S": "both" if sms and email else "sms" if sms else "email"},
        "executionArn": {"S": f"arn:aws:states:{REGION}:{ACCOUNT}:execution:Workflow:{notification_id}"},
        "receivedAt": {"S": "2026-11-25T20:39:59.901Z"},
        "completedAt": {"S": "2026-11-25T20:40:00.720Z"},
        "metadata": {"S": "{}"},
        "results": {"M": results},
    }
    attributes = indexed if indexed is not None else {
        **({"smsMessageId": sms} if sms else {}), **({"emailMessageId": email} if email else {})
    }
    item.update({name: {"S": value} for name, value in attributes.items()})
    aws.client("dynamodb").put_item(TableName=TABLE, Item=item)


def record(aws: LocalAws, notification_id: str) -> dict[str, Any]:
    [item] = [i for i in aws.table_items(TABLE) if i["notificationId"] == notification_id]
    return item


def all_items(aws: LocalAws) -> list[dict[str, Any]]:
    return sorted(aws.table_items(TABLE), key=lambda i: str(i["notificationId"]))


# ---- fixtures -------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = LATER

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(feedback, "_utcnow", fake)
    return fake


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch, clock: Clock) -> Iterator[LocalAws]:
    with LocalAws.in_process(REGION, apply_bridges=False) as local:
        feedback._dynamodb.cache_clear()  # a client from another test's mock would see no table
        create_table(local)
        monkeypatch.setenv(feedback.TABLE_ENV, TABLE)
        monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "DeliveryFeedbackFunction")
        yield local
    feedback._dynamodb.cache_clear()


class Output:
    """What the function printed: structured log lines and the EMF metrics line."""

    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self._capsys = capsys

    def lines(self) -> list[dict[str, Any]]:
        text = self._capsys.readouterr().out
        return [json.loads(line) for line in text.splitlines() if line.strip()]


def invoke(event: Any, capsys: pytest.CaptureFixture[str]) -> tuple[dict[str, Any], dict[str, int],
                                                                    list[dict[str, Any]]]:
    """Runs the handler; returns its response, the metric counts and the other log lines."""
    capsys.readouterr()
    response = feedback.handler(event, None)
    lines = Output(capsys).lines()
    [emf] = [line for line in lines if "_aws" in line]
    counts = {name: emf[name] for name in feedback.METRICS}
    return response, counts, [line for line in lines if "_aws" not in line]


def only(counts: dict[str, int], **expected: int) -> None:
    assert counts == {name: expected.get(name, 0) for name in feedback.METRICS}


# ---- email ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "status", "detail"), [
    ("ses_delivery", "DELIVERED", "250 2.6.0 Message received"),
    ("ses_bounce", "BOUNCED", "Permanent/General"),
    ("ses_complaint", "COMPLAINED", "abuse"),
    ("ses_reject", "FAILED", "Bad content"),
])
def test_an_ses_event_sets_the_email_delivery_status(
    aws: LocalAws, capsys: pytest.CaptureFixture[str], name: str, status: str, detail: str
) -> None:
    seed(aws, "order-1", email=EMAIL_MESSAGE_ID)
    response, counts, _ = invoke(sqs_batch(sample_body(name)), capsys)
    assert response == {"batchItemFailures": []}
    only(counts, DeliveryUpdates=1)
    email = record(aws, "order-1")["results"]["email"]
    assert email["deliveryStatus"] == status
    assert email["deliveryDetail"] == detail
    assert email["deliveryUpdatedAt"] == "2026-11-26T09:00:00.000Z"


def test_the_update_touches_only_the_delivery_fields_of_that_channel(
    aws: LocalAws, capsys: pytest.CaptureFixture[str]
) -> None:
    seed(aws, "order-2", sms=SMS_MESSAGE_ID, email=EMAIL_MESSAGE_ID)
    before = record(aws, "order-2")
    invoke(sqs_batch(sample_body("ses_delivery")), capsys)
    after = record(aws, "order-2")
    delivery_fields = {"deliveryStatus", "deliveryUpdatedAt", "deliveryDetail"}
    assert {k: v for k, v in after["results"]["email"].items() if k not in delivery_fields} == \
        before["results"]["email"]
    assert after["results"]["sms"] == before["results"]["sms"]
    assert {k: v for k, v in after.items() if k != "results"} == {k: v for k, v in before.items() if k != "results"}


def test_raw_message_delivery_is_accepted(aws: LocalAws, capsys: pytest.CaptureFixture[str]) -> None:
    seed(aws, "order-3", email=EMAIL_MESSAGE_ID)
    _, counts, _ = invoke(sqs_batch(json.dumps(ses_event("ses_bounce"))), capsys)
    only(counts, DeliveryUpdates=1)
    assert record(aws, "order-3")["results"]["email"]["deliveryStatus"] == "BOUNCED"


def test_ses_event_types_without_an_outcome_are_ignored(aws: LocalAws, capsys: pytest.CaptureFixture[str]) -> None:
    seed(aws, "order-4", email=EMAIL_MESSAGE_ID)
    before = all_items(aws)
    opened = {**ses_event("ses_delivery"), "eventType": "Open"}
    opened.pop("delivery")
    response, counts, _ = invoke(sqs_batch(sns_notification(opened)), capsys)
    assert response == {"batchItemFailures": []}
    only(counts, IgnoredEvents=1)
    assert all_items(aws) == before


# ---- SMS ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "status", "detail"), [
    ("sms_success", "DELIVERED", "Message has been accepted by phone carrier"),
    ("sms_failure", "FAILED", "Phone is currently unreachable/unavailable"),
    # AWS End User Messaging SMS: its configuration set's events, through SNS and SQS.
    ("sms_voice_delivered", "DELIVERED", "TEXT_DELIVERED: Message has been delivered to the handset"),
    ("sms_voice_failed", "FAILED", "TEXT_CARRIER_UNREACHABLE: Carrier is unreachable"),
])
def test_an_sms_delivery_event_sets_the_sms_delivery_status(
    aws: LocalAws, capsys: pytest.CaptureFixture[str], name: str, status: str, detail: str
) -> None:
    through_sqs = name.startswith("sms_voice")
    seed(aws, "order-5", sms=SMS_VOICE_MESSAGE_ID if through_sqs else SMS_MESSAGE_ID, email=EMAIL_MESSAGE_ID)
    response, counts, lines = invoke(sqs_batch(sample_body(name)) if through_sqs else sms_log_event(name), capsys)
    assert response == ({"batchItemFailures": []} if through_sqs else {})
    only(counts, DeliveryUpdates=1)
    assert lines == []
    item = record(aws, "order-5")
    assert item["results"]["sms"]["deliveryStatus"] == status
    assert item["results"]["sms"]["deliveryDetail"] == detail
    assert item["results"]["sms"]["deliveryUpdatedAt"] == "2026-11-26T09:00:00.000Z"
    assert "deliveryStatus" not in item["results"]["email"]


def test_one_log_batch_updates_each_matching_record(aws: LocalAws, capsys: pytest.CaptureFixture[str]) -> None:
    seed(aws, "order-6", sms=SMS_MESSAGE_ID)
    seed(aws, "order-7", sms="7b2c3d4e-5f60-5a6b-8c7d-9e0f1a2b3c4d")
    other = sample("sms_success")
    other["notification"]["messageId"] = "7b2c3d4e-5f60-5a6b-8c7d-9e0f1a2b3c4d"
    _, counts, _ = invoke(awslogs_event(awslogs_payload(json.dumps(sample("sms_success")), json.dumps(other))),
                          capsys)
    only(counts, DeliveryUpdates=2)
    assert {i["notificationId"]: i["results"]["sms"]["deliveryStatus"] for i in all_items(aws)} == {
        "order-6": "DELIVERED", "order-7": "DELIVERED"}


def test_the_control_message_is_not_an_event(aws: LocalAws, capsys: pytest.CaptureFixture[str]) -> None:
    control = {"messageType": "CONTROL_MESSAGE", "owner": "CloudwatchLogs", "logGroup": "", "logStream": "",
               "subscriptionFilters": [], "logEvents": [
                   {"id": "", "timestamp": 1764103201000,
                    "message": "CWL CONTROL MESSAGE: Checking health of destination Lambda function."}]}
    _, counts, lines = invoke(awslogs_event(control), capsys)
    only(counts)
    assert lines == []


# ---- SMS through AWS End User Messaging SMS ------------------------------------------------------


def voice_event(event_type: str, *, is_final: Any = True, **changes: Any) -> dict[str, Any]:
    """The delivered sample with another type, finality or fields (``None`` removes a field)."""
    event = {**sms_voice_event("sms_voice_delivered"), "eventType": event_type, "isFinal": is_final}
    event.update(changes)
    return {k: v for k, v in event.items() if v is not None}


def voice_batch(*events: dict[str, Any]) -> dict[str, Any]:
    return sqs_batch(*(sms_voice_notification(event) for event in events))


def test_the_samples_are_end_user_messaging_events_for_one_message() -> None:
    delivered, failed = sms_voice_event("sms_voice_delivered"), sms_voice_event("sms_voice_failed")
    assert (delivered["eventType"], failed["eventType"]) == ("TEXT_DELIVERED", "TEXT_CARRIER_UNREACHABLE")
    assert delivered["messageId"] == failed["messageId"] and delivered["isFinal"] and failed["isFinal"]


def test_an_end_user_messaging_event_by_raw_message_delivery_is_accepted(
    aws: LocalAws, capsys: pytest.CaptureFixture[str]
) -> None:
    seed(aws, "voice-2", sms=SMS_VOICE_MESSAGE_ID)
    _, counts, _ = invoke(sqs_batch(json.dumps(sms_voice_event("sms_voice_failed"))), capsys)
    only(counts, DeliveryUpdates=1)
    assert record(aws, "voice-2")["results"]["sms"]["deliveryStatus"] == "FAILED"


# The failure types the End User Messaging SMS user guide lists ("Event types for SMS, MMS, and voice").
DOCUMENTED_FAILURES = ["TEXT_BLOCKED", "TEXT_TTL_EXPIRED", "TEXT_CARRIER_UNREACHABLE", "TEXT_INVALID",
                       "TEXT_INVALID_MESSAGE", "TEXT_CARRIER_BLOCKED", "TEXT_UNREACHABLE", "TEXT_SPAM",
                       "TEXT_UNKNOWN", "TEXT_PROTECT_BLOCKED"]


@pytest.mark.parametrize("event_type", DOCUMENTED_FAILURES)
def test_each_final_failure_type_is_failed(
    aws: LocalAws, capsys: pytest.CaptureFixture[str], event_type: str
) -> None:
    seed(aws, "voice-3", sms=SMS_VOICE_MESSAGE_ID)
    _, counts, _ = invoke(voice_batch(voice_event(event_type, messageStatusDescription="why")), capsys)
    only(counts, DeliveryUpdates=1)
    sms = record(aws, "voice-3")["results"]["sms"]
    assert (sms["deliveryStatus"], sms["deliveryDetail"]) == ("FAILED", f"{event_type}: why")


@pytest.mark.parametrize(("is_final", "status"), [(True, "DELIVERED"), (False, None)])
def test_carrier_acceptance_is_delivery_only_when_it_is_the_final_event(
    aws: LocalAws, capsys: pytest.CaptureFixture[str], is_final: bool, status: str | None
) -> None:
    """Depending on the country, TEXT_SUCCESSFUL is the last event AWS gets or TEXT_DELIVERED follows."""
    seed(aws, "voice-4", sms=SMS_VOICE_MESSAGE_ID)
    _, counts, _ = invoke(voice_batch(voice_event("TEXT_SUCCESSFUL", is_final=is_final)), capsys)
    if status is None:
        only(counts, IgnoredEvents=1)
        assert "deliveryStatus" not in record(aws, "voice-4")["results"]["sms"]
    else:
        only(counts, DeliveryUpdates=1)
        assert record(aws, "voice-4")["results"]["sms"]["deliveryStatus"] == status


def test_a_failure_that_is_not_final_leaves_the_record_for_the_final_event(
    aws: LocalAws, capsys: pytest.CaptureFixture[str]
) -> None:
    """A transient failure ranks above delivery: recorded, it would hide the delivery that follows."""
    seed(aws, "voice-5", sms=SMS_VOICE_MESSAGE_ID)
    _, counts, _ = invoke(voice_batch(voice_event("TEXT_CARRIER_UNREACHABLE", is_final=False)), capsys)
    only(counts, IgnoredEvents=1)
    assert "deliveryStatus" not in record(aws, "voice-5")["results"]["sms"]
    invoke(sqs_batch(sample_body("sms_voice_delivered")), capsys)
    assert record(aws, "voice-5")["results"]["sms"]["deliveryStatus"] == "DELIVERED"


@pytest.mark.parametrize("event_type", ["TEXT_QUEUED", "TEXT_PENDING", "TEXT_SENT", "VOICE_COMPLETED",
                                        "MEDIA_DELIVERED", "RCS_DELIVERED"])
def test_events_without_an_sms_outcome_are_ignored(
    aws: LocalAws, capsys: pytest.CaptureFixture[str], event_type: str
) -> None:
    seed(aws, "voice-6", sms=SMS_VOICE_MESSAGE_ID)
    before = all_items(aws)
    response, counts, lines = invoke(voice_batch(voice_event(event_type, is_final=False)), capsys)
    assert response == {"batchItemFailures": []}
    only(counts, IgnoredEvents=1)
    assert lines == [] and all_items(aws) == before


@pytest.mark.parametrize(("sequence", "final"), [
    ([("TEXT_SUCCESSFUL", False), ("TEXT_DELIVERED", True)], "DELIVERED"),  # the emulation's default
    ([("TEXT_SUCCESSFUL", True), ("TEXT_DELIVERED", True)], "DELIVERED"),
    ([("TEXT_DELIVERED", True), ("TEXT_BLOCKED", True)], "FAILED"),
    ([("TEXT_BLOCKED", True), ("TEXT_DELIVERED", True)], "FAILED"),  # out of order
    ([("TEXT_DELIVERED", True), ("TEXT_DELIVERED", True)], "DELIVERED"),
])
def test_end_user_messaging_events_follow_the_rank(
    aws: LocalAws, capsys: pytest.CaptureFixture[str], sequence: list[tuple[str, bool]], final: str
) -> None:
    seed(aws, "voice-7", sms=SMS_VOICE_MESSAGE_ID)
    for event_type, is_final in sequence:
        invoke(voice_batch(voice_event(event_type, is_final=is_final)), capsys)
    assert record(aws, "voice-7")["results"]["sms"]["deliveryStatus"] == final


def test_one_batch_applies_email_and_end_user_messaging_events_alike(
    aws: LocalAws, capsys: pytest.CaptureFixture[str]
) -> None:
    seed(aws, "voice-8", sms=SMS_VOICE_MESSAGE_ID, email=EMAIL_MESSAGE_ID)
    response, counts, _ = invoke(sqs_batch(sample_body("ses_bounce"), sample_body("sms_voice_delivered")), capsys)
    assert response == {"batchItemFailures": []}
    only(counts, DeliveryUpdates=2)
    results = record(aws, "voice-8")["results"]
    assert (results["email"]["deliveryStatus"], results["sms"]["deliveryStatus"]) == ("BOUNCED", "DELIVERED")


def test_a_recent_unmatched_end_user_messaging_event_is_handed_back_to_sqs(
    aws: LocalAws, capsys: pytest.CaptureFixture[str], clock: Clock
) -> None:
    """The event may have overtaken the workflow's write of the SendTextMessage MessageId."""
    clock.now = SOON_AFTER_SEND
    batch = sqs_batch(sample_body("sms_voice_delivered"))
    response, counts, lines = invoke(batch, capsys)
    assert response == {"batchItemFailures": [{"itemIdentifier": batch["Records"][0]["messageId"]}]}
    only(counts, UnmatchedEvents=1, RetriedEvents=1)
    assert lines[0]["messageId"] == SMS_VOICE_MESSAGE_ID and lines[0]["channel"] == "sms"
    assert not any(number in json.dumps(lines) for number in SMS_VOICE_NUMBERS)


@pytest.mark.parametrize("timestamp", [None, "1795639200101", True, 10**20],
                         ids=["missing", "a string", "a boolean", "out of range"])
def test_an_unmatched_event_without_a_usable_send_time_is_not_retried(
    aws: LocalAws, capsys: pytest.CaptureFixture[str], clock: Clock, timestamp: Any
) -> None:
    clock.now = SOON_AFTER_SEND
    response, counts, _ = invoke(voice_batch(voice_event("TEXT_DELIVERED", messageRequestTimestamp=timestamp)),
                                 capsys)
    assert response == {"batchItemFailures": []}
    only(counts, UnmatchedEvents=1)


def test_log_lines_of_end_user_messaging_events_carry_no_number_or_context(
    aws: LocalAws, capsys: pytest.CaptureFixture[str]
) -> None:
    seed(aws, "voice-10", sms=SMS_VOICE_MESSAGE_ID)
    invoke(sqs_batch(sample_body("sms_voice_failed")), capsys)
    _, counts, lines = invoke(sqs_batch(sample_body("sms_voice_delivered"), sample_body("sms_voice_failed")), capsys)
    only(counts, StaleEvents=2)
    text = json.dumps(lines)
    assert len(lines) == 2 and SMS_VOICE_MESSAGE_ID in text
    assert not any(number in text for number in SMS_VOICE_NUMBERS) and "order-1" not in json.dumps(
        [line.get("context") for line in lines])


# ---- ordering -------------------------------------------------------------------------------


def test_the_rank_puts_negative_outcomes_above_delivery() -> None:
    assert sorted(feedback.STATUS_RANK, key=feedback.STATUS_RANK.__getitem__) == [
        "DELIVERED", "FAILED", "BOUNCED", "COMPLAINED"]


@pytest.mark.parametrize(("sequence", "final"), [
    (["ses_delivery", "ses_bounce"], "BOUNCED"),
    (["ses_bounce", "ses_delivery"], "BOUNCED"),
    (["ses_complaint", "ses_delivery"], "COMPLAINED"),
    (["ses_delivery", "ses_complaint"], "COMPLAINED"),
    (["ses_bounce", "ses_complaint"], "COMPLAINED"),
    (["ses_complaint", "ses_bounce"], "COMPLAINED"),
    (["ses_reject", "ses_delivery"], "FAILED"),
])
def test_a_status_is_never_downgraded(
    aws: LocalAws, capsys: pytest.CaptureFixture[str], sequence: list[str], final: str
) -> None:
    seed(aws, "order-8", email=EMAIL_MESSAGE_ID)
    for name in sequence:
        invoke(sqs_batch(sample_body(name)), capsys)
    assert record(aws, "order-8")["results"]["email"]["deliveryStatus"] == final


def test_out_of_order_events_in_one_batch_end_at_the_highest_rank(
    aws: LocalAws, capsys: pytest.CaptureFixture[str]
) -> None:
    seed(aws, "order-9", email=EMAIL_MESSAGE_ID)
    _, counts, _ = invoke(sqs_batch(sample_body("ses_bounce"), sample_body("ses_delivery")), capsys)
    only(counts, DeliveryUpdates=1, StaleEvents=1)
    assert record(aws, "order-9")["results"]["email"]["deliveryStatus"] == "BOUNCED"


def test_a_repeated_event_changes_nothing(
    aws: LocalAws, capsys: pytest.CaptureFixture[str], clock: Clock
) -> None:
    seed(aws, "order-10", sms=SMS_MESSAGE_ID)
    invoke(sms_log_event("sms_success"), capsys)
    first = record(aws, "order-10")
    clock.now += timedelta(minutes=5)
    _, counts, lines = invoke(sms_log_event("sms_success"), capsys)
    only(counts, StaleEvents=1)
    assert record(aws, "order-10") == first
    assert lines[0]["level"] == "INFO" and lines[0]["notificationIds"] == ["order-10"]


# ---- malformed and unmatched ------------------------------------------------------------------


def _without(event: dict[str, Any], *path: str) -> dict[str, Any]:
    copy: dict[str, Any] = json.loads(json.dumps(event))
    target = copy
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return copy


MALFORMED: dict[str, Any] = {
    "bad base64": {"awslogs": {"data": "H4sI%%%not*base64"}},
    "base64 that is not gzip": {"awslogs": {"data": base64.b64encode(b"plain bytes").decode()}},
    "gzip that is not JSON": awslogs_event(b"{not json"),
    "no awslogs.data": {"awslogs": {}},
    "logs payload without logEvents": awslogs_event({"messageType": "DATA_MESSAGE"}),
    "SMS log line that is not JSON": awslogs_event(awslogs_payload("Delivered to +14255550100")),
    "SMS log line without messageId": awslogs_event(awslogs_payload(
        json.dumps(_without(sample("sms_success"), "notification", "messageId")))),
    "SMS log line with an unknown status": awslogs_event(awslogs_payload(
        json.dumps({**sample("sms_success"), "status": "PENDING"}))),
    "SQS body that is not JSON": sqs_batch("Delivery for 0100019b1a2f3c4d"),
    "SNS Message that is not JSON": sqs_batch(json.dumps({**sample("ses_delivery"), "Message": "{truncated"})),
    "unknown eventType": sqs_batch(sns_notification({**ses_event("ses_delivery"), "eventType": "Teleported"})),
    "SES event without eventType": sqs_batch(sns_notification(_without(ses_event("ses_delivery"), "eventType"))),
    "SES event without mail.messageId": sqs_batch(sns_notification(
        _without(ses_event("ses_bounce"), "mail", "messageId"))),
    "SES event that is a list": sqs_batch(json.dumps([ses_event("ses_delivery")])),
    "SQS record without messageId": {"Records": [{"body": sample_body("ses_delivery")}]},
    "unknown event shape": {"source": "aws.events", "detail": {}},
    "SES message id longer than a DynamoDB key": sqs_batch(sns_notification(
        {**ses_event("ses_delivery"), "mail": {**ses_event("ses_delivery")["mail"], "messageId": "0" * 2049}})),
    "SMS message id that is a lone surrogate": awslogs_event(awslogs_payload(json.dumps(
        {**sample("sms_success"), "notification": {**sample("sms_success")["notification"], "messageId": "\ud800"}}))),
    "End User Messaging event of an unknown TEXT_ type": voice_batch(voice_event("TEXT_TELEPORTED")),
    "End User Messaging event without messageId": voice_batch(voice_event("TEXT_DELIVERED", messageId=None)),
    "End User Messaging event whose messageId is a number": voice_batch(voice_event("TEXT_DELIVERED", messageId=7)),
    "End User Messaging message id longer than a DynamoDB key": voice_batch(
        voice_event("TEXT_BLOCKED", messageId="0" * 2049)),
    "End User Messaging failure without isFinal": voice_batch(voice_event("TEXT_SPAM", is_final=None)),
    "End User Messaging acceptance whose isFinal is a string": voice_batch(
        voice_event("TEXT_SUCCESSFUL", is_final="true")),
    "End User Messaging event with an SNS Message that is not JSON": sqs_batch(
        json.dumps({**sample("sms_voice_delivered"), "Message": "{\"eventType\":\"TEXT_DELIVERED\""})),
}


@pytest.mark.parametrize("event", list(MALFORMED.values()), ids=list(MALFORMED))
def test_malformed_input_is_logged_counted_and_touches_nothing(
    aws: LocalAws, capsys: pytest.CaptureFixture[str], event: Any
) -> None:
    seed(aws, "order-11", sms=SMS_MESSAGE_ID, email=EMAIL_MESSAGE_ID)
    before = all_items(aws)
    response, counts, lines = invoke(event, capsys)
    only(counts, MalformedEvents=1)
    assert response.get("batchItemFailures", []) == []
    assert all_items(aws) == before
    [line] = lines
    assert line["level"] == "WARN" and line["message"] == "malformed delivery event"
    assert line["reason"] and line["source"] in {"ses", "sms", "sms-voice", "unknown"}
    assert "+14255550100" not in json.dumps(line) and "recipient@example.org" not in json.dumps(line)
    assert "+18445550123" not in json.dumps(line)


@pytest.mark.parametrize("name", [name for name in MALFORMED if name.startswith("End User Messaging event")
                                  and "not JSON" not in name])
def test_a_malformed_end_user_messaging_event_is_reported_as_such(
    aws: LocalAws, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    _, _, [line] = invoke(MALFORMED[name], capsys)
    assert line["source"] == "sms-voice"


# Deeper than Python's recursion limit: json.loads raises RecursionError on it.
DEEPLY_NESTED = "[" * 100_000 + "]" * 100_000


@pytest.mark.parametrize("body", [
    pytest.param(DEEPLY_NESTED, id="SQS body"),
    pytest.param(json.dumps({**sample("ses_delivery"), "Message": DEEPLY_NESTED}), id="SNS Message"),
])
def test_deeply_nested_json_is_dropped_as_malformed_and_the_batch_goes_on(
    aws: LocalAws, capsys: pytest.CaptureFixture[str], body: str
) -> None:
    seed(aws, "order-12a", email=EMAIL_MESSAGE_ID)
    response, counts, lines = invoke(sqs_batch(body, sample_body("ses_delivery")), capsys)
    assert response == {"batchItemFailures": []}  # never succeeds: not retried
    only(counts, MalformedEvents=1, DeliveryUpdates=1)
    assert lines[0]["reason"].endswith("nested too deeply")
    assert record(aws, "order-12a")["results"]["email"]["deliveryStatus"] == "DELIVERED"


def test_an_unexpected_exception_keeps_only_its_own_record_for_a_retry(
    aws: LocalAws, capsys: pytest.CaptureFixture[str]
) -> None:
    """Nothing in the handler raises anything but Malformed today; the catch-all is for what no
    one foresaw, so the fault is injected: the first DynamoDB query fails outside botocore."""
    seed(aws, "order-12b", email=EMAIL_MESSAGE_ID)
    batch = sqs_batch(sample_body("ses_delivery"), sample_body("ses_bounce"))
    with inject_fault(DynamoDBBackend, "query", lambda: RuntimeError("no one saw this coming")):
        response, counts, lines = invoke(batch, capsys)
    assert response == {"batchItemFailures": [{"itemIdentifier": batch["Records"][0]["messageId"]}]}
    only(counts, ProcessingErrors=1, RetriedEvents=1, DeliveryUpdates=1)
    assert record(aws, "order-12b")["results"]["email"]["deliveryStatus"] == "BOUNCED"
    [line] = [line for line in lines if line["level"] == "ERROR"]
    assert line["error"] == "RuntimeError" and line["sqsMessageId"] == batch["Records"][0]["messageId"]
    assert "no one saw this coming" not in json.dumps(line)  # the message might quote the event


def test_an_unexpected_exception_in_a_log_entry_retries_the_payload_after_the_others(
    aws: LocalAws, capsys: pytest.CaptureFixture[str]
) -> None:
    seed(aws, "order-12c", sms=SMS_MESSAGE_ID)
    other = sample("sms_failure")
    other["notification"]["messageId"] = "7b2c3d4e-5f60-5a6b-8c7d-9e0f1a2b3c4d"
    seed(aws, "order-12d", sms="7b2c3d4e-5f60-5a6b-8c7d-9e0f1a2b3c4d")
    payload = awslogs_payload(json.dumps(other), json.dumps(sample("sms_success")))
    capsys.readouterr()
    with inject_fault(DynamoDBBackend, "query", lambda: RuntimeError("unforeseen")), \
            pytest.raises(feedback.RetryLater):
        feedback.handler(awslogs_event(payload), None)
    [emf] = [line for line in Output(capsys).lines() if "_aws" in line]
    assert emf["ProcessingErrors"] == 1 and emf["RetriedEvents"] == 1 and emf["DeliveryUpdates"] == 1
    assert record(aws, "order-12c")["results"]["sms"]["deliveryStatus"] == "DELIVERED"
    assert "deliveryStatus" not in record(aws, "order-12d")["results"]["sms"]


def test_a_malformed_record_does_not_stop_the_rest_of_the_batch(
    aws: LocalAws, capsys: pytest.CaptureFixture[str]
) -> None:
    seed(aws, "order-12", sms=SMS_MESSAGE_ID)
    payload = awslogs_payload("not json", json.dumps(sample("sms_success")))
    _, counts, _ = invoke(awslogs_event(payload), capsys)
    only(counts, MalformedEvents=1, DeliveryUpdates=1)
    assert record(aws, "order-12")["results"]["sms"]["deliveryStatus"] == "DELIVERED"


@pytest.mark.parametrize("event", [
    pytest.param(lambda: sqs_batch(sample_body("ses_delivery")), id="email"),
    pytest.param(lambda: sms_log_event("sms_success"), id="sms"),
    pytest.param(lambda: sqs_batch(sample_body("sms_voice_failed")), id="end user messaging"),
])
def test_an_unknown_message_id_is_counted_and_touches_nothing(
    aws: LocalAws, capsys: pytest.CaptureFixture[str], event: Any
) -> None:
    seed(aws, "order-13", sms="another-sms-id", email="another-email-id")
    before = all_items(aws)
    response, counts, lines = invoke(event(), capsys)
    only(counts, UnmatchedEvents=1)
    assert response.get("batchItemFailures", []) == []
    assert all_items(aws) == before
    assert lines[0]["message"] == "no delivery-log record has this message id"


def test_a_recent_unmatched_email_event_is_handed_back_to_sqs(
    aws: LocalAws, capsys: pytest.CaptureFixture[str], clock: Clock
) -> None:
    """The event may have overtaken the workflow's outcome write; SQS offers it again later."""
    clock.now = SOON_AFTER_SEND
    seed(aws, "order-14", email="another-email-id")
    unmatched = sqs_record(sample_body("ses_delivery"))
    seed(aws, "order-15", email="0100019b00000000-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee-000000")
    bounce = ses_event("ses_bounce")
    bounce["mail"]["messageId"] = "0100019b00000000-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee-000000"
    good = sqs_record(sns_notification(bounce))
    malformed = sqs_record("not json")
    response, counts, _ = invoke({"Records": [good, unmatched, malformed]}, capsys)
    assert response == {"batchItemFailures": [{"itemIdentifier": unmatched["messageId"]}]}
    only(counts, DeliveryUpdates=1, UnmatchedEvents=1, RetriedEvents=1, MalformedEvents=1)
    assert record(aws, "order-15")["results"]["email"]["deliveryStatus"] == "BOUNCED"
    assert "deliveryStatus" not in record(aws, "order-14")["results"]["email"]


@pytest.mark.parametrize(("channel", "attribute", "message_id", "name"), [
    pytest.param("email", "emailMessageId", EMAIL_MESSAGE_ID, "ses_delivery", id="email"),
    # The ids of SNS and of End User Messaging share the BySmsMessageId index.
    pytest.param("sms", "smsMessageId", SMS_VOICE_MESSAGE_ID, "sms_voice_delivered", id="end user messaging"),
])
def test_a_record_whose_result_holds_another_message_id_is_left_alone(
    aws: LocalAws, capsys: pytest.CaptureFixture[str], channel: str, attribute: str, message_id: str, name: str
) -> None:
    seed(aws, "order-16", **{channel: "the-id-the-workflow-recorded"}, indexed={attribute: message_id})
    before = all_items(aws)
    _, counts, _ = invoke(sqs_batch(sample_body(name)), capsys)
    only(counts, StaleEvents=1)
    assert all_items(aws) == before


def test_a_record_without_that_channel_is_left_alone(aws: LocalAws, capsys: pytest.CaptureFixture[str]) -> None:
    seed(aws, "order-17", sms=SMS_MESSAGE_ID, indexed={"smsMessageId": SMS_MESSAGE_ID,
                                                        "emailMessageId": EMAIL_MESSAGE_ID})
    before = all_items(aws)
    _, counts, _ = invoke(sqs_batch(sample_body("ses_delivery")), capsys)
    only(counts, StaleEvents=1)
    assert all_items(aws) == before


def test_no_item_is_ever_created(aws: LocalAws, capsys: pytest.CaptureFixture[str]) -> None:
    events = [sqs_batch(*(sample_body(n) for n in ("ses_delivery", "ses_bounce", "ses_complaint", "ses_reject"))),
              sms_log_event("sms_success"), sms_log_event("sms_failure"),
              sqs_batch(sample_body("sms_voice_delivered"), sample_body("sms_voice_failed"))]
    for event in events:
        invoke(event, capsys)
    assert aws.table_items(TABLE) == []


# ---- the size of a CloudWatch Logs payload ------------------------------------------------------


def gzip_bomb(inflated_size: int, payload: dict[str, Any]) -> dict[str, Any]:
    """A real subscription payload padded with whitespace (still valid JSON) to ``inflated_size``
    bytes, compressed chunk by chunk so the test never holds the inflated text either."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    text = json.dumps(payload).encode()
    padding = b" " * (1024 * 1024)
    parts = [compressor.compress(text[:-1])]
    for _ in range((inflated_size - len(text)) // len(padding)):
        parts.append(compressor.compress(padding))
    parts += [compressor.compress(text[-1:]), compressor.flush()]
    return {"awslogs": {"data": base64.b64encode(b"".join(parts)).decode()}}


def test_a_gzip_bomb_is_refused_without_being_inflated(aws: LocalAws, capsys: pytest.CaptureFixture[str]) -> None:
    seed(aws, "order-12e", sms=SMS_MESSAGE_ID)
    before = all_items(aws)
    bomb = gzip_bomb(64 * 1024 * 1024, awslogs_payload(json.dumps(sample("sms_success"))))
    assert len(bomb["awslogs"]["data"]) < 256 * 1024  # what CloudWatch Logs could hand the function
    tracemalloc.start()
    try:
        response, counts, lines = invoke(bomb, capsys)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 3 * feedback.MAX_AWSLOGS_BYTES  # the capped output and a copy of it, not 64 MiB
    assert response == {}
    only(counts, MalformedEvents=1)
    assert lines[0]["reason"] == f"awslogs.data inflates to more than {feedback.MAX_AWSLOGS_BYTES} bytes"
    assert all_items(aws) == before


@pytest.mark.parametrize(("size", "accepted"), [
    (feedback.MAX_AWSLOGS_BYTES, True),
    (feedback.MAX_AWSLOGS_BYTES + 1, False),
])
def test_the_inflated_size_cap_is_exact(size: int, accepted: bool) -> None:
    text = b"{" + b" " * (size - 2) + b"}"
    event = {"awslogs": {"data": base64.b64encode(gzip.compress(text)).decode()}}
    if accepted:
        assert feedback.decode_awslogs(event) == {}
    else:
        with pytest.raises(feedback.Malformed, match="inflates to more than"):
            feedback.decode_awslogs(event)


def test_a_truncated_gzip_stream_is_malformed() -> None:
    data = gzip.compress(json.dumps(awslogs_payload(json.dumps(sample("sms_success")))).encode())
    with pytest.raises(feedback.Malformed, match="not one complete gzip stream"):
        feedback.decode_awslogs({"awslogs": {"data": base64.b64encode(data[:-10]).decode()}})


# ---- failures of the delivery log -----------------------------------------------------------


def test_a_dynamodb_failure_hands_the_sqs_record_back(
    aws: LocalAws, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(feedback.TABLE_ENV, "NoSuchTable")
    batch = sqs_batch(sample_body("ses_delivery"))
    response, counts, lines = invoke(batch, capsys)
    assert response == {"batchItemFailures": [{"itemIdentifier": batch["Records"][0]["messageId"]}]}
    only(counts, ProcessingErrors=1, RetriedEvents=1)
    assert lines[0]["level"] == "ERROR" and lines[0]["error"] == "ResourceNotFoundException"


def test_a_dynamodb_failure_fails_the_log_batch_for_an_async_retry(
    aws: LocalAws, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(feedback.TABLE_ENV, "NoSuchTable")
    capsys.readouterr()
    with pytest.raises(feedback.RetryLater):
        feedback.handler(sms_log_event("sms_success"), None)
    [emf] = [line for line in Output(capsys).lines() if "_aws" in line]
    assert emf["ProcessingErrors"] == 1 and emf["RetriedEvents"] == 1


def _dynamodb_error(code: str, status: int) -> DynamodbException:
    error = DynamodbException(f"com.amazonaws.dynamodb.v20120810#{code}", f"{code} (injected)")
    error.code = status
    return error


@pytest.fixture
def one_attempt(monkeypatch: pytest.MonkeyPatch) -> None:
    """botocore retries throttling and 5xx itself; one attempt lets the handler see the error."""
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    feedback._dynamodb.cache_clear()


@pytest.mark.parametrize("error", [
    pytest.param(lambda: _dynamodb_error("ProvisionedThroughputExceededException", 400), id="throughput"),
    pytest.param(lambda: _dynamodb_error("ThrottlingException", 400), id="throttling"),
    pytest.param(lambda: _dynamodb_error("InternalServerError", 500), id="5xx"),
])
def test_throttling_and_server_errors_on_the_update_are_retried(
    aws: LocalAws, capsys: pytest.CaptureFixture[str], one_attempt: None, error: Any
) -> None:
    seed(aws, "order-18", email=EMAIL_MESSAGE_ID)
    batch = sqs_batch(sample_body("ses_delivery"))
    with inject_fault(DynamoDBBackend, "update_item", error):
        response, counts, _ = invoke(batch, capsys)
    assert response == {"batchItemFailures": [{"itemIdentifier": batch["Records"][0]["messageId"]}]}
    only(counts, ProcessingErrors=1, RetriedEvents=1)


def test_a_dynamodb_failure_on_an_end_user_messaging_event_hands_its_record_back(
    aws: LocalAws, capsys: pytest.CaptureFixture[str], one_attempt: None
) -> None:
    seed(aws, "order-18b", sms=SMS_VOICE_MESSAGE_ID, email=EMAIL_MESSAGE_ID)
    batch = sqs_batch(sample_body("sms_voice_failed"), sample_body("ses_delivery"))
    with inject_fault(DynamoDBBackend, "update_item", lambda: _dynamodb_error("ThrottlingException", 400)):
        response, counts, _ = invoke(batch, capsys)
    assert response == {"batchItemFailures": [{"itemIdentifier": batch["Records"][0]["messageId"]}]}
    only(counts, ProcessingErrors=1, RetriedEvents=1, DeliveryUpdates=1)
    results = record(aws, "order-18b")["results"]
    assert "deliveryStatus" not in results["sms"] and results["email"]["deliveryStatus"] == "DELIVERED"


@pytest.mark.parametrize("event", [
    pytest.param(lambda: sqs_batch(sample_body("ses_delivery")), id="email"),
    pytest.param(lambda: sms_log_event("sms_success"), id="sms"),
    pytest.param(lambda: sqs_batch(sample_body("sms_voice_delivered")), id="end user messaging"),
])
def test_an_update_dynamodb_refuses_as_invalid_is_dropped_not_retried(
    aws: LocalAws, capsys: pytest.CaptureFixture[str], one_attempt: None, event: Any
) -> None:
    seed(aws, "order-19", sms=SMS_MESSAGE_ID, email=EMAIL_MESSAGE_ID)
    seed(aws, "order-19b", sms=SMS_VOICE_MESSAGE_ID)
    before = all_items(aws)
    refused = lambda: MockValidationException("One or more parameter values were invalid")  # noqa: E731
    with inject_fault(DynamoDBBackend, "update_item", refused):
        response, counts, lines = invoke(event(), capsys)  # an SMS payload raises RetryLater if retried
    assert response.get("batchItemFailures", []) == []
    only(counts, MalformedEvents=1)
    assert lines[0]["reason"].startswith("DynamoDB refused the update as invalid")
    assert all_items(aws) == before


def test_a_missing_table_setting_is_a_deployment_fault(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(feedback.TABLE_ENV, raising=False)
    with pytest.raises(RuntimeError, match="DELIVERY_LOG_TABLE is not set"):
        feedback.handler(sqs_batch(sample_body("ses_delivery")), None)


# ---- metrics --------------------------------------------------------------------------------


def test_one_embedded_metric_format_line_declares_every_count(
    aws: LocalAws, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    feedback.handler(sqs_batch("not json"), None)
    [emf] = [line for line in Output(capsys).lines() if "_aws" in line]
    [directive] = emf["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "NotifyCdk/DeliveryFeedback"
    assert directive["Dimensions"] == [["FunctionName"]]
    assert [m["Name"] for m in directive["Metrics"]] == list(feedback.METRICS)
    assert {m["Unit"] for m in directive["Metrics"]} == {"Count"}
    assert emf["FunctionName"] == "DeliveryFeedbackFunction"
    assert emf["MalformedEvents"] == 1
    assert isinstance(emf["_aws"]["Timestamp"], int)
