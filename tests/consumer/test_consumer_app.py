"""Runs examples/consumer_app's own test in this pytest process (jsii and moto are already
loaded here; a subprocess would pay for both again)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent.parent
CONSUMER_TEST = ROOT / "examples" / "consumer_app" / "tests" / "test_consumer.py"


def _consumer_test_module() -> ModuleType:
    # A unique module name: the consumer test is not part of this package.
    spec = importlib.util.spec_from_file_location("consumer_app_test_consumer", CONSUMER_TEST)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_consumer_app_delivers_sms_and_email_into_its_own_table(tmp_path: Path) -> None:
    _consumer_test_module().test_consumer_app_delivers_sms_and_email_into_its_own_table(tmp_path)
