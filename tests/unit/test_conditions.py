"""No policy in the synthesized stack relies on a condition that cannot match: an exact operator
(StringEquals, ArnEquals) never expands a ``*``, and an ARN built from an empty physical name ends
in ``:``. Both shipped once in CDK's state machine encryption grants (issue 10's defects 1 and 3)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

EXACT_OPERATORS = ("StringEquals", "ArnEquals", "StringEqualsIgnoreCase")


def _policies(template: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for logical_id, resource in template["Resources"].items():
        properties = resource.get("Properties", {})
        for key in ("PolicyDocument", "KeyPolicy", "AssumeRolePolicyDocument"):
            if key in properties:
                yield logical_id, properties[key]
        for inline in properties.get("Policies", []):
            yield logical_id, inline["PolicyDocument"]


def _literal(value: Any) -> str:
    """The fixed text of a value: Fn::Join parts that are strings, tokens left out."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(_literal(p) if isinstance(p, str | dict) else "" for p in parts)
    return "<token>"


def _conditions(template: dict[str, Any]) -> Iterator[tuple[str, str, str, str]]:
    for logical_id, policy in _policies(template):
        statements = policy.get("Statement", [])
        for statement in [statements] if isinstance(statements, dict) else statements:
            for operator, tests in statement.get("Condition", {}).items():
                for key, values in tests.items():
                    for value in values if isinstance(values, list) else [values]:
                        yield logical_id, operator, key, _literal(value)


def test_the_stack_has_conditions_to_check(synthesized: Any) -> None:
    found = list(_conditions(synthesized.template()))
    assert len(found) >= 10
    assert any(key == "kms:EncryptionContext:aws:states:stateMachineArn" for _, _, key, _ in found)


def test_no_exact_operator_compares_with_a_wildcard(synthesized: Any) -> None:
    offending = [c for c in _conditions(synthesized.template())
                 if c[1].removesuffix("IfExists") in EXACT_OPERATORS and ("*" in c[3] or "?" in c[3])]
    assert offending == []


def test_no_condition_names_an_arn_without_a_resource_name(synthesized: Any) -> None:
    offending = [c for c in _conditions(synthesized.template()) if c[3].startswith("arn:") and c[3].endswith(":")]
    assert offending == []


def test_the_state_machine_key_condition_matches_the_machines_generated_name(synthesized: Any) -> None:
    template = synthesized.template()
    [machine_id] = [k for k, r in template["Resources"].items() if r["Type"] == "AWS::StepFunctions::StateMachine"]
    [(operator, value)] = [(c[1], c[3]) for c in _conditions(template)
                           if c[2] == "kms:EncryptionContext:aws:states:stateMachineArn"]
    assert operator == "ArnLike"
    assert value.endswith(f":stateMachine:*{machine_id}*")


@pytest.mark.parametrize(("operator", "value", "broken"), [
    ("StringEquals", "arn:aws:logs:us-east-1:1:*", True),
    ("ArnLike", "arn:aws:logs:us-east-1:1:*", False),
    ("ArnEquals", "arn:aws:states:us-east-1:1:stateMachine:", True),
])
def test_the_checks_catch_the_shapes_they_guard_against(operator: str, value: str, broken: bool) -> None:
    """The two checks above, on the two defects as CDK wrote them."""
    template = {"Resources": {"P": {"Type": "AWS::IAM::Policy", "Properties": {"PolicyDocument": {"Statement": [
        {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*", "Condition": {operator: {"k": value}}}]}}}}}
    [condition] = list(_conditions(template))
    wildcard = condition[1] in EXACT_OPERATORS and "*" in condition[3]
    unnamed = condition[3].startswith("arn:") and condition[3].endswith(":")
    assert (wildcard or unnamed) is broken, json.dumps(condition)
