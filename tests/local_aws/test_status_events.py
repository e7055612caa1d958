"""emit_execution_status_events: an EventBridge rule on "Step Functions Execution Status Change"
(as an alarm on failed workflows uses) delivers to SQS only with the bridge."""

from __future__ import annotations

import json
import time
from contextlib import ExitStack
from typing import Any
from unittest import mock

import pytest
from moto.events.models import EventsBackend
from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication

from local_aws import LocalAws, emit_execution_status_events, route_cfn_state_machines_to_executing_backend

ROLE_ARN = "arn:aws:iam::123456789012:role/workflow"
FAIL_ASL = {"StartAt": "Boom", "States": {"Boom": {"Type": "Fail", "Error": "Notify.Boom", "Cause": "no channel"}}}
PASS_ASL = {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "Result": {"ok": True}, "End": True}}}
WAIT_ASL = {"StartAt": "Nap", "States": {"Nap": {"Type": "Wait", "Seconds": 60, "End": True}}}
TIMEOUT_ASL = {"TimeoutSeconds": 1, **WAIT_ASL}
MACHINES = {"Failing": FAIL_ASL, "Succeeding": PASS_ASL, "Waiting": WAIT_ASL, "TimingOut": TIMEOUT_ASL}
STATUS_CHANGE = "Step Functions Execution Status Change"


def _queue(name: str) -> dict[str, Any]:
    return {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": name}}


def _rule(pattern: dict[str, Any], queue: str) -> dict[str, Any]:
    return {
        "Type": "AWS::Events::Rule",
        "Properties": {
            "EventPattern": pattern,
            "State": "ENABLED",
            "Targets": [{"Arn": {"Fn::GetAtt": [queue, "Arn"]}, "Id": queue}],
        },
    }


def _queue_policy(queue: str, rule: str) -> dict[str, Any]:
    """Lets EventBridge deliver this rule's events (the access check refuses them without it)."""
    return {
        "Type": "AWS::SQS::QueuePolicy",
        "Properties": {
            "Queues": [{"Ref": queue}],
            "PolicyDocument": {"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"}, "Action": "sqs:SendMessage",
                "Resource": {"Fn::GetAtt": [queue, "Arn"]},
                "Condition": {"ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": [rule, "Arn"]}}},
            }]},
        },
    }


# The alarm rule watches every machine, so the SUCCEEDED event is dropped by the status filter.
TEMPLATE: dict[str, Any] = {
    "Resources": {
        **{
            name: {
                "Type": "AWS::StepFunctions::StateMachine",
                "Properties": {"StateMachineName": name, "RoleArn": ROLE_ARN, "DefinitionString": json.dumps(asl)},
            }
            for name, asl in MACHINES.items()
        },
        "AlarmQueue": _queue("workflow-alarms"),
        "AuditQueue": _queue("workflow-audit"),
        "AlarmRule": _rule(
            {
                "source": ["aws.states"],
                "detail-type": [STATUS_CHANGE],
                "detail": {
                    "status": ["FAILED", "TIMED_OUT", "ABORTED"],
                    "stateMachineArn": [{"Ref": name} for name in MACHINES],
                },
            },
            "AlarmQueue",
        ),
        # Every aws.states event: tells the tests when all events have been put.
        "AuditRule": _rule({"source": ["aws.states"]}, "AuditQueue"),
        "AlarmQueuePolicy": _queue_policy("AlarmQueue", "AlarmRule"),
        "AuditQueuePolicy": _queue_policy("AuditQueue", "AuditRule"),
    },
    "Outputs": {
        **{f"{name}Arn": {"Value": {"Ref": name}} for name in MACHINES},
        "AlarmQueueUrl": {"Value": {"Ref": "AlarmQueue"}},
        "AuditQueueUrl": {"Value": {"Ref": "AuditQueue"}},
    },
}


def _receive(local: LocalAws, queue_url: str, *, at_least: int, timeout_s: float = 10) -> list[dict[str, Any]]:
    """Event bodies from the queue: poll until `at_least` arrived (or timeout), then drain briefly."""
    sqs = local.client("sqs")
    events: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout_s
    quiet_until: float | None = None
    while True:
        batch = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        for message in batch:
            events.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        now = time.monotonic()
        if len(events) >= at_least and quiet_until is None:
            quiet_until = now + 0.3  # late extras would show up here
        if (quiet_until is not None and now > quiet_until) or now > deadline:
            return events
        time.sleep(0.02)


def _deploy(local: LocalAws) -> dict[str, str]:
    return local.deploy_template("Alarms", TEMPLATE).outputs


def test_a_failed_execution_reaches_the_alarm_queue_and_a_succeeded_one_does_not() -> None:
    with LocalAws.in_process() as local:
        out = _deploy(local)

        ok = local.start_and_wait(out["SucceedingArn"], {"n": 1}, name="ok-1")
        failed = local.start_and_wait(out["FailingArn"], {"n": 2}, name="boom-1")
        assert (ok.status, failed.status) == ("SUCCEEDED", "FAILED")

        audit = _receive(local, out["AuditQueueUrl"], at_least=2)
        alarms = _receive(local, out["AlarmQueueUrl"], at_least=1)

    assert sorted(e["detail"]["status"] for e in audit) == ["FAILED", "SUCCEEDED"]
    [alarm] = alarms
    assert alarm["source"] == "aws.states"
    assert alarm["detail-type"] == STATUS_CHANGE
    assert alarm["resources"] == [failed.execution_arn]
    detail = alarm["detail"]
    assert detail["executionArn"] == failed.execution_arn
    assert detail["stateMachineArn"] == out["FailingArn"]
    assert (detail["name"], detail["status"]) == ("boom-1", "FAILED")
    assert (detail["error"], detail["cause"]) == ("Notify.Boom", "no channel")
    assert json.loads(detail["input"]) == {"n": 2}
    assert (detail["output"], detail["outputDetails"]) == (None, None)
    assert detail["inputDetails"] == {"included": True}
    assert isinstance(detail["startDate"], int) and detail["startDate"] <= detail["stopDate"]
    assert abs(detail["stopDate"] / 1000 - time.time()) < 60, "epoch milliseconds"

    [succeeded] = [e["detail"] for e in audit if e["detail"]["status"] == "SUCCEEDED"]
    assert succeeded["executionArn"] == ok.execution_arn
    assert json.loads(succeeded["output"]) == {"ok": True}
    assert succeeded["outputDetails"] == {"included": True}
    assert (succeeded["error"], succeeded["cause"]) == (None, None)


def test_stopped_and_timed_out_executions_are_aborted_and_timed_out_events() -> None:
    with LocalAws.in_process() as local:
        out = _deploy(local)
        sfn = local.client("stepfunctions")

        stopped = sfn.start_execution(stateMachineArn=out["WaitingArn"], name="stop-me")["executionArn"]
        timed_out = local.start_and_wait(out["TimingOutArn"], {}, name="slow-1")
        sfn.stop_execution(executionArn=stopped)

        alarms = _receive(local, out["AlarmQueueUrl"], at_least=2)

    assert timed_out.status == "TIMED_OUT"
    assert sorted((e["detail"]["status"], e["detail"]["executionArn"]) for e in alarms) == [
        ("ABORTED", stopped),
        ("TIMED_OUT", timed_out.execution_arn),
    ]


@pytest.mark.parametrize("include_express", [False, True])
def test_express_executions_send_no_event_as_in_aws_unless_asked(include_express: bool) -> None:
    with LocalAws.in_process(apply_bridges=False) as local:
        with _route_and_emit(True, include_express=include_express):
            out = local.deploy_template("Alarms", TEMPLATE).outputs
            express = local.client("stepfunctions").create_state_machine(
                name="FailingExpress", definition=json.dumps(FAIL_ASL), roleArn=ROLE_ARN, type="EXPRESS"
            )["stateMachineArn"]

            assert local.start_and_wait(express, {}, name="express-1").status == "FAILED"
            local.start_and_wait(out["SucceedingArn"], {}, name="standard-1")
            audit = _receive(local, out["AuditQueueUrl"], at_least=2 if include_express else 1)

    names = [e["detail"]["name"] for e in audit]
    assert names == (["express-1", "standard-1"] if include_express else ["standard-1"])


def test_the_server_mode_gets_the_bridge_too() -> None:
    with LocalAws.server() as server:
        out = server.deploy_template("Alarms", TEMPLATE).outputs
        failed = server.start_and_wait(out["FailingArn"], {}, name="boom-server")
        alarms = _receive(server, out["AlarmQueueUrl"], at_least=1)

    assert [(e["detail"]["status"], e["detail"]["executionArn"]) for e in alarms] == [("FAILED", failed.execution_arn)]


@pytest.mark.parametrize("bridged", [False, True])
def test_without_the_bridge_moto_sends_no_event(bridged: bool) -> None:
    original = BaseExecutionWorkerCommunication.terminated
    with LocalAws.in_process(apply_bridges=False) as bare:
        with _route_and_emit(bridged):
            out = bare.deploy_template("Alarms", TEMPLATE).outputs
            failed = bare.start_and_wait(out["FailingArn"], {}, name="boom-bare")
            alarms = _receive(bare, out["AlarmQueueUrl"], at_least=1, timeout_s=1 if not bridged else 10)

    assert failed.status == "FAILED"
    assert [e["detail"]["executionArn"] for e in alarms] == ([failed.execution_arn] if bridged else [])
    assert BaseExecutionWorkerCommunication.terminated is original, "the bridge undoes itself"


def _route_and_emit(bridged: bool, *, include_express: bool = False) -> ExitStack:
    stack = ExitStack()
    stack.enter_context(route_cfn_state_machines_to_executing_backend())  # else CFN machines cannot start
    if bridged:
        stack.enter_context(emit_execution_status_events(include_express=include_express))
    return stack


def test_an_error_in_the_bridge_is_logged_and_the_execution_still_ends(caplog: pytest.LogCaptureFixture) -> None:
    with LocalAws.in_process() as local:
        out = _deploy(local)
        with mock.patch.object(EventsBackend, "put_events", side_effect=RuntimeError("bus down")):
            failed = local.start_and_wait(out["FailingArn"], {}, name="boom-no-bus")
            deadline = time.monotonic() + 5
            while "bus down" not in caplog.text and time.monotonic() < deadline:
                time.sleep(0.02)

    assert failed.status == "FAILED"
    assert "could not emit the status change event" in caplog.text and "bus down" in caplog.text
