"""The requests people send: the older dialect, and a ``both`` that only one channel can carry."""

from __future__ import annotations

from typing import Any

from local_aws import ses_message_rejected, sesv2_send_email_fault
from tests.behaviour.conftest import Deployment, new_id

PHONE = "+15555550100"
ADDRESS = "a@example.org"
BOTH = {"channel": "both", "message": "hi", "phoneNumber": PHONE, "email": {"to": ADDRESS}}
PHONE_REASON = "phoneNumber must be in E.164 form: + then 7 to 15 digits"
EMAIL_TO_REASON = "email.to must be an address or a non-empty list of addresses"


def _sent_since(deployment: Deployment, before: tuple[int, int]) -> tuple[list[Any], list[Any]]:
    sms, emails = deployment.aws.sms_messages(), deployment.aws.sent_emails()
    return sms[before[0]:], emails[before[1]:]


# ---- the older dialect ------------------------------------------------------------------------


def test_the_older_dialect_sends_a_text(deployment: Deployment) -> None:
    nid = new_id("old-text")
    before = deployment.sent_counts()

    result = deployment.run({"notificationId": nid, "delivery_mode": "text", "message_content": "from the old app",
                             "user_phone": PHONE})

    assert result.status == "SUCCEEDED", result.cause
    assert result.states_entered == ["ValidateRequest", "ClaimSms", "SendSms", "RecordOutcome"]
    sms, emails = _sent_since(deployment, before)
    assert [(m.phone_number, m.message) for m in sms] == [(PHONE, "from the old app")] and emails == []
    record = deployment.record(nid)
    assert (record["status"], record["channel"], record["dialect"]) == ("SENT", "sms", "legacy")


def test_the_older_dialect_sends_mail_to_its_one_address(deployment: Deployment) -> None:
    nid = new_id("old-mail")
    before = deployment.sent_counts()

    result = deployment.run({"notificationId": nid, "delivery_mode": "mail", "message_content": "m",
                             "user_email": ADDRESS})

    assert result.status == "SUCCEEDED", result.cause
    sms, emails = _sent_since(deployment, before)
    assert sms == [] and [e.to for e in emails] == [[ADDRESS]]
    assert deployment.record(nid)["channel"] == "email"


def test_the_older_dialect_dual_sends_both(deployment: Deployment) -> None:
    nid = new_id("old-dual")
    before = deployment.sent_counts()

    result = deployment.run({"notificationId": nid, "delivery_mode": "dual", "message_content": "m",
                             "user_phone": PHONE, "user_email": ADDRESS})

    assert result.status == "SUCCEEDED", result.cause
    sms, emails = _sent_since(deployment, before)
    assert len(sms) == 1 and len(emails) == 1
    record = deployment.record(nid)
    assert (record["status"], record["channel"], record["dialect"]) == ("SENT", "both", "legacy")


def test_canonical_fields_win_over_the_older_ones(deployment: Deployment) -> None:
    nid = new_id("mixed")
    before = deployment.sent_counts()

    result = deployment.run({"notificationId": nid, "channel": "email", "delivery_mode": "text",
                             "message": "canonical", "message_content": "older", "user_phone": PHONE,
                             "email": {"to": ADDRESS}, "user_email": "older@example.org"})

    assert result.status == "SUCCEEDED", result.cause
    sms, emails = _sent_since(deployment, before)
    assert sms == []
    assert [(e.to, e.text_body) for e in emails] == [([ADDRESS], "canonical")]
    assert deployment.record(nid)["dialect"] == "legacy"


def test_a_canonical_request_records_its_dialect(deployment: Deployment) -> None:
    nid = new_id("canonical")
    deployment.run({"notificationId": nid, "channel": "sms", "message": "m", "phoneNumber": PHONE})
    assert deployment.record(nid)["dialect"] == "canonical"


def test_the_older_dialect_breaking_a_rule_is_rejected_with_its_reason(deployment: Deployment) -> None:
    nid = new_id("old-bad")
    before = deployment.sent_counts()

    result = deployment.run({"notificationId": nid, "delivery_mode": "text", "message_content": "m",
                             "user_phone": "555-0100"})

    assert (result.status, result.error) == ("FAILED", "ValidationError")
    record = deployment.record(nid)
    assert (record["status"], record["reason"], record["dialect"]) == ("REJECTED", PHONE_REASON, "legacy")
    assert deployment.sent_counts() == before


# ---- both, when one channel cannot be attempted ------------------------------------------------


def test_both_with_an_invalid_phone_number_sends_the_email_and_records_partial(deployment: Deployment) -> None:
    nid = new_id("partial-sms")
    before = deployment.sent_counts()

    result = deployment.run({**BOTH, "notificationId": nid, "phoneNumber": "5550100"})

    assert result.status == "SUCCEEDED", result.cause
    assert result.states_entered == ["ValidateRequest", "ClaimEmail", "SendEmail", "RecordOutcome"]
    sms, emails = _sent_since(deployment, before)
    assert sms == [] and len(emails) == 1
    record = deployment.record(nid)
    assert (record["status"], record["channel"]) == ("PARTIAL", "both")
    assert record["results"]["sms"] == {"status": "REJECTED", "messageId": "", "error": "ValidationError",
                                        "cause": PHONE_REASON}
    assert record["results"]["email"]["status"] == "SENT"
    assert record["emailMessageId"] == emails[0].message_id and "smsMessageId" not in record
    assert "recipients" not in record  # none kept by default


def test_both_with_an_empty_email_to_sends_the_sms_and_records_partial(deployment: Deployment) -> None:
    nid = new_id("partial-email")
    before = deployment.sent_counts()

    result = deployment.run({**BOTH, "notificationId": nid, "email": {"to": []}})

    assert result.status == "SUCCEEDED", result.cause
    assert result.states_entered == ["ValidateRequest", "ClaimSms", "SendSms", "RecordOutcome"]
    sms, emails = _sent_since(deployment, before)
    assert len(sms) == 1 and emails == []
    record = deployment.record(nid)
    assert record["status"] == "PARTIAL"
    assert (record["results"]["email"]["status"], record["results"]["email"]["cause"]) == ("REJECTED", EMAIL_TO_REASON)
    assert record["results"]["sms"]["status"] == "SENT"


def test_both_with_neither_channel_valid_is_rejected_with_the_first_reason(deployment: Deployment) -> None:
    nid = new_id("partial-none")
    before = deployment.sent_counts()

    result = deployment.run({**BOTH, "notificationId": nid, "phoneNumber": "5550100", "email": {"to": ""}})

    assert (result.status, result.error, result.cause) == ("FAILED", "ValidationError", PHONE_REASON)
    assert deployment.record(nid)["status"] == "REJECTED"
    assert deployment.sent_counts() == before


def test_both_whose_one_valid_channel_fails_is_failed_with_both_reasons(deployment: Deployment) -> None:
    nid = new_id("partial-failed")
    with sesv2_send_email_fault(ses_message_rejected, times=1):
        result = deployment.run({**BOTH, "notificationId": nid, "phoneNumber": "5550100"})

    assert (result.status, result.error) == ("FAILED", "DeliveryFailed")
    record = deployment.record(nid)
    assert record["status"] == "FAILED"
    assert record["results"]["sms"]["status"] == "REJECTED"
    assert record["results"]["email"]["error"] == "SesV2.MessageRejectedException"
