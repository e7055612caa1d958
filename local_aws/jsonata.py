"""``bind_jsonata_evaluator``: JSONata for moto's Step Functions engine.

moto 5.2.5 parses JSONata states (``QueryLanguage: JSONata``, ``Arguments``, ``Output``,
``Condition``, ``Assign``, ``{% ... %}``) but evaluates none: ``eval_jsonata_expression`` in
``moto.stepfunctions.parser.asl.jsonata.jsonata`` calls the module global ``_eval_jsonata``, left
``None`` (LocalStack binds it to a JVM), so every expression, and every ``$var`` read, fails with
``States.Runtime`` / ``'NoneType' object is not callable``.

How moto passes data: no bindings. For each expression it builds one JSONata text,
``($states:={...};$myVar:=...;<expression>)``: the states data (only the parts the expression names)
and every workflow variable are written as literal declarations ahead of the expression, and the
evaluator is called with that text alone (``Callable[[str], Any]``; undefined and null both come
back as ``None``, and moto tells them apart by evaluating ``$exists(...)`` again).

The bridge binds that function to ``jsonata-python`` (pinned in requirements-dev.txt; the library
does not depend on it) and covers what moto gets wrong around it:

- An evaluation error surfaces as an arbitrary Python exception, which moto turns into
  ``States.Runtime``; AWS fails the state with ``States.QueryEvaluationError`` (catchable, with an
  ``EvaluationFailed`` history event). The bridge raises that failure.
- A string variable is declared as ``"<value>"`` without escaping, so a value holding ``"`` or
  ``\\`` breaks the expression (or changes it). The bridge declares strings as JSON literals.
- A Choice state's own ``Assign`` and ``Output`` run only when no rule matches (the Default path);
  on AWS the state-level ``Assign`` applies whichever rule matches (after the rule's ``Assign``),
  and so does ``Output`` unless the matched rule has its own (``choice_state_assign_and_output``).
- The functions Step Functions adds to JSONata are JSONata-text stand-ins in moto: ``$hash`` and
  ``$uuid`` return "Function ... is currently not supported", ``$parse`` evaluates JSONata with
  ``$eval`` instead of parsing JSON, ``$random(seed)`` is missing (moto names it
  ``$randomSeeded``), and ``$range(1, 1, 1)`` gives ``1`` rather than ``[1]``. The bridge gives
  them native implementations as AWS documents them.

Known differences it leaves (``tools/jsonata_conformance.py`` reports them when a definition
uses them): AWS implements JSONata 2.0.6, and the evaluator also accepts the 2.1 operators ``??``
and ``?:``, which AWS rejects; ``$base64encode``/``$base64decode`` of non-ASCII text encode
UTF-8 where the reference uses Latin-1; integers beyond 2**53 keep their precision; JSONata's
``$eval`` is available (AWS removes it).

The evaluator: ``jsonata-python`` 0.7.1 (pure Python, a port of the reference implementation),
chosen over ``jsonatapy`` 2.2.13 (Rust). Measured here (November 2026):

- Conformance, 168 expressions x 6 inputs against npm jsonata 2.0.6: jsonata-python differs on 7
  expressions (the three kinds listed above), jsonatapy on 10 (the same, plus a lambda result
  returned as None, and ``$now()``/``$now(picture)``: its host functions cannot call back into it,
  so the check's fixed clock cannot be built on it).
- Speed: jsonatapy is 15-50x faster per expression (0.05 vs 0.8 ms with bindings), but
  jsonatapy crashed the process (SIGSEGV in its ``compile``) inside moto's engine threads on a
  5-state machine (Choice, putItem, Parallel of sns:publish and sesv2:sendEmail) that ran fine
  with jsonata-python; the same expressions replayed on plain threads did not crash, so the cause
  was not isolated. A crash takes the whole test run with it.
- With jsonata-python that machine costs 171 ms per execution on the embedded AWS, 18 ms of it
  in 27 evaluations, after ``evaluate_composed`` passes moto's declarations as bindings (77 ms when
  the whole text, input included, is parsed as JSONata).
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from typing import Any
from unittest import mock

#: The functions Step Functions adds to JSONata (names without ``$``).
STEP_FUNCTIONS_FUNCTIONS = ("partition", "range", "hash", "random", "uuid", "parse")

_HASH_ALGORITHMS = {"MD5": "md5", "SHA-1": "sha1", "SHA-256": "sha256", "SHA-384": "sha384", "SHA-512": "sha512"}


class JSONataEvaluationError(Exception):
    """A JSONata expression failed to parse or evaluate; ``code`` is JSONata's (``D3030``) when known."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}" if code else message)
        self.code = code
        self.message = message


def _partition(array: Any, size: Any) -> list[Any]:
    if not isinstance(array, list) or not _is_integer(size) or size <= 0:
        raise JSONataEvaluationError("", "$partition expects an array and a positive integer")
    return [array[i:i + int(size)] for i in range(0, len(array), int(size))]


def _range(first: Any, last: Any, step: Any) -> list[Any]:
    if not all(_is_integer(v) for v in (first, last, step)) or step == 0:
        raise JSONataEvaluationError("", "$range expects integers and a non-zero step")
    stop = int(last) + (1 if step > 0 else -1)
    return list(range(int(first), stop, int(step)))


def _hash(value: Any, algorithm: Any) -> str:
    name = _HASH_ALGORITHMS.get(algorithm) if isinstance(algorithm, str) else None
    if not isinstance(value, str) or name is None:
        raise JSONataEvaluationError("", f"$hash expects a string and one of {', '.join(_HASH_ALGORITHMS)}")
    return hashlib.new(name, value.encode("utf-8")).hexdigest()


def _random(seed: Any = None) -> float:
    return random.Random(seed).random() if seed is not None else random.random()


def _uuid() -> str:
    return str(uuid.uuid4())


def _parse(text: Any) -> Any:
    if not isinstance(text, str):
        raise JSONataEvaluationError("", "$parse expects a string")
    try:
        return json.loads(text)
    except ValueError as error:
        raise JSONataEvaluationError("", f"$parse: {error}") from error


def _is_integer(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | float) and float(value).is_integer()


def step_functions_functions() -> dict[str, Callable[..., Any]]:
    """Native implementations of the functions Step Functions adds, by name without ``$``."""
    return {"partition": _partition, "range": _range, "hash": _hash, "random": _random, "uuid": _uuid,
            "parse": _parse}


def fixed_functions(now_ms: int, uuid_value: str, random_value: float) -> dict[str, Callable[..., Any]]:
    """The Step Functions functions with ``$uuid``/``$random`` fixed, and ``$now``/``$millis``
    reading a fixed clock: for comparing results (``tools/jsonata_conformance.py``)."""
    from jsonata.functions import Functions

    def now(picture: str | None = None, timezone: str | None = None) -> str | None:
        return Functions.datetime_from_millis(now_ms, picture, timezone)

    return {**step_functions_functions(), "uuid": lambda: uuid_value, "random": lambda seed=None: random_value,
            "now": now, "millis": lambda: now_ms}


# ---- the evaluator ---------------------------------------------------------------------------


def evaluate(expression: str, bindings: Mapping[str, Any] | None = None, *,
             functions: Mapping[str, Callable[..., Any]] | None = None) -> Any:
    """Evaluate ``expression`` with the pinned evaluator: the result (``None`` for null and
    undefined alike, as moto expects), or ``JSONataEvaluationError``.

    ``bindings`` are variables by name without ``$`` (JSON values); ``functions`` are native
    functions callable as ``$name(...)``, shadowing built-ins (default: the Step Functions ones).
    """
    import jsonata
    from jsonata.utils import Utils

    natives = step_functions_functions() if functions is None else functions
    try:
        compiled = jsonata.Jsonata(expression)
        for name, function in natives.items():
            compiled.register_lambda(name, function)
        # A bound None would read as undefined; a JSON null is the port's NULL_VALUE.
        frame = {name: _with_null_values(value, Utils.NULL_VALUE) for name, value in (bindings or {}).items()}
        return compiled.evaluate(None, frame or None)
    except JSONataEvaluationError:
        raise
    except Exception as error:  # the port raises JException, and plain Python errors too
        code = getattr(error, "error", None) or type(error).__name__
        raise JSONataEvaluationError(str(code), str(error)) from error


def _with_null_values(value: Any, null: Any) -> Any:
    if value is None:
        return null
    if isinstance(value, dict):
        return {key: _with_null_values(item, null) for key, item in value.items()}
    if isinstance(value, list):
        return [_with_null_values(item, null) for item in value]
    return value


# ---- what moto calls ---------------------------------------------------------------------------

_DECLARATION = re.compile(r"\$([A-Za-z0-9_]+):=")
_JSON = json.JSONDecoder()
_WRAPPERS = ("$exists(", "$type(")  # moto's re-evaluations in asl/jsonata/validations.py


def _declare_variables(bindings: dict[str, Any]) -> str:
    """moto's ``encode_jsonata_variable_declarations``, with every value (strings too) a JSON literal."""
    from moto.stepfunctions.parser.asl.utils.encoding import to_json_str

    return "".join(f"{name}:={to_json_str(value, separators=(',', ':'))};" for name, value in bindings.items())


def split_declarations(text: str) -> tuple[dict[str, Any], str] | None:
    """moto's text ``(<declarations><expression>)`` as (bindings, expression), when every
    declaration is a JSON literal as ``_declare_variables`` writes them; else None."""
    if not (text.startswith("(") and text.endswith(")")):
        return None
    bindings: dict[str, Any] = {}
    position = 1
    while match := _DECLARATION.match(text, position):
        try:
            value, end = _JSON.raw_decode(text, match.end())
        except ValueError:
            break
        if not text.startswith(";", end):
            break
        bindings[match.group(1)] = value
        position = end + 1
    return (bindings, text[position:-1]) if bindings else None


def evaluate_composed(text: str) -> Any:
    """The function moto calls (``Callable[[str], Any]``): one JSONata text holding its own
    variable declarations, perhaps wrapped in ``$exists(...)`` or ``$type(...)``.

    Declarations are JSON literals (the bridge writes them), so they are read with ``json`` and
    passed as bindings: parsing a large input as JSONata costs the pure-Python parser about 1.5 ms
    per KB, on every expression.
    """
    wrapper = next((w for w in _WRAPPERS if text.startswith(w) and text.endswith(")")), None)
    split = split_declarations(text[len(wrapper):-1] if wrapper else text)
    if split is None:
        return evaluate(text)
    bindings, expression = split
    return evaluate(f"{wrapper}({expression}))" if wrapper else expression, bindings)


@contextmanager
def bind_jsonata_evaluator() -> Iterator[None]:
    """Bind moto's JSONata evaluator to the pinned one; evaluation errors become
    ``States.QueryEvaluationError``, string variables are escaped, and the Step Functions JSONata
    functions are native (see the module docstring for each gap)."""
    import moto.stepfunctions.parser.asl.component.intrinsic.jsonata as intrinsic_jsonata
    import moto.stepfunctions.parser.asl.eval.states as states_module
    import moto.stepfunctions.parser.asl.eval.variable_store as variable_store_module
    import moto.stepfunctions.parser.asl.jsonata.jsonata as moto_jsonata
    from moto.stepfunctions.parser.asl.component.common.string.string_expression import (
        StringJSONata,
        StringVariableSample,
    )

    declarations = dict(intrinsic_jsonata._DECLARATION_BY_VARIABLE_REFERENCE)
    for name in STEP_FUNCTIONS_FUNCTIONS:
        declarations.pop(f"${name}", None)
    declarations.pop("$randomSeeded", None)

    with ExitStack() as stack:
        stack.enter_context(mock.patch.object(moto_jsonata, "_eval_jsonata", evaluate_composed))
        for module in (moto_jsonata, states_module, variable_store_module):
            stack.enter_context(mock.patch.object(module, "encode_jsonata_variable_declarations", _declare_variables))
        stack.enter_context(mock.patch.object(intrinsic_jsonata, "_DECLARATION_BY_VARIABLE_REFERENCE", declarations))
        for component in (StringJSONata, StringVariableSample):
            stack.enter_context(mock.patch.object(component, "_eval_body", _failing_as_query_evaluation_error(
                component._eval_body)))
        stack.enter_context(choice_state_assign_and_output())
        yield


@contextmanager
def choice_state_assign_and_output() -> Iterator[None]:
    """moto evaluates a Choice state's ``Assign`` and ``Output`` only on the Default path; AWS
    applies the state-level ``Assign`` whichever rule matched (after that rule's own ``Assign``),
    and its ``Output`` unless the matched rule has one."""
    from moto.stepfunctions.parser.asl.component.state.choice.state_choice import StateChoice

    def _eval_state_output(self: Any, env: Any) -> None:
        next_state_name: str = env.stack.pop()
        matched = None if self.default_state and self.default_state.state_name == next_state_name else next(
            (rule for rule in self.choices_decl.rules if rule.next_stmt and rule.next_stmt.name == next_state_name),
            None)
        if self.assign_decl:
            self.assign_decl.eval(env=env)
        if self.output and (matched is None or not matched.output):
            self.output.eval(env=env)
        if self._is_language_query_jsonpath():
            if self.output_path:
                self.output_path.eval(env=env)
            else:
                env.states.reset(input_value=env.stack.pop())
        env.next_state_name = next_state_name

    with mock.patch.object(StateChoice, "_eval_state_output", _eval_state_output):
        yield


def _failing_as_query_evaluation_error(original: Callable[[Any, Any], None]) -> Callable[[Any, Any], None]:
    from moto.stepfunctions.parser.api import EvaluationFailedEventDetails, HistoryEventType
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEvent,
        FailureEventException,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
        StatesErrorNameType,
    )
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

    def eval_body(self: Any, env: Any) -> None:
        try:
            original(self, env)
        except JSONataEvaluationError as error:
            # As moto's own QueryEvaluationError (an undefined result, asl/jsonata/validations.py):
            # an EvaluationFailed event, then the failure, which Retry and Catch see.
            error_name = StatesErrorName(typ=StatesErrorNameType.StatesQueryEvaluationError)
            cause = f"The JSONata expression '{self.expression}' threw an error during evaluation. {error}"
            failure = FailureEventException(failure_event=FailureEvent(
                env=env, error_name=error_name, event_type=HistoryEventType.EvaluationFailed,
                event_details=EventDetails(evaluationFailedEventDetails=EvaluationFailedEventDetails(
                    error=error_name.error_name, cause=cause)),
            ))
            env.event_manager.add_event(
                context=env.event_history_context, event_type=HistoryEventType.EvaluationFailed,
                event_details=EventDetails(evaluationFailedEventDetails=failure.get_evaluation_failed_event_details()),
            )
            raise failure from error

    return eval_body
