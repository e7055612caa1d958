"""Bridges for the Distributed Map state (``ProcessorConfig.Mode: DISTRIBUTED``) in moto 5.2.5's
ASL interpreter, each a small context manager undone on exit; ``distributed_map_bridges`` applies
them all. ``tests/local_aws/test_distributed_map.py`` shows each gap and the fix.

What moto already does (``moto/stepfunctions/parser/asl/component/state/exec/state_map/``): a
Distributed Map runs its ItemProcessor in this process, one thread per ``MaxConcurrency`` worker
(``DistributedIterationComponent._map_run``; without MaxConcurrency one thread per item), each child
"execution" evaluated in a frame of the parent's environment with the parent's role: no real child
executions, no ``StartExecution`` call. ``Items`` (JSONata), ``ItemSelector`` with
``$states.context.Map.Item.Index``/``.Value``, and ``ItemReader`` ``s3:getObject`` with
``InputType`` JSON and CSV (``FIRST_ROW``/``GIVEN`` headers, ``MaxItems``) work as on AWS.

The gaps bridged here:

- ``read_jsonl_items``: ``ReaderConfig.InputType: JSONL`` is refused when the definition is parsed
  (``InputTypeValue`` in ``item_reader/reader_config/input_type.py`` knows only CSV and JSON, so
  CreateStateMachine fails with ``'JSONL' is not a valid InputTypeValue``). The bridge accepts it and
  reads one JSON value per non-blank line (``MaxItems`` applies; a line that is not JSON fails the
  state with ``States.ItemReaderFailed``).
- ``parse_distributed_map_fields``: two fields AWS accepts are parse errors in moto's ANTLR grammar
  (``moto/stepfunctions/parser/asl/antlr/runtime/ASLParser.py``): ``ProcessorConfig.ExecutionType:
  EXPRESS`` (the ``execution_type`` rule has only ``"STANDARD"``) and an integer
  ``ToleratedFailurePercentage`` such as ``10`` (the rule takes only a decimal number, ``10.0``).
  The bridge hands the parser the definition with EXPRESS read as STANDARD (children run in
  process either way; what Express changes on AWS, at-least-once children, no child history, the
  5-minute limit, no ``.sync``/``.waitForTaskToken`` inside, is not modelled) and integer
  percentages written as decimals. DescribeStateMachine still returns the definition as written.
- ``enforce_tolerated_failures``: moto records a failed child as ``null`` in the results and lets
  the Map succeed whatever ``ToleratedFailureCount``/``ToleratedFailurePercentage`` say (its
  ``MapRunRecord`` notes "TODO: add support for failure toleration fields"). As on AWS, the Map Run
  now fails with ``States.ExceedToleratedFailureThreshold`` once the failed (or timed-out) children
  exceed the count, or their share of all items exceeds the percentage; with neither field the
  tolerance is zero; with both, exceeding either fails. Like AWS, no further child is started once
  the threshold is exceeded (children already running finish). A tolerated failure stays ``null``
  at its index in the Map's results.
- ``name_item_reader_failures``: an ItemReader whose S3 read fails (no such key, access denied)
  surfaces in moto as ``States.Runtime``; AWS fails the state with ``States.ItemReaderFailed``.

- ``isolate_query_language_scopes``: moto's ``Preprocessor`` (``asl/parse/preprocessor.py``) keeps
  its QueryLanguage scope stack in a class attribute shared by every parse, so a definition that
  fails half-way (e.g. ``InputType: JSONL`` without the bridge above) leaves ``JSONata`` on it and
  every later JSONPath definition in the process fails with "Unsupported declaration in
  QueryLanguage=JSONPath block"; parses on two threads share it as well. The bridge gives each
  parse its own stack.

Not bridged (parse errors in moto's grammar, ``moto/stepfunctions/parser/asl/antlr/runtime/ASLParser.py``):
``ItemBatcher`` (no rule at all) and a JSONata ``ResultWriter`` (the ``result_writer_decl`` rule
takes only ``Resource`` and ``Parameters``); with JSONPath ``Parameters`` moto's ResultWriter
(``result_writer/resource_eval/resource_eval_s3.py``) writes only a ``manifest.json`` with empty
``ResultFiles`` (no result files).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any
from unittest import mock

from botocore.exceptions import ClientError
from moto.stepfunctions.parser.api import HistoryEventType, MapRunFailedEventDetails
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
    FailureEvent,
    FailureEventException,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import StatesErrorNameType
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

#: The ReaderConfig.InputType this module adds.
JSONL = "JSONL"
#: The cause AWS gives with ``States.ExceedToleratedFailureThreshold``.
TOLERANCE_EXCEEDED_CAUSE = "The specified tolerated failure threshold was exceeded"


def map_run_failure(env: Any, error: StatesErrorNameType, cause: str) -> FailureEventException:
    """A failure of the Map state (catchable, retryable) with ``error`` and ``cause``."""
    name = error.to_name()
    return FailureEventException(failure_event=FailureEvent(
        env=env,
        error_name=StatesErrorName(typ=error),
        event_type=HistoryEventType.MapRunFailed,
        event_details=EventDetails(mapRunFailedEventDetails=MapRunFailedEventDetails(error=name, cause=cause)),
    ))


# ---- JSONL ---------------------------------------------------------------------------------


@contextmanager
def read_jsonl_items() -> Iterator[None]:
    """``ReaderConfig.InputType: JSONL``: one JSON value per line of the S3 object."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.item_reader import item_reader_decl
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.item_reader.eval.resource_output_transformer.transformer import (  # noqa: E501
        ResourceOutputTransformer,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.item_reader.reader_config.input_type import (
        InputType,
    )

    class JsonLinesTransformer(ResourceOutputTransformer):
        def _eval_body(self, env: Any) -> None:
            reader_config = env.stack.pop()
            content: str = env.stack.pop()
            items = []
            for number, line in enumerate(content.splitlines(), start=1):
                if not line.strip():
                    continue
                try:
                    items.append(json.loads(line))
                except ValueError as error:
                    raise map_run_failure(env, StatesErrorNameType.StatesItemReaderFailed,
                                          f"Line {number} of the JSONL object is not JSON: {error}") from None
            env.stack.append(items[: reader_config["MaxItemsValue"]])

    original_init = InputType.__init__
    original_factory = item_reader_decl.resource_output_transformer_for

    def init(self: Any, input_type: str) -> None:
        if input_type == JSONL:
            self.input_type_value = JSONL  # ReaderConfig reports it as str(value)
            return
        original_init(self, input_type)

    def transformer_for(input_type: Any) -> Any:
        if input_type.input_type_value == JSONL:
            return JsonLinesTransformer()
        return original_factory(input_type=input_type)

    with mock.patch.object(InputType, "__init__", init), \
            mock.patch.object(item_reader_decl, "resource_output_transformer_for", transformer_for):
        yield


# ---- fields the grammar refuses ----------------------------------------------------------


def normalise_distributed_map_definition(definition: str) -> str:
    """The definition with each ``ProcessorConfig.ExecutionType: EXPRESS`` read as STANDARD and each
    integer ``ToleratedFailurePercentage`` written as a decimal (the text unchanged when there is
    neither, or when it is not JSON: the parser reports that)."""
    if '"EXPRESS"' not in definition and '"ToleratedFailurePercentage"' not in definition:
        return definition
    try:
        document = json.loads(definition)
    except ValueError:
        return definition
    changed = False

    def visit(node: Any) -> None:
        nonlocal changed
        if isinstance(node, dict):
            config = node.get("ProcessorConfig")
            if isinstance(config, dict) and config.get("ExecutionType") == "EXPRESS":
                config["ExecutionType"] = "STANDARD"
                changed = True
            percentage = node.get("ToleratedFailurePercentage")
            if isinstance(percentage, int) and not isinstance(percentage, bool):
                node["ToleratedFailurePercentage"] = float(percentage)
                changed = True
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    visit(document)
    return json.dumps(document) if changed else definition


@contextmanager
def parse_distributed_map_fields() -> Iterator[None]:
    """Parse EXPRESS child workflows (run in process like STANDARD ones) and integer percentages."""
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    original = AmazonStateLanguageParser.parse

    def parse(definition: str) -> Any:
        return original(normalise_distributed_map_definition(definition))

    with mock.patch.object(AmazonStateLanguageParser, "parse", staticmethod(parse)):
        yield


@contextmanager
def isolate_query_language_scopes() -> Iterator[None]:
    """Each ``Preprocessor`` (one per parse) gets its own QueryLanguage scope stack."""
    from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor

    original_init = Preprocessor.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        self._query_language_per_scope = []

    with mock.patch.object(Preprocessor, "__init__", init):
        yield


# ---- tolerated failures --------------------------------------------------------------------


@dataclass(frozen=True)
class Tolerance:
    """A Map Run's failure threshold: None for a field the state does not declare."""

    count: int | None
    percentage: float | None
    total_items: int

    def exceeded_by(self, failed: int) -> bool:
        if self.count is None and self.percentage is None:
            return failed > 0
        over_count = self.count is not None and failed > self.count
        over_share = (self.percentage is not None and self.total_items > 0
                      and failed * 100.0 / self.total_items > self.percentage)
        return over_count or over_share


@contextmanager
def enforce_tolerated_failures() -> Iterator[None]:
    """Fail the Map Run with ``States.ExceedToleratedFailureThreshold`` as AWS does."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.distributed_iteration_component import (  # noqa: E501
        DistributedIterationComponent,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.itemprocessor.distributed_item_processor_worker import (  # noqa: E501
        DistributedItemProcessorWorker,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.state_map import StateMap
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.tolerated_failure import (
        ToleratedFailureCountDecl,
        ToleratedFailurePercentageDecl,
    )

    original_from_props = StateMap.from_state_props
    original_map_run = DistributedIterationComponent._map_run
    original_eval_job = DistributedItemProcessorWorker._eval_job
    lock = threading.Lock()

    def from_state_props(self: Any, state_props: Any) -> None:
        original_from_props(self, state_props)
        # Which fields the state declares (moto fills both with 0 when absent).
        self.iteration_component._declared_tolerance = (
            state_props.get(ToleratedFailureCountDecl) is not None,
            state_props.get(ToleratedFailurePercentageDecl) is not None,
        )

    def map_run(self: Any, env: Any, eval_input: Any) -> None:
        items = env.stack[-1]
        count_declared, percentage_declared = getattr(self, "_declared_tolerance", (True, True))
        record = eval_input.map_run_record
        record._tolerance = Tolerance(
            count=record.tolerated_failure_count if count_declared else None,
            percentage=record.tolerated_failure_percentage if percentage_declared else None,
            total_items=len(items) if isinstance(items, list) else 0,
        )
        original_map_run(self, env, eval_input)

    def eval_job(self: Any, env: Any, job: Any) -> None:
        original_eval_job(self, env, job)
        record = self._map_run_record
        tolerance: Tolerance | None = getattr(record, "_tolerance", None)
        failed = record.item_counter.failed.get() + record.item_counter.timed_out.get()
        if tolerance is None or not tolerance.exceeded_by(failed):
            return
        pool = self._job_pool
        failure = map_run_failure(env, StatesErrorNameType.StatesExceedToleratedFailureThreshold,
                                  TOLERANCE_EXCEEDED_CAUSE)
        with lock, pool._mutex:
            # The pool hands out no further job, and the Map Run stops waiting and raises it.
            if pool._worker_exception is None:
                pool._worker_exception = failure
            pool._termination_event.set()

    with mock.patch.object(StateMap, "from_state_props", from_state_props), \
            mock.patch.object(DistributedIterationComponent, "_map_run", map_run), \
            mock.patch.object(DistributedItemProcessorWorker, "_eval_job", eval_job):
        yield


# ---- ItemReader errors ---------------------------------------------------------------------


@contextmanager
def name_item_reader_failures() -> Iterator[None]:
    """An S3 error while reading items fails the state with ``States.ItemReaderFailed``."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.item_reader.item_reader_decl import ItemReader

    original = ItemReader._eval_body

    def eval_body(self: Any, env: Any) -> None:
        try:
            original(self, env)
        except ClientError as error:
            raise map_run_failure(env, StatesErrorNameType.StatesItemReaderFailed, str(error)) from None

    with mock.patch.object(ItemReader, "_eval_body", eval_body):
        yield


@contextmanager
def distributed_map_bridges() -> Iterator[None]:
    """All the Distributed Map bridges above."""
    with ExitStack() as stack:
        stack.enter_context(read_jsonl_items())
        stack.enter_context(isolate_query_language_scopes())
        stack.enter_context(parse_distributed_map_fields())
        stack.enter_context(enforce_tolerated_failures())
        stack.enter_context(name_item_reader_failures())
        yield


__all__ = [
    "JSONL",
    "TOLERANCE_EXCEEDED_CAUSE",
    "Tolerance",
    "distributed_map_bridges",
    "enforce_tolerated_failures",
    "isolate_query_language_scopes",
    "map_run_failure",
    "name_item_reader_failures",
    "normalise_distributed_map_definition",
    "parse_distributed_map_fields",
    "read_jsonl_items",
]
