"""Runs the consumer examples' own tests in this pytest process (jsii and moto are already loaded
here; a subprocess would pay for both again)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
EXAMPLES = ROOT / "examples"


def _module(app_dir: str, test_file: str) -> ModuleType:
    # A unique module name: the consumer tests are not part of this package.
    path = EXAMPLES / app_dir / "tests" / test_file
    spec = importlib.util.spec_from_file_location(f"{app_dir}_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("test", ["test_consumer_app_has_no_cdk_nag_finding",
                                  "test_consumer_app_delivers_sms_and_email"])
def test_consumer_app(test: str, tmp_path: Path) -> None:
    getattr(_module("consumer_app", "test_consumer.py"), test)(tmp_path)


@pytest.mark.parametrize("test", ["test_full_consumer_app_has_no_cdk_nag_finding",
                                  "test_full_consumer_app_wires_every_part_to_its_own_resources",
                                  "test_full_consumer_app_sends_by_its_sms_topic_and_by_email"])
def test_full_consumer_app(test: str, tmp_path: Path) -> None:
    getattr(_module("consumer_app_full", "test_full_consumer.py"), test)(tmp_path)
