"""Template helpers for the tests; the definition reader is the tools' own (``tools._asl``)."""

from __future__ import annotations

import json
import re
from typing import Any

from tools._asl import all_states
from tools._asl import definition as _definition

__all__ = ["DEPLOYED_VALUES", "all_states", "definition", "evaluate_field", "resources_of_type"]

# What a deployment in us-east-1 would put in place of the pseudo parameters.
DEPLOYED_VALUES = {"AWS::Partition": "aws", "AWS::Region": "us-east-1", "AWS::AccountId": "123456789012",
                   "AWS::URLSuffix": "amazonaws.com"}


def definition(template: dict[str, Any], values: dict[str, str] | None = None) -> dict[str, Any]:
    """The ASL of the template's state machine, with references shown as ``${Name}``, or, given
    ``values``, replaced by plausible deployed values (other references become ``name-name``)."""
    asl: dict[str, Any] = _definition(template)
    if values is None:
        return asl
    text = json.dumps(asl)
    for name, value in values.items():
        text = text.replace("${" + name + "}", value)
    replaced: dict[str, Any] = json.loads(re.sub(r"\$\{([A-Za-z0-9.]+)\}", lambda m: f"{m.group(1).lower()}-name",
                                                 text))
    return replaced


def resources_of_type(template: dict[str, Any], cfn_type: str) -> dict[str, dict[str, Any]]:
    return {k: r for k, r in template["Resources"].items() if r["Type"] == cfn_type}


# The context object the JSONata fields of a definition see in the tests (``$states.context``).
TEST_CONTEXT = {"Execution": {"Name": "exec-name", "Id": "arn:aws:states:us-east-1:123456789012:execution:m:exec-name",
                              "StartTime": "2026-01-01T00:00:00.000Z"},
                "State": {"EnteredTime": "2026-01-01T00:00:00.000Z"}}


def evaluate_field(value: Any, input: Any = None, result: Any = None, **variables: Any) -> Any:
    """A JSONata state field evaluated as Step Functions would: a ``{% ... %}`` string is one
    expression; in an object or a list, each such string is evaluated and the rest kept as is.
    ``input``/``result`` are ``$states.input``/``$states.result``; ``variables`` are workflow
    variables by name."""
    from local_aws.jsonata import evaluate

    states = {"input": input, "context": TEST_CONTEXT, **({"result": result} if result is not None else {})}
    if isinstance(value, dict):
        return {k: evaluate_field(v, input, result, **variables) for k, v in value.items()}
    if isinstance(value, list):
        return [evaluate_field(v, input, result, **variables) for v in value]
    if isinstance(value, str) and value.startswith("{%") and value.endswith("%}"):
        return evaluate(value[2:-2], {"states": states, **variables})
    return value
