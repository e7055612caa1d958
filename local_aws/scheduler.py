"""EventBridge Scheduler one-time schedules that start a Step Functions execution, fired on demand.

moto 5.2.5 keeps schedules (``moto/scheduler``) as records only: nothing fires them, and its
CloudFormation knows neither ``AWS::Scheduler::Schedule`` nor ``AWS::Scheduler::ScheduleGroup``.

- ``model_schedules_in_cloudformation`` (a bridge): both types are created, updated and deleted
  in moto's scheduler backend; ``Ref`` is the name, ``Fn::GetAtt`` gives ``Arn`` (and a group's
  ``CreationDate``, ``LastModificationDate``, ``State``). CloudFormation's schedule has no
  ``ActionAfterCompletion`` property (only the API has it), so a template that sets it is refused.
- ``fire_due_schedules`` (``LocalAws.fire_due_schedules``): fires every ENABLED schedule whose
  ``at(yyyy-mm-ddThh:mm:ss)`` time, read in its ``ScheduleExpressionTimezone`` (default UTC), is at
  or before ``now``, oldest first.

A schedule's target is a state machine, in either form:

- templated: ``Target.Arn`` is the state machine's ARN; the execution input is ``Target.Input``
  (``{}`` without one);
- universal: ``Target.Arn`` is ``arn:aws:scheduler:::aws-sdk:sfn:startExecution`` and
  ``Target.Input`` is the JSON of the StartExecution request (``StateMachineArn``, ``Input`` as a
  string, optional ``Name``, ``TraceHeader``).

Context attributes in ``Target.Input`` are replaced: ``<aws.scheduler.schedule-arn>``,
``<aws.scheduler.scheduled-time>`` (UTC, ``...Z``), ``<aws.scheduler.execution-id>``,
``<aws.scheduler.attempt-number>``.

Firing, as the target's ``RoleArn`` under the access check (when it is on):
``scheduler.amazonaws.com`` assumes the role (trust policy, ``aws:SourceArn`` = the schedule
group's ARN, as AWS's confused-deputy guidance writes it), then ``states:StartExecution`` on the
machine (with ``kms:GenerateDataKey`` on the machine's customer-managed key; the machine's role
must use its key too). After a start, the schedule is deleted when its ``ActionAfterCompletion``
is ``DELETE``, else DISABLED (AWS leaves it ENABLED and never fires it again; disabling is how
this runner remembers it has fired). A failed start (a denial, a missing machine) leaves the
schedule ENABLED, retried by each later call until the target's ``RetryPolicy`` is spent
(``MaximumRetryAttempts`` failures more, or ``MaximumEventAgeInSeconds`` after its time); then the
schedule completes without an execution.

Not emulated: ``rate()`` and ``cron()`` expressions (``UnsupportedSchedule``: a recurring
schedule needs a clock this runner does not keep), ``FlexibleTimeWindow`` (a schedule fires at its
time, the window's start), ``StartDate``/``EndDate`` (they bound recurring schedules only), the
target's ``DeadLetterConfig``, the schedule's ``KmsKeyArn``, retry backoff, and targets other than
Step Functions StartExecution (``UnsupportedSchedule``).
"""

from __future__ import annotations

import datetime
import json
import logging
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from unittest import mock
from zoneinfo import ZoneInfo

import moto.cloudformation.parsing as cfn_parsing
from botocore.exceptions import ClientError, ParamValidationError

from local_aws.access.enforce import call_denial, service_assumes_role
from local_aws.bridges import CloudFormationModelStub

if TYPE_CHECKING:
    from local_aws.local import LocalAws

_LOG = logging.getLogger(__name__)

UNIVERSAL_START_EXECUTION = ":aws-sdk:sfn:startExecution"
_AT = re.compile(r"^at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)$")


class UnsupportedSchedule(ValueError):
    """The schedule uses an expression or target this runner does not emulate."""


def scheduled_time(expression: str, timezone: str | None, *, name: str = "") -> datetime.datetime:
    """The moment of a one-time ``at(...)`` expression, as an aware datetime."""
    match = _AT.match(expression.strip())
    if match is None:
        raise UnsupportedSchedule(
            f"schedule {name}: {expression!r}: only one-time at(yyyy-mm-ddThh:mm:ss) schedules fire locally "
            "(rate() and cron() are not emulated)")
    local = datetime.datetime.fromisoformat(match[1])
    return local.replace(tzinfo=ZoneInfo(timezone or "UTC"))


@dataclass(frozen=True)
class _StartExecution:
    """The StartExecution request a schedule's target makes."""

    state_machine_arn: str
    request: dict[str, Any]


def _start_execution(schedule: Any, input_text: str | None) -> _StartExecution:
    target = schedule.target
    arn = str(target.get("Arn", ""))
    if arn.endswith(UNIVERSAL_START_EXECUTION):
        try:
            fields = json.loads(input_text or "{}")
        except ValueError as error:
            raise UnsupportedSchedule(
                f"schedule {schedule.name}: Input is not the JSON of a request: {error}") from None
        if not isinstance(fields, dict) or "StateMachineArn" not in fields:
            raise UnsupportedSchedule(f"schedule {schedule.name}: the startExecution Input needs StateMachineArn")
        request = {key[:1].lower() + key[1:]: value for key, value in fields.items()}
        request.setdefault("name", str(uuid.uuid4()))
        return _StartExecution(str(fields["StateMachineArn"]), request)
    if ":states:" in arn and ":stateMachine:" in arn:
        return _StartExecution(arn, {"stateMachineArn": arn, "name": str(uuid.uuid4()),
                                     "input": input_text if input_text is not None else "{}"})
    raise UnsupportedSchedule(f"schedule {schedule.name}: target {arn}: only Step Functions StartExecution fires "
                              "locally (a state machine ARN or the aws-sdk:sfn:startExecution universal target)")


def _with_context(text: str | None, schedule: Any, when: datetime.datetime, attempt: int) -> str | None:
    if text is None:
        return None
    values = {
        "<aws.scheduler.schedule-arn>": schedule.arn,
        "<aws.scheduler.scheduled-time>": when.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "<aws.scheduler.execution-id>": str(uuid.uuid4()),
        "<aws.scheduler.attempt-number>": str(attempt),
    }
    for placeholder, value in values.items():
        text = text.replace(placeholder, value)
    return text


# ---- CloudFormation ------------------------------------------------------------------------------


def _epoch(value: Any) -> float | None:
    """A CloudFormation date (ISO 8601) as the epoch seconds moto's scheduler stores."""
    if value is None or isinstance(value, int | float):
        return value
    moment = datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return (moment if moment.tzinfo else moment.replace(tzinfo=datetime.UTC)).timestamp()


class _CloudFormationSchedule(CloudFormationModelStub):
    """``AWS::Scheduler::Schedule`` in moto's scheduler backend."""

    def __init__(self, schedule: Any) -> None:
        self.schedule = schedule
        self.physical_resource_id: str = schedule.name

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::Scheduler::Schedule"

    @staticmethod
    def cloudformation_name_type() -> str:
        return "Name"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr == "Arn"

    def get_cfn_attribute(self, attr: str) -> str:
        if attr != "Arn":
            raise KeyError(attr)
        return str(self.schedule.arn)

    @staticmethod
    def _arguments(props: dict[str, Any]) -> dict[str, Any]:
        if "ActionAfterCompletion" in props:
            raise UnsupportedSchedule("AWS::Scheduler::Schedule has no ActionAfterCompletion property in "
                                      "CloudFormation (CreateSchedule has it): CloudFormation rejects this template")
        return {
            "description": props.get("Description"), "end_date": _epoch(props.get("EndDate")),
            "flexible_time_window": props["FlexibleTimeWindow"], "kms_key_arn": props.get("KmsKeyArn"),
            "schedule_expression": props["ScheduleExpression"],
            "schedule_expression_timezone": props.get("ScheduleExpressionTimezone"),
            "start_date": _epoch(props.get("StartDate")), "state": props.get("State", "ENABLED"),
            "target": dict(props["Target"]),
        }

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str,
        **kwargs: Any,
    ) -> _CloudFormationSchedule:
        from moto.scheduler.models import scheduler_backends

        props = cloudformation_json.get("Properties", {})
        schedule = scheduler_backends[account_id][region_name].create_schedule(
            name=str(props.get("Name") or resource_name)[:64], group_name=props.get("GroupName"),
            action_after_completion=None, **cls._arguments(props))
        return cls(schedule)

    @classmethod
    def update_from_cloudformation_json(
        cls, original_resource: Any, new_resource_name: str, cloudformation_json: dict[str, Any],
        account_id: str, region_name: str,
    ) -> _CloudFormationSchedule:
        from moto.scheduler.models import scheduler_backends

        props = cloudformation_json.get("Properties", {})
        original = original_resource.schedule
        name = str(props.get("Name") or original.name)
        if name != original.name or (props.get("GroupName") or "default") != original.group_name:
            # Name and GroupName identify a schedule: CloudFormation replaces it.
            created = cls.create_from_cloudformation_json(name, cloudformation_json, account_id, region_name)
            original_resource.delete(account_id, region_name)
            return created
        schedule = scheduler_backends[account_id][region_name].update_schedule(
            name=name, group_name=original.group_name, **cls._arguments(props))
        return cls(schedule)

    def delete(self, account_id: str, region_name: str) -> None:
        from moto.scheduler.models import scheduler_backends

        group = scheduler_backends[account_id][region_name].schedule_groups.get(self.schedule.group_name)
        if group is not None:  # a fired DELETE schedule, or its group, may be gone already
            group.schedules.pop(self.schedule.name, None)


class _CloudFormationScheduleGroup(CloudFormationModelStub):
    """``AWS::Scheduler::ScheduleGroup`` in moto's scheduler backend; deleting it deletes its schedules."""

    def __init__(self, group: Any) -> None:
        self.group = group
        self.physical_resource_id: str = group.name

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::Scheduler::ScheduleGroup"

    @staticmethod
    def cloudformation_name_type() -> str:
        return "Name"

    _ATTRIBUTES = ("Arn", "CreationDate", "LastModificationDate", "State")

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in cls._ATTRIBUTES

    def get_cfn_attribute(self, attr: str) -> Any:
        described = self.group.to_dict()
        if attr not in self._ATTRIBUTES:
            raise KeyError(attr)
        value = described[attr]
        return datetime.datetime.fromtimestamp(value, datetime.UTC).isoformat() if isinstance(value, float) else value

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str,
        **kwargs: Any,
    ) -> _CloudFormationScheduleGroup:
        from moto.scheduler.models import scheduler_backends

        props = cloudformation_json.get("Properties", {})
        group = scheduler_backends[account_id][region_name].create_schedule_group(
            name=str(props.get("Name") or resource_name)[:64], tags=list(props.get("Tags", [])))
        return cls(group)

    @classmethod
    def update_from_cloudformation_json(
        cls, original_resource: Any, new_resource_name: str, cloudformation_json: dict[str, Any],
        account_id: str, region_name: str,
    ) -> _CloudFormationScheduleGroup:
        from moto.scheduler.models import scheduler_backends

        props = cloudformation_json.get("Properties", {})
        group = original_resource.group
        if str(props.get("Name") or group.name) != group.name:
            created = cls.create_from_cloudformation_json(props["Name"], cloudformation_json, account_id, region_name)
            original_resource.delete(account_id, region_name)
            return created
        backend = scheduler_backends[account_id][region_name]
        old_keys = [t["Key"] for t in backend.list_tags_for_resource(group.arn).get("Tags", [])]
        backend.untag_resource(group.arn, old_keys)
        backend.tag_resource(group.arn, list(props.get("Tags", [])))
        return cls(group)

    def delete(self, account_id: str, region_name: str) -> None:
        from moto.scheduler.models import scheduler_backends

        scheduler_backends[account_id][region_name].schedule_groups.pop(self.group.name, None)


@contextmanager
def model_schedules_in_cloudformation() -> Iterator[None]:
    """moto 5.2.5's CloudFormation skips ``AWS::Scheduler::Schedule`` and
    ``AWS::Scheduler::ScheduleGroup`` (with a warning), so a template's schedules never exist; this
    creates, updates and deletes them in moto's scheduler backend."""
    original = cfn_parsing.resource_class_from_type
    models = {model.cloudformation_type(): model for model in (_CloudFormationSchedule, _CloudFormationScheduleGroup)}

    def resource_class_from_type(resource_type: str) -> Any:
        return models.get(resource_type) or original(resource_type)

    with mock.patch.object(cfn_parsing, "resource_class_from_type", resource_class_from_type):
        yield


@contextmanager
def enable_updated_schedules_by_default() -> Iterator[None]:
    """moto 5.2.5's ``UpdateSchedule`` stores ``State`` as sent, so an update that omits it leaves
    the schedule with no state (and it would never fire); AWS makes it ``ENABLED``, the default."""
    from moto.scheduler.models import EventBridgeSchedulerBackend

    original = EventBridgeSchedulerBackend.update_schedule

    def update_schedule(self: EventBridgeSchedulerBackend, *args: Any, **kwargs: Any) -> Any:
        kwargs["state"] = kwargs.get("state") or "ENABLED"
        return original(self, *args, **kwargs)

    with mock.patch.object(EventBridgeSchedulerBackend, "update_schedule", update_schedule):
        yield


# ---- the runner ----------------------------------------------------------------------------------


def fire_due_schedules(aws: LocalAws, now: datetime.datetime | None = None) -> list[str]:
    """Fires every ENABLED one-time schedule due at ``now`` (default: the clock; a naive datetime
    is UTC); returns the ARNs of the executions started, in the order fired. Raises
    ``UnsupportedSchedule`` before firing anything when an ENABLED schedule cannot be run."""
    from moto.scheduler.models import scheduler_backends

    now = now or datetime.datetime.now(datetime.UTC)
    now = now if now.tzinfo else now.replace(tzinfo=datetime.UTC)
    backend = scheduler_backends[aws.account_id][aws.region]
    enabled = [(group, schedule) for group in list(backend.schedule_groups.values())
               for schedule in list(group.schedules.values()) if schedule.state == "ENABLED"]
    timed = []
    for group, schedule in enabled:
        when = scheduled_time(schedule.schedule_expression, schedule.schedule_expression_timezone,
                              name=schedule.name)
        _start_execution(schedule, schedule.target.get("Input"))  # refuse unsupported targets up front
        timed.append((when, group, schedule))
    started = []
    for when, group, schedule in sorted(timed, key=lambda item: item[0]):
        if when > now:
            continue
        execution_arn = _fire(aws, group, schedule, when)
        if execution_arn is not None:
            started.append(execution_arn)
            _complete(group, schedule)
        elif _retries_spent(schedule, when, now):
            _LOG.warning("schedule %s: retry policy spent, completed without an execution", schedule.arn)
            _complete(group, schedule)
    return started


def _fire(aws: LocalAws, group: Any, schedule: Any, when: datetime.datetime) -> str | None:
    attempt = getattr(schedule, "local_failed_attempts", 0) + 1
    start = _start_execution(schedule, _with_context(schedule.target.get("Input"), schedule, when, attempt))
    role_arn = str(schedule.target.get("RoleArn", ""))
    caller = f"schedule {schedule.arn}"
    check = aws.access
    denial = None
    if check is not None:
        denial = service_assumes_role(check, service="scheduler.amazonaws.com", role_arn=role_arn,
                                      source_arn=group.arn, caller=caller)
        denial = denial or call_denial(check, principal=role_arn, iam_prefix="states", operation="StartExecution",
                                       params={"stateMachineArn": start.state_machine_arn}, region=aws.region,
                                       caller=caller)
    if denial is not None:
        _LOG.warning("%s: %s", caller, denial)
    else:
        try:
            return str(aws.client("stepfunctions").start_execution(**start.request)["executionArn"])
        except (ClientError, ParamValidationError) as error:
            _LOG.warning("%s: StartExecution failed: %s", caller, error)
    schedule.local_failed_attempts = attempt
    return None


def _retries_spent(schedule: Any, when: datetime.datetime, now: datetime.datetime) -> bool:
    policy = schedule.target.get("RetryPolicy") or {}
    retries = int(policy.get("MaximumRetryAttempts", 185))
    max_age = int(policy.get("MaximumEventAgeInSeconds", 86400))
    return schedule.local_failed_attempts > retries or (now - when).total_seconds() > max_age


def _complete(group: Any, schedule: Any) -> None:
    if schedule.action_after_completion == "DELETE":
        group.schedules.pop(schedule.name, None)
    else:
        schedule.state = "DISABLED"
