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
        ({"bufferedIngress": "yes"}, "environments.dev.bufferedIngress", "true or false"),
        ({"maxSendDelayDays": 365}, "environments.dev.maxSendDelayDays", "from 1 to 364"),
        ({"maxSendDelayDays": 1.5}, "environments.dev.maxSendDelayDays", "whole number"),
        ({"smsMaxPartsPerSecond": 0}, "environments.dev.smsMaxPartsPerSecond", "from 1 to 10000"),
        ({"sesMaxSendRate": 2.5}, "environments.dev.sesMaxSendRate", "whole number"),
        ({"maxSendDelayDays": 7, "workflowType": "EXPRESS"}, "environments.dev.maxSendDelayDays", "STANDARD"),
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


def test_buffered_ingress_chooses_express_unless_told_otherwise() -> None:
    context = _context(bufferedIngress=True)
    del context["environments"]["dev"]["workflowType"]
    [buffered] = settings_from_context(context)
    assert (buffered.buffered_ingress, buffered.workflow_type) == (True, sfn.StateMachineType.EXPRESS)
    context["environments"]["dev"]["maxSendDelayDays"] = 7
    with pytest.raises(ConfigError, match="maxSendDelayDays.*set workflowType to STANDARD"):
        settings_from_context(context)
    [standard] = settings_from_context(_context(bufferedIngress=True, workflowType="STANDARD"))
    assert standard.workflow_type == sfn.StateMachineType.STANDARD


def test_scheduled_sends_are_off_unless_a_delay_is_configured() -> None:
    [dev] = settings_from_context(cdk_json_context()["notify-cdk"])
    assert (dev.max_send_delay_days, dev.buffered_ingress) == (None, False)
    [scheduling] = settings_from_context(_context(maxSendDelayDays=30))
    assert scheduling.max_send_delay_days == 30


def test_the_stack_turns_on_what_the_environment_asks_for() -> None:
    import aws_cdk as cdk

    from notification_stack import NotificationStack

    context = _context(bufferedIngress=True, smsMaxPartsPerSecond=3, sesMaxSendRate=14)
    del context["environments"]["dev"]["workflowType"]
    [settings] = settings_from_context(context)
    stack = NotificationStack(cdk.App(), "Configured", settings=settings)
    workflow = stack.workflow
    assert stack.buffered_ingress is not None and workflow.queued_input
    assert (workflow.sms_max_parts_per_second, workflow.ses_max_send_rate, workflow.max_send_delay) == (3, 14, None)
    [scheduling] = settings_from_context(_context(maxSendDelayDays=30))
    delay = NotificationStack(cdk.App(), "Scheduling", settings=scheduling).workflow.max_send_delay
    assert delay is not None and delay.to_days() == 30
