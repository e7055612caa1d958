"""The consumer app synthesizes, deploys into the repository's embedded local AWS and delivers
one SMS and one email, logging both in the consumer's own table.

Run from the repository root with its dev environment (moto lives there, not in the consumer's
requirements): ``.venv/bin/python -m pytest examples/consumer_app/tests``. The main suite runs
the same test through ``tests/consumer``.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import aws_cdk as cdk

APP_DIR = Path(__file__).resolve().parent.parent
REPO_ROOT = APP_DIR.parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.append(str(REPO_ROOT))  # for local_aws, which is not part of the installed package

from local_aws import LocalAws  # noqa: E402

STACK_NAME = "ShopNotifications"
PHONE = "+15555550123"


def load_consumer_stack() -> ModuleType:
    """consumer_stack.py under its own module name, so that neither this app's nor the
    repository's ``app`` module shadows the other."""
    spec = importlib.util.spec_from_file_location("shop_consumer_stack", APP_DIR / "consumer_stack.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def synthesize(outdir: Path) -> tuple[ModuleType, dict[str, Any]]:
    """The consumer's template, with the context its cdk.json gives the CLI."""
    consumer = load_consumer_stack()
    context = json.loads((APP_DIR / "cdk.json").read_text()).get("context", {})
    app = cdk.App(context=context, outdir=str(outdir), analytics_reporting=False)
    consumer.ConsumerStack(app, STACK_NAME)
    template: dict[str, Any] = app.synth().get_stack_by_name(STACK_NAME).template
    return consumer, template


def resources(template: dict[str, Any], cfn_type: str) -> dict[str, dict[str, Any]]:
    return {k: r for k, r in template["Resources"].items() if r["Type"] == cfn_type}


def definition(template: dict[str, Any]) -> dict[str, Any]:
    [machine] = resources(template, "AWS::StepFunctions::StateMachine").values()
    body = machine["Properties"]["DefinitionString"]
    if isinstance(body, dict):  # Fn::Join around references: any placeholder keeps it JSON
        body = "".join(p if isinstance(p, str) else "ref" for p in body["Fn::Join"][1])
    parsed: dict[str, Any] = json.loads(body)
    return parsed


def check_template(consumer: ModuleType, template: dict[str, Any]) -> None:
    [machine] = resources(template, "AWS::StepFunctions::StateMachine").values()
    assert machine["Properties"]["StateMachineType"] == "EXPRESS"
    # The consumer's table and topic are used, not new ones made by the constructs.
    [table_id] = resources(template, "AWS::DynamoDB::Table")
    assert table_id.startswith("OrderNotifications")
    [topic_id] = resources(template, "AWS::SNS::Topic")
    assert topic_id.startswith("OnCallAlarms")
    alarms = resources(template, "AWS::CloudWatch::Alarm").values()
    assert alarms and all(a["Properties"]["AlarmActions"] == [{"Ref": topic_id}] for a in alarms)
    # The custom retry policies reach the send states (the broad retrier follows the permanent one).
    states = definition(template)["States"]
    sms_retry = states["SendSms"]["Retry"][-1]
    assert (sms_retry["IntervalSeconds"], sms_retry["MaxAttempts"], sms_retry["BackoffRate"]) == (1, 2, 3)
    email_retry = states["SendEmail"]["Retry"][-1]
    assert (email_retry["IntervalSeconds"], email_retry["MaxAttempts"]) == (5, 1)
    assert "JitterStrategy" not in email_retry or email_retry["JitterStrategy"] == "NONE"
    assert consumer.SENDER in json.dumps(states)


def test_consumer_app_delivers_sms_and_email_into_its_own_table(tmp_path: Path) -> None:
    consumer, template = synthesize(tmp_path)
    check_template(consumer, template)

    with LocalAws.in_process() as aws:
        stack = aws.deploy_template(STACK_NAME, template)
        aws.verify_email_identities(consumer.EMAIL_IDENTITIES)
        sms = aws.start_and_wait(stack.state_machine_arn, {
            "notificationId": "order-1042-sms", "channel": "sms",
            "message": "Order 1042 is on its way", "phoneNumber": PHONE,
        })
        email = aws.start_and_wait(stack.state_machine_arn, {
            "notificationId": "order-1042-email", "channel": "email",
            "message": "Order 1042 is on its way", "email": {"to": "customer@example.org"},
        })

        assert (sms.status, sms.error, sms.cause) == ("SUCCEEDED", None, None)
        assert (email.status, email.error, email.cause) == ("SUCCEEDED", None, None)
        assert [(m.phone_number, m.message) for m in aws.sms_messages()] == [(PHONE, "Order 1042 is on its way")]
        [sent] = aws.sent_emails()
        assert (sent.source, sent.to, sent.subject) == (consumer.SENDER, ["customer@example.org"],
                                                       "News about your order")
        table_name = stack.physical_id(next(iter(resources(template, "AWS::DynamoDB::Table"))))
        records = {item["notificationId"]: item for item in aws.table_items(table_name)}
        assert set(records) == {"order-1042-sms", "order-1042-email"}
        assert records["order-1042-sms"]["status"] == records["order-1042-email"]["status"] == "SENT"
        assert records["order-1042-sms"]["results"]["sms"]["messageId"] == aws.sms_messages()[0].message_id
        assert records["order-1042-email"]["results"]["email"]["messageId"] == sent.message_id
