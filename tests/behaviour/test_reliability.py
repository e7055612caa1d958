"""Reliability and privacy on the local AWS: jittered retries, idempotency on Express, the email
fallback, failed executions captured for redrive, and what the delivery log keeps about people."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import datetime

from local_aws import (
    record_retry_sleeps,
    ses_message_rejected,
    sesv2_send_email_fault,
    sns_invalid_parameter,
    sns_publish_fault,
    sns_throttled,
)
from tests.behaviour.conftest import Deployment, new_id
from tests.support.jitter import assert_full_jitter

SMS = {"channel": "sms", "message": "Code 1234", "phoneNumber": "+15555550100"}
EMAIL_PART = {"to": "fallback@example.org", "subject": "Your code"}


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_sms_retry_waits_are_jittered_not_a_fixed_schedule(deployment: Deployment) -> None:
    """The deployed SendSms retrier (2 s, rate 2, 3 retries, FULL jitter) waits a uniform random
    time in [0, 2/4/8 s]; a fixed 2/4/8 s schedule fails here. Over 4 throttled requests (12
    waits) no two waits of the same attempt are equal, some wait is below 3/4 of its backoff and
    some above 1/4. A correct engine fails the last check only if all 12 land in one outer
    quarter: probability 2 * (1/4)**12, about 1.2e-7; equal random floats are rarer still."""
    runs, backoffs = 4, [2.0, 4.0, 8.0]
    with record_retry_sleeps() as sleeps, sns_publish_fault(sns_throttled, times=4 * runs) as fault:
        results = [deployment.run({**SMS, "notificationId": new_id("jitter")}) for _ in range(runs)]

    assert [(r.status, r.error) for r in results] == [("FAILED", "DeliveryFailed")] * runs
    assert fault.calls == 4 * runs and len(sleeps.intervals) == 3 * runs
    assert_full_jitter(sleeps.intervals, backoffs, runs)


def test_no_recipient_and_no_message_are_kept_by_default(deployment: Deployment) -> None:
    """A hash of a phone number is no protection (every number can be tried), so none is kept."""
    sms_id, email_id = new_id("pii"), new_id("pii")
    deployment.run({**SMS, "notificationId": sms_id})
    deployment.run({"notificationId": email_id, "channel": "email", "message": "secret",
                    "email": {"to": ["a@example.org", "b@example.org"]}})

    sms_record, email_record = deployment.record(sms_id), deployment.record(email_id)
    for record in (sms_record, email_record):
        assert "recipients" not in record and "message" not in record
        assert "+15555550100" not in json.dumps(record) and "a@example.org" not in json.dumps(record)
        assert _sha256("+15555550100") not in json.dumps(record)


def test_every_record_expires_after_the_retention(deployment: Deployment) -> None:
    """The table's TTL attribute is written on every record: sent, rejected and duplicate alike."""
    sent, rejected = new_id("ttl"), new_id("ttl")
    deployment.run({**SMS, "notificationId": sent})
    deployment.run({**SMS, "notificationId": sent})  # a duplicate keeps the first record's expiry
    deployment.run({**SMS, "notificationId": rejected, "phoneNumber": "nope"})

    for nid in (sent, rejected):
        record = deployment.record(nid)
        received = datetime.fromisoformat(record["receivedAt"].replace("Z", "+00:00"))
        assert int(record["expiresAt"]) == int(received.timestamp()) + 90 * 24 * 3600, record


def test_errors_are_kept_as_codes_without_the_provider_text(deployment: Deployment) -> None:
    """SES and SNS error messages can quote the recipient: the record keeps the error code only."""
    nid = new_id("codes")
    with sns_publish_fault(sns_invalid_parameter, times=1):
        deployment.run({**SMS, "notificationId": nid})

    result = deployment.record(nid)["results"]["sms"]
    assert result == {"status": "FAILED", "messageId": "", "error": "SNS.InvalidParameterException"}


def test_plain_recipients_and_the_message_are_kept_when_asked(variant: Deployment) -> None:
    nid = new_id("plain")
    variant.run({**SMS, "notificationId": nid})

    record = variant.record(nid)
    assert record["recipients"] == {"sms": "+15555550100"}
    assert record["message"] == "Code 1234"


def test_sms_that_cannot_be_delivered_falls_back_to_email(variant: Deployment) -> None:
    nid = new_id("fallback")
    with sns_publish_fault(sns_invalid_parameter, times=1):
        result = variant.run({**SMS, "notificationId": nid, "email": EMAIL_PART})

    assert result.status == "SUCCEEDED", result.cause
    assert result.states_entered == ["ValidateRequest", "ClaimSms", "SendSms", "FallBackToEmail", "SendFallbackEmail",
                                     "RecordOutcome"]
    record = variant.record(nid)
    assert (record["status"], record["fallback"]) == ("SENT", "email")
    assert record["results"]["sms"]["error"] == "SNS.InvalidParameterException"
    email = variant.email(record["results"]["email"]["messageId"])
    assert (email.to, email.subject, email.text_body) == (["fallback@example.org"], "Your code", "Code 1234")


def test_no_fallback_email_when_the_sms_is_delivered(variant: Deployment) -> None:
    nid = new_id("fallback")
    emails_before = len(variant.aws.sent_emails())
    result = variant.run({**SMS, "notificationId": nid, "email": EMAIL_PART})

    assert result.states_entered == ["ValidateRequest", "ClaimSms", "SendSms", "RecordOutcome"]
    assert len(variant.aws.sent_emails()) == emails_before
    assert "fallback" not in variant.record(nid)


def test_failed_fallback_email_records_both_failures(variant: Deployment) -> None:
    nid = new_id("fallback")
    with sns_publish_fault(sns_invalid_parameter, times=1), sesv2_send_email_fault(ses_message_rejected, times=1):
        result = variant.run({**SMS, "notificationId": nid, "email": EMAIL_PART})

    assert (result.status, result.error) == ("FAILED", "DeliveryFailed")
    record = variant.record(nid)
    assert record["status"] == "FAILED"
    assert record["results"]["sms"]["status"] == record["results"]["email"]["status"] == "FAILED"


def test_fallback_rejects_a_broken_email_part_before_sending(variant: Deployment) -> None:
    sent_before = variant.sent_counts()
    result = variant.run({**SMS, "notificationId": new_id("fallback"), "email": {"subject": "no address"}})

    assert (result.status, result.error) == ("FAILED", "ValidationError")
    assert variant.sent_counts() == sent_before


def test_without_the_fallback_an_undeliverable_sms_just_fails(deployment: Deployment) -> None:
    nid = new_id("nofallback")
    emails_before = len(deployment.aws.sent_emails())
    with sns_publish_fault(sns_invalid_parameter, times=1):
        result = deployment.run({**SMS, "notificationId": nid, "email": EMAIL_PART})

    assert (result.status, result.error) == ("FAILED", "DeliveryFailed")
    assert len(deployment.aws.sent_emails()) == emails_before


def test_failed_executions_reach_the_queue_and_successful_ones_do_not(deployment: Deployment) -> None:
    sqs = deployment.aws.client("sqs")
    queue_url = deployment.stack.outputs["FailedExecutionsQueueUrl"]
    with sns_publish_fault(sns_invalid_parameter, times=1):
        failed = deployment.run({**SMS, "notificationId": new_id("dlq")})
    succeeded = deployment.run({**SMS, "notificationId": new_id("dlq")})

    bodies = []
    for _ in range(5):
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        bodies += [json.loads(m["Body"]) for m in messages]
        if not messages:
            break
    details = {b["detail"]["executionArn"]: b["detail"] for b in bodies}
    assert failed.execution_arn in details and succeeded.execution_arn not in details
    detail = details[failed.execution_arn]
    assert (detail["status"], detail["error"]) == ("FAILED", "DeliveryFailed")
    assert detail["stateMachineArn"] == deployment.stack.state_machine_arn


def test_duplicates_send_nothing_on_an_express_workflow_too(deployment: Deployment) -> None:
    """moto's CloudFormation ignores StateMachineType, so the Express copy is made directly."""
    sfn = deployment.aws.client("stepfunctions")
    standard = sfn.describe_state_machine(stateMachineArn=deployment.stack.state_machine_arn)
    express = sfn.create_state_machine(
        name=f"express-{uuid.uuid4().hex[:8]}", definition=standard["definition"], roleArn=standard["roleArn"],
        type="EXPRESS",
    )["stateMachineArn"]
    assert sfn.describe_state_machine(stateMachineArn=express)["type"] == "EXPRESS"
    nid = new_id("express")

    first = deployment.aws.start_and_wait(express, {**SMS, "notificationId": nid})
    sent_before = deployment.sent_counts()
    second = deployment.aws.start_and_wait(express, {**SMS, "notificationId": nid})

    assert first.status == second.status == "SUCCEEDED"
    assert second.states_entered[-1] == "RecordDuplicate"
    assert deployment.sent_counts() == sent_before
    assert deployment.record(nid)["duplicateCount"] == 1
