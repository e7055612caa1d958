"""``local_aws.sfn_tasks``: a ``states:startExecution`` task calls the API with its members and sees
AWS's PascalCase result (moto 5.2.5 passes ``StateMachineArn`` to boto3 as it is, which refuses it).
``tests/behaviour/test_bulk.py`` runs ``.sync:2`` children through it end to end."""

from __future__ import annotations

import datetime
from typing import Any

from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sfn import (
    StateTaskServiceSfn,
)

from local_aws.sfn_tasks import as_api_members, as_task_result, start_executions_from_tasks


def test_the_task_arguments_become_the_api_members() -> None:
    parameters: dict[str, Any] = {"StateMachineArn": "arn:m", "Name": "n-1", "Input": "{}"}
    as_api_members(parameters)
    assert parameters == {"stateMachineArn": "arn:m", "name": "n-1", "input": "{}"}


def test_the_api_response_becomes_what_the_state_machine_sees() -> None:
    started = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
    response: dict[str, Any] = {"executionArn": "arn:e", "startDate": started, "output": {"a": 1}}
    as_task_result(response)
    assert response == {"ExecutionArn": "arn:e", "StartDate": int(started.timestamp() * 1000), "Output": {"a": 1}}


def test_without_the_bridge_moto_passes_the_task_names_through_and_with_it_the_api_names() -> None:
    task = StateTaskServiceSfn.__new__(StateTaskServiceSfn)
    task._get_boto_service_action = lambda: "start_execution"  # type: ignore[method-assign]
    bare: dict[str, Any] = {"StateMachineArn": "arn:m", "Name": "n", "Input": {"x": 1}}
    task._normalise_parameters(bare)
    assert set(bare) == {"StateMachineArn", "Name", "Input"}  # boto3 refuses these for StartExecution
    with start_executions_from_tasks():
        bridged: dict[str, Any] = {"StateMachineArn": "arn:m", "Name": "n", "Input": {"x": 1}}
        task._normalise_parameters(bridged)
        response: dict[str, Any] = {"executionArn": "arn:e"}
        task._normalise_response(response)
    assert bridged == {"stateMachineArn": "arn:m", "name": "n", "input": '{"x":1}'}
    assert response == {"ExecutionArn": "arn:e"}
