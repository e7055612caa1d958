"""Shared fixtures: the app is synthesized once per test run, with cdk.json's own context."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest

import app as app_module

ROOT = Path(__file__).resolve().parent.parent


def cdk_json_context() -> dict[str, Any]:
    """``App()`` does not read cdk.json; tests pass its context so they test what deploys."""
    context: dict[str, Any] = json.loads((ROOT / "cdk.json").read_text())["context"]
    return context


@dataclass
class Synthesized:
    outdir: Path
    templates: dict[str, dict[str, Any]]
    stacks: list[Any]

    def template(self, stack_name: str = "NotifyCdk-dev") -> dict[str, Any]:
        return self.templates[stack_name]


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    outdir = tmp_path_factory.mktemp("cdk.out")
    app = cdk.App(context=cdk_json_context(), outdir=str(outdir), analytics_reporting=False)
    stacks = app_module.build(app)
    assembly = app.synth()
    templates = {s.stack_name: s.template for s in assembly.stacks}
    return Synthesized(outdir=outdir, templates=templates, stacks=stacks)
