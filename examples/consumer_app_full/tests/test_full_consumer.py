"""The full consumer app (NotificationService with every part on, an Express workflow, the
clinic's own table and SMS topic, a backup plan) synthesizes with the three cdk-nag packs and no
finding, deploys into the repository's embedded local AWS and sends one reminder by SMS (through
the clinic's topic) and one by email, logging both in the clinic's table.

Run from the repository root with its dev environment: ``.venv/bin/python -m pytest
examples/consumer_app_full/tests``. The main suite runs the same test through ``tests/consumer``.
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
    sys.path.append(str(REPO_ROOT))  # for local_aws and the nag canary, not part of the installed package

from local_aws import LocalAws  # noqa: E402
from tests.support.nag import REPORT_WITHOUT_FAILING, add_nag_canary, beyond_the_canary  # noqa: E402

STACK_NAME = "ClinicReminders"
PHONE = "+15555550142"


def _consumer() -> ModuleType:
    spec = importlib.util.spec_from_file_location("clinic_consumer_stack", APP_DIR / "consumer_stack.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _synthesize(outdir: Path) -> tuple[ModuleType, dict[str, Any]]:
    consumer = _consumer()
    context = json.loads((APP_DIR / "cdk.json").read_text()).get("context", {})
    app = cdk.App(context={**context, **REPORT_WITHOUT_FAILING}, outdir=str(outdir), analytics_reporting=False)
    consumer.ConsumerStack(app, STACK_NAME)
    consumer.add_security_checks(app)
    add_nag_canary(app)
    return consumer, app.synth().get_stack_by_name(STACK_NAME).template


def _of_type(template: dict[str, Any], cfn_type: str) -> dict[str, dict[str, Any]]:
    return {k: r for k, r in template["Resources"].items() if r["Type"] == cfn_type}


def test_full_consumer_app_has_no_cdk_nag_finding(tmp_path: Path) -> None:
    _synthesize(tmp_path)
    assert beyond_the_canary(tmp_path) == {}


def test_full_consumer_app_wires_every_part_to_its_own_resources(tmp_path: Path) -> None:
    _, template = _synthesize(tmp_path)

    [machine] = _of_type(template, "AWS::StepFunctions::StateMachine").values()
    assert machine["Properties"]["StateMachineType"] == "EXPRESS"
    [table] = _of_type(template, "AWS::DynamoDB::Table")
    assert table.startswith("Reminders")
    assert {"Ref": next(t for t in _of_type(template, "AWS::SNS::Topic") if t.startswith("ReminderSms"))} \
        in machine["Properties"]["DefinitionString"]["Fn::Join"][1]
    assert len(_of_type(template, "AWS::ApiGateway::RestApi")) == 1
    assert len(_of_type(template, "AWS::SES::ConfigurationSet")) == 1
    [pipe] = _of_type(template, "AWS::Pipes::Pipe").values()
    assert pipe["Properties"]["Target"] == {"Ref": next(iter(_of_type(template, "AWS::StepFunctions::StateMachine")))}
    [selection] = _of_type(template, "AWS::Backup::BackupSelection").values()
    assert table in json.dumps(selection["Properties"])
    alarm_topic = next(t for t in _of_type(template, "AWS::SNS::Topic") if "Monitoring" in t)
    alarms = _of_type(template, "AWS::CloudWatch::Alarm")
    assert alarms and all(a["Properties"]["AlarmActions"] == [{"Ref": alarm_topic}] for a in alarms.values())


def test_full_consumer_app_sends_by_its_sms_topic_and_by_email(tmp_path: Path) -> None:
    consumer, template = _synthesize(tmp_path)

    with LocalAws.in_process() as aws:
        stack = aws.deploy_assembly(tmp_path, STACK_NAME)  # the feedback function's code too
        aws.verify_email_identities(consumer.EMAIL_IDENTITIES)
        sms = aws.start_and_wait(stack.state_machine_arn, {
            "notificationId": "visit-7-sms", "channel": "sms", "message": "See you at 9", "phoneNumber": PHONE,
        })
        email = aws.start_and_wait(stack.state_machine_arn, {
            "notificationId": "visit-7-email", "channel": "email", "message": "See you at 9",
            "email": {"to": "patient@example.org"},
        })

        assert (sms.status, sms.error, email.status, email.error) == ("SUCCEEDED", None, "SUCCEEDED", None)
        assert aws.sms_messages() == []  # through the clinic's topic, not straight to the phone
        [sent] = aws.sent_emails()
        assert (sent.source, sent.subject) == (consumer.SENDER, "Your appointment")
        table_name = stack.physical_id(next(iter(_of_type(template, "AWS::DynamoDB::Table"))))
        records = {item["notificationId"]: item for item in aws.table_items(table_name)}
        assert {nid: r["status"] for nid, r in records.items()} == {"visit-7-sms": "SENT", "visit-7-email": "SENT"}
