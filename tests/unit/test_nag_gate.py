"""The cdk-nag gate can be seen to run: see tests/support/nag.py for the canary the gate tests
synthesize with. The helpers are re-exported here for test_ingress.py and test_feedback.py."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from cdk_nag import AwsSolutionsChecks, HIPAASecurityChecks, NIST80053R5Checks

import app as app_module
from tests.conftest import cdk_json_context
from tests.support.nag import (
    CANARY_FINDINGS,
    CANARY_PATH,
    PACKS,
    REPORT_WITHOUT_FAILING,
    add_all_packs,
    add_nag_canary,
    beyond_the_canary,
    findings,
    only_the_canary,
)

__all__ = ["CANARY_FINDINGS", "CANARY_PATH", "PACKS", "REPORT_WITHOUT_FAILING", "add_nag_canary", "findings",
           "only_the_canary"]


def test_each_pack_reports_the_canary(tmp_path: Path) -> None:
    """The canary breaks rules of all three packs, and a failed gate stops the synth."""
    app = cdk.App(outdir=str(tmp_path), analytics_reporting=False)
    add_nag_canary(app)
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app), NIST80053R5Checks(app), HIPAASecurityChecks(app))

    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()

    assert findings(tmp_path) == only_the_canary()


def test_a_pack_that_is_not_registered_reports_nothing(tmp_path: Path) -> None:
    """What the gate tests tell apart: a pack missing from the app leaves no trace in the report."""
    app = cdk.App(outdir=str(tmp_path), analytics_reporting=False)
    add_nag_canary(app)
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))

    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()

    assert findings(tmp_path) == {"AwsSolutions": only_the_canary()["AwsSolutions"]}


def test_the_apps_stack_runs_all_three_packs_and_leaves_no_finding_unacknowledged(tmp_path: Path) -> None:
    """The app as app.py builds it, plus the canary: NotificationStack registers the packs itself,
    so the canary's findings show they ran, and no other finding means the stack (with the API
    and the delivery feedback cdk.json turns on) has nothing unacknowledged."""
    context: dict[str, Any] = {**cdk_json_context(), **REPORT_WITHOUT_FAILING}
    app = cdk.App(context=context, outdir=str(tmp_path), analytics_reporting=False)
    [stack] = app_module.build(app)
    assert stack.api is not None and stack.feedback is not None
    add_nag_canary(app)

    app.synth()

    assert findings(tmp_path) == only_the_canary()


# ---- each acknowledgement is needed -------------------------------------------------------------

CONSUMER_APPS = Path(__file__).resolve().parent.parent.parent / "examples"


class _Recorder:
    """Stands in for ``cdk.Validations.of(scope)``: records acknowledgements instead of making
    them, and registers plugins as usual."""

    def __init__(self, scope: Any, made: set[tuple[str, str]], real: Any) -> None:
        self._scope, self._made, self._real = scope, made, real

    def acknowledge(self, *rules: cdk.Acknowledgment) -> None:
        for rule in rules:
            self._made.add((rule.id, self._scope.node.path))

    def add_plugins(self, *plugins: Any) -> None:
        self._real(self._scope).add_plugins(*plugins)


def _unacknowledged(monkeypatch: pytest.MonkeyPatch, outdir: Path, build: Any,
                    context: dict[str, Any] | None = None) -> tuple[set[tuple[str, str]], dict[str, set[str]]]:
    """Builds an app with every ``Validations.acknowledge`` call recorded instead of made; returns
    the acknowledgements (rule id, construct path) and the findings beyond the canary as
    {rule id: construct paths}."""
    made: set[tuple[str, str]] = set()
    real = cdk.Validations.of
    monkeypatch.setattr(cdk.Validations, "of", staticmethod(lambda scope: _Recorder(scope, made, real)))
    app = cdk.App(context={**(context or {}), **REPORT_WITHOUT_FAILING}, outdir=str(outdir), analytics_reporting=False)
    build(app)
    add_nag_canary(app)
    app.synth()
    surfaced: dict[str, set[str]] = {}
    for rules in beyond_the_canary(outdir).values():
        for rule, paths in rules.items():
            surfaced.setdefault(rule, set()).update(paths)
    return made, surfaced


def _each_needed_and_nothing_else(made: set[tuple[str, str]], surfaced: dict[str, set[str]]) -> None:
    """Every acknowledgement covers a finding that surfaces without it (none is stale), and every
    finding that surfaces is covered by one (nothing is left to the consumer)."""
    def covers(ack_path: str, finding_path: str) -> bool:
        return finding_path == ack_path or finding_path.startswith(ack_path + "/")

    stale = {(rule, path) for rule, path in made
             if not any(covers(path, found) for found in surfaced.get(rule, set()))}
    uncovered = {(rule, found) for rule, paths in surfaced.items() for found in paths
                 if not any(r == rule and covers(path, found) for r, path in made)}
    assert (stale, uncovered) == (set(), set())
    assert made, "no acknowledgement was recorded: the recorder did not take effect"


def _consumer_stack(app_dir: str) -> Any:
    spec = importlib.util.spec_from_file_location(f"{app_dir}_stack", CONSUMER_APPS / app_dir / "consumer_stack.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("app_dir", ["consumer_app", "consumer_app_full"])
def test_each_acknowledgement_in_a_consumer_app_is_needed(
    app_dir: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """NotificationService with default props (consumer_app), and with every part on, an Express
    workflow, the consumer's table and SMS topic and a backup plan (consumer_app_full): the
    acknowledgements the constructs make are exactly what the three packs would report."""
    consumer = _consumer_stack(app_dir)

    def build(app: cdk.App) -> None:
        consumer.ConsumerStack(app, "Consumer")
        consumer.add_security_checks(app)

    made, surfaced = _unacknowledged(monkeypatch, tmp_path, build)

    _each_needed_and_nothing_else(made, surfaced)
    ids = {rule for rule, _ in made}
    if app_dir == "consumer_app":
        # The findings the issue measured in a bare app are acknowledged where they arise, or fixed.
        assert {"AwsSolutions-IAM5[Resource::*]", "NIST.800.53.R5-IAMNoInlinePolicy",
                "HIPAA.Security-DynamoDBInBackupPlan"} <= ids
        assert not any("SNSEncryptedKMS" in rule or "CloudWatchAlarmAction" in rule for rule in ids)
    else:
        # backup_plan=True puts the consumer's table into a plan: nothing to acknowledge on it.
        assert not any("DynamoDBInBackupPlan" in rule for rule in ids)


def test_each_acknowledgement_in_the_apps_stack_is_needed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """NotificationStack acknowledges nothing itself; its parts' acknowledgements are each needed."""
    made, surfaced = _unacknowledged(monkeypatch, tmp_path, app_module.build, cdk_json_context())

    _each_needed_and_nothing_else(made, surfaced)
    assert not any(path == "NotifyCdk-dev" for _, path in made)


def test_a_feedback_loop_without_an_alarm_topic_reports_its_silent_alarm(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DeliveryFeedback alone acknowledges no alarm without an action: its dead-letter alarm is
    reported until it notifies someone, and unacknowledged_findings says so. In NotificationService
    it notifies the monitoring's alarm topic, so nothing is reported there."""
    from constructs_lib import DeliveryFeedback, NotificationWorkflow

    alone: list[DeliveryFeedback] = []

    def build(app: cdk.App) -> None:
        stack = cdk.Stack(app, "Alone")
        workflow = NotificationWorkflow(stack, "Workflow", sender="n@example.com", email_identities=["example.com"])
        alone.append(DeliveryFeedback(stack, "Feedback", workflow=workflow, encryption_key=workflow.encryption_key))
        add_all_packs(app)

    _, surfaced = _unacknowledged(monkeypatch, tmp_path, build)

    alarm = "Alone/Feedback/DeadLetterAlarm/Resource"
    assert {rule: paths for rule, paths in surfaced.items() if alarm in paths} == {
        "NIST.800.53.R5-CloudWatchAlarmAction": {alarm}, "HIPAA.Security-CloudWatchAlarmAction": {alarm}}
    assert alone[0].unacknowledged_findings == ["NIST.800.53.R5-CloudWatchAlarmAction",
                                                "HIPAA.Security-CloudWatchAlarmAction"]
