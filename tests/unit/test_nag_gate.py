"""The cdk-nag gate can be seen to run. cdk-nag 3.x drops acknowledged findings itself and CDK
leaves a plugin out of ``validation-report.json`` when it found nothing, so an empty report looks
the same whether the packs ran or not. Each gate test therefore synthesizes its app with a canary:
a stack holding one bucket that breaks rules of all three packs. The report must then name the
canary's findings for every pack (the pack ran over the whole app) and nothing else (no finding
on the real resources was left unacknowledged).

The helpers here are shared with test_ingress.py and test_feedback.py."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_s3 as s3
from cdk_nag import AwsSolutionsChecks, HIPAASecurityChecks, NIST80053R5Checks

import app as app_module
from tests.conftest import cdk_json_context

PACKS = ("AwsSolutions", "NIST.800.53.R5", "HIPAA.Security")
CANARY_STACK = "NagCanary"
CANARY_PATH = f"{CANARY_STACK}/Bucket"
_S3_RULES = ("S3BucketLoggingEnabled", "S3BucketPublicReadProhibited", "S3BucketPublicWriteProhibited",
             "S3BucketReplicationEnabled", "S3BucketSSLRequestsOnly", "S3BucketVersioningEnabled",
             "S3DefaultEncryptionKMS")
#: What each pack (cdk-nag 3.0.2) reports on a bare ``AWS::S3::Bucket``.
CANARY_FINDINGS: dict[str, set[str]] = {
    "AwsSolutions": {"AwsSolutions-S1", "AwsSolutions-S10"},
    "NIST.800.53.R5": {f"NIST.800.53.R5-{rule}" for rule in _S3_RULES},
    "HIPAA.Security": {f"HIPAA.Security-{rule}" for rule in _S3_RULES},
}
#: Context that makes a failed validation write the report instead of raising, so an app with
#: the canary still synthesizes and its templates can be tested (documented in aws-cdk-lib's cx-api).
REPORT_WITHOUT_FAILING = {"@aws-cdk/core:failSynthOnValidationErrors": False}


def add_nag_canary(app: cdk.App) -> None:
    """A stack with one bucket that every pack reports; no acknowledgement reaches it."""
    stack = cdk.Stack(app, CANARY_STACK,
                      synthesizer=cdk.DefaultStackSynthesizer(generate_bootstrap_version_rule=False))
    s3.CfnBucket(stack, "Bucket")


def findings(outdir: Path) -> dict[str, dict[str, set[str]]]:
    """``validation-report.json`` as {plugin name: {rule id: construct paths}}."""
    report = json.loads((outdir / "validation-report.json").read_text())
    return {
        plugin["pluginName"]: {
            violation["ruleName"]: {c["constructPath"] for c in violation["violatingConstructs"]}
            for violation in plugin["violations"]
        }
        for plugin in report["pluginReports"]
    }


def only_the_canary() -> dict[str, dict[str, set[str]]]:
    """The report of an app whose packs all ran and left nothing but the canary unacknowledged."""
    return {pack: {rule: {CANARY_PATH} for rule in rules} for pack, rules in CANARY_FINDINGS.items()}


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
