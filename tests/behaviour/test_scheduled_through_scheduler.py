"""Scheduled sends on Express workflows and the buffered path: the execution records the request
SCHEDULED and creates an EventBridge Scheduler one-time schedule; at the send time the schedule
starts the workflow with the request and a secret token, and that execution alone takes the record
over. Cancelled meanwhile, fired twice, or forged, nothing more is sent."""

from __future__ import annotations

import json
import math
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_stepfunctions as sfn

from constructs_lib import NotificationService, NotificationWorkflow
from local_aws import LocalAws
from tests.behaviour.conftest import SENDER, Deployment, deploy_stack, new_id, role_policy_changed, without_action

PHONE = "+15555550100"
SCHEDULED = ["ValidateRequest", "ScheduleSend", "CreateSchedule", "SendScheduled"]
FIRED_SMS = ["ValidateRequest", "StartScheduledSend", "ValidateRequest", "ClaimSms", "SendSms", "RecordOutcome"]
FIRED_CANCELLED = ["ValidateRequest", "StartScheduledSend", "Cancelled"]


@pytest.fixture(scope="module")
def express(local_aws: LocalAws, tmp_path_factory: pytest.TempPathFactory) -> Deployment:
    return deploy_stack(local_aws, tmp_path_factory, "NotifyExpressScheduling", lambda stack: NotificationWorkflow(
        stack, "Workflow", sender=SENDER, email_identities=["example.com"],
        workflow_type=sfn.StateMachineType.EXPRESS, max_send_delay=cdk.Duration.days(30)))


def _sms(**fields: Any) -> dict[str, Any]:
    notification_id = new_id("sx")
    return {"notificationId": notification_id, "channel": "sms", "message": f"later {notification_id}",
            "phoneNumber": PHONE, **fields}


def _texts(deployment: Deployment, request: dict[str, Any]) -> int:
    return sum(1 for m in deployment.aws.sms_messages() if m.message == request["message"])


def _schedules(deployment: Deployment) -> dict[str, dict[str, Any]]:
    """Every schedule of the deployment's group, by name, as GetSchedule answers it."""
    scheduler = deployment.aws.client("scheduler")
    group = deployment.stack.one_of_type("AWS::Scheduler::ScheduleGroup").physical_id
    names = [s["Name"] for s in scheduler.list_schedules(GroupName=group)["Schedules"]]
    return {name: scheduler.get_schedule(GroupName=group, Name=name) for name in names}


def _schedule_of(deployment: Deployment, record: dict[str, Any]) -> dict[str, Any]:
    return _schedules(deployment)[record["scheduleToken"]]


def _wait(aws: LocalAws, execution_arn: str) -> tuple[str, list[str]]:
    client = aws.client("stepfunctions")
    deadline = time.monotonic() + 30
    while (status := client.describe_execution(executionArn=execution_arn)["status"]) == "RUNNING":
        assert time.monotonic() < deadline, f"{execution_arn} still running"
        time.sleep(0.05)
    return status, aws.states_entered(execution_arn)


def _fire(deployment: Deployment, at: datetime) -> list[tuple[str, list[str]]]:
    """Fires every schedule due at ``at`` (other stacks' too: the local AWS is shared) and waits
    for this deployment's executions."""
    machine = deployment.stack.state_machine_arn.rsplit(":", 1)[-1]
    return [_wait(deployment.aws, arn) for arn in deployment.aws.fire_due_schedules(at)
            if arn.split(":")[-2] == machine]


def _later(seconds: float) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)


def test_a_delayed_sms_is_scheduled_then_sent_once_by_its_schedule(express: Deployment) -> None:
    request = _sms(delaySeconds=120)

    result = express.run(request)

    assert result.status == "SUCCEEDED", result.cause
    assert result.states_entered == SCHEDULED
    record = express.record(request["notificationId"])
    assert record["status"] == "SCHEDULED" and _texts(express, request) == 0
    token = record["scheduleToken"]
    schedule = _schedules(express)[token]
    send_second = math.ceil(datetime.fromisoformat(record["sendAt"]).timestamp())
    assert schedule["ScheduleExpression"] == f"at({datetime.fromtimestamp(send_second, UTC):%Y-%m-%dT%H:%M:%S})"
    assert schedule["ScheduleExpressionTimezone"] == "UTC" and schedule["KmsKeyArn"].startswith("arn:aws:kms:")
    assert schedule["ActionAfterCompletion"] == "DELETE"
    assert schedule["Target"]["Arn"] == express.stack.state_machine_arn
    forwarded = json.loads(schedule["Target"]["Input"])
    assert "delaySeconds" not in forwarded and forwarded["sendAt"] == record["sendAt"]
    assert forwarded["scheduleToken"] == record["scheduleToken"]

    assert _fire(express, _later(30)) == []  # not due yet
    fired = _fire(express, _later(125))

    assert fired == [("SUCCEEDED", FIRED_SMS)]
    record = express.record(request["notificationId"])
    assert record["status"] == "SENT" and "scheduleToken" not in record
    assert _texts(express, request) == 1
    assert token not in _schedules(express)  # deleted once it has fired


def test_a_schedule_firing_late_still_sends(express: Deployment) -> None:
    """Scheduler retries a start for up to a day: an old send time is no reason to refuse it then."""
    request = _sms(delaySeconds=60)
    express.run(request)

    assert _fire(express, _later(2 * 3600)) == [("SUCCEEDED", FIRED_SMS)]
    assert _texts(express, request) == 1


def test_cancelled_before_its_time_sends_nothing(express: Deployment) -> None:
    request = _sms(delaySeconds=60)
    express.run(request)
    express.aws.client("dynamodb").update_item(   # what DELETE /notifications/{id} does
        TableName=express.stack.table_name, Key={"notificationId": {"S": request["notificationId"]}},
        UpdateExpression="SET #s = :c", ConditionExpression="#s = :s",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":c": {"S": "CANCELLED"}, ":s": {"S": "SCHEDULED"}})

    assert _fire(express, _later(90)) == [("SUCCEEDED", FIRED_CANCELLED)]
    assert express.record(request["notificationId"])["status"] == "CANCELLED"
    assert _texts(express, request) == 0


def test_a_schedule_delivered_twice_sends_once(express: Deployment) -> None:
    """Scheduler starts its target at least once: a second start with the same input finds the
    record no longer SCHEDULED and ends without sending."""
    request = _sms(delaySeconds=60)
    express.run(request)
    forwarded = json.loads(_schedule_of(express, express.record(request["notificationId"]))["Target"]["Input"])
    assert _fire(express, _later(90)) == [("SUCCEEDED", FIRED_SMS)]

    again = express.run(forwarded)

    assert (again.status, again.states_entered) == ("SUCCEEDED", FIRED_CANCELLED)
    assert _texts(express, request) == 1
    assert express.record(request["notificationId"])["status"] == "SENT"


def test_a_guessed_token_takes_nothing_over(express: Deployment) -> None:
    request = _sms(delaySeconds=60)
    express.run(request)

    forged = express.run({**request, "delaySeconds": 0, "scheduleToken": "00000000-0000-4000-8000-000000000000"})
    duplicate = express.run({**request, "delaySeconds": 0})

    assert (forged.status, forged.states_entered) == ("SUCCEEDED", FIRED_CANCELLED)
    assert duplicate.states_entered == ["ValidateRequest", "ClaimSms", "RecordDuplicate"]
    record = express.record(request["notificationId"])
    assert record["status"] == "SCHEDULED" and record["duplicateCount"] == 1
    assert _texts(express, request) == 0
    assert _fire(express, _later(90)) == [("SUCCEEDED", FIRED_SMS)]
    assert _texts(express, request) == 1
    assert express.record(request["notificationId"])["duplicateCount"] == 1


def test_without_create_schedule_the_request_is_recorded_failed(express: Deployment) -> None:
    request = _sms(delaySeconds=60)
    role = express.aws.client("stepfunctions").describe_state_machine(
        stateMachineArn=express.stack.state_machine_arn)["roleArn"]

    assert express.aws.access is not None
    express.aws.access.clear()
    with role_policy_changed(express.aws, role, without_action("scheduler:CreateSchedule")):
        result = express.run(request)

    assert result.status == "FAILED" and result.error == "DeliveryFailed"
    record = express.record(request["notificationId"])
    assert record["status"] == "FAILED"
    assert record["results"]["sms"]["error"].endswith("AccessDeniedException")
    # Only the workflow's own calls count: other tests' stacks share this local AWS.
    assert [d.request.action for d in express.aws.access.denials if d.request.principal == role] == [
        "scheduler:CreateSchedule"]
    express.aws.access.clear()


@pytest.fixture(scope="module")
def buffered(local_aws: LocalAws, tmp_path_factory: pytest.TempPathFactory) -> Deployment:
    return deploy_stack(local_aws, tmp_path_factory, "NotifyBufferedScheduling", lambda stack: NotificationService(
        stack, "Default", sender=SENDER, email_identities=["example.com"], buffered_ingress=True,
        monitoring=False, workflow_options={"max_send_delay": cdk.Duration.days(7)}))


def test_a_queued_request_with_a_send_time_goes_out_through_its_schedule(buffered: Deployment) -> None:
    aws = buffered.aws
    [queue] = [u for u in aws.client("sqs").list_queues()["QueueUrls"]
               if "NotifyBufferedScheduling" in u and "BufferedIngress" in u and "DeadLetter" not in u]
    send_at = (datetime.now(UTC) + timedelta(minutes=10)).replace(microsecond=0)
    request = {"channel": "sms", "message": f"queued later {new_id()}", "phoneNumber": PHONE,
               "sendAt": send_at.astimezone(UTC).isoformat()}
    message_id = aws.client("sqs").send_message(QueueUrl=queue, MessageBody=json.dumps(request))["MessageId"]

    aws.run_pipes()
    sfn_client = aws.client("stepfunctions")
    [started] = sfn_client.list_executions(stateMachineArn=buffered.stack.state_machine_arn)["executions"]
    assert _wait(aws, started["executionArn"]) == ("SUCCEEDED", ["ReadQueuedRequest", *SCHEDULED])
    assert buffered.record(message_id)["status"] == "SCHEDULED"

    assert _fire(buffered, send_at - timedelta(seconds=1)) == []
    [(status, entered)] = _fire(buffered, send_at)
    assert status == "SUCCEEDED"
    # Started by the schedule, not the pipe: an object, which ReadQueuedRequest passes on.
    assert entered == ["ReadQueuedRequest", *FIRED_SMS]
    assert buffered.record(message_id)["status"] == "SENT"
    assert sum(1 for m in aws.sms_messages() if m.message == request["message"]) == 1
