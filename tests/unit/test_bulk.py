"""BulkSend (issue 13 part 2): the Distributed Map (readers, child, concurrency from the workflow's
send rates, tolerance), the role's exact actions, prop checks and cdk-nag."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk.assertions import Template

from constructs_lib import BulkSend, NotificationWorkflow, PropError, bulk_record_key
from constructs_lib.bulk import DEFAULT_MAX_CONCURRENCY
from tests.support.asl import evaluate_field
from tests.support.nag import REPORT_WITHOUT_FAILING, add_all_packs, add_nag_canary, beyond_the_canary

SENDER = "n@example.com"


def _stack() -> cdk.Stack:
    return cdk.Stack(cdk.App(analytics_reporting=False), "Bulk",
                     synthesizer=cdk.DefaultStackSynthesizer(generate_bootstrap_version_rule=False))


def _workflow(stack: cdk.Stack, **props: Any) -> NotificationWorkflow:
    return NotificationWorkflow(stack, "Workflow", sender=SENDER, email_identities=["example.com"], **props)


def _definition(stack: cdk.Stack, bulk: BulkSend) -> dict[str, Any]:
    resolved = stack.resolve(bulk.state_machine.node.default_child.definition_string)  # type: ignore[union-attr]
    text = "".join(p if isinstance(p, str) else json.dumps(p).replace('"', "'") for p in resolved["Fn::Join"][1])
    return json.loads(text)  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def built() -> tuple[cdk.Stack, BulkSend, dict[str, Any]]:
    stack = _stack()
    bucket = s3.Bucket(stack, "Lists", enforce_ssl=True)
    bulk = BulkSend(stack, "Bulk", workflow=_workflow(stack, sms_max_parts_per_second=3, ses_max_send_rate=14),
                    recipients_bucket=bucket, recipients_prefix="bulk/", tolerated_failure_percentage=5)
    return stack, bulk, Template.from_stack(stack).to_json()


def test_three_distributed_maps_read_inline_jsonl_and_csv_recipients(built: tuple[cdk.Stack, BulkSend, Any]) -> None:
    stack, bulk, _ = built
    states = _definition(stack, bulk)["States"]
    maps = {name: state for name, state in states.items() if state["Type"] == "Map"}
    assert set(maps) == {"SendToInlineRecipients", "SendToJsonlRecipients", "SendToCsvRecipients"}
    assert maps["SendToInlineRecipients"]["Items"] == "{% $states.input.recipients %}"
    assert maps["SendToJsonlRecipients"]["ItemReader"]["ReaderConfig"] == {"InputType": "JSONL"}
    assert maps["SendToCsvRecipients"]["ItemReader"]["ReaderConfig"] == {"InputType": "CSV",
                                                                         "CSVHeaderLocation": "FIRST_ROW"}
    for state in maps.values():
        assert state["ItemProcessor"]["ProcessorConfig"] == {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}
        assert state["ToleratedFailurePercentage"] == 5
        child = state["ItemProcessor"]["States"]["SendToRecipient"]
        assert child["Resource"].endswith(":states:::states:startExecution.sync:2")
        assert child["Arguments"]["Name"] == "{% $name %}"
        assert [c["ErrorEquals"] for c in child["Catch"]] == [
            ["StepFunctions.ExecutionAlreadyExistsException"], ["States.TaskFailed"]]


def test_max_concurrency_follows_the_channel_s_configured_rate(built: tuple[cdk.Stack, BulkSend, Any]) -> None:
    stack, bulk, _ = built
    expression = _definition(stack, bulk)["States"]["SendToInlineRecipients"]["MaxConcurrency"]
    assert bulk.max_concurrency_by_channel == {"sms": 3, "email": 14, "both": 3}
    assert [evaluate_field(expression, bulk={"channel": c}) for c in ("sms", "email", "both")] == [3, 14, 3]


def test_max_concurrency_defaults_without_rates_and_a_prop_overrides_it() -> None:
    stack = _stack()
    workflow = _workflow(stack)
    assert BulkSend(stack, "Default", workflow=workflow).max_concurrency_by_channel == {
        "sms": DEFAULT_MAX_CONCURRENCY, "email": DEFAULT_MAX_CONCURRENCY, "both": DEFAULT_MAX_CONCURRENCY}
    assert BulkSend(stack, "Fixed", workflow=workflow, max_concurrency=7).max_concurrency_by_channel == {
        "sms": 7, "email": 7, "both": 7}


def test_without_a_bucket_only_inline_recipients_are_read() -> None:
    stack = _stack()
    bulk = BulkSend(stack, "Bulk", workflow=_workflow(stack))
    maps = [n for n, s in _definition(stack, bulk)["States"].items() if s["Type"] == "Map"]
    assert maps == ["SendToInlineRecipients"]


def test_the_role_may_do_exactly_what_a_bulk_needs(built: tuple[cdk.Stack, BulkSend, Any]) -> None:
    _, _, template = built
    [policy] = [r for k, r in template["Resources"].items()
                if r["Type"] == "AWS::IAM::Policy" and k.startswith("BulkStateMachineRole")]
    actions = set()
    for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
        assert statement["Effect"] == "Allow"
        actions.update([statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"])
    assert {a for a in actions if not a.startswith(("logs:", "xray:"))} == {
        "states:StartExecution", "states:DescribeExecution", "states:StopExecution",
        "events:PutTargets", "events:PutRule", "events:DescribeRule",
        "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem",
        "kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "s3:GetObject"}
    [get_object] = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Action"] == "s3:GetObject"]
    assert get_object["Resource"]["Fn::Join"][1][-1] == "/bulk/*"


def test_the_summary_record_key_cannot_be_a_notification_id() -> None:
    assert bulk_record_key("spring-2026") == "bulk#spring-2026"


@pytest.mark.parametrize(("props", "prop"), [
    ({"tolerated_failure_percentage": 101}, "tolerated_failure_percentage"),
    ({"max_concurrency": 0}, "max_concurrency"),
    ({"recipients_prefix": "/lists"}, "recipients_prefix"),
])
def test_fails_when_a_prop_is_out_of_range(props: dict[str, Any], prop: str) -> None:
    stack = _stack()
    with pytest.raises(PropError, match=prop):
        BulkSend(stack, "Bulk", workflow=_workflow(stack), **props)


def test_fails_when_the_workflow_is_express() -> None:
    stack = _stack()
    workflow = _workflow(stack, workflow_type=sfn.StateMachineType.EXPRESS)
    with pytest.raises(PropError, match="STANDARD"):
        BulkSend(stack, "Bulk", workflow=workflow)


def test_the_three_packs_find_nothing_in_a_bulk_send(tmp_path: Path) -> None:
    app = cdk.App(context=REPORT_WITHOUT_FAILING, outdir=str(tmp_path), analytics_reporting=False)
    stack = cdk.Stack(app, "Bulk")
    bucket = s3.Bucket(stack, "Lists", enforce_ssl=True)
    BulkSend(stack, "Bulk", workflow=_workflow(stack), recipients_bucket=bucket, recipients_prefix="bulk/")
    add_all_packs(app)
    add_nag_canary(app)
    app.synth()
    # The bucket is the app's own (its findings are not the construct's).
    findings = {pack: {finding: paths for finding, paths in by_id.items() if paths != {"Bulk/Lists/Resource"}}
                for pack, by_id in beyond_the_canary(tmp_path).items()}
    assert {pack: by_id for pack, by_id in findings.items() if by_id} == {}
