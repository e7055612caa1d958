"""One way of doing things across the constructs (issue 12 part 2): one error type, one name for
the key prop, workflow= instead of the props derived from it, one e-mail check, typed metric
helpers, the workflow's error names as constants, partition-aware ARNs, private state builders."""

from __future__ import annotations

import inspect
import json
import re
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk.assertions import Template

import constructs_lib
from constructs_lib import (
    DELIVERY_FAILED,
    DELIVERY_LOG_UNAVAILABLE,
    REJECTED_NOTIFICATION_ID_TAKEN,
    DeliveryFeedback,
    DeliveryLog,
    NotificationApi,
    NotificationMonitoring,
    NotificationWorkflow,
    PropError,
    _props,
)
from tests.support.asl import definition

ROOT = Path(__file__).resolve().parents[2]
LIBRARY = ROOT / "constructs_lib"


def _stack(name: str = "OneWay") -> cdk.Stack:
    return cdk.Stack(cdk.App(analytics_reporting=False), name)


def _workflow(stack: cdk.Stack) -> NotificationWorkflow:
    return NotificationWorkflow(stack, "Workflow", sender="n@example.com", email_identities=["example.com"])


# ---- 1. one exported error type -------------------------------------------------------------


def test_prop_error_is_exported_and_names_construct_prop_value_and_fix() -> None:
    assert "PropError" in constructs_lib.__all__
    assert constructs_lib.PropError is _props.PropError
    error = PropError("Thing", "size", 0, "Use 1 or more.")
    assert (error.construct, error.prop, error.value, error.fix) == ("Thing", "size", 0, "Use 1 or more.")
    assert str(error) == "Thing: invalid size=0. Use 1 or more."
    assert isinstance(error, ValueError)  # callers catching ValueError keep working


def test_no_construct_raises_a_bare_value_or_type_error() -> None:
    raised = {path.name: re.findall(r"raise (?:ValueError|TypeError)\(", path.read_text())
              for path in LIBRARY.glob("*.py")}
    assert {name: found for name, found in raised.items() if found} == {}


# ---- 2. one name for the key prop; workflow= instead of derived props ------------------------


@pytest.mark.parametrize("construct", [NotificationMonitoring, NotificationApi, DeliveryFeedback, NotificationWorkflow])
def test_the_key_prop_is_called_encryption_key(construct: type) -> None:
    parameters = inspect.signature(construct.__init__).parameters
    assert "encryption_key" in parameters
    assert "master_key" not in parameters


@pytest.mark.parametrize("construct", [NotificationMonitoring, NotificationApi, DeliveryFeedback])
def test_constructs_on_a_workflow_take_workflow(construct: type) -> None:
    assert "workflow" in inspect.signature(construct.__init__).parameters


def _role_of(template: dict[str, Any], description_start: str) -> str:
    return next(k for k, r in template["Resources"].items() if r["Type"] == "AWS::IAM::Role"
                and r["Properties"].get("Description", "").startswith(description_start))


def _statements_of(template: dict[str, Any], role: str) -> list[dict[str, Any]]:
    return [s for r in template["Resources"].values() if r["Type"] == "AWS::IAM::Policy"
            and {"Ref": role} in r["Properties"]["Roles"]
            for s in r["Properties"]["PolicyDocument"]["Statement"]]


def test_the_api_takes_state_machine_table_and_key_from_the_workflow() -> None:
    stack = _stack()
    workflow = _workflow(stack)
    NotificationApi(stack, "Api", workflow=workflow)
    template = Template.from_stack(stack).to_json()
    key = stack.resolve(workflow.encryption_key.key_arn)
    machine = stack.resolve(workflow.state_machine.state_machine_arn)
    table = stack.resolve(workflow.table.table_arn)
    start = _statements_of(template, _role_of(template, "API Gateway starts"))
    assert {"Action": "states:StartExecution", "Effect": "Allow", "Resource": machine} in start
    assert {"Action": "kms:GenerateDataKey", "Effect": "Allow", "Resource": key} in start
    read = _statements_of(template, _role_of(template, "API Gateway reads"))
    assert {"Action": "dynamodb:GetItem", "Effect": "Allow", "Resource": table} in read


def test_feedback_takes_the_table_from_the_workflow() -> None:
    stack = _stack()
    workflow = _workflow(stack)
    feedback = DeliveryFeedback(stack, "Feedback", workflow=workflow)
    variables = Template.from_stack(stack).to_json()["Resources"][
        stack.get_logical_id(feedback.function.node.default_child)]["Properties"]["Environment"]["Variables"]
    assert variables["DELIVERY_LOG_TABLE"] == stack.resolve(workflow.table.table_name)


@pytest.mark.parametrize(("construct", "prop", "attribute"), [
    (NotificationApi, "state_machine", "state_machine"),
    (NotificationApi, "table", "table"),
    (NotificationApi, "state_machine_key", "encryption_key"),
    (DeliveryFeedback, "table", "table"),
    (NotificationMonitoring, "state_machine", "state_machine"),
])
def test_workflow_and_a_prop_derived_from_it_are_refused_together(construct: type, prop: str, attribute: str) -> None:
    stack = _stack()
    workflow = _workflow(stack)
    value = getattr(workflow, attribute)
    with pytest.raises(PropError) as raised:
        construct(stack, "Construct", workflow=workflow, **{prop: value})
    assert (raised.value.construct, raised.value.prop, raised.value.value) == (construct.__name__, prop, value)
    assert "Give workflow= or" in raised.value.fix


@pytest.mark.parametrize(("construct", "fix"), [
    (NotificationApi, "state_machine= and table="),
    (DeliveryFeedback, "table="),
    (NotificationMonitoring, "state_machine="),
])
def test_without_workflow_the_derived_props_are_required(construct: type, fix: str) -> None:
    with pytest.raises(PropError) as raised:
        construct(_stack(), "Construct")
    assert (raised.value.prop, raised.value.value) == ("workflow", None)
    assert fix in raised.value.fix


# ---- 3. one e-mail check -------------------------------------------------------------------


def test_the_email_pattern_is_written_once() -> None:
    sources = [*LIBRARY.glob("*.py"), *(ROOT / "notification_stack").glob("*.py")]
    assert [p.relative_to(ROOT).as_posix() for p in sources if "@[^@" in p.read_text()] == ["constructs_lib/_props.py"]


@pytest.mark.parametrize("address", ["ops.example.com", "ops@", "ops @example.com", "a@b"])
def test_every_email_prop_refuses_what_require_email_refuses(address: str) -> None:
    from notification_stack.config import ConfigError, _email

    assert not _props.is_email(address)
    stack = _stack()
    with pytest.raises(PropError):
        NotificationMonitoring(stack, "Monitoring", workflow=_workflow(stack), alarm_email=address)
    with pytest.raises(ConfigError):
        _email("notify-cdk.environments.dev.alarmEmail", address)


# ---- 4. typed metric helpers ---------------------------------------------------------------


@pytest.mark.parametrize("name", ["metric_failed", "metric_succeeded", "metric_timed_out"])
def test_metric_helpers_take_the_metric_options_by_name(name: str) -> None:
    parameters = inspect.signature(getattr(NotificationWorkflow, name)).parameters
    assert {p.kind for n, p in parameters.items() if n != "self"} == {inspect.Parameter.KEYWORD_ONLY}
    assert {"period", "statistic", "label", "unit", "color", "dimensions_map", "account", "region"} <= set(parameters)
    stack = _stack()
    workflow = _workflow(stack)
    metric = getattr(workflow, name)(period=cdk.Duration.minutes(1), statistic=cloudwatch.Stats.AVERAGE, label="x")
    assert (metric.period.to_seconds(), metric.statistic, metric.label) == (60, "Average", "x")
    assert getattr(workflow, name)().statistic == "Sum"


def test_no_type_ignore_in_the_metric_helpers() -> None:
    source = (LIBRARY / "workflow.py").read_text()
    helpers = re.findall(r"def metric_\w+\(.*?(?=\n    def |\n    @)", source, re.DOTALL)
    assert len(helpers) == 3
    assert [h for h in helpers if "type: ignore" in h] == []


# ---- 5. the workflow's error names ---------------------------------------------------------


def test_the_workflow_error_names_are_exported_constants() -> None:
    names = {"DELIVERY_FAILED", "DELIVERY_LOG_UNAVAILABLE", "REJECTED_NOTIFICATION_ID_TAKEN"}
    assert names <= set(constructs_lib.__all__)
    assert (DELIVERY_FAILED, DELIVERY_LOG_UNAVAILABLE, REJECTED_NOTIFICATION_ID_TAKEN) == (
        "DeliveryFailed", "DeliveryLogUnavailable", "RejectedNotificationIdTaken")


def test_the_fail_states_use_the_constants() -> None:
    stack = _stack()
    _workflow(stack)
    states = definition(Template.from_stack(stack).to_json())["States"]
    assert states["DeliveryFailed"]["Error"] == DELIVERY_FAILED
    assert states["DeliveryLogUnavailable"]["Error"] == DELIVERY_LOG_UNAVAILABLE
    assert REJECTED_NOTIFICATION_ID_TAKEN in json.dumps(states["RecordRejection"])
    source = (LIBRARY / "workflow.py").read_text()
    for name in ("DeliveryFailed", "DeliveryLogUnavailable", "RejectedNotificationIdTaken"):
        assert source.count(f'"{name}"') == 1 + (name != "RejectedNotificationIdTaken"), name  # definition + state id


# ---- 6. partition-aware ARNs ---------------------------------------------------------------


def test_channel_integrations_use_the_stack_partition() -> None:
    stack = _stack()
    integrations = {k: stack.resolve(v) for k, v in _workflow(stack).channel_integrations.items()}
    assert integrations == {
        "sms": {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":states:::sns:publish"]]},
        "email": {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":states:::aws-sdk:sesv2:sendEmail"]]},
    }


def test_no_arn_is_hard_coded_to_the_aws_partition() -> None:
    sources = [*LIBRARY.glob("*.py"), *(ROOT / "notification_stack").glob("*.py")]
    # Docstrings and messages may show an example ARN; no string the code builds starts with one.
    code = {p.name: re.sub(r'"""(?:.|\n)*?"""', "", p.read_text()) for p in sources}
    assert [name for name, text in code.items() if re.search(r'f?"arn:aws:', text)] == []


# ---- 7. DeliveryLog's state builders are private -------------------------------------------


def test_delivery_log_state_builders_are_private() -> None:
    public = {name for name, _ in inspect.getmembers(DeliveryLog, inspect.isfunction) if not name.startswith("_")}
    assert public.isdisjoint({"create_record", "count_duplicate", "update_record"})
    readme = (ROOT / "README.md").read_text()
    for name in ("create_record", "count_duplicate", "update_record"):
        assert f"`{name}(" not in readme
