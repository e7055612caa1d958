"""Failures on the local AWS: transient ones retried with backoff, permanent ones caught at once,
one channel of ``both`` failing without hiding the other, and duplicates sending nothing."""

from __future__ import annotations

from local_aws import (
    record_retry_sleeps,
    ses_message_rejected,
    ses_too_many_requests,
    sesv2_send_email_fault,
    sns_invalid_parameter,
    sns_publish_fault,
    sns_throttled,
)
from tests.behaviour.conftest import Deployment, new_id

SMS = {"channel": "sms", "message": "hi", "phoneNumber": "+15555550100"}
EMAIL = {"channel": "email", "message": "hi", "email": {"to": "a@example.org"}}
BOTH = {**SMS, **EMAIL, "channel": "both"}


def test_transient_sms_failure_is_retried_within_its_backoff_then_sent(deployment: Deployment) -> None:
    nid = new_id("retry")
    with record_retry_sleeps() as sleeps, sns_publish_fault(sns_throttled, times=2) as fault:
        result = deployment.run({**SMS, "notificationId": nid})

    assert result.status == "SUCCEEDED", result.cause
    assert fault.raised == 2 and fault.calls == 3
    # each wait within [0, 2 * 2**n] s (interval 2 s, rate 2); that the waits are random is
    # test_reliability.py's test_sms_retry_waits_are_jittered_not_a_fixed_schedule
    assert len(sleeps.intervals) == 2
    assert 0 <= sleeps.intervals[0] <= 2 and 0 <= sleeps.intervals[1] <= 4
    record = deployment.record(nid)
    assert record["status"] == "SENT"
    assert deployment.sms(record["results"]["sms"]["messageId"]).phone_number == "+15555550100"


def test_transient_sms_failure_gives_up_after_max_attempts(deployment: Deployment) -> None:
    nid = new_id("exhausted")
    with record_retry_sleeps() as sleeps, sns_publish_fault(sns_throttled, times=10) as fault:
        result = deployment.run({**SMS, "notificationId": nid})

    assert (result.status, result.error) == ("FAILED", "DeliveryFailed")
    assert fault.calls == 4 and len(sleeps.intervals) == 3  # the try and 3 retries
    assert [b >= s for b, s in zip((2, 4, 8), sleeps.intervals, strict=True)] == [True] * 3
    assert deployment.record(nid)["results"]["sms"]["error"] == "SNS.ThrottledException"


def test_transient_email_failure_is_retried_then_sent(deployment: Deployment) -> None:
    nid = new_id("retry")
    with record_retry_sleeps() as sleeps, sesv2_send_email_fault(ses_too_many_requests, times=1):
        result = deployment.run({**EMAIL, "notificationId": nid})

    assert result.status == "SUCCEEDED", result.cause
    assert len(sleeps.intervals) == 1 and 0 <= sleeps.intervals[0] <= 3
    assert deployment.record(nid)["status"] == "SENT"


def test_permanent_sms_failure_is_not_retried_and_is_recorded_failed(deployment: Deployment) -> None:
    nid = new_id("permanent")
    sent_before = deployment.sent_counts()
    with record_retry_sleeps() as sleeps, sns_publish_fault(sns_invalid_parameter, times=1) as fault:
        result = deployment.run({**SMS, "notificationId": nid})

    assert (result.status, result.error) == ("FAILED", "DeliveryFailed")
    assert fault.calls == 1 and sleeps.intervals == []
    assert result.states_entered == ["ValidateRequest", "ClaimSms", "SendSms", "RecordFailed", "DeliveryFailed"]
    record = deployment.record(nid)
    assert record["status"] == "FAILED"
    assert record["results"]["sms"]["status"] == "FAILED"
    assert record["results"]["sms"]["error"] == "SNS.InvalidParameterException"
    assert deployment.sent_counts() == sent_before


def test_permanent_email_failure_is_not_retried(deployment: Deployment) -> None:
    nid = new_id("permanent")
    with record_retry_sleeps() as sleeps, sesv2_send_email_fault(ses_message_rejected, times=1) as fault:
        result = deployment.run({**EMAIL, "notificationId": nid})

    assert (result.status, result.error) == ("FAILED", "DeliveryFailed")
    assert fault.calls == 1 and sleeps.intervals == []
    assert deployment.record(nid)["results"]["email"]["error"] == "SesV2.MessageRejectedException"


def test_both_with_sms_failing_still_delivers_the_email_and_records_partial(deployment: Deployment) -> None:
    nid = new_id("partial")
    with sns_publish_fault(sns_invalid_parameter, times=1):
        result = deployment.run({**BOTH, "notificationId": nid})

    assert result.status == "SUCCEEDED", result.cause
    entered = result.states_entered
    assert entered[:3] == ["ValidateRequest", "ClaimBoth", "SendBoth"]
    # the branches interleave in any order
    assert sorted(entered[3:6]) == ["SendEmailOfBoth", "SendSmsOfBoth", "SmsNotSent"]
    assert entered[6:] == ["RecordOutcome"]
    record = deployment.record(nid)
    assert record["status"] == "PARTIAL"
    assert record["results"]["sms"]["status"] == "FAILED"
    assert record["results"]["sms"]["error"] == "SNS.InvalidParameterException"
    assert record["results"]["email"]["status"] == "SENT"
    assert deployment.email(record["results"]["email"]["messageId"]).to == ["a@example.org"]
    # only the delivered channel's id is indexed for delivery-status feedback
    assert record["emailMessageId"] == record["results"]["email"]["messageId"] and "smsMessageId" not in record


def test_both_with_email_failing_still_delivers_the_sms(deployment: Deployment) -> None:
    nid = new_id("partial")
    with sesv2_send_email_fault(ses_message_rejected, times=1):
        result = deployment.run({**BOTH, "notificationId": nid})

    assert result.status == "SUCCEEDED", result.cause
    record = deployment.record(nid)
    assert (record["status"], record["results"]["email"]["status"]) == ("PARTIAL", "FAILED")
    assert result.states_entered[-1] == "RecordOutcome" and "emailMessageId" not in record
    assert deployment.sms(record["results"]["sms"]["messageId"]).message == "hi"


def test_both_with_every_channel_failing_records_failed_and_fails(deployment: Deployment) -> None:
    nid = new_id("failed")
    with sns_publish_fault(sns_invalid_parameter, times=1), sesv2_send_email_fault(ses_message_rejected, times=1):
        result = deployment.run({**BOTH, "notificationId": nid})

    assert (result.status, result.error) == ("FAILED", "DeliveryFailed")
    # RecordOutcome records only a delivery: its condition fails on purpose, RecordFailed records FAILED
    assert result.states_entered[-3:] == ["RecordOutcome", "RecordFailed", "DeliveryFailed"]
    assert deployment.record(nid)["status"] == "FAILED"


def test_a_second_request_with_the_same_id_sends_nothing(deployment: Deployment) -> None:
    nid = new_id("dup")
    first = deployment.run({**SMS, "notificationId": nid, "message": "first"})
    sent_before = deployment.sent_counts()

    second = deployment.run({**SMS, "notificationId": nid, "message": "second"})

    assert first.status == second.status == "SUCCEEDED"
    assert second.states_entered == ["ValidateRequest", "ClaimSms", "RecordDuplicate"]
    assert deployment.sent_counts() == sent_before
    record = deployment.record(nid)
    assert record["status"] == "SENT" and record["executionArn"] == first.execution_arn
    assert record["duplicateCount"] == 1 and record["lastDuplicateExecutionArn"] == second.execution_arn
    assert deployment.sms(record["results"]["sms"]["messageId"]).message == "first"


def test_a_duplicate_both_request_sends_nothing(deployment: Deployment) -> None:
    nid = new_id("dup")
    deployment.run({**BOTH, "notificationId": nid})
    sent_before = deployment.sent_counts()

    second = deployment.run({**BOTH, "notificationId": nid})

    assert second.states_entered == ["ValidateRequest", "ClaimBoth", "RecordDuplicate"]
    assert deployment.sent_counts() == sent_before
    assert deployment.record(nid)["duplicateCount"] == 1
