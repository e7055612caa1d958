"""Bridge for the Step Functions service integration (``arn:aws:states:::states:startExecution``,
``.sync``, ``.sync:2``) in moto 5.2.5's ASL interpreter; ``tests/local_aws/test_sfn_tasks.py``
shows the gap and the fix.

moto's ``StateTaskServiceSfn`` (``asl/component/state/exec/state_task/service/state_task_service_sfn.py``)
comes from LocalStack, whose base class turns a task's ``Arguments`` into the API's member names and
the API's answer back into the names a state machine sees; moto's base class
(``state_task_service.py``: ``_normalise_parameters`` and ``_normalise_response`` are ``pass``) does
neither. The Step Functions API is the one integration whose members are camelCase
(``stateMachineArn``, ``name``, ``input``), so boto3 refuses ``StartExecution(StateMachineArn=...)``
(the access check, which reads ``stateMachineArn``, fails first with ``States.Runtime`` and the
cause ``'stateMachineArn'``), and the ``.sync`` resolvers read ``ExecutionArn`` from a response
that has ``executionArn``.

``start_executions_from_tasks``: the task's ``StateMachineArn``, ``Name``, ``Input`` and
``TraceHeader`` become the API's members, and the responses (StartExecution's, and the
DescribeExecution that ``.sync``/``.sync:2`` end with) have PascalCase members with times in epoch
milliseconds, as AWS hands them to the state machine (``ExecutionArn``, ``StartDate``, ``Status``,
``Output``...). Then ``startExecution``, ``.sync`` and ``.sync:2`` run: a child execution that
fails fails the task with ``States.TaskFailed`` (its cause the child's description), and a second
start of a name fails with ``StepFunctions.ExecutionAlreadyExistsException``, as on AWS.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

#: The integration's Arguments and the StartExecution API's members.
START_EXECUTION_MEMBERS = {"StateMachineArn": "stateMachineArn", "Name": "name", "Input": "input",
                           "TraceHeader": "traceHeader"}


def as_api_members(parameters: dict[str, Any]) -> None:
    """Renames the task's Arguments to the API's members, in place."""
    for task_name, api_name in START_EXECUTION_MEMBERS.items():
        if task_name in parameters:
            parameters[api_name] = parameters.pop(task_name)


def as_task_result(response: Any) -> None:
    """The API's response as the state machine sees it, in place: PascalCase members, times in epoch
    milliseconds."""
    if not isinstance(response, dict):
        return
    for name in list(response):
        value = response.pop(name)
        if isinstance(value, datetime.datetime):
            value = int(value.timestamp() * 1000)
        response[name[:1].upper() + name[1:]] = value


@contextmanager
def start_executions_from_tasks() -> Iterator[None]:
    """``states:startExecution`` (request-response, ``.sync``, ``.sync:2``) tasks call the API with
    its members and see AWS's result."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sfn import (
        StateTaskServiceSfn,
    )

    original = StateTaskServiceSfn._normalise_parameters

    def normalise_parameters(self: Any, parameters: dict[str, Any], boto_service_name: str | None = None,
                             service_action_name: str | None = None) -> None:
        original(self, parameters, boto_service_name=boto_service_name, service_action_name=service_action_name)
        as_api_members(parameters)

    def normalise_response(self: Any, response: Any, boto_service_name: str | None = None,
                           service_action_name: str | None = None) -> None:
        as_task_result(response)

    with mock.patch.object(StateTaskServiceSfn, "_normalise_parameters", normalise_parameters), \
            mock.patch.object(StateTaskServiceSfn, "_normalise_response", normalise_response):
        yield


__all__ = ["START_EXECUTION_MEMBERS", "as_api_members", "as_task_result", "start_executions_from_tasks"]
