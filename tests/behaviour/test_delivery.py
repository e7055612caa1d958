"""Happy paths on the local AWS: who received what, and what the delivery log says."""

from __future__ import annotations

from tests.behaviour.conftest import ALLOWED_SENDER, SENDER, Deployment, new_id

SMS_PATH = ["ValidateRequest", "ClaimSms", "SendSms", "RecordOutcome"]
EMAIL_PATH = ["ValidateRequest", "ClaimEmail", "SendEmail", "RecordOutcome"]


def assert_both_path(entered: list[str]) -> None:
    assert entered[:3] == ["ValidateRequest", "ClaimBoth", "SendBoth"]
    assert sorted(entered[3:5]) == ["SendEmailOfBoth", "SendSmsOfBoth"]  # the branches run side by side
    assert entered[5:] == ["RecordOutcome"]


def test_sms_goes_to_the_phone_number_and_is_recorded_sent(deployment: Deployment) -> None:
    nid = new_id("sms")
    result = deployment.run({"notificationId": nid, "channel": "sms", "message": "Code 482913",
                             "phoneNumber": "+15555550100", "metadata": {"priority": "high"}})

    assert result.status == "SUCCEEDED", result.cause
    assert result.states_entered == SMS_PATH
    record = deployment.record(nid)
    assert record["status"] == "SENT"
    assert record["channel"] == "sms"
    assert record["executionArn"] == result.execution_arn
    assert record["metadata"] == '{"priority":"high"}'
    assert record["receivedAt"] <= record["completedAt"]
    sms = deployment.sms(record["results"]["sms"]["messageId"])
    assert (sms.phone_number, sms.message) == ("+15555550100", "Code 482913")
    assert record["results"]["sms"] == {"status": "SENT", "messageId": sms.message_id, "error": ""}
    assert record["smsMessageId"] == sms.message_id and "emailMessageId" not in record


def test_email_with_every_optional_field_reaches_ses_as_given(deployment: Deployment) -> None:
    nid = new_id("email")
    result = deployment.run({
        "notificationId": nid, "channel": "email", "message": "Order 1042 shipped.",
        "email": {"to": "customer@example.org", "subject": "Order 1042", "from": ALLOWED_SENDER,
                  "cc": ["orders@example.org"], "bcc": ["audit@example.org", "audit2@example.org"],
                  "replyTo": "support@example.com", "htmlBody": "<p>Order <b>1042</b> shipped.</p>"},
    })

    assert result.status == "SUCCEEDED", result.cause
    assert result.states_entered == EMAIL_PATH
    record = deployment.record(nid)
    assert record["status"] == "SENT" and record["channel"] == "email"
    email = deployment.email(record["results"]["email"]["messageId"])
    assert email.from_address == ALLOWED_SENDER
    assert email.to == ["customer@example.org"]
    assert email.cc == ["orders@example.org"]
    assert email.bcc == ["audit@example.org", "audit2@example.org"]
    assert email.reply_to == ["support@example.com"]
    assert email.subject == "Order 1042"
    assert email.text_body == "Order 1042 shipped."
    assert email.html_body == "<p>Order <b>1042</b> shipped.</p>"


def test_email_without_optional_fields_gets_the_defaults(deployment: Deployment) -> None:
    nid = new_id("email")
    result = deployment.run({"notificationId": nid, "channel": "email", "message": "Plain text only.",
                             "email": {"to": ["a@example.org", "b@example.org"]}})

    assert result.status == "SUCCEEDED", result.cause
    assert result.states_entered == EMAIL_PATH
    email = deployment.email(deployment.record(nid)["results"]["email"]["messageId"])
    assert email.from_address == SENDER
    assert email.to == ["a@example.org", "b@example.org"]
    assert (email.cc, email.bcc, email.reply_to) == ([], [], [])
    assert email.subject == "Notification"
    assert email.text_body == "Plain text only."
    assert email.html_body is None


def test_both_sends_sms_and_email_and_records_each_result(deployment: Deployment) -> None:
    nid = new_id("both")
    result = deployment.run({"notificationId": nid, "channel": "both", "message": "Maintenance at 22:00",
                             "phoneNumber": "+15555550101",
                             "email": {"to": ["ops@example.org"], "subject": "Maintenance"}})

    assert result.status == "SUCCEEDED", result.cause
    assert_both_path(result.states_entered)
    record = deployment.record(nid)
    assert record["status"] == "SENT" and record["channel"] == "both"
    sms = deployment.sms(record["results"]["sms"]["messageId"])
    assert (sms.phone_number, sms.message) == ("+15555550101", "Maintenance at 22:00")
    email = deployment.email(record["results"]["email"]["messageId"])
    assert (email.to, email.subject, email.text_body) == (["ops@example.org"], "Maintenance", "Maintenance at 22:00")
    assert (record["smsMessageId"], record["emailMessageId"]) == (sms.message_id, email.message_id)


def test_without_a_notification_id_the_execution_name_keys_the_record(deployment: Deployment) -> None:
    name = new_id("exec")
    result = deployment.run({"channel": "both", "message": "hi", "phoneNumber": "+15555550102",
                             "email": {"to": "x@example.org"}}, name=name)

    assert result.status == "SUCCEEDED", result.cause
    assert_both_path(result.states_entered)
    record = deployment.record(name)
    assert record["status"] == "SENT" and record["executionArn"] == result.execution_arn
    assert deployment.email(record["results"]["email"]["messageId"]).to == ["x@example.org"]
