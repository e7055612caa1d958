"""Scheduled sends (``max_send_delay``): a request with ``sendAt`` or ``delaySeconds`` waits in the
execution, recorded SCHEDULED, then goes out; cancelled meanwhile, nothing is sent."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import aws_cdk as cdk
import pytest

from constructs_lib import NotificationWorkflow
from local_aws import ExecutionResult
from tests.behaviour.conftest import SENDER, Deployment, deploy_stack, new_id

PHONE = "+15555550100"
SCHEDULED_SMS_PATH = ["ValidateRequest", "ScheduleSend", "WaitUntilSendAt", "StartScheduledSend",
                      "ValidateRequest", "ClaimSms", "SendSms", "RecordOutcome"]
REJECTED_PATH = ["ValidateRequest", "RecordRejection", "Rejected"]


@pytest.fixture(scope="module")
def scheduling(local_aws: Any, tmp_path_factory: pytest.TempPathFactory) -> Deployment:
    return deploy_stack(local_aws, tmp_path_factory, "NotifyScheduling", lambda stack: NotificationWorkflow(
        stack, "Workflow", sender=SENDER, email_identities=["example.com"], max_send_delay=cdk.Duration.days(30)))


def _sms(**fields: Any) -> dict[str, Any]:
    notification_id = new_id("at")
    return {"notificationId": notification_id, "channel": "sms", "message": f"reminder {notification_id}",
            "phoneNumber": PHONE, **fields}


def _sent(deployment: Deployment, request: dict[str, Any]) -> list[Any]:
    """The SMS sent for ``request`` (its text is unique; other tests' executions may still run)."""
    return [m for m in deployment.aws.sms_messages() if m.message == request["message"]]


def _entered_at(result: ExecutionResult, state: str) -> datetime:
    [entered] = [e["timestamp"] for e in result.events
                 if e["type"].endswith("StateEntered") and e["stateEnteredEventDetails"]["name"] == state]
    return entered if isinstance(entered, datetime) else datetime.fromisoformat(str(entered))


def _in_background(deployment: Deployment, request: dict[str, Any],
                   while_waiting: Callable[[dict[str, Any]], None]) -> ExecutionResult:
    """Runs ``request``; once its record is SCHEDULED, calls ``while_waiting`` with the record."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        future = pool.submit(deployment.run, request)
        deadline = time.monotonic() + 20
        while True:
            item = deployment.aws.table_item(deployment.stack.table_name,
                                             {"notificationId": request["notificationId"]})
            if item is not None and item["status"] == "SCHEDULED":
                break
            assert time.monotonic() < deadline, f"never SCHEDULED: {item}"
            time.sleep(0.05)
        while_waiting(item)
        return future.result(timeout=60)


def test_a_delayed_sms_waits_then_goes_out_once(scheduling: Deployment) -> None:
    request = _sms(delaySeconds=2)

    def nothing_sent_yet(record: dict[str, Any]) -> None:
        assert _sent(scheduling, request) == []
        assert record["sendAt"].endswith("Z")

    result = _in_background(scheduling, request, nothing_sent_yet)

    assert result.status == "SUCCEEDED", result.cause
    assert result.states_entered == SCHEDULED_SMS_PATH
    record = scheduling.record(request["notificationId"])
    assert _entered_at(result, "SendSms") >= datetime.fromisoformat(record["sendAt"])
    assert record["status"] == "SENT"
    [sms] = _sent(scheduling, request)
    assert sms.message_id == record["smsMessageId"]
    start = datetime.fromisoformat(record["receivedAt"])
    # The local engine's start time has microseconds; JSONata's $fromMillis keeps milliseconds.
    assert abs(datetime.fromisoformat(record["sendAt"]) - (start + timedelta(seconds=2))) < timedelta(milliseconds=1)


def test_send_at_with_an_offset_is_kept_in_utc(scheduling: Deployment) -> None:
    offset = timezone(timedelta(hours=5, minutes=30))
    send_at = (datetime.now(offset) + timedelta(seconds=3)).replace(microsecond=0)
    request = _sms(sendAt=send_at.isoformat())

    result = scheduling.run(request)

    assert result.status == "SUCCEEDED", result.cause
    assert result.states_entered == SCHEDULED_SMS_PATH
    record = scheduling.record(request["notificationId"])
    assert record["status"] == "SENT"
    assert datetime.fromisoformat(record["sendAt"]) == send_at
    assert record["sendAt"].endswith("Z")
    assert _entered_at(result, "SendSms") >= send_at


def test_cancelled_while_waiting_sends_nothing(scheduling: Deployment) -> None:
    request = _sms(delaySeconds=3)
    table = scheduling.aws.client("dynamodb")

    def cancel(record: dict[str, Any]) -> None:
        # What the API's DELETE does: only a SCHEDULED record becomes CANCELLED.
        table.update_item(
            TableName=scheduling.stack.table_name, Key={"notificationId": {"S": request["notificationId"]}},
            UpdateExpression="SET #s = :cancelled", ConditionExpression="#s = :scheduled",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":cancelled": {"S": "CANCELLED"}, ":scheduled": {"S": "SCHEDULED"}})

    result = _in_background(scheduling, request, cancel)

    assert result.status == "SUCCEEDED", result.cause
    assert result.states_entered == ["ValidateRequest", "ScheduleSend", "WaitUntilSendAt", "StartScheduledSend",
                                     "Cancelled"]
    assert scheduling.record(request["notificationId"])["status"] == "CANCELLED"
    assert _sent(scheduling, request) == []


def test_a_second_request_with_a_scheduled_id_sends_nothing(scheduling: Deployment) -> None:
    request = _sms(delaySeconds=3)
    duplicates: list[ExecutionResult] = []

    result = _in_background(scheduling, request, lambda _: duplicates.append(scheduling.run(request)))

    assert [d.states_entered for d in duplicates] == [["ValidateRequest", "ScheduleSend", "RecordDuplicate"]]
    assert result.states_entered == SCHEDULED_SMS_PATH
    assert len(_sent(scheduling, request)) == 1
    assert scheduling.record(request["notificationId"])["duplicateCount"] == 1


def test_a_request_without_a_send_time_goes_out_at_once(scheduling: Deployment) -> None:
    request = _sms()

    result = scheduling.run(request)

    assert (result.status, result.states_entered) == (
        "SUCCEEDED", ["ValidateRequest", "ClaimSms", "SendSms", "RecordOutcome"])
    assert "sendAt" not in scheduling.record(request["notificationId"])
    assert len(_sent(scheduling, request)) == 1


def test_a_send_time_just_past_goes_out_now(scheduling: Deployment) -> None:
    request = _sms(sendAt=(datetime.now(UTC) - timedelta(seconds=20)).isoformat(timespec="seconds"))

    result = scheduling.run(request)

    assert result.states_entered == ["ValidateRequest", "ClaimSms", "SendSms", "RecordOutcome"]
    assert scheduling.record(request["notificationId"])["status"] == "SENT"


def _iso(delta: timedelta) -> str:
    return (datetime.now(UTC) + delta).isoformat(timespec="seconds")


WINDOW = "the send time must be from 60 seconds ago to 30 days ahead"
FORMAT = "sendAt must be an ISO 8601 time"
BAD_SCHEDULES = {
    "in the past": ({"sendAt": _iso(-timedelta(minutes=5))}, WINDOW),
    "beyond the limit": ({"sendAt": _iso(timedelta(days=31))}, WINDOW),
    "delay beyond the limit": ({"delaySeconds": 31 * 86400}, WINDOW),
    "no offset": ({"sendAt": "2030-01-01T09:00:00"}, FORMAT),
    "a day the month lacks": ({"sendAt": "2027-02-29T09:00:00Z"}, FORMAT),
    "no seconds": ({"sendAt": "2030-01-01T09:00Z"}, FORMAT),
    "words": ({"sendAt": "tomorrow"}, FORMAT),
    "a number": ({"sendAt": 1767225600}, FORMAT),
    "both": ({"sendAt": _iso(timedelta(minutes=5)), "delaySeconds": 5}, FORMAT),
    "negative delay": ({"delaySeconds": -1}, FORMAT),
    "fractional delay": ({"delaySeconds": 1.5}, FORMAT),
    "delay as text": ({"delaySeconds": "60"}, FORMAT),
}


@pytest.mark.parametrize(("schedule", "reason"), list(BAD_SCHEDULES.values()), ids=list(BAD_SCHEDULES))
def test_a_bad_send_time_is_rejected_with_its_reason(scheduling: Deployment, schedule: dict[str, Any],
                                                     reason: str) -> None:
    request = _sms(**schedule)

    result = scheduling.run(request)

    assert (result.status, result.error) == ("FAILED", "ValidationError")
    assert result.states_entered == REJECTED_PATH
    record = scheduling.record(request["notificationId"])
    assert record["status"] == "REJECTED"
    assert record["reason"].startswith(reason), record["reason"]
    assert _sent(scheduling, request) == []

