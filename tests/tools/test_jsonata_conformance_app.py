"""The conformance check over the app's own workflow: every JSONata expression of the synthesized
definition, on representative requests (valid, invalid, every channel, hostile shapes), gives the
same result with the local engine's evaluator and with npm jsonata, the reference AWS implements."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.support.asl import DEPLOYED_VALUES, definition
from tools import jsonata_conformance as conformance

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.json"))
EXTRA_INPUTS: list[Any] = [
    {"notificationId": "n-1", "channel": "both", "message": "hi", "phoneNumber": "+15555550100",
     "email": {"to": ["a@example.org", "b@example.org"], "cc": ["c@example.org"], "replyTo": "r@example.org",
               "subject": "S", "htmlBody": "<p>x</p>", "from": "alerts@example.com"},
     "metadata": {"priority": "high", "n": 3}},
    {"channel": "email", "message": "hi", "email": {"to": 7, "cc": "c@example.org", "bcc": None}},
    {"notificationId": "bad id with spaces", "channel": "fax", "message": ""},
    {"notificationId": "abc\n", "channel": "sms", "message": "hi", "phoneNumber": "+15555550100"},
    {"notificationId": "x" * 81, "channel": "sms", "message": "hi", "phoneNumber": "15555550100"},
    {"channel": ["sms"], "message": 42, "metadata": [1, 2]},
    [],
    "not an object",
]
RESULTS = {
    "SendSms": {"MessageId": "sms-1"},
    "SendSmsOfBoth": {"MessageId": "sms-2"},
    "SendEmail": {"MessageId": "email-1"},
    "SendEmailOfBoth": {"MessageId": "email-2"},
    "SendFallbackEmail": {"MessageId": "email-3"},
    "SendBoth": [{"status": "SENT", "messageId": "sms-2", "error": "", "cause": ""},
                 {"status": "FAILED", "messageId": "", "error": "SesV2.MessageRejectedException", "cause": "no"}],
}
OUTCOMES = {"sms": {"status": "SENT", "messageId": "sms-1", "error": "", "cause": ""},
            "email": {"status": "FAILED", "messageId": "", "error": "SesV2.MessageRejectedException", "cause": "c"}}


def test_every_expression_of_the_workflow_agrees_with_the_reference(synthesized: Any) -> None:
    asl = definition(synthesized.template(), DEPLOYED_VALUES)
    inputs = [json.loads(path.read_text()) for path in EXAMPLES] + EXTRA_INPUTS
    sites = conformance.expressions(asl)

    mismatches = conformance.check(asl, inputs, results=RESULTS, variables=OUTCOMES)

    assert len(sites) >= 30  # the check saw the workflow's expressions, not an empty definition
    assert mismatches == [], "\n".join(str(m) for m in mismatches[:10])
    assert conformance.conditions_not_boolean(asl, inputs, results=RESULTS, variables=OUTCOMES) == []


SCHEDULES: list[Any] = [
    {"delaySeconds": 30}, {"delaySeconds": 0}, {"delaySeconds": 1.5}, {"delaySeconds": "5"}, {"delaySeconds": -3},
    {"sendAt": "2026-01-01T05:30:00+05:30"}, {"sendAt": "2026-01-01T00:00:40.5Z"}, {"sendAt": "2025-12-31T23:59:30Z"},
    {"sendAt": "2028-02-29T09:00:00Z"}, {"sendAt": "2027-02-29T09:00:00Z"}, {"sendAt": "2026-04-31T09:00:00Z"},
    {"sendAt": "2026-02-01T09:00:00"}, {"sendAt": "2026-02-01T09:00:00Z\n"}, {"sendAt": 1767225600},
    {"sendAt": "2026-01-01T00:01:00Z", "delaySeconds": 5}, {"sendAt": "2027-06-01T00:00:00Z"},
]


def _assert_agrees(asl: Any, inputs: list[Any], states: tuple[str, ...], *, results: dict[str, Any],
                   variables: dict[str, Any]) -> None:
    """Every expression of ``asl`` gives the same result in both engines on ``inputs``, every Choice
    condition a boolean, and the check saw the ``states`` named."""
    mismatches = conformance.check(asl, inputs, results=results, variables=variables)
    not_boolean = conformance.conditions_not_boolean(asl, inputs, results=results, variables=variables)

    sites = " ".join(str(site) for site in conformance.expressions(asl))
    assert all(state in sites for state in states)
    assert mismatches == [], "\n".join(str(m) for m in mismatches[:10])
    assert not_boolean == [], [(site.state, site.field, index, outcome) for site, index, outcome in not_boolean[:5]]


def test_every_expression_of_a_workflow_with_every_option_agrees_with_the_reference(tmp_path: Path) -> None:
    """Scheduled sends (time parsing, the window, the wait), send-rate slots (SMS parts, email
    recipients) and the pipe's batch add expressions of their own."""
    import aws_cdk as cdk

    from constructs_lib import NotificationWorkflow

    app = cdk.App(outdir=str(tmp_path), analytics_reporting=False)
    stack = cdk.Stack(app, "Scheduling")
    NotificationWorkflow(stack, "Workflow", sender="n@example.com", email_identities=["example.com"],
                         max_send_delay=cdk.Duration.days(30), sms_max_parts_per_second=2, ses_max_send_rate=3,
                         queued_input=True)
    asl = definition(app.synth().get_stack_by_name("Scheduling").template, DEPLOYED_VALUES)
    base = {"notificationId": "n-1", "channel": "sms", "message": "hi", "phoneNumber": "+15555550100"}
    inputs = [{**base, **schedule} for schedule in SCHEDULES]
    inputs.append({**base, "delaySeconds": 30, "scheduledRecord": {"duplicateCount": {"N": "2"}, "status": {"S": "X"}}})
    messages = ["x" * 160, "x" * 161, "y" * 500, "héllo", "é" * 71, "日本語のテキスト" * 20,
                "line\nbreak", "tab\tx", ""]
    inputs += [{**base, "message": message} for message in messages]
    inputs += [[{"request": {**base, "message": "queued"}, "messageId": "m-1"}],
               [{"request": "text", "messageId": "m-2"}],
               {**base, "channel": "email",
                "email": {"to": ["a@example.org", "b@example.org"], "bcc": ["c@example.org"]}}]

    # A request without a send time once made the scheduled condition undefined (a failed execution).
    _assert_agrees(asl, inputs, ("WaitUntilSendAt", "TakeSmsSlot", "TakeEmailSlot", "ReadQueuedRequest"),
                   results=RESULTS, variables=OUTCOMES)


def test_every_expression_of_a_workflow_scheduling_through_scheduler_agrees_with_the_reference(
        tmp_path: Path) -> None:
    """Express scheduling adds the token, the fired route, the schedule's expression and its input."""
    import aws_cdk as cdk
    from aws_cdk import aws_stepfunctions as sfn

    from constructs_lib import NotificationWorkflow

    app = cdk.App(outdir=str(tmp_path), analytics_reporting=False)
    stack = cdk.Stack(app, "Scheduler")
    NotificationWorkflow(stack, "Workflow", sender="n@example.com", email_identities=["example.com"],
                         workflow_type=sfn.StateMachineType.EXPRESS, max_send_delay=cdk.Duration.days(30),
                         queued_input=True)
    asl = definition(app.synth().get_stack_by_name("Scheduler").template, DEPLOYED_VALUES)
    base = {"notificationId": "n-1", "channel": "sms", "message": "hi", "phoneNumber": "+15555550100"}
    token = {"scheduleToken": "7f6c2a9e-0000-4000-8000-000000000001"}
    inputs = [{**base, **schedule} for schedule in SCHEDULES]
    inputs += [{**base, **schedule, **token} for schedule in SCHEDULES[:6]]
    inputs += [{**base, "sendAt": "2026-01-01T00:00:40.5Z", **token, "scheduledRecord": {"status": {"S": "X"}}},
               {**base, "scheduleToken": 5}, [{"request": {**base, "delaySeconds": 60}, "messageId": "m-1"}]]

    _assert_agrees(asl, inputs, ("CreateSchedule", "StartScheduledSend", "ScheduleSend"),
                   results=RESULTS, variables=OUTCOMES)


def test_every_expression_of_a_recipient_aware_workflow_agrees_with_the_reference(tmp_path: Path) -> None:
    """Templates, preferences (contact points, opt-outs, quiet hours), the opt-out checks and End
    User Messaging add expressions of their own."""
    import aws_cdk as cdk

    from tests.behaviour.test_recipients import _build_with_preferences

    app = cdk.App(outdir=str(tmp_path), analytics_reporting=False)
    _build_with_preferences(cdk.Stack(app, "Aware"))
    asl = definition(app.synth().get_stack_by_name("Aware").template, DEPLOYED_VALUES)
    order = {"firstName": "Ada", "orderId": 17, "trackingUrl": "https://t.example/{{x}}"}
    base = {"notificationId": "n-1", "channel": "both", "recipientId": "r-1"}
    inputs: list[Any] = [
        {**base, "template": {"name": "order-shipped", "data": order}},
        {**base, "template": {"name": "order-shipped", "data": order, "locale": "fr-CA"}},
        {**base, "template": {"name": "order-shipped", "data": {"firstName": "Ada"}}, "category": "marketing"},
        {**base, "template": {"name": "verification-code", "data": {"code": 1234}}, "critical": True},
        {**base, "template": {"name": "nope"}}, {**base, "template": "order-shipped"},
        {**base, "message": "hi", "category": "marketing", "critical": "yes"},
        {**base, "message": "hi", "recipientId": "bad id", "category": "Bad"},
        {"channel": "sms", "message": "hi", "phoneNumber": "+15555550100"},
    ]
    results = {**RESULTS, "LookUpRecipient": {"Item": {
        "recipientId": {"S": "r-1"}, "phoneNumber": {"S": "+15555550111"}, "email": {"S": "r@example.org"},
        "locale": {"S": "fr"}, "optOut": {"M": {"marketing": {"L": [{"S": "sms"}]}, "*": {"L": []}}},
        "quietHours": {"M": {"start": {"S": "22:00"}, "end": {"S": "07:00"}, "timeZone": {"S": "Europe/Paris"}}}}},
        "CheckSmsOptOut": {"OptedOutNumbers": []}, "CheckEmailOptOut": {"UnsubscribeAll": False,
                                                                         "TopicPreferences": []}}
    recipient = {"phoneNumber": "+15555550111", "email": "r@example.org", "locale": "fr",
                 "optOut": {"marketing": ["sms"], "*": []}, "quietUntil": None}
    variables = {**OUTCOMES, "recipient": recipient, "rendered": {}, "smsOptOut": None, "emailOptOut": None}

    _assert_agrees(asl, inputs, ("LookUpRecipient", "CheckSmsOptOut", "CheckEmailOptOut", "SendSms"),
                   results=results, variables=variables)
