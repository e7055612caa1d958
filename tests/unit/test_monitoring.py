"""Template assertions for NotificationMonitoring."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, cast

import aws_cdk as cdk
import pytest
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk.assertions import Match, Template

from constructs_lib import NotificationMonitoring, NotificationWorkflow, PropError

SMS_ARN = "arn:aws:states:::sns:publish"
EMAIL_ARN = "arn:aws:states:::aws-sdk:sesv2:sendEmail"
EXISTING_TOPIC_ARN = "arn:aws:sns:eu-west-1:111111111111:ops-alarms"
ALARM_EMAIL = "ops@example.com"

# Alarm name -> the CloudWatch metric it must watch.
EXECUTION_ALARMS = {
    "ExecutionsFailed": "ExecutionsFailed",
    "ExecutionsTimedOut": "ExecutionsTimedOut",
    "ExecutionThrottled": "ExecutionThrottled",
    "ExecutionsAborted": "ExecutionsAborted",
}


def _state_machine(stack: cdk.Stack) -> sfn.StateMachine:
    return sfn.StateMachine(
        stack,
        "StateMachine",
        definition_body=sfn.DefinitionBody.from_chainable(sfn.Pass(stack, "Noop")),
    )


class Built:
    """One synthesized variant: the construct, its template and handy logical ids."""

    def __init__(self, stack: cdk.Stack, monitoring: NotificationMonitoring) -> None:
        self.stack = stack
        self.monitoring = monitoring
        self.template = Template.from_stack(stack)
        self.state_machine_id = _only_logical_id(self.template, "AWS::StepFunctions::StateMachine")

    def alarm_props(self, name: str) -> dict[str, Any]:
        cfn_alarm = cast(cdk.CfnElement, self.monitoring.alarms[name].node.default_child)
        logical_id = self.stack.get_logical_id(cfn_alarm)
        props: dict[str, Any] = self.template.to_json()["Resources"][logical_id]["Properties"]
        return props


def _only_logical_id(template: Template, resource_type: str) -> str:
    found = template.find_resources(resource_type)
    assert len(found) == 1, f"expected one {resource_type}, found {sorted(found)}"
    return next(iter(found))


@pytest.fixture(scope="module")
def variants() -> dict[str, Built]:
    """Both variants in one app, built before the single synth (the tree is frozen after it)."""
    app = cdk.App(analytics_reporting=False)

    # New encrypted topic, e-mail subscription and per-channel alarms.
    full_stack = cdk.Stack(app, "Full")
    key = kms.Key(full_stack, "Key", enable_key_rotation=True)
    full_monitoring = NotificationMonitoring(
        full_stack,
        "Monitoring",
        state_machine=_state_machine(full_stack),
        alarm_email=ALARM_EMAIL,
        encryption_key=key,
        evaluation_periods=2,
        period=cdk.Duration.minutes(10),
        channel_integrations={"sms": SMS_ARN, "email": EMAIL_ARN},
        sms_monthly_spend_limit_usd=50,
    )

    # Caller-supplied topic, no SMS spend alarm, defaults otherwise.
    existing_stack = cdk.Stack(app, "ExistingTopic")
    existing_monitoring = NotificationMonitoring(
        existing_stack,
        "Monitoring",
        state_machine=_state_machine(existing_stack),
        alarm_topic=sns.Topic.from_topic_arn(existing_stack, "Ops", EXISTING_TOPIC_ARN),
        sms_monthly_spend_limit_usd=None,
    )

    # Nothing but the state machine: the topic gets a key of its own.
    default_stack = cdk.Stack(app, "Default")
    default_monitoring = NotificationMonitoring(default_stack, "Monitoring",
                                                state_machine=_state_machine(default_stack))

    return {
        "full": Built(full_stack, full_monitoring),
        "existing_topic": Built(existing_stack, existing_monitoring),
        "default": Built(default_stack, default_monitoring),
    }


@pytest.fixture(scope="module")
def full(variants: dict[str, Built]) -> Built:
    return variants["full"]


@pytest.fixture(scope="module")
def existing_topic(variants: dict[str, Built]) -> Built:
    return variants["existing_topic"]


# --- state machine alarms -------------------------------------------------------------------


def _assert_full_variant_alarm_settings(props: dict[str, Any]) -> None:
    """Sum over the variant's own period and evaluation_periods (not the defaults), threshold 1."""
    assert props["Statistic"] == "Sum"
    assert props["Threshold"] == 1
    assert props["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert props["TreatMissingData"] == "notBreaching"
    assert props["Period"] == 600
    assert props["EvaluationPeriods"] == 2


@pytest.mark.parametrize(("name", "metric_name"), sorted(EXECUTION_ALARMS.items()))
def test_execution_alarm_watches_state_machine_metric(
    full: Built, name: str, metric_name: str
) -> None:
    props = full.alarm_props(name)
    assert props["Namespace"] == "AWS/States"
    assert props["MetricName"] == metric_name
    assert props["Dimensions"] == [
        {"Name": "StateMachineArn", "Value": {"Ref": full.state_machine_id}}
    ]
    _assert_full_variant_alarm_settings(props)


def test_alarms_notify_the_created_topic(full: Built) -> None:
    topic_id = _only_logical_id(full.template, "AWS::SNS::Topic")
    for name in full.monitoring.alarms:
        assert full.alarm_props(name)["AlarmActions"] == [{"Ref": topic_id}], name


def test_alarm_names_are_stable(full: Built, existing_topic: Built) -> None:
    assert sorted(full.monitoring.alarms) == sorted(
        [*EXECUTION_ALARMS, "sms.IntegrationFailures", "email.IntegrationFailures", "SmsSpendNearLimit"]
    )
    assert sorted(existing_topic.monitoring.alarms) == sorted(EXECUTION_ALARMS)
    existing_topic.template.resource_count_is("AWS::CloudWatch::Alarm", 4)
    full.template.resource_count_is("AWS::CloudWatch::Alarm", 7)


def test_construct_ids_are_stable(full: Built) -> None:
    children = {child.node.id for child in full.monitoring.node.children}
    assert {
        "AlarmTopic",
        "AlarmEmailSubscription",
        "ExecutionsFailedAlarm",
        "ExecutionsTimedOutAlarm",
        "ExecutionThrottledAlarm",
        "ExecutionsAbortedAlarm",
        "SmsIntegrationFailuresAlarm",
        "EmailIntegrationFailuresAlarm",
        "Dashboard",
    } <= children


def test_defaults_are_five_minutes_and_one_period(existing_topic: Built) -> None:
    props = existing_topic.alarm_props("ExecutionsFailed")
    assert props["Period"] == 300
    assert props["EvaluationPeriods"] == 1


# --- per-channel alarms ---------------------------------------------------------------------


@pytest.mark.parametrize(("channel", "arn"), [("sms", SMS_ARN), ("email", EMAIL_ARN)])
def test_channel_alarm_watches_integration_failures(full: Built, channel: str, arn: str) -> None:
    props = full.alarm_props(f"{channel}.IntegrationFailures")
    assert props["Namespace"] == "AWS/States"
    assert props["MetricName"] == "ServiceIntegrationsFailed"
    assert props["Dimensions"] == [{"Name": "ServiceIntegrationResourceArn", "Value": arn}]
    _assert_full_variant_alarm_settings(props)


# --- topic, key and subscription ------------------------------------------------------------


def test_email_subscription_on_alarm_topic(full: Built) -> None:
    topic_id = _only_logical_id(full.template, "AWS::SNS::Topic")
    full.template.resource_properties_count_is(
        "AWS::SNS::Subscription",
        {"Protocol": "email", "Endpoint": ALARM_EMAIL, "TopicArn": {"Ref": topic_id}},
        1,
    )


def test_created_topic_is_encrypted_with_encryption_key(full: Built) -> None:
    key_id = _only_logical_id(full.template, "AWS::KMS::Key")
    full.template.has_resource_properties(
        "AWS::SNS::Topic", {"KmsMasterKeyId": {"Fn::GetAtt": [key_id, "Arn"]}}
    )


def test_created_topic_enforces_ssl_and_lets_alarms_publish(full: Built) -> None:
    topic_id = _only_logical_id(full.template, "AWS::SNS::Topic")
    policies = full.template.find_resources("AWS::SNS::TopicPolicy")
    assert len(policies) == 1
    policy = next(iter(policies.values()))["Properties"]
    assert policy["Topics"] == [{"Ref": topic_id}]
    statements = policy["PolicyDocument"]["Statement"]

    deny = [s for s in statements if s["Effect"] == "Deny"]
    assert len(deny) == 1
    assert deny[0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert deny[0]["Principal"] == "*"
    assert deny[0]["Action"] == "sns:Publish"

    allow = [s for s in statements if s.get("Sid") == "AllowCloudWatchAlarmsToPublish"]
    assert len(allow) == 1
    assert allow[0]["Effect"] == "Allow"
    assert allow[0]["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert allow[0]["Action"] == "sns:Publish"
    assert allow[0]["Resource"] == {"Ref": topic_id}
    source_arn = json.dumps(allow[0]["Condition"]["ArnLike"]["aws:SourceArn"])
    assert ":cloudwatch:" in source_arn and ":alarm:*" in source_arn


def test_owned_key_lets_cloudwatch_use_it(full: Built) -> None:
    key = next(iter(full.template.find_resources("AWS::KMS::Key").values()))
    statements = key["Properties"]["KeyPolicy"]["Statement"]
    granted = [
        s for s in statements if s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}
    ]
    assert len(granted) == 1
    assert granted[0]["Effect"] == "Allow"
    assert sorted(granted[0]["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey*"]
    # Only alarms of this account and Region (no confused deputy).
    assert granted[0]["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    source_arn = json.dumps(granted[0]["Condition"]["ArnLike"]["aws:SourceArn"])
    assert ":cloudwatch:" in source_arn and ":alarm:*" in source_arn


def test_without_a_key_the_topic_is_encrypted_with_a_rotating_key_of_its_own(variants: dict[str, Built]) -> None:
    default = variants["default"]
    [(key_id, key)] = default.template.find_resources("AWS::KMS::Key").items()
    assert key_id.startswith("MonitoringAlarmTopicKey")
    assert key["Properties"]["EnableKeyRotation"] is True
    default.template.has_resource_properties("AWS::SNS::Topic", {"KmsMasterKeyId": {"Fn::GetAtt": [key_id, "Arn"]}})
    [granted] = [s for s in key["Properties"]["KeyPolicy"]["Statement"]
                 if s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}]
    assert set(granted["Condition"]) == {"StringEquals", "ArnLike"}
    assert default.monitoring.topic_key is not None


def test_an_existing_topic_gets_no_key(existing_topic: Built) -> None:
    assert existing_topic.template.find_resources("AWS::KMS::Key") == {}
    assert existing_topic.monitoring.topic_key is None


def test_existing_topic_is_used_as_is(existing_topic: Built) -> None:
    template = existing_topic.template
    template.resource_count_is("AWS::SNS::Topic", 0)
    template.resource_count_is("AWS::SNS::TopicPolicy", 0)
    template.resource_count_is("AWS::SNS::Subscription", 0)
    assert existing_topic.monitoring.alarm_topic.topic_arn == EXISTING_TOPIC_ARN
    for name in EXECUTION_ALARMS:
        assert existing_topic.alarm_props(name)["AlarmActions"] == [EXISTING_TOPIC_ARN]


# --- dashboard ------------------------------------------------------------------------------


def _dashboard_body(built: Built) -> str:
    dashboard = next(iter(built.template.find_resources("AWS::CloudWatch::Dashboard").values()))
    # The body is an Fn::Join around the state machine reference; its JSON text is enough here.
    return json.dumps(dashboard["Properties"]["DashboardBody"])


def test_dashboard_graphs_state_machine_metrics(full: Built) -> None:
    full.template.resource_count_is("AWS::CloudWatch::Dashboard", 1)
    body = _dashboard_body(full)
    for metric in (
        "ExecutionsStarted",
        "ExecutionsSucceeded",
        "ExecutionsFailed",
        "ExecutionsTimedOut",
        "ExecutionThrottled",
        "ExecutionTime",
    ):
        assert f'\\"{metric}\\"' in body, metric
    assert full.state_machine_id in body


def test_dashboard_graphs_channels_only_when_given(full: Built, existing_topic: Built) -> None:
    body = _dashboard_body(full)
    assert "ServiceIntegrationsFailed" in body
    assert SMS_ARN in body and EMAIL_ARN in body
    assert "ServiceIntegration" not in _dashboard_body(existing_topic)


def test_dashboard_name_is_generated_by_default(full: Built) -> None:
    full.template.has_resource_properties(
        "AWS::CloudWatch::Dashboard", {"DashboardName": Match.absent()}
    )


# --- validation (no synth: the constructor raises first) ------------------------------------


@pytest.fixture
def new_stack() -> Callable[[], tuple[cdk.Stack, sfn.StateMachine]]:
    def make() -> tuple[cdk.Stack, sfn.StateMachine]:
        stack = cdk.Stack(cdk.App(analytics_reporting=False), "Invalid")
        return stack, _state_machine(stack)

    return make


def _raises_prop_error(make: Callable[[], object], prop: str, value: object, fix: str) -> None:
    """The one error type of the constructs: it names the construct, the prop, the value and the fix."""
    with pytest.raises(PropError) as raised:
        make()
    error = raised.value
    assert (error.construct, error.prop, error.value) == ("NotificationMonitoring", prop, value)
    assert fix in error.fix
    assert str(error).startswith(f"NotificationMonitoring: invalid {prop}={value!r}. ")


@pytest.mark.parametrize("email", ["ops.example.com", "ops@", "ops @example.com", ""])
def test_fails_when_alarm_email_is_not_an_address(
    new_stack: Callable[[], tuple[cdk.Stack, sfn.StateMachine]], email: str
) -> None:
    stack, sm = new_stack()
    _raises_prop_error(lambda: NotificationMonitoring(stack, "Monitoring", state_machine=sm, alarm_email=email),
                       "alarm_email", email, "e-mail address")


def test_alarm_email_token_is_not_validated(
    new_stack: Callable[[], tuple[cdk.Stack, sfn.StateMachine]],
) -> None:
    stack, sm = new_stack()
    email = cdk.CfnParameter(stack, "Email").value_as_string
    monitoring = NotificationMonitoring(stack, "Monitoring", state_machine=sm, alarm_email=email)
    assert monitoring.node.try_find_child("AlarmEmailSubscription") is not None


@pytest.mark.parametrize("evaluation_periods", [0, -1, 1.5, True])
def test_fails_when_evaluation_periods_below_one(
    new_stack: Callable[[], tuple[cdk.Stack, sfn.StateMachine]], evaluation_periods: int
) -> None:
    stack, sm = new_stack()
    _raises_prop_error(
        lambda: NotificationMonitoring(stack, "Monitoring", state_machine=sm, evaluation_periods=evaluation_periods),
        "evaluation_periods", evaluation_periods, "at least 1")


@pytest.mark.parametrize(
    ("period", "shown", "fix"),
    [
        (cdk.Duration.seconds(30), "30 seconds", "between 1 minute and 1 day"),
        (cdk.Duration.seconds(59), "59 seconds", "between 1 minute and 1 day"),
        (cdk.Duration.hours(25), "1 day 1 hour", "between 1 minute and 1 day"),
        (cdk.Duration.seconds(90), "1 minute 30 seconds", "whole number of minutes"),
    ],
    ids=["30s", "59s", "25h", "90s"],
)
def test_fails_when_period_out_of_range_or_not_whole_minutes(
    new_stack: Callable[[], tuple[cdk.Stack, sfn.StateMachine]], period: cdk.Duration, shown: str, fix: str
) -> None:
    stack, sm = new_stack()
    _raises_prop_error(lambda: NotificationMonitoring(stack, "Monitoring", state_machine=sm, period=period),
                       "period", shown, fix)


@pytest.mark.parametrize(
    "period", [cdk.Duration.minutes(1), cdk.Duration.days(1)], ids=["1m", "1d"]
)
def test_period_bounds_are_inclusive(
    new_stack: Callable[[], tuple[cdk.Stack, sfn.StateMachine]], period: cdk.Duration
) -> None:
    stack, sm = new_stack()
    monitoring = NotificationMonitoring(stack, "Monitoring", state_machine=sm, period=period)
    assert len(monitoring.alarms) == 5  # 4 execution alarms and the SMS spend alarm


def test_fails_when_encryption_key_given_with_alarm_topic(
    new_stack: Callable[[], tuple[cdk.Stack, sfn.StateMachine]],
) -> None:
    stack, sm = new_stack()
    key = kms.Key(stack, "Key")
    _raises_prop_error(lambda: NotificationMonitoring(
        stack, "Monitoring", state_machine=sm,
        alarm_topic=sns.Topic.from_topic_arn(stack, "Ops", EXISTING_TOPIC_ARN), encryption_key=key,
    ), "encryption_key", key, "remove alarm_topic")


def test_fails_when_encryption_key_is_aws_managed_sns_key(
    new_stack: Callable[[], tuple[cdk.Stack, sfn.StateMachine]],
) -> None:
    stack, sm = new_stack()
    _raises_prop_error(lambda: NotificationMonitoring(
        stack, "Monitoring", state_machine=sm,
        encryption_key=kms.Alias.from_alias_name(stack, "AwsSns", "alias/aws/sns"),
    ), "encryption_key", "alias/aws/sns", "customer managed key")


def test_the_old_master_key_name_is_gone(new_stack: Callable[[], tuple[cdk.Stack, sfn.StateMachine]]) -> None:
    """One name for the key prop across the constructs: encryption_key."""
    stack, sm = new_stack()
    with pytest.raises(TypeError, match="master_key"):
        NotificationMonitoring(stack, "Monitoring", state_machine=sm, master_key=kms.Key(stack, "Key"))  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("channels", "prop", "value", "fix"),
    [
        ({"sms": "sns:publish"}, "channel_integrations['sms']", "sns:publish", "integration resource ARN"),
        ({"1sms": SMS_ARN}, "channel_integrations", "1sms", "starts with a letter"),
        ({"sms/eu": SMS_ARN}, "channel_integrations", "sms/eu", "starts with a letter"),
        ({"push-eu": SMS_ARN, "push_eu": SMS_ARN}, "channel_integrations", "push_eu", "'PushEu'"),
    ],
    ids=["not-an-arn", "leading-digit", "slash", "id-collision"],
)
def test_fails_when_channel_integrations_malformed(
    new_stack: Callable[[], tuple[cdk.Stack, sfn.StateMachine]],
    channels: dict[str, str],
    prop: str,
    value: str,
    fix: str,
) -> None:
    stack, sm = new_stack()
    _raises_prop_error(
        lambda: NotificationMonitoring(stack, "Monitoring", state_machine=sm, channel_integrations=channels),
        prop, value, fix)


# --- workflow= ------------------------------------------------------------------------------


def _workflow(stack: cdk.Stack) -> NotificationWorkflow:
    return NotificationWorkflow(stack, "Workflow", sender="n@example.com", email_identities=["example.com"])


def test_workflow_gives_the_state_machine_channels_and_failed_executions_queue() -> None:
    stack = cdk.Stack(cdk.App(analytics_reporting=False), "FromWorkflow")
    workflow = _workflow(stack)
    monitoring = NotificationMonitoring(stack, "Monitoring", workflow=workflow)
    assert sorted(monitoring.alarms) == sorted([
        *EXECUTION_ALARMS, "sms.IntegrationFailures", "email.IntegrationFailures", "FailedExecutionsQueued",
        "SmsSpendNearLimit"])
    machine_id = stack.get_logical_id(cast(cdk.CfnElement, workflow.state_machine.node.default_child))
    failed = Template.from_stack(stack).to_json()["Resources"][
        stack.get_logical_id(cast(cdk.CfnElement, monitoring.alarms["ExecutionsFailed"].node.default_child))]
    assert failed["Properties"]["Dimensions"] == [{"Name": "StateMachineArn", "Value": {"Ref": machine_id}}]


@pytest.mark.parametrize("prop", ["state_machine", "channel_integrations", "failed_executions_queue"])
def test_workflow_and_a_prop_derived_from_it_are_refused_together(prop: str) -> None:
    stack = cdk.Stack(cdk.App(analytics_reporting=False), "Both")
    workflow = _workflow(stack)
    value = {"state_machine": workflow.state_machine, "channel_integrations": workflow.channel_integrations,
             "failed_executions_queue": workflow.failed_executions}[prop]
    _raises_prop_error(lambda: NotificationMonitoring(stack, "Monitoring", workflow=workflow, **{prop: value}),
                       prop, value, "Give workflow= or")


def test_without_workflow_a_state_machine_is_required() -> None:
    stack = cdk.Stack(cdk.App(analytics_reporting=False), "Neither")
    _raises_prop_error(lambda: NotificationMonitoring(stack, "Monitoring"), "workflow", None, "state_machine=")


# --- SMS spend ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("variant", "threshold"), [("full", 40), ("default", 0.8)])
def test_sms_spend_alarm_fires_at_80_percent_of_the_monthly_limit(variants: dict[str, Built], variant: str,
                                                                   threshold: float) -> None:
    props = variants[variant].alarm_props("SmsSpendNearLimit")
    assert (props["Namespace"], props["MetricName"], props["Statistic"]) == (
        "AWS/SNS", "SMSMonthToDateSpentUSD", "Maximum")
    assert props["Threshold"] == threshold and props["Period"] == 3600
    assert props["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert "Dimensions" not in props  # an account-wide metric
    assert props["AlarmActions"]


@pytest.mark.parametrize("limit", [0, -1, True])
def test_fails_when_the_sms_spend_limit_is_not_positive(
    new_stack: Callable[[], tuple[cdk.Stack, sfn.StateMachine]], limit: float
) -> None:
    stack, sm = new_stack()
    _raises_prop_error(lambda: NotificationMonitoring(stack, "Monitoring", state_machine=sm,
                                                      sms_monthly_spend_limit_usd=limit),
                       "sms_monthly_spend_limit_usd", limit, "Use a number from 0.01")
