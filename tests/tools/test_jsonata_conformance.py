"""The JSONata conformance check: it finds every expression, agrees with the reference on a
representative definition, and reports a mismatch when the bridge's evaluator differs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from local_aws import jsonata as bridge
from tools import jsonata_conformance as conformance

DEFINITION: dict[str, Any] = {
    "QueryLanguage": "JSONata",
    "StartAt": "Route",
    "States": {
        "Route": {
            "Type": "Choice",
            "Choices": [{
                "Condition": "{% $states.input.channel in ['sms', 'both'] and"
                             " $match($states.input.phoneNumber, /^\\+[1-9][0-9]{1,14}$/) %}",
                "Assign": {"route": "{% 'sms:' & $states.input.channel %}"},
                "Next": "Both",
            }],
            "Default": "Reject",
            "Assign": {
                "id": "{% $exists($states.input.notificationId) ? $states.input.notificationId"
                      " : $states.context.Execution.Name %}",
                "to": "{% $type($states.input.email.to) = 'array' ? $states.input.email.to"
                      " : [$states.input.email.to] %}",
                "receivedAt": "{% $now() %}",
            },
        },
        "Reject": {
            "Type": "Fail",
            "Error": "Rejected",
            "Cause": "{% 'unknown channel ' & $string($states.input.channel) %}",
        },
        "Both": {
            "Type": "Parallel",
            "Branches": [
                {"StartAt": "Sms", "States": {"Sms": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::sns:publish",
                    "Arguments": {"PhoneNumber": "{% $states.input.phoneNumber %}",
                                  "Message": "{% $states.input.message & ' (' & $id & ')' %}"},
                    "TimeoutSeconds": "{% $count($to) + 10 %}",
                    "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "SmsFailed",
                               "Output": {"sms": "FAILED", "error": "{% $states.errorOutput.Error %}"}}],
                    "End": True,
                }, "SmsFailed": {"Type": "Pass", "End": True}}},
                {"StartAt": "Each", "States": {"Each": {
                    "Type": "Map",
                    "Items": "{% $to %}",
                    "ItemProcessor": {"StartAt": "Address", "States": {"Address": {
                        "Type": "Pass",
                        "Output": {"address": "{% $lowercase($states.input) %}", "hash": "{% $hash($id, 'SHA-256') %}"},
                        "End": True,
                    }}},
                    "End": True,
                }}},
            ],
            "Output": {
                "notificationId": "{% $id %}",
                "route": "{% $route %}",
                "recipients": ["{% $count($to) %}", "{% $join($to, ',') %}"],
                "status": "{% $states.input.priority > 2 ? 'URGENT' : 'NORMAL' %}",
                "uuid": "{% $uuid() %}",
                "at": "{% $receivedAt %}",
            },
            "End": True,
        },
    },
}

INPUTS: list[dict[str, Any]] = [
    {"notificationId": "n-1", "channel": "sms", "phoneNumber": "+15555550100", "message": 'say "hi"\n\\',
     "priority": 3},
    {"channel": "both", "phoneNumber": "+447700900123", "message": "hello",
     "email": {"to": ["A@Example.com", "b@example.com"]}, "priority": 1.5},
    {"channel": "both", "phoneNumber": "12345", "email": {"to": "single@example.com"}},
    {"channel": "fax"},
    {},
]


def test_every_expression_is_found_with_its_state_and_field() -> None:
    sites = {(site.state, site.field) for site in conformance.expressions(DEFINITION)}

    assert sites == {
        ("Route", "Choices[0].Condition"),
        ("Route", "Choices[0].Assign.route"),
        ("Route", "Assign.id"),
        ("Route", "Assign.to"),
        ("Route", "Assign.receivedAt"),
        ("Reject", "Cause"),
        ("Both", "Output.notificationId"),
        ("Both", "Output.route"),
        ("Both", "Output.recipients[0]"),
        ("Both", "Output.recipients[1]"),
        ("Both", "Output.status"),
        ("Both", "Output.uuid"),
        ("Both", "Output.at"),
        ("Both/branch 0/Sms", "Arguments.PhoneNumber"),
        ("Both/branch 0/Sms", "Arguments.Message"),
        ("Both/branch 0/Sms", "TimeoutSeconds"),
        ("Both/branch 0/Sms", "Catch[0].Output.error"),
        ("Both/branch 1/Each", "Items"),
        ("Both/branch 1/Each/ItemProcessor/Address", "Output.address"),
        ("Both/branch 1/Each/ItemProcessor/Address", "Output.hash"),
    }


def test_variables_are_derived_from_the_assign_blocks() -> None:
    variables = conformance.derive_variables(DEFINITION, INPUTS[1])

    assert variables.pop("receivedAt").startswith("20")  # $now(): the clock is fixed only inside check()
    assert variables == {"route": "sms:both", "id": conformance.EXECUTION_NAME,
                         "to": ["A@Example.com", "b@example.com"]}
    assert conformance.derive_variables(DEFINITION, INPUTS[0], given={"id": "fixed"})["id"] == "fixed"


def test_the_bridge_agrees_with_the_reference_on_a_representative_definition() -> None:
    assert conformance.check(DEFINITION, INPUTS) == []


def test_a_differing_evaluator_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    original = bridge.evaluate

    def wrong_for_status(expression: str, bindings: Any = None, **kwargs: Any) -> Any:
        if "'URGENT'" in expression:
            return "WRONG"
        return original(expression, bindings, **kwargs)

    monkeypatch.setattr(bridge, "evaluate", wrong_for_status)

    mismatches = conformance.check(DEFINITION, INPUTS)

    assert {(m.site.state, m.site.field) for m in mismatches} == {("Both", "Output.status")}
    assert len(mismatches) == len(INPUTS)
    first = mismatches[0]
    assert first.python == {"kind": "value", "value": "WRONG"}
    assert first.reference == {"kind": "value", "value": "URGENT"}
    assert "Output.status" in str(first)


def test_syntax_the_reference_version_rejects_is_reported() -> None:
    # AWS implements JSONata 2.0.6; the 2.1 coalescing operator parses in the Python port.
    definition = {"QueryLanguage": "JSONata", "StartAt": "P", "States": {
        "P": {"Type": "Pass", "Output": {"channel": "{% $states.input.channel ?? 'sms' %}"}, "End": True}}}

    [mismatch] = conformance.check(definition, [{"channel": "email"}])

    assert mismatch.python == {"kind": "value", "value": "email"}
    assert mismatch.reference["kind"] == "error"


def test_errors_and_undefined_on_both_sides_count_as_equal() -> None:
    definition = {"QueryLanguage": "JSONata", "StartAt": "P", "States": {"P": {"Type": "Pass", "Output": {
        "error": "{% $number($states.input.text) %}",
        "undefined": "{% $states.input.missing %}",
        "null": "{% $states.input.nothing %}",
    }, "End": True}}}

    assert conformance.check(definition, [{"text": "abc", "nothing": None}]) == []


def test_main_reports_and_exits_non_zero_on_a_mismatch(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    asl = tmp_path / "asl.json"
    asl.write_text(json.dumps({"QueryLanguage": "JSONata", "StartAt": "P", "States": {
        "P": {"Type": "Pass", "Output": "{% $states.input.a ?: 1 %}", "End": True}}}))
    request = tmp_path / "input.json"
    request.write_text(json.dumps({"a": 2}))

    status = conformance.main(["--definition", str(asl), "--input", str(request)])

    out = capsys.readouterr().out
    assert status == 1
    assert "1 expressions x 1 inputs, 1 mismatches" in out
