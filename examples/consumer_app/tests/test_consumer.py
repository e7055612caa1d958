"""The consumer app (NotificationService with default props) synthesizes with the three cdk-nag
packs and no finding, deploys into the repository's embedded local AWS and delivers one SMS and
one email, logging both in the service's table.

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
from tests.support.nag import REPORT_WITHOUT_FAILING, add_nag_canary, beyond_the_canary  # noqa: E402

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
    """The consumer's template, with the context its cdk.json gives the CLI and the packs its
    app.py adds; a canary stack shows that the packs ran (the report then names nothing else)."""
    consumer = load_consumer_stack()
    context = json.loads((APP_DIR / "cdk.json").read_text()).get("context", {})
    app = cdk.App(context={**context, **REPORT_WITHOUT_FAILING}, outdir=str(outdir), analytics_reporting=False)
    consumer.ConsumerStack(app, STACK_NAME)
    consumer.add_security_checks(app)
    add_nag_canary(app)
    template: dict[str, Any] = app.synth().get_stack_by_name(STACK_NAME).template
    return consumer, template


def resources(template: dict[str, Any], cfn_type: str) -> dict[str, dict[str, Any]]:
    return {k: r for k, r in template["Resources"].items() if r["Type"] == cfn_type}


def check_template(template: dict[str, Any]) -> None:
    """The defaults: a Standard workflow, its own table, an encrypted alarm topic every alarm notifies."""
    [machine] = resources(template, "AWS::StepFunctions::StateMachine").values()
    assert machine["Properties"]["StateMachineType"] == "STANDARD"
    [table] = resources(template, "AWS::DynamoDB::Table").values()
    assert table["DeletionPolicy"] == "Retain"
    [(topic_id, topic)] = resources(template, "AWS::SNS::Topic").items()
    assert "KmsMasterKeyId" in topic["Properties"]
    alarms = resources(template, "AWS::CloudWatch::Alarm").values()
    assert alarms and all(a["Properties"]["AlarmActions"] == [{"Ref": topic_id}] for a in alarms)


def test_consumer_app_has_no_cdk_nag_finding(tmp_path: Path) -> None:
    synthesize(tmp_path)
    assert beyond_the_canary(tmp_path) == {}


def test_consumer_app_delivers_sms_and_email(tmp_path: Path) -> None:
    consumer, template = synthesize(tmp_path)
    check_template(template)

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
        assert (sent.source, sent.to, sent.subject) == (consumer.SENDER, ["customer@example.org"], "Notification")
        table_name = stack.physical_id(next(iter(resources(template, "AWS::DynamoDB::Table"))))
        records = {item["notificationId"]: item for item in aws.table_items(table_name)}
        assert set(records) == {"order-1042-sms", "order-1042-email"}
        assert records["order-1042-sms"]["status"] == records["order-1042-email"]["status"] == "SENT"
        assert records["order-1042-sms"]["results"]["sms"]["messageId"] == aws.sms_messages()[0].message_id
        assert records["order-1042-email"]["results"]["email"]["messageId"] == sent.message_id
