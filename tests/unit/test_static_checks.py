"""Linters over what we synthesize: cfn-lint on the templates, asl-validator on the definition."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from cfnlint.api import lint

from tests.support.asl import DEPLOYED_VALUES, definition

ROOT = Path(__file__).resolve().parents[2]
ASL_VALIDATOR = ROOT / "node_modules" / ".bin" / "asl-validator"


# Regions the README deploys to; SES configuration sets do not exist in every region.
REGIONS = ["us-east-1", "eu-west-1"]


def test_cfn_lint_finds_no_errors(synthesized: Any) -> None:
    for name, template in synthesized.templates.items():
        errors = [m for m in lint(json.dumps(template), regions=REGIONS) if m.rule.id.startswith("E")]
        assert errors == [], f"{name}: {[str(e) for e in errors]}"


def test_cfn_lint_would_report_a_broken_template(synthesized: Any) -> None:
    broken = json.loads(json.dumps(synthesized.template()))
    table = next(k for k, r in broken["Resources"].items() if r["Type"] == "AWS::DynamoDB::Table")
    broken["Resources"][table]["Properties"]["BillingMode"] = "FREE"
    assert [m for m in lint(json.dumps(broken), regions=REGIONS) if m.rule.id.startswith("E")]


def test_asl_validator_accepts_the_definition(synthesized: Any, tmp_path: Path) -> None:
    path = tmp_path / "definition.json"
    path.write_text(json.dumps(definition(synthesized.template(), values=DEPLOYED_VALUES)))
    result = subprocess.run([str(ASL_VALIDATOR), "--json-path", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
