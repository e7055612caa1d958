"""EventBridge Scheduler (``local_aws.scheduler``): one-time schedules from templates and from the
API, fired by ``LocalAws.fire_due_schedules`` as the target's role."""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from local_aws import LocalAws, StackDeployError
from local_aws.scheduler import UnsupportedSchedule

REGION = "us-east-1"
UTC = datetime.UTC
UNIVERSAL = "arn:aws:scheduler:::aws-sdk:sfn:startExecution"
PASS_ASL = {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}
# 09:00 in Paris on 1 June 2030 (summer time, UTC+2) is 07:00 UTC.
AT_PARIS = "at(2030-06-01T09:00:00)"
DUE_UTC = datetime.datetime(2030, 6, 1, 7, 0, 0, tzinfo=UTC)


def trust(service: str) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]}


def machine_and_role_template(*, trusted: str = "scheduler.amazonaws.com", can_start: bool = True,
                              schedules: dict[str, Any] | None = None) -> dict[str, Any]:
    """A state machine, and a scheduler role allowed (or not) to start it; plus ``schedules``."""
    role_properties: dict[str, Any] = {"AssumeRolePolicyDocument": trust(trusted)}
    if can_start:
        start = {"Effect": "Allow", "Action": "states:StartExecution", "Resource": {"Ref": "Machine"}}
        role_properties["Policies"] = [
            {"PolicyName": "start", "PolicyDocument": {"Version": "2012-10-17", "Statement": [start]}}]
    return {
        "Resources": {
            "MachineRole": {"Type": "AWS::IAM::Role",
                            "Properties": {"AssumeRolePolicyDocument": trust("states.amazonaws.com")}},
            "Machine": {"Type": "AWS::StepFunctions::StateMachine", "Properties": {
                "RoleArn": {"Fn::GetAtt": ["MachineRole", "Arn"]}, "DefinitionString": json.dumps(PASS_ASL)}},
            "SchedulerRole": {"Type": "AWS::IAM::Role", "Properties": role_properties},
            **(schedules or {}),
        },
        "Outputs": {"MachineArn": {"Value": {"Ref": "Machine"}},
                    "RoleArn": {"Value": {"Fn::GetAtt": ["SchedulerRole", "Arn"]}}},
    }


def templated_schedule(**extra: Any) -> dict[str, Any]:
    return {"Type": "AWS::Scheduler::Schedule", "Properties": {
        "ScheduleExpression": AT_PARIS, "ScheduleExpressionTimezone": "Europe/Paris",
        "FlexibleTimeWindow": {"Mode": "OFF"},
        "Target": {"Arn": {"Ref": "Machine"}, "RoleArn": {"Fn::GetAtt": ["SchedulerRole", "Arn"]},
                   "Input": '{"send": "reminder", "schedule": "<aws.scheduler.schedule-arn>", '
                            '"at": "<aws.scheduler.scheduled-time>"}'},
        **extra}}


@pytest.fixture
def aws() -> Iterator[LocalAws]:
    with LocalAws.in_process(region=REGION) as local:
        yield local


def execution_inputs(aws: LocalAws, execution_arns: list[str]) -> list[Any]:
    sfn = aws.client("stepfunctions")
    return [json.loads(sfn.describe_execution(executionArn=arn)["input"]) for arn in execution_arns]


def create_api_schedule(aws: LocalAws, name: str, out: dict[str, str], *, expression: str = AT_PARIS,
                        **extra: Any) -> str:
    """A schedule made through the API with the universal startExecution target."""
    request = json.dumps({"StateMachineArn": out["MachineArn"], "Input": json.dumps({"send": name}),
                          "Name": f"{name}-run"})
    arn: str = aws.client("scheduler").create_schedule(
        Name=name, ScheduleExpression=expression, ScheduleExpressionTimezone="Europe/Paris",
        FlexibleTimeWindow={"Mode": "OFF"}, Target={"Arn": UNIVERSAL, "RoleArn": out["RoleArn"], "Input": request},
        **extra)["ScheduleArn"]
    return arn


def denied(aws: LocalAws) -> list[tuple[str, str]]:
    assert aws.access is not None
    return [(d.request.principal, d.request.action) for d in aws.access.denials]


# ---- firing --------------------------------------------------------------------------------------


def test_a_schedule_from_a_template_fires_once_when_due_in_its_timezone(aws: LocalAws) -> None:
    template = machine_and_role_template(schedules={
        "Group": {"Type": "AWS::Scheduler::ScheduleGroup", "Properties": {"Name": "reminders"}},
        "Reminder": templated_schedule(GroupName={"Ref": "Group"})})
    template["Outputs"].update({"ScheduleName": {"Value": {"Ref": "Reminder"}},
                                "ScheduleArn": {"Value": {"Fn::GetAtt": ["Reminder", "Arn"]}},
                                "GroupArn": {"Value": {"Fn::GetAtt": ["Group", "Arn"]}}})
    out = aws.deploy_template("sched-cfn", template).outputs
    scheduler = aws.client("scheduler")
    schedule = scheduler.get_schedule(Name=out["ScheduleName"], GroupName="reminders")
    assert schedule["Arn"] == out["ScheduleArn"]
    assert out["GroupArn"] == scheduler.get_schedule_group(Name="reminders")["Arn"]

    assert aws.fire_due_schedules(DUE_UTC - datetime.timedelta(seconds=1)) == []
    started = aws.fire_due_schedules(DUE_UTC)
    assert [arn.split(":")[6] for arn in started] == [out["MachineArn"].split(":")[6]]
    assert execution_inputs(aws, started) == [
        {"send": "reminder", "schedule": out["ScheduleArn"], "at": "2030-06-01T07:00:00Z"}]
    # CloudFormation has no ActionAfterCompletion: the schedule stays, disabled, and never fires again
    assert scheduler.get_schedule(Name=out["ScheduleName"], GroupName="reminders")["State"] == "DISABLED"
    assert aws.fire_due_schedules(DUE_UTC + datetime.timedelta(days=1)) == []
    assert aws.access is not None and aws.access.denials == []

    aws.client("cloudformation").delete_stack(StackName="sched-cfn")
    assert [g["Name"] for g in scheduler.list_schedule_groups()["ScheduleGroups"]] == ["default"]
    assert scheduler.list_schedules()["Schedules"] == []


def test_an_api_schedule_with_the_universal_target_is_deleted_after_it_fires(aws: LocalAws) -> None:
    out = aws.deploy_template("sched-api", machine_and_role_template()).outputs
    create_api_schedule(aws, "welcome", out, ActionAfterCompletion="DELETE")

    assert aws.fire_due_schedules(DUE_UTC - datetime.timedelta(minutes=1)) == []
    [started] = aws.fire_due_schedules(DUE_UTC + datetime.timedelta(minutes=1))
    assert started.endswith(":welcome-run")
    assert execution_inputs(aws, [started]) == [{"send": "welcome"}]
    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        aws.client("scheduler").get_schedule(Name="welcome")


def test_a_schedule_deleted_before_its_time_never_fires(aws: LocalAws) -> None:
    out = aws.deploy_template("sched-deleted", machine_and_role_template()).outputs
    create_api_schedule(aws, "cancelled", out)
    create_api_schedule(aws, "kept", out)
    aws.client("scheduler").delete_schedule(Name="cancelled")

    started = aws.fire_due_schedules(DUE_UTC + datetime.timedelta(days=365))
    assert execution_inputs(aws, started) == [{"send": "kept"}]
    assert len(aws.client("stepfunctions").list_executions(stateMachineArn=out["MachineArn"])["executions"]) == 1


def test_a_disabled_schedule_does_not_fire_and_the_due_ones_fire_oldest_first(aws: LocalAws) -> None:
    out = aws.deploy_template("sched-order", machine_and_role_template()).outputs
    create_api_schedule(aws, "later", out, expression="at(2030-06-01T10:00:00)")
    create_api_schedule(aws, "sooner", out, expression="at(2030-06-01T08:00:00)")
    create_api_schedule(aws, "off", out, State="DISABLED")

    started = aws.fire_due_schedules(DUE_UTC + datetime.timedelta(hours=2))
    assert execution_inputs(aws, started) == [{"send": "sooner"}, {"send": "later"}]


def test_a_naive_now_is_utc(aws: LocalAws) -> None:
    out = aws.deploy_template("sched-naive", machine_and_role_template()).outputs
    create_api_schedule(aws, "naive", out)
    naive_due = DUE_UTC.replace(tzinfo=None)
    assert aws.fire_due_schedules(naive_due - datetime.timedelta(seconds=1)) == []
    assert len(aws.fire_due_schedules(naive_due)) == 1


# ---- refused -------------------------------------------------------------------------------------


@pytest.mark.parametrize("expression", ["rate(5 minutes)", "cron(0 9 * * ? *)"])
def test_recurring_schedules_are_refused_before_anything_fires(aws: LocalAws, expression: str) -> None:
    out = aws.deploy_template("sched-rate", machine_and_role_template()).outputs
    create_api_schedule(aws, "due", out)
    create_api_schedule(aws, "recurring", out, expression=expression)

    with pytest.raises(UnsupportedSchedule, match=r"recurring: .*only one-time at\(yyyy-mm-ddThh:mm:ss\)"):
        aws.fire_due_schedules(DUE_UTC)
    assert aws.client("stepfunctions").list_executions(stateMachineArn=out["MachineArn"])["executions"] == []


def test_action_after_completion_is_not_a_cloudformation_property(aws: LocalAws) -> None:
    template = machine_and_role_template(schedules={"Reminder": templated_schedule(ActionAfterCompletion="DELETE")})
    with pytest.raises(StackDeployError) as failed:
        aws.deploy_template("sched-aac", template)
    assert isinstance(failed.value.__cause__, UnsupportedSchedule)


# ---- the access check ----------------------------------------------------------------------------


def test_a_role_that_may_not_start_the_machine_fires_nothing_until_granted(aws: LocalAws) -> None:
    out = aws.deploy_template("sched-denied", machine_and_role_template(can_start=False)).outputs
    create_api_schedule(aws, "denied", out)

    assert aws.fire_due_schedules(DUE_UTC) == []
    assert denied(aws) == [(out["RoleArn"], "states:StartExecution")]
    assert aws.access is not None
    assert f"(schedule arn:aws:scheduler:{REGION}:{aws.account_id}:schedule/default/denied) -> " \
           "states:StartExecution on " in aws.access.report()
    # a failed start is retried by the next call (within the retry policy): grant, and it fires
    assert aws.client("scheduler").get_schedule(Name="denied")["State"] == "ENABLED"
    aws.client("iam").put_role_policy(
        RoleName=out["RoleArn"].rsplit("/", 1)[1], PolicyName="late-grant", PolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": "states:StartExecution", "Resource": out["MachineArn"]}]}))
    assert len(aws.fire_due_schedules(DUE_UTC + datetime.timedelta(minutes=5))) == 1


def test_a_spent_retry_policy_completes_the_schedule_without_an_execution(aws: LocalAws) -> None:
    out = aws.deploy_template("sched-spent", machine_and_role_template(can_start=False)).outputs
    create_api_schedule(aws, "once", out)
    target = aws.client("scheduler").get_schedule(Name="once")["Target"]
    aws.client("scheduler").update_schedule(
        Name="once", ScheduleExpression=AT_PARIS, ScheduleExpressionTimezone="Europe/Paris",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={**target, "RetryPolicy": {"MaximumRetryAttempts": 0, "MaximumEventAgeInSeconds": 60}})
    # an update without State enables the schedule, as on AWS (moto would leave it stateless)
    assert aws.client("scheduler").get_schedule(Name="once")["State"] == "ENABLED"

    assert aws.fire_due_schedules(DUE_UTC) == []
    assert aws.client("scheduler").get_schedule(Name="once")["State"] == "DISABLED"


def test_the_role_must_trust_the_scheduler_for_its_group(aws: LocalAws) -> None:
    out = aws.deploy_template("sched-trust", machine_and_role_template(trusted="events.amazonaws.com")).outputs
    create_api_schedule(aws, "untrusted", out)

    assert aws.fire_due_schedules(DUE_UTC) == []
    assert denied(aws) == [("scheduler.amazonaws.com", "sts:AssumeRole")]
    assert aws.access is not None
    request = aws.access.denials[0].request
    assert (request.resource, request.context["aws:SourceArn"]) == (
        out["RoleArn"], f"arn:aws:scheduler:{REGION}:{aws.account_id}:schedule-group/default")
