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
        ({"recipientPreferences": "yes"}, "environments.dev.recipientPreferences", "true or false"),
        ({"templatesDirectory": ""}, "environments.dev.templatesDirectory", "non-empty string"),
        ({"emailUnsubscribeTopics": []}, "environments.dev.emailUnsubscribeTopics", "list of non-empty strings"),
        ({"preferenceTimeZones": "UTC"}, "environments.dev.preferenceTimeZones", "list of non-empty strings"),
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
    context["environments"]["dev"]["maxSendDelayDays"] = 7  # scheduled through EventBridge Scheduler
    [scheduled] = settings_from_context(context)
    assert (scheduled.workflow_type, scheduled.max_send_delay_days) == (sfn.StateMachineType.EXPRESS, 7)
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


def test_recipient_aware_keys_reach_the_service(tmp_path: Any) -> None:
    import aws_cdk as cdk

    from notification_stack import NotificationStack

    [settings] = settings_from_context(_context(
        templatesDirectory="notification_stack/templates", recipientPreferences=True,
        preferenceTimeZones=["UTC", "Europe/Paris"], emailUnsubscribeTopics=["marketing"], checkSuppressionList=True,
        smsOriginationIdentity="phone-0123456789abcdef0123456789abcdef"))
    app = cdk.App(outdir=str(tmp_path), analytics_reporting=False)
    stack = NotificationStack(app, "NotifyCdk-dev", settings=settings)
    service = stack.service
    assert service.templates is not None and service.contact_list is not None and service.sms is not None
    assert service.recipient_preferences is not None
    assert service.recipient_preferences.time_zones == ("UTC", "Europe/Paris")
    assert service.sms.opt_out_list_name == "Default"
