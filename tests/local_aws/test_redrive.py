"""The redrive_executions bridge: RedriveExecution reruns the unfinished state, not the ones before."""

from __future__ import annotations

import json
import time
from typing import Any
from unittest import mock

import pytest
from botocore.exceptions import ClientError
from moto.sns.models import SNSBackend

from local_aws import LocalAws, sns_internal_error
from local_aws.redrive import unfinished_state

ROLE = "arn:aws:iam::123456789012:role/workflow"
# First SMS, then a second one that may fail: a redrive must not send the first again.
TWO_SENDS = {
    "StartAt": "First",
    "States": {
        "First": {"Type": "Task", "Resource": "arn:aws:states:::sns:publish",
                  "Parameters": {"PhoneNumber": "+15555550101", "Message": "first"}, "ResultPath": None,
                  "Next": "Second"},
        "Second": {"Type": "Task", "Resource": "arn:aws:states:::sns:publish",
                   "Parameters": {"PhoneNumber": "+15555550102", "Message.$": "$.text"}, "End": True},
    },
}


def _wait(local: LocalAws, arn: str) -> str:
    sfn = local.client("stepfunctions")
    for _ in range(400):
        status: str = sfn.describe_execution(executionArn=arn)["status"]
        if status != "RUNNING":
            return status
        time.sleep(0.025)
    raise AssertionError(f"{arn} still RUNNING")


def test_redrive_reruns_only_the_unfinished_state(local: LocalAws) -> None:
    sfn = local.client("stepfunctions")
    machine = sfn.create_state_machine(name="redrive2", definition=json.dumps(TWO_SENDS), roleArn=ROLE)
    original = SNSBackend.publish
    calls: list[str] = []

    def second_publish_fails(self: SNSBackend, *args: Any, **kwargs: Any) -> str:
        calls.append("publish")
        if len(calls) == 2:  # First goes out; Second's only attempt fails
            raise sns_internal_error()
        return original(self, *args, **kwargs)

    with mock.patch.object(SNSBackend, "publish", second_publish_fails):
        arn = sfn.start_execution(stateMachineArn=machine["stateMachineArn"], name="r2",
                                  input=json.dumps({"text": "second"}))["executionArn"]
        assert _wait(local, arn) == "FAILED"

    assert [m.phone_number for m in local.sms_messages()] == ["+15555550101"]
    sfn.redrive_execution(executionArn=arn)

    assert _wait(local, arn) == "SUCCEEDED"
    assert [m.phone_number for m in local.sms_messages()] == ["+15555550101", "+15555550102"]
    history = local.execution_history(arn)
    assert [e["type"] for e in history].count("ExecutionRedriven") == 1
    entered = [e["stateEnteredEventDetails"]["name"] for e in history if e["type"].endswith("StateEntered")]
    assert entered == ["First", "Second", "Second"]


def test_a_succeeded_execution_is_not_redrivable(local: LocalAws) -> None:
    sfn = local.client("stepfunctions")
    machine = sfn.create_state_machine(name="redrive3", definition=json.dumps(TWO_SENDS), roleArn=ROLE)
    arn = sfn.start_execution(stateMachineArn=machine["stateMachineArn"], name="r3",
                              input=json.dumps({"text": "ok"}))["executionArn"]
    assert _wait(local, arn) == "SUCCEEDED"

    with pytest.raises(ClientError) as refused:
        sfn.redrive_execution(executionArn=arn)
    assert refused.value.response["Error"]["Code"] == "ExecutionNotRedrivable"


def test_the_unfinished_state_is_the_last_top_level_state_entered() -> None:
    events = [
        {"type": "TaskStateEntered", "stateEnteredEventDetails": {"name": "First", "input": "{}"}},
        {"type": "TaskStateEntered", "stateEnteredEventDetails": {"name": "Second", "input": "{\"a\":1}"}},
    ]
    assert unfinished_state(TWO_SENDS, events) == ("Second", "{\"a\":1}")
    assert unfinished_state(TWO_SENDS, []) == ("First", "{}")
