"""Conformance check: the embedded AWS's JSONata evaluator against the reference implementation.

Every JSONata expression in a state machine definition (every ``"{% ... %}"`` string anywhere in a
state: ``Condition``, ``Arguments``, ``Output``, ``Assign``, ``Items``, ``Error``/``Cause``,
``TimeoutSeconds``..., nested in objects and arrays, Parallel branches and Map item processors
included) is evaluated over representative bindings twice:

- by the bridge (``local_aws.jsonata``), through the text moto composes
  (``($states:=...;$var:=...;<expression>)``), as the engine calls it;
- by npm ``jsonata`` pinned in package.json at the version AWS Step Functions implements (2.0.6),
  in one Node process for the whole batch (``tools/jsonata_reference.cjs``).

Results must be equal (deep equality, numbers by value, booleans apart from numbers; undefined on
both sides is equal, and so is an error on both sides, whatever its code).

The bindings, for each given input:

- ``$states.input``: the input; ``$states.context``: ``CONTEXT`` (fixed: execution name
  ``EXECUTION_NAME``, the current state's name); ``$states.errorOutput`` in a ``Catch``:
  ``ERROR_OUTPUT``; ``$states.result`` in a Task/Parallel/Map's ``Output``/``Assign``: the
  ``results`` sample given for that state name, if any.
- variables (``$name``): derived from the definition itself. The ``Assign`` blocks are evaluated
  in document order (states in definition order, rules before the state's own block) on the same
  bindings, by the bridge's evaluator, each value visible to the blocks after it; a variable whose
  expression is undefined or fails stays unbound. ``variables`` samples given by the caller are
  laid over the derived ones. This is a static walk, not an execution: every state sees the
  execution input as ``$states.input`` and every branch's assignments, which is representative
  for workflows that normalise the request into variables first (the derived values are plausible,
  and both evaluators get exactly the same ones).
- ``$now()``/``$millis()`` read ``NOW_MS`` and ``$uuid()``/``$random()`` return fixed values on both
  sides, so time stamps and ids compare.

Run: ``python -m tools.jsonata_conformance`` (the app's synthesized definition and
``examples/*.json``), or ``--definition asl.json --input a.json --input b.json [--variables v.json]``.
Exit status 1 when a mismatch is found.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

from local_aws import jsonata as bridge
from local_aws.access.simulator import node_executable

ROOT = Path(__file__).resolve().parent.parent
REFERENCE_SCRIPT = ROOT / "tools" / "jsonata_reference.cjs"
EXAMPLES = ROOT / "examples"

NOW_MS = 1_767_225_600_123  # 2026-01-01T00:00:00.123Z
FIXED_UUID = "00000000-0000-4000-8000-000000000000"  # as tools/jsonata_reference.cjs
FIXED_RANDOM = 0.5
EXECUTION_NAME = "conformance-execution"
STATE_MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:Conformance"
CONTEXT: dict[str, Any] = {
    "Execution": {
        "Id": f"arn:aws:states:us-east-1:123456789012:execution:Conformance:{EXECUTION_NAME}",
        "Name": EXECUTION_NAME,
        "RoleArn": "arn:aws:iam::123456789012:role/workflow",
        "StartTime": "2026-01-01T00:00:00.000Z",
        "RedriveCount": 0,
    },
    "State": {"Name": "", "EnteredTime": "2026-01-01T00:00:00.123Z", "RetryCount": 0},
    "StateMachine": {"Id": STATE_MACHINE, "Name": "Conformance"},
    "Task": {"Token": "conformance-task-token"},
}
ERROR_OUTPUT: dict[str, Any] = {"Error": "States.TaskFailed", "Cause": "conformance sample cause"}

_EXPRESSION = re.compile(r"^\{%(.*)%\}$", re.DOTALL)
_RESULT_STATES = ("Task", "Parallel", "Map")


@dataclass(frozen=True)
class Site:
    """Where an expression sits: ``state`` is a path (``Both/branch 1/SendEmail``), ``field`` a
    path inside the state (``Arguments.Destination.ToAddresses``, ``Choices[0].Condition``)."""

    state: str
    state_name: str
    state_type: str
    field: str
    expression: str

    @property
    def in_catch(self) -> bool:
        return self.field.startswith("Catch[")


@dataclass(frozen=True)
class Mismatch:
    """One expression whose results differ for one input (and one variables sample)."""

    site: Site
    input_index: int
    python: dict[str, Any]
    reference: dict[str, Any]

    def __str__(self) -> str:
        return (f"{self.site.state} {self.site.field} (input {self.input_index}): {{% {self.site.expression} %}}\n"
                f"    python:    {_short(self.python)}\n    reference: {_short(self.reference)}")


# ---- finding expressions -----------------------------------------------------------------------


def expressions(definition: Mapping[str, Any]) -> list[Site]:
    """Every JSONata expression in the definition's states, in document order."""
    return list(_states_sites(definition, prefix=""))


def _states_sites(machine: Mapping[str, Any], prefix: str) -> Iterator[Site]:
    for name, state in machine.get("States", {}).items():
        path = f"{prefix}{name}"
        for field, value in _strings(state, ""):
            match = _EXPRESSION.match(value.strip())
            if match:
                yield Site(path, name, str(state.get("Type", "")), field, match.group(1).strip())
        for index, branch in enumerate(state.get("Branches", [])):
            yield from _states_sites(branch, f"{path}/branch {index}/")
        for key in ("ItemProcessor", "Iterator"):
            if key in state:
                yield from _states_sites(state[key], f"{path}/{key}/")


def _strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            if path == "" and key in ("Branches", "ItemProcessor", "Iterator"):
                continue  # their states are sites of their own
            yield from _strings(item, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, f"{path}[{index}]")


# ---- bindings ----------------------------------------------------------------------------------


def _states_binding(site: Site, input: Any, results: Mapping[str, Any]) -> dict[str, Any]:
    context = json.loads(json.dumps(CONTEXT))
    context["State"]["Name"] = site.state_name
    states: dict[str, Any] = {"input": input, "context": context}
    if site.in_catch:
        states["errorOutput"] = ERROR_OUTPUT
    elif site.state_type in _RESULT_STATES and site.state_name in results:
        states["result"] = results[site.state_name]
    return states


def _python_outcome(expression: str, states: Mapping[str, Any], variables: Mapping[str, Any]) -> dict[str, Any]:
    """The bridge's result for ``expression``, through the text moto composes."""
    from moto.stepfunctions.parser.asl.jsonata.jsonata import compose_jsonata_expression

    text = compose_jsonata_expression(expression, [
        bridge._declare_variables({"$states": dict(states)}),
        bridge._declare_variables({f"${name}": value for name, value in variables.items()}),
    ])
    try:
        value = bridge.evaluate_composed(text)
        if value is None:  # null or undefined: moto asks $exists, so does the check
            return {"kind": "value", "value": None} if bridge.evaluate_composed(f"$exists({text})") else {
                "kind": "undefined"}
    except bridge.JSONataEvaluationError as error:
        return {"kind": "error", "code": error.code, "message": error.message}
    if not isinstance(value, dict | list | str | int | float | bool):
        return {"kind": "function"}  # a lambda or a built-in: the port's own types
    return {"kind": "value", "value": _finite(value)}


def derive_variables(definition: Mapping[str, Any], input: Any, results: Mapping[str, Any] | None = None,
                     given: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The variables the definition's ``Assign`` blocks give for ``input`` (see the module docstring)."""
    variables: dict[str, Any] = {}
    for site, block in _assign_blocks(definition, ""):
        states = _states_binding(site, input, results or {})
        for name, template in block.items():
            try:
                variables[name] = _evaluate_template(template, states, {**variables, **(given or {})})
            except _NoValue:
                continue
    return {**variables, **(given or {})}


class _NoValue(Exception):
    """An expression in the template was undefined or failed."""


def _assign_blocks(machine: Mapping[str, Any], prefix: str) -> Iterator[tuple[Site, Mapping[str, Any]]]:
    for name, state in machine.get("States", {}).items():
        path, kind = f"{prefix}{name}", str(state.get("Type", ""))
        for index, rule in enumerate(state.get("Choices", [])):
            if isinstance(rule.get("Assign"), dict):
                yield Site(path, name, kind, f"Choices[{index}].Assign", ""), rule["Assign"]
        if isinstance(state.get("Assign"), dict):
            yield Site(path, name, kind, "Assign", ""), state["Assign"]
        for index, catcher in enumerate(state.get("Catch", [])):
            if isinstance(catcher.get("Assign"), dict):
                yield Site(path, name, kind, f"Catch[{index}].Assign", ""), catcher["Assign"]
        for index, branch in enumerate(state.get("Branches", [])):
            yield from _assign_blocks(branch, f"{path}/branch {index}/")
        for key in ("ItemProcessor", "Iterator"):
            if key in state:
                yield from _assign_blocks(state[key], f"{path}/{key}/")


def _evaluate_template(template: Any, states: Mapping[str, Any], variables: Mapping[str, Any]) -> Any:
    if isinstance(template, str):
        match = _EXPRESSION.match(template.strip())
        if not match:
            return template
        outcome = _python_outcome(match.group(1).strip(), states, variables)
        if outcome["kind"] != "value":
            raise _NoValue
        return outcome["value"]
    if isinstance(template, dict):
        return {key: _evaluate_template(value, states, variables) for key, value in template.items()}
    if isinstance(template, list):
        return [_evaluate_template(value, states, variables) for value in template]
    return template


# ---- the check ---------------------------------------------------------------------------------


def check(
    definition: Mapping[str, Any],
    inputs: Sequence[Any],
    *,
    variables: Mapping[str, Any] | None = None,
    results: Mapping[str, Any] | None = None,
) -> list[Mismatch]:
    """Evaluate every expression of ``definition`` for every input with the bridge and with the
    reference; the mismatches (none when they agree). ``variables`` overrides derived variables;
    ``results`` gives ``$states.result`` samples by state name."""
    sites = expressions(definition)
    cases: list[tuple[Site, int, dict[str, Any], dict[str, Any]]] = []
    frozen = bridge.fixed_functions(NOW_MS, FIXED_UUID, FIXED_RANDOM)
    with mock.patch.object(bridge, "step_functions_functions", lambda: dict(frozen)):
        for index, input in enumerate(inputs):
            bound = derive_variables(definition, input, results, variables)
            for site in sites:
                states = _states_binding(site, input, results or {})
                python = _python_outcome(site.expression, states, bound)
                cases.append((site, index, {"states": states, **bound}, python))
    if not cases:
        return []
    reference = evaluate_reference([(site.expression, bindings) for site, _, bindings, _ in cases])
    return [Mismatch(site, index, python, expected)
            for (site, index, _, python), expected in zip(cases, reference, strict=True)
            if not same_outcome(python, expected)]


def conditions_not_boolean(
    definition: Mapping[str, Any],
    inputs: Sequence[Any],
    *,
    variables: Mapping[str, Any] | None = None,
    results: Mapping[str, Any] | None = None,
) -> list[tuple[Site, int, dict[str, Any]]]:
    """Choice conditions that give anything but true or false for an input: Step Functions fails
    the execution (``States.QueryEvaluationError``) when a condition is undefined, an error or not
    a boolean, and both evaluators can agree on such an outcome."""
    found = []
    frozen = bridge.fixed_functions(NOW_MS, FIXED_UUID, FIXED_RANDOM)
    with mock.patch.object(bridge, "step_functions_functions", lambda: dict(frozen)):
        for index, input in enumerate(inputs):
            bound = derive_variables(definition, input, results, variables)
            for site in expressions(definition):
                if site.state_type != "Choice" or not site.field.endswith(".Condition"):
                    continue
                outcome = _python_outcome(site.expression, _states_binding(site, input, results or {}), bound)
                if outcome["kind"] != "value" or not isinstance(outcome["value"], bool):
                    found.append((site, index, outcome))
    return found


def evaluate_reference(cases: Sequence[tuple[str, Mapping[str, Any]]]) -> list[dict[str, Any]]:
    """Outcomes from the reference implementation, one Node process for the batch."""
    request = {"now": NOW_MS, "cases": [{"expression": e, "bindings": dict(b)} for e, b in cases]}
    completed = subprocess.run([node_executable(), str(REFERENCE_SCRIPT)], input=json.dumps(request),
                               capture_output=True, text=True, check=False, cwd=ROOT)
    if completed.returncode != 0:
        raise RuntimeError(f"jsonata_reference.cjs failed ({completed.returncode}): {completed.stderr.strip()}")
    results: list[dict[str, Any]] = json.loads(completed.stdout)["results"]
    return results


def same_outcome(python: Mapping[str, Any], reference: Mapping[str, Any]) -> bool:
    if python["kind"] != reference["kind"]:
        return False
    if python["kind"] == "value":
        return _deep_equal(python["value"], reference["value"])
    return True  # both undefined, both functions, or both errors (whatever the code)


def _deep_equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return float(a) == float(b)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_deep_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_deep_equal(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and bool(a == b)


def _finite(value: Any) -> Any:
    """Non-finite numbers as the reference script writes them ("Infinity", "NaN")."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def _short(outcome: Mapping[str, Any]) -> str:
    text = json.dumps(dict(outcome), sort_keys=True)
    return text if len(text) <= 300 else text[:297] + "..."


# ---- command line ------------------------------------------------------------------------------


def _app_definition() -> dict[str, Any]:
    from tools import _asl

    _, template = _asl.pick_stack(_asl.synthesize())
    return _asl.definition(template)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--definition", type=Path, help="ASL JSON (default: the app's synthesized workflow)")
    parser.add_argument("--input", type=Path, action="append", default=[],
                        help="an execution input (repeatable; default: examples/*.json)")
    parser.add_argument("--variables", type=Path, help="a JSON object of variable values laid over derived ones")
    args = parser.parse_args(argv)

    definition = json.loads(args.definition.read_text()) if args.definition else _app_definition()
    input_files = args.input or sorted(EXAMPLES.glob("*.json"))
    inputs = [json.loads(path.read_text()) for path in input_files]
    variables = json.loads(args.variables.read_text()) if args.variables else None

    sites = expressions(definition)
    mismatches = check(definition, inputs, variables=variables)
    for mismatch in mismatches:
        print(mismatch)
    print(f"jsonata conformance: {len(sites)} expressions x {len(inputs)} inputs, "
          f"{len(mismatches)} mismatches (reference: npm jsonata, {os.path.basename(node_executable())})")
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
