"""app.py's configuration: cdk.json context checked with errors that say what to fix."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn

from notification_stack import ConfigError, settings_from_context
from tests.conftest import cdk_json_context


def _context(**changes: Any) -> dict[str, Any]:
    context = copy.deepcopy(cdk_json_context()["notify-cdk"])
    context["environments"]["dev"].update(changes)
    return context


def test_cdk_json_configures_a_dev_environment() -> None:
    [dev] = settings_from_context(cdk_json_context()["notify-cdk"])
    assert dev.name == "dev"
    assert dev.workflow_type == sfn.StateMachineType.STANDARD
    assert dev.log_retention == logs.RetentionDays.ONE_MONTH
    assert dev.email_identities == ("example.com",)


@pytest.mark.parametrize(
    ("changes", "where", "fix"),
    [
        ({"sender": "nobody"}, "environments.dev.sender", "e-mail address"),
        ({"emailIdentities": []}, "environments.dev.emailIdentities", "list of non-empty strings"),
        ({"workflowType": "FAST"}, "environments.dev.workflowType", "STANDARD or EXPRESS"),
        ({"logRetentionDays": 31}, "environments.dev.logRetentionDays", "retention periods"),
        ({"alarmEmail": "ops"}, "environments.dev.alarmEmail", "e-mail address"),
        ({"account": "12"}, "environments.dev.account", "12-digit"),
        ({"region": "Mars"}, "environments.dev.region", "eu-west-1"),
        ({"sendr": "x@example.com"}, "environments.dev", "unknown keys"),
    ],
)
def test_fails_when_config_is_invalid(changes: dict[str, Any], where: str, fix: str) -> None:
    with pytest.raises(ConfigError, match=rf"notify-cdk\.{where}: .* is not valid\..*{fix}"):
        settings_from_context(_context(**changes))


def test_fails_when_no_environment_or_an_unknown_one_is_chosen() -> None:
    with pytest.raises(ConfigError, match="at least one environment"):
        settings_from_context({"environments": {}})
    with pytest.raises(ConfigError, match=r"Choose one of \['dev'\]"):
        settings_from_context(_context(), only="prod")
