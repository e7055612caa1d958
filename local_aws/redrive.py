"""``redrive_executions``: Step Functions ``RedriveExecution``, which moto 5.2.5 lacks.

A FAILED, TIMED_OUT or ABORTED Standard execution runs again from its unfinished top-level state,
with the input that state was entered with and the workflow variables as they stood, under the
same execution ARN. The history keeps the
first run's events, then ``ExecutionRedriven`` and the new ones. AWS restarts a Parallel or Map
from the unfinished step inside it; this reruns the whole top-level state (the workflow's branches
are single tasks, so the difference does not show here). An execution that did not fail, or an
Express one, is refused with ``ExecutionNotRedrivable`` as on AWS.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any
from unittest import mock

from moto.core.exceptions import AWSError

REDRIVABLE = ("FAILED", "TIMED_OUT", "ABORTED")


class ExecutionNotRedrivable(AWSError):
    TYPE = "ExecutionNotRedrivable"
    STATUS = 400


def unfinished_state(definition: dict[str, Any], events: list[dict[str, Any]]) -> tuple[str, str]:
    """The last top-level state entered, and the input it was entered with (top-level states run
    one at a time, so it is the one the execution ended in)."""
    top_level = set(definition["States"])
    entered = [e["stateEnteredEventDetails"] for e in events
               if e["type"].endswith("StateEntered") and e["stateEnteredEventDetails"]["name"] in top_level]
    if not entered:
        return str(definition["StartAt"]), "{}"
    return str(entered[-1]["name"]), str(entered[-1].get("input", "{}"))


def _redrive(backend: Any, execution_arn: str) -> Any:
    from moto.stepfunctions.parser.api import ExecutionStatus, HistoryEventType
    from moto.stepfunctions.parser.asl.eval.evaluation_details import (
        EvaluationDetails,
        ExecutionDetails,
        StateMachineDetails,
    )
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

    execution = backend.describe_execution(execution_arn)
    status = str(getattr(execution.exec_status, "value", execution.exec_status))
    machine_type = str(getattr(execution.state_machine, "type", "STANDARD"))
    if status not in REDRIVABLE or machine_type.endswith("EXPRESS"):
        raise ExecutionNotRedrivable(f"Execution {execution_arn} is {status} ({machine_type}): not redrivable")
    previous = execution.exec_worker.env.event_manager.get_event_history()
    # Workflow variables as they stood when the execution stopped (JSONata Assign), as AWS keeps them.
    variables = dict(execution.exec_worker.env.variable_store._inner_scope)
    definition = json.loads(execution.state_machine.definition)
    state, state_input = unfinished_state(definition, previous)
    redrive_count = getattr(execution, "redrive_count", 0) + 1

    class RedriveWorker(ExecutionWorker):  # type: ignore[misc]
        def _execution_logic(self) -> None:
            program = self._get_evaluation_entrypoint()
            self.env = self._get_evaluation_environment()
            events = self.env.event_manager
            events._history_event_list.extend(previous)
            events._event_id_gen._next_id = len(previous) + 1
            for name, value in variables.items():
                self.env.variable_store.set(name, value)
            self.env.variable_store.reset_tracing()
            events.add_event(
                context=self.env.event_history_context,
                event_type=HistoryEventType.ExecutionRedriven,
                event_details=EventDetails(executionRedrivenEventDetails={"redriveCount": redrive_count}),
                update_source_event_id=False,
            )
            program.eval(self.env)
            self._execution_communication.terminated()

    worker = RedriveWorker(
        evaluation_details=EvaluationDetails(
            aws_execution_details=execution._get_start_aws_execution_details(),
            execution_details=ExecutionDetails(
                arn=execution.exec_arn, name=execution.name, role_arn=execution.role_arn,
                inpt=json.loads(state_input), start_time=execution.start_date,
            ),
            state_machine_details=StateMachineDetails(
                arn=execution.state_machine.arn, name=execution.state_machine.name,
                typ=execution.state_machine.sm_type, definition=json.dumps({**definition, "StartAt": state}),
            ),
        ),
        exec_comm=execution._get_start_execution_worker_comm(),
        cloud_watch_logging_session=execution._cloud_watch_logging_session,
        activity_store=execution._activity_store,
    )
    execution.exec_worker = worker
    execution.exec_status = ExecutionStatus.RUNNING
    execution.stop_date = execution.error = execution.cause = None
    execution.redrive_count = redrive_count
    execution.redrive_date = datetime.datetime.now(tz=datetime.UTC)
    worker.start()
    return execution


@contextmanager
def redrive_executions() -> Iterator[None]:
    """Adds ``RedriveExecution`` to moto's Step Functions (responses and executing backend)."""
    from moto.core.responses import ActionResult
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend
    from moto.stepfunctions.responses import StepFunctionResponse

    def redrive_execution(self: StepFunctionResponse) -> ActionResult:
        execution = self.stepfunction_backend.redrive_execution(self._get_param("executionArn"))
        return ActionResult({"redriveDate": execution.redrive_date})

    def backend_redrive(self: StepFunctionsParserBackend, execution_arn: str) -> Any:
        return _redrive(self, execution_arn)

    with ExitStack() as stack:
        stack.enter_context(mock.patch.object(StepFunctionResponse, "redrive_execution", redrive_execution,
                                              create=True))
        stack.enter_context(mock.patch.object(StepFunctionsParserBackend, "redrive_execution", backend_redrive,
                                              create=True))
        yield
