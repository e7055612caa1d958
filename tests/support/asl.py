"""Reading the state machine definition out of a synthesized template."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

# What a deployment in us-east-1 would put in place of the pseudo parameters.
DEPLOYED_VALUES = {"AWS::Partition": "aws", "AWS::Region": "us-east-1", "AWS::AccountId": "123456789012",
                   "AWS::URLSuffix": "amazonaws.com"}


def _render(part: Any, values: dict[str, str] | None) -> str:
    if isinstance(part, str):
        return part
    if isinstance(part, dict) and "Ref" in part:
        ref = part["Ref"]
        if values is not None:
            return values.get(ref, f"{ref.lower()}-name")
        return f"${{{ref}}}"
    if isinstance(part, dict) and "Fn::GetAtt" in part:
        return "${" + ".".join(part["Fn::GetAtt"]) + "}"
    return "${token}"


def definition(template: dict[str, Any], logical_prefix: str = "WorkflowStateMachine",
               values: dict[str, str] | None = None) -> dict[str, Any]:
    """The ASL of the state machine, with CloudFormation references shown as ``${LogicalId}``,
    or replaced by plausible deployed values when ``values`` is given."""
    machines = [
        r for k, r in template["Resources"].items()
        if r["Type"] == "AWS::StepFunctions::StateMachine" and k.startswith(logical_prefix)
    ]
    assert len(machines) == 1, f"expected one state machine, found {len(machines)}"
    body = machines[0]["Properties"]["DefinitionString"]
    if isinstance(body, dict):
        body = "".join(_render(p, values) for p in body["Fn::Join"][1])
    parsed: dict[str, Any] = json.loads(body)
    return parsed


def all_states(asl: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every state, including those inside Parallel branches."""
    for name, state in asl["States"].items():
        yield name, state
        for branch in state.get("Branches", []):
            yield from all_states(branch)


def resources_of_type(template: dict[str, Any], cfn_type: str) -> dict[str, dict[str, Any]]:
    return {k: r for k, r in template["Resources"].items() if r["Type"] == cfn_type}
