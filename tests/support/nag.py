"""The cdk-nag gate's canary, shared by the gate tests and the consumer examples' tests (which run
from a fresh venv with the installed package: this module imports cdk-nag and aws-cdk-lib only).

cdk-nag 3.x drops acknowledged findings itself and CDK leaves a plugin out of
``validation-report.json`` when it found nothing, so an empty report looks the same whether the
packs ran or not. A gate test therefore synthesizes its app with a canary: a stack holding one
bucket that breaks rules of all three packs. The report must then name the canary's findings for
every pack (the pack ran over the whole app) and nothing else (no finding on the real resources
was left unacknowledged)."""

from __future__ import annotations

import json
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_s3 as s3
from cdk_nag import AwsSolutionsChecks, HIPAASecurityChecks, NIST80053R5Checks
from constructs import IConstruct

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


def add_all_packs(scope: IConstruct) -> None:
    """The three packs, as validation plugins over the app ``scope`` belongs to."""
    cdk.Validations.of(scope).add_plugins(AwsSolutionsChecks(scope), NIST80053R5Checks(scope),
                                          HIPAASecurityChecks(scope))


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


def beyond_the_canary(outdir: Path) -> dict[str, dict[str, set[str]]]:
    """Findings other than the canary's, per pack (``{}`` when there are none); asserts that each
    pack reported the canary, i.e. that it ran."""
    report = findings(outdir)
    assert set(report) == set(PACKS), f"packs that reported: {sorted(report)}; expected all of {PACKS}"
    extra: dict[str, dict[str, set[str]]] = {}
    for pack, rules in report.items():
        for rule, paths in rules.items():
            if rule in CANARY_FINDINGS[pack]:
                paths = paths - {CANARY_PATH}
            if paths:
                extra.setdefault(pack, {})[rule] = paths
        assert CANARY_FINDINGS[pack] <= set(rules), f"{pack} did not report the canary"
    return extra
