"""Recipient-aware delivery on the embedded AWS: templates (render, a missing variable, locale
fallback), preferences (contact points looked up, a channel opted out of, quiet hours delaying a
send, a critical bypass), legal opt-outs (an SES unsubscribe, the suppression list, an SMS STOP,
which nothing bypasses), the one-click unsubscribe header, and SMS through End User Messaging."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ses as ses
from aws_cdk import aws_smsvoice as smsvoice
from aws_cdk import aws_stepfunctions as sfn

from constructs_lib import NotificationTemplates, NotificationWorkflow, RecipientPreferences
from constructs_lib.sms_voice import EndUserMessagingSms
from local_aws import LocalAws
from tests.behaviour.conftest import SENDER, Deployment, deploy_stack, new_id

TEMPLATES = Path(__file__).resolve().parents[2] / "notification_stack" / "templates"
CONTACT_LIST = "NotifyRecipients"
OPT_OUT_LIST = "NotifyOptOuts"
ORDER = {"firstName": "Ada", "orderId": "A-17", "trackingUrl": "https://t.example/A-17"}


def _sms(stack: cdk.Stack, opt_out_list: str) -> EndUserMessagingSms:
    """A toll-free number with its own opt-out list, and the End User Messaging parts around it."""
    opt_outs = smsvoice.CfnOptOutList(stack, "OptOuts", opt_out_list_name=opt_out_list)
    keywords = smsvoice.CfnPhoneNumber.MandatoryKeywordsProperty(
        help=smsvoice.CfnPhoneNumber.MandatoryKeywordProperty(message="Help: example.com/sms"),
        stop=smsvoice.CfnPhoneNumber.MandatoryKeywordProperty(message="You will get no more texts."))
    number = smsvoice.CfnPhoneNumber(stack, "Number", iso_country_code="US", number_capabilities=["SMS"],
                                     number_type="TOLL_FREE", opt_out_list_name=opt_out_list,
                                     mandatory_keywords=keywords)
    number.add_dependency(opt_outs)
    return EndUserMessagingSms(stack, "Sms", origination_identity=number.attr_arn, opt_out_list_name=opt_out_list)


def _build(stack: cdk.Stack) -> None:
    templates = NotificationTemplates(stack, "Templates", directory=TEMPLATES)
    sms = _sms(stack, OPT_OUT_LIST)
    ses.CfnContactList(stack, "Contacts", contact_list_name=CONTACT_LIST, topics=[
        ses.CfnContactList.TopicProperty(topic_name="marketing", display_name="News",
                                         default_subscription_status="OPT_IN"),
        ses.CfnContactList.TopicProperty(topic_name="orders", display_name="Orders",
                                         default_subscription_status="OPT_IN")])
    NotificationWorkflow(
        stack, "Workflow", sender=SENDER, email_identities=["example.com"],
        workflow_type=sfn.StateMachineType.EXPRESS, max_send_delay=cdk.Duration.days(2),
        templates=templates, sms_provider=sms, email_contact_list=CONTACT_LIST,
        email_topics=["marketing", "orders"], check_suppression_list=True)


def _build_with_preferences(stack: cdk.Stack) -> None:
    templates = NotificationTemplates(stack, "Templates", directory=TEMPLATES)
    sms = _sms(stack, OPT_OUT_LIST + "P")
    ses.CfnContactList(stack, "Contacts", contact_list_name=CONTACT_LIST + "P", topics=[
        ses.CfnContactList.TopicProperty(topic_name="marketing", display_name="News",
                                         default_subscription_status="OPT_IN")])
    workflow_key = cdk.aws_kms.Key(stack, "Key", enable_key_rotation=True)
    preferences = RecipientPreferences(stack, "Preferences", encryption_key=workflow_key,
                                       time_zones=["UTC", "Europe/Paris"], removal_policy=cdk.RemovalPolicy.DESTROY)
    NotificationWorkflow(
        stack, "Workflow", sender=SENDER, email_identities=["example.com"], encryption_key=workflow_key,
        workflow_type=sfn.StateMachineType.EXPRESS, max_send_delay=cdk.Duration.days(2),
        templates=templates, preferences=preferences, sms_provider=sms,
        email_contact_list=CONTACT_LIST + "P", email_topics=["marketing"])


@pytest.fixture(scope="module")
def templated(local_aws: LocalAws, tmp_path_factory: pytest.TempPathFactory) -> Deployment:
    return deploy_stack(local_aws, tmp_path_factory, "NotifyTemplated", _build)


@pytest.fixture(scope="module")
def aware(local_aws: LocalAws, tmp_path_factory: pytest.TempPathFactory) -> Deployment:
    return deploy_stack(local_aws, tmp_path_factory, "NotifyRecipientAware", _build_with_preferences)


def _texts_to(aws: LocalAws, number: str, after: int = 0) -> list[Any]:
    return [m for m in aws.sms_voice_messages()[after:] if m.destination_phone_number == number]


def _emails_to(aws: LocalAws, address: str) -> list[Any]:
    return [e for e in aws.sent_emails() if address in e.to]


def _number(n: int) -> str:
    return f"+1555010{n:04d}"


_counter = iter(range(1000, 9999))


def _fresh() -> tuple[str, str]:
    n = next(_counter)
    return _number(n), f"r{n}-{new_id()}@example.org"


# ---- templates ---------------------------------------------------------------------------------


def test_a_template_renders_the_sms_and_the_email(templated: Deployment) -> None:
    phone, address = _fresh()
    nid = new_id("tpl")
    result = templated.run({"notificationId": nid, "channel": "both", "phoneNumber": phone,
                            "email": {"to": address}, "category": "orders",
                            "template": {"name": "order-shipped", "data": ORDER}})

    assert result.status == "SUCCEEDED", result.cause
    [text] = _texts_to(templated.aws, phone)
    assert text.message_body == "Hi Ada, your order A-17 has shipped. Track it: https://t.example/A-17"
    assert text.context == {"notificationId": nid} and text.message_type == "TRANSACTIONAL"
    [email] = _emails_to(templated.aws, address)
    assert email.kind == "template" and email.subject == "Your order A-17 has shipped"
    assert "Ada" in (email.text_body or "") and email.template and email.template.endswith("-order-shipped-en")
    record = templated.record(nid)
    assert record["status"] == "SENT"
    assert record["smsMessageId"] == text.message_id and record["emailMessageId"] == email.message_id


def test_every_email_carries_the_one_click_unsubscribe_header(templated: Deployment) -> None:
    phone, address = _fresh()
    templated.run({"channel": "email", "message": "news", "email": {"to": address}, "category": "marketing"})

    [email] = _emails_to(templated.aws, address)
    assert email.contact_list == CONTACT_LIST and email.topic == "marketing"
    assert email.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert email.headers["List-Unsubscribe"].startswith("<")


def test_a_missing_variable_rejects_the_request_and_names_it(templated: Deployment) -> None:
    phone, address = _fresh()
    nid = new_id("tpl")
    result = templated.run({"notificationId": nid, "channel": "sms", "phoneNumber": phone,
                            "template": {"name": "order-shipped", "data": {"firstName": "Ada"}}})

    assert (result.status, result.error) == ("FAILED", "ValidationError")
    record = templated.record(nid)
    assert record["status"] == "REJECTED"
    assert record["reason"] == "template.data lacks orderId, trackingUrl (sms)"
    assert _texts_to(templated.aws, phone) == []


def test_an_unknown_template_is_rejected(templated: Deployment) -> None:
    nid = new_id("tpl")
    result = templated.run({"notificationId": nid, "channel": "sms", "phoneNumber": _fresh()[0],
                            "template": {"name": "nope", "data": {}}})
    assert result.error == "ValidationError"
    assert templated.record(nid)["reason"].startswith("template must be an object whose name is one of: ")


@pytest.mark.parametrize(("locale", "greeting"), [("fr", "Bonjour Ada"), ("fr-CA", "Bonjour Ada"),
                                                  ("de", "Hi Ada"), (None, "Hi Ada")])
def test_a_locale_falls_back_to_its_language_then_the_default(templated: Deployment, locale: str | None,
                                                              greeting: str) -> None:
    phone, _ = _fresh()
    template: dict[str, Any] = {"name": "order-shipped", "data": ORDER}
    if locale:
        template["locale"] = locale
    templated.run({"channel": "sms", "phoneNumber": phone, "template": template})

    [text] = _texts_to(templated.aws, phone)
    assert text.message_body.startswith(greeting)


# ---- legal opt-outs -----------------------------------------------------------------------------


def test_an_sms_stop_is_never_sent_to(templated: Deployment) -> None:
    phone, _ = _fresh()
    # This stack's number (other tests' stacks have numbers in the shared local AWS too).
    [number] = [n for n in templated.aws.client("pinpoint-sms-voice-v2").describe_phone_numbers()["PhoneNumbers"]
                if n["OptOutListName"] == OPT_OUT_LIST]
    assert templated.aws.sms_voice_reply(phone, number["PhoneNumberArn"], "STOP")
    nid = new_id("stop")

    result = templated.run({"notificationId": nid, "channel": "sms", "phoneNumber": phone, "message": "hi",
                            "critical": True})

    assert result.status == "SUCCEEDED", result.cause
    assert "IsSmsOptedOut" in result.states_entered and "SendSms" not in result.states_entered
    record = templated.record(nid)
    assert record["status"] == "SKIPPED_OPT_OUT"
    assert record["results"]["sms"]["status"] == "SKIPPED_OPT_OUT"
    assert _texts_to(templated.aws, phone) == []


def test_an_unsubscribed_address_is_skipped_on_that_topic_only(templated: Deployment) -> None:
    phone, address = _fresh()
    templated.aws.client("sesv2").create_contact(
        ContactListName=CONTACT_LIST, EmailAddress=address,
        TopicPreferences=[{"TopicName": "marketing", "SubscriptionStatus": "OPT_OUT"}])
    marketing, orders = new_id("news"), new_id("order")

    templated.run({"notificationId": marketing, "channel": "both", "message": "sale", "phoneNumber": phone,
                   "email": {"to": address}, "category": "marketing"})
    templated.run({"notificationId": orders, "channel": "email", "message": "shipped", "email": {"to": address},
                   "category": "orders"})

    record = templated.record(marketing)
    assert record["status"] == "SENT"  # the sms went; the email was left out
    assert record["results"]["email"] == {"status": "SKIPPED_OPT_OUT", "messageId": "", "error": "",
                                          "cause": "unsubscribed from marketing"}
    assert templated.record(orders)["status"] == "SENT"
    assert [e.subject for e in _emails_to(templated.aws, address)] == ["Notification"]


def test_an_address_on_the_suppression_list_is_skipped(templated: Deployment) -> None:
    _, address = _fresh()
    templated.aws.client("sesv2").put_suppressed_destination(EmailAddress=address, Reason="COMPLAINT")
    nid = new_id("supp")

    templated.run({"notificationId": nid, "channel": "email", "message": "hi", "email": {"to": address}})

    record = templated.record(nid)
    assert record["status"] == "SKIPPED_OPT_OUT"
    assert record["results"]["email"]["cause"] == "on the suppression list (COMPLAINT)"
    assert _emails_to(templated.aws, address) == []


# ---- preferences --------------------------------------------------------------------------------


def _prefer(deployment: Deployment, recipient: str, **item: Any) -> None:
    table = [t for t in deployment.aws.client("dynamodb").list_tables()["TableNames"]
             if "NotifyRecipientAware" in t and "Preferences" in t][0]
    typed: dict[str, Any] = {"recipientId": {"S": recipient}}
    for key, value in item.items():
        if key == "optOut":
            typed[key] = {"M": {c: {"L": [{"S": ch} for ch in chans]} for c, chans in value.items()}}
        elif key == "quietHours":
            typed[key] = {"M": {k: {"S": v} for k, v in value.items()}}
        else:
            typed[key] = {"S": value}
    deployment.aws.client("dynamodb").put_item(TableName=table, Item=typed)


def test_contact_points_and_locale_come_from_the_recipient(aware: Deployment) -> None:
    phone, address = _fresh()
    recipient = new_id("rcp")
    _prefer(aware, recipient, phoneNumber=phone, email=address, locale="fr")
    nid = new_id("pref")

    result = aware.run({"notificationId": nid, "channel": "both", "recipientId": recipient,
                        "template": {"name": "order-shipped", "data": ORDER}})

    assert result.status == "SUCCEEDED", result.cause
    assert result.states_entered[0] == "LookUpRecipient"
    [text] = _texts_to(aware.aws, phone)
    assert text.message_body.startswith("Bonjour Ada")
    [email] = _emails_to(aware.aws, address)
    assert email.template and email.template.endswith("-order-shipped-fr")
    assert aware.record(nid)["status"] == "SENT"


def test_an_opted_out_channel_is_skipped_and_critical_overrides_it(aware: Deployment) -> None:
    phone, address = _fresh()
    recipient = new_id("rcp")
    _prefer(aware, recipient, phoneNumber=phone, email=address, optOut={"marketing": ["sms"], "*": []})
    both, only_sms, critical = new_id("pref"), new_id("pref"), new_id("pref")

    aware.run({"notificationId": both, "channel": "both", "recipientId": recipient, "message": "sale",
               "category": "marketing"})
    skipped = aware.run({"notificationId": only_sms, "channel": "sms", "recipientId": recipient, "message": "sale",
                         "category": "marketing"})
    aware.run({"notificationId": critical, "channel": "sms", "recipientId": recipient, "message": "fraud alert",
               "category": "marketing", "critical": True})

    record = aware.record(both)
    assert record["status"] == "SENT"
    assert record["results"]["sms"]["status"] == "SKIPPED_PREFERENCE"
    assert record["results"]["email"]["status"] == "SENT"
    assert (skipped.status, skipped.states_entered) == ("SUCCEEDED", ["LookUpRecipient", "ValidateRequest",
                                                                      "RecordSkipped", "Skipped"])
    assert aware.record(only_sms)["status"] == "SKIPPED_PREFERENCE"
    assert [t.message_body for t in _texts_to(aware.aws, phone)] == ["fraud alert"]
    assert aware.record(critical)["status"] == "SENT"


def test_quiet_hours_delay_the_send_until_they_end(aware: Deployment) -> None:
    phone, _ = _fresh()
    recipient = new_id("rcp")
    now = datetime.now(UTC)
    start, end = (now - timedelta(hours=1)).strftime("%H:%M"), (now + timedelta(hours=2)).strftime("%H:%M")
    _prefer(aware, recipient, phoneNumber=phone, quietHours={"start": start, "end": end, "timeZone": "UTC"})
    delayed, urgent = new_id("quiet"), new_id("quiet")

    result = aware.run({"notificationId": delayed, "channel": "sms", "recipientId": recipient, "message": "later"})
    aware.run({"notificationId": urgent, "channel": "sms", "recipientId": recipient, "message": "now",
               "critical": True})

    assert result.states_entered == ["LookUpRecipient", "ValidateRequest", "ScheduleSend", "CreateSchedule",
                                     "SendScheduled"]
    record = aware.record(delayed)
    assert record["status"] == "SCHEDULED"
    send_at = datetime.fromisoformat(record["sendAt"])
    assert send_at.strftime("%H:%M") == end and timedelta(hours=1) < send_at - now <= timedelta(hours=2)
    assert [t.message_body for t in _texts_to(aware.aws, phone)] == ["now"]

    machine = aware.stack.state_machine_arn.rsplit(":", 1)[-1]
    fired = [arn for arn in aware.aws.fire_due_schedules(send_at + timedelta(seconds=1))
             if arn.split(":")[-2] == machine]  # the local AWS is shared with other tests' stacks
    assert len(fired) == 1
    deadline = time.monotonic() + 30
    while aware.record(delayed)["status"] != "SENT":
        assert time.monotonic() < deadline, aware.record(delayed)
        time.sleep(0.05)
    assert [t.message_body for t in _texts_to(aware.aws, phone)] == ["now", "later"]


def test_an_unknown_recipient_needs_its_contact_points(aware: Deployment) -> None:
    nid = new_id("pref")
    result = aware.run({"notificationId": nid, "channel": "sms", "recipientId": "nobody", "message": "hi"})
    assert result.error == "ValidationError"
    record = aware.record(nid)
    assert record["status"] == "REJECTED" and record["reason"].startswith("phoneNumber must be in E.164 form")
