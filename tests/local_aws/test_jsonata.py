"""The JSONata bridge: moto's stub fails every expression; with the bridge, JSONata state machines
(Choice conditions, Arguments/Output, Assign and variables, integrations, Catch, Parallel, Fail)
run on the embedded AWS, and evaluation errors end in ``States.QueryEvaluationError``."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import moto.stepfunctions.parser.asl.eval.variable_store as variable_store_module
import moto.stepfunctions.parser.asl.jsonata.jsonata as moto_jsonata
import pytest

from local_aws import ExecutionResult, LocalAws, bind_jsonata_evaluator

ROLE_ARN = "arn:aws:iam::123456789012:role/workflow"
PHONE = "+15555550100"
SENDER = "sender@example.com"


def run(aws: LocalAws, definition: dict[str, Any], input: dict[str, Any], name: str | None = None) -> ExecutionResult:
    """Create ``definition`` as a new state machine (role ``workflow``) and run it once."""
    arn = aws.client("stepfunctions").create_state_machine(
        name=f"m-{uuid.uuid4().hex[:12]}", definition=json.dumps(definition), roleArn=ROLE_ARN,
    )["stateMachineArn"]
    return aws.start_and_wait(arn, input, name=name)


def jsonata(states: dict[str, Any], start_at: str | None = None) -> dict[str, Any]:
    return {"QueryLanguage": "JSONata", "StartAt": start_at or next(iter(states)), "States": states}


def create_table(aws: LocalAws) -> str:
    name = f"log-{uuid.uuid4().hex[:8]}"
    aws.client("dynamodb").create_table(
        TableName=name, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "notificationId", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "notificationId", "AttributeType": "S"}],
    )
    return name


PASS_PLUS_ONE = jsonata({"Add": {"Type": "Pass", "Output": "{% $states.input.a + 1 %}", "End": True}})


# ---- the gap, and the bridge undone --------------------------------------------------------


def test_without_the_bridge_moto_fails_every_jsonata_expression() -> None:
    with LocalAws.in_process(apply_bridges=False) as bare:
        result = run(bare, PASS_PLUS_ONE, {"a": 1})

    assert (result.status, result.error) == ("FAILED", "States.Runtime")
    assert result.cause == "TypeError('NoneType' object is not callable)"


def test_the_bridge_evaluates_and_undoes_itself() -> None:
    original_encode = variable_store_module.encode_jsonata_variable_declarations
    with LocalAws.in_process(apply_bridges=False) as bare, bind_jsonata_evaluator():
        result = run(bare, PASS_PLUS_ONE, {"a": 1})
        assert variable_store_module.encode_jsonata_variable_declarations is not original_encode

    assert (result.status, result.output) == ("SUCCEEDED", 2)
    assert moto_jsonata._eval_jsonata is None
    assert variable_store_module.encode_jsonata_variable_declarations is original_encode


# ---- states and variables ------------------------------------------------------------------

ROUTE = jsonata({
    "Route": {
        "Type": "Choice",
        "Choices": [
            {"Condition": "{% $states.input.channel = 'email' %}", "Assign": {"route": "email"}, "Next": "Email"},
            {
                "Condition": "{% $states.input.channel in ['sms', 'both'] and $exists($states.input.phone) %}",
                "Assign": {"route": "{% 'sms:' & $states.input.channel %}", "phone": "{% $states.input.phone %}"},
                "Next": "Sms",
            },
        ],
        "Default": "Rejected",
        # AWS applies the top-level Assign after the matching rule's own.
        "Assign": {"checkedAt": "{% $states.context.State.Name %}"},
    },
    "Email": {"Type": "Pass", "Output": {"route": "{% $route %}"}, "End": True},
    "Sms": {"Type": "Pass", "Output": {"route": "{% $route %}", "to": "{% $phone %}", "by": "{% $checkedAt %}"},
            "End": True},
    "Rejected": {"Type": "Pass", "Output": {"route": "none"}, "End": True},
})


def test_choice_condition_with_rule_assign(local: LocalAws) -> None:
    sms = run(local, ROUTE, {"channel": "both", "phone": PHONE})
    email = run(local, ROUTE, {"channel": "email"})
    neither = run(local, ROUTE, {"channel": "both"})

    assert sms.states_entered == ["Route", "Sms"]
    assert sms.output == {"route": "sms:both", "to": PHONE, "by": "Route"}
    assert (email.states_entered, email.output) == (["Route", "Email"], {"route": "email"})
    assert (neither.states_entered, neither.output) == (["Route", "Rejected"], {"route": "none"})


NORMALISE = jsonata({
    "Normalise": {
        "Type": "Pass",
        "Assign": {
            "id": "{% $exists($states.input.notificationId) ? $states.input.notificationId"
                  " : $states.context.Execution.Name %}",
            "to": "{% $type($states.input.to) = 'array' ? $states.input.to : [$states.input.to] %}",
            "text": "{% $states.input.text %}",
        },
        "Output": {"kept": "{% $states.input.keep %}"},
        "Next": "Report",
    },
    "Report": {
        "Type": "Pass",
        "Output": {
            "id": "{% $id %}",
            "to": "{% $to %}",
            "count": "{% $count($to) %}",
            "text": "{% $text %}",
            "input": "{% $states.input %}",
            "execution": "{% $states.context.Execution.Name %}",
        },
        "End": True,
    },
})


def test_variables_assigned_in_one_state_are_read_in_a_later_one(local: LocalAws) -> None:
    result = run(local, NORMALISE, {"to": "a@example.com", "keep": 1, "text": "plain"}, name="exec-normalise")

    assert result.status == "SUCCEEDED", (result.error, result.cause)
    assert result.output == {
        "id": "exec-normalise",  # $states.context.Execution.Name
        "to": ["a@example.com"],
        "count": 1,
        "text": "plain",
        "input": {"kept": 1},  # Report's input is Normalise's Output
        "execution": "exec-normalise",
    }


def test_string_variables_with_quotes_and_backslashes_survive(local: LocalAws) -> None:
    # moto declares a string variable as "<value>" unescaped; the bridge writes a JSON literal.
    text = 'say "hi" \\ then \\"leave\\"\nnext line'

    result = run(local, NORMALISE, {"notificationId": "n-1", "to": ["a@example.com", "b@example.com"],
                                    "text": text, "keep": 0})

    assert result.status == "SUCCEEDED", (result.error, result.cause)
    assert result.output["text"] == text
    assert result.output["id"] == "n-1"
    assert result.output["count"] == 2


def test_step_functions_jsonata_functions(local: LocalAws) -> None:
    definition = jsonata({"Functions": {"Type": "Pass", "Output": {
        "hash": "{% $hash('abc', 'SHA-256') %}",
        "uuid": "{% $uuid() %}",
        "parsed": "{% $parse($states.input.json) %}",
        "partition": "{% $partition([1, 2, 3, 4, 5], 2) %}",
        "range": "{% $range(1, 1, 1) %}",
        "seeded": "{% $random(7) = $random(7) %}",
    }, "End": True}})

    result = run(local, definition, {"json": '{"a": [1, "x"]}'})

    assert result.status == "SUCCEEDED", (result.error, result.cause)
    out = result.output
    assert out["hash"] == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", out["uuid"])
    assert out["parsed"] == {"a": [1, "x"]}
    assert out["partition"] == [[1, 2], [3, 4], [5]]
    assert out["range"] == [1]
    assert out["seeded"] is True


def test_jsonpath_states_read_variables_through_the_bridge(local: LocalAws) -> None:
    definition = {"StartAt": "Keep", "States": {
        "Keep": {"Type": "Pass", "Assign": {"kept.$": "$.value"}, "Next": "Read"},
        "Read": {"Type": "Pass", "Parameters": {"kept.$": "$kept"}, "End": True},
    }}

    result = run(local, definition, {"value": {"nested": 'a "quoted" value'}})

    assert (result.status, result.output) == ("SUCCEEDED", {"kept": {"nested": 'a "quoted" value'}})


# ---- integrations --------------------------------------------------------------------------


def test_sns_publish_with_arguments_and_output(local: LocalAws) -> None:
    definition = jsonata({"SendSms": {
        "Type": "Task",
        "Resource": "arn:aws:states:::sns:publish",
        "Arguments": {"PhoneNumber": "{% $states.input.phone %}",
                      "Message": "{% 'Code ' & $states.input.code & ' for ' & $states.context.Execution.Name %}"},
        "Output": {"messageId": "{% $states.result.MessageId %}", "execution": "{% $states.context.Execution.Name %}"},
        "End": True,
    }})

    result = run(local, definition, {"phone": PHONE, "code": 1234}, name="exec-sms")

    assert result.status == "SUCCEEDED", (result.error, result.cause)
    [sms] = local.sms_messages()
    assert (sms.phone_number, sms.message) == (PHONE, "Code 1234 for exec-sms")
    assert result.output == {"messageId": sms.message_id, "execution": "exec-sms"}


def conditional_put(table: str) -> dict[str, Any]:
    return jsonata({
        "Record": {
            "Type": "Task",
            "Resource": "arn:aws:states:::dynamodb:putItem",
            "Arguments": {
                "TableName": table,
                "Item": {
                    "notificationId": {"S": "{% $states.input.id %}"},
                    "status": {"S": "{% $states.input.channel = 'sms' ? 'ACCEPTED' : 'REJECTED' %}"},
                    "recipients": {"N": "{% $string($count($states.input.to)) %}"},
                },
                "ConditionExpression": "attribute_not_exists(notificationId)",
            },
            "Catch": [{
                "ErrorEquals": ["DynamoDB.ConditionalCheckFailedException"],
                "Output": {"duplicate": True, "error": "{% $states.errorOutput.Error %}"},
                "Next": "Duplicate",
            }],
            "Output": {"duplicate": False},
            "End": True,
        },
        "Duplicate": {"Type": "Pass", "End": True},
    })


def test_conditional_put_item_with_catch(local: LocalAws) -> None:
    table = create_table(local)
    definition = conditional_put(table)
    request = {"id": "n-42", "channel": "sms", "to": ["a", "b"]}

    first = run(local, definition, request)
    second = run(local, definition, {**request, "channel": "email"})

    assert (first.status, first.output) == ("SUCCEEDED", {"duplicate": False})
    assert second.status == "SUCCEEDED", (second.error, second.cause)
    assert second.states_entered == ["Record", "Duplicate"]
    assert second.output == {"duplicate": True, "error": "DynamoDB.ConditionalCheckFailedException"}
    assert local.table_items(table) == [{"notificationId": "n-42", "status": "ACCEPTED", "recipients": 2}]


def test_sesv2_send_email_with_list_fields(local: LocalAws) -> None:
    local.verify_email_identities([SENDER])
    definition = jsonata({"SendEmail": {
        "Type": "Task",
        "Resource": "arn:aws:states:::aws-sdk:sesv2:sendEmail",
        "Arguments": {
            "FromEmailAddress": SENDER,
            "Destination": {
                "ToAddresses": "{% $type($states.input.to) = 'array' ? $states.input.to : [$states.input.to] %}",
                "CcAddresses": "{% $states.input.cc %}",
            },
            "ReplyToAddresses": ["{% $states.input.replyTo %}"],
            "Content": {"Simple": {
                "Subject": {"Data": "{% $states.input.subject %}"},
                "Body": {"Text": {"Data": "{% $join($states.input.lines, '\\n') %}"}},
            }},
        },
        "Output": {"messageId": "{% $states.result.MessageId %}"},
        "End": True,
    }})

    result = run(local, definition, {"to": "to@example.com", "cc": ["c1@example.com", "c2@example.com"],
                                     "replyTo": "reply@example.com", "subject": "Hello", "lines": ["one", "two"]})

    assert result.status == "SUCCEEDED", (result.error, result.cause)
    [email] = local.sent_emails()
    assert (email.source, email.to, email.cc) == (SENDER, ["to@example.com"], ["c1@example.com", "c2@example.com"])
    assert (email.subject, email.text_body, email.reply_to) == ("Hello", "one\ntwo", ["reply@example.com"])
    assert result.output == {"messageId": email.message_id}


def test_parallel_branch_catches_its_own_failure(local: LocalAws) -> None:
    def sms_branch(phone_field: str) -> dict[str, Any]:
        return {"StartAt": "Send", "States": {
            "Send": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sns:publish",
                "Arguments": {"PhoneNumber": f"{{% $states.input.{phone_field} %}}", "Message": "hi"},
                "Output": {"status": "SENT"},
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Failed",
                           "Output": {"status": "FAILED", "error": "{% $states.errorOutput.Error %}"}}],
                "End": True,
            },
            "Failed": {"Type": "Pass", "End": True},
        }}

    definition = jsonata({"Both": {
        "Type": "Parallel",
        "Branches": [sms_branch("good"), sms_branch("bad")],
        "Output": {"results": "{% $states.result %}",
                   "partial": "{% 'FAILED' in $states.result.status and 'SENT' in $states.result.status %}"},
        "End": True,
    }})

    result = run(local, definition, {"good": PHONE, "bad": "not-a-number"})

    assert result.status == "SUCCEEDED", (result.error, result.cause)
    assert result.output == {"results": [{"status": "SENT"},
                                         {"status": "FAILED", "error": "SNS.InvalidParameterException"}],
                             "partial": True}
    assert [sms.phone_number for sms in local.sms_messages()] == [PHONE]


def test_fail_state_with_expression_error_and_cause(local: LocalAws) -> None:
    definition = jsonata({"Reject": {
        "Type": "Fail",
        "Error": "{% 'Rejected.' & $uppercase($states.input.channel) %}",
        "Cause": "{% 'unknown channel ' & $string($states.input.channel) & ' in ' & $states.context.Execution.Name %}",
    }})

    result = run(local, definition, {"channel": "fax"}, name="exec-fail")

    assert (result.status, result.error) == ("FAILED", "Rejected.FAX")
    assert result.cause == "unknown channel fax in exec-fail"


# ---- evaluation errors ---------------------------------------------------------------------


@pytest.mark.parametrize("expression", ["$number('x')", "$states.input.text + 1", "$error('boom')"])
def test_evaluation_error_fails_with_query_evaluation_error(local: LocalAws, expression: str) -> None:
    definition = jsonata({"Compute": {"Type": "Pass", "Output": {"value": f"{{% {expression} %}}"}, "End": True}})

    result = run(local, definition, {"text": "abc"})

    assert (result.status, result.error) == ("FAILED", "States.QueryEvaluationError")
    assert result.cause is not None and f"The JSONata expression '{expression}'" in result.cause
    evaluation_failed = [e for e in result.events if e["type"] == "EvaluationFailed"]
    assert evaluation_failed[0]["evaluationFailedEventDetails"]["state"] == "Compute"


def test_query_evaluation_error_in_a_task_is_caught(local: LocalAws) -> None:
    definition = jsonata({
        "SendSms": {
            "Type": "Task",
            "Resource": "arn:aws:states:::sns:publish",
            "Arguments": {"PhoneNumber": PHONE, "Message": "{% 'total ' & ($states.input.count + 1) %}"},
            "Catch": [{"ErrorEquals": ["States.QueryEvaluationError"], "Next": "Caught",
                       "Output": "{% $states.errorOutput %}"}],
            "End": True,
        },
        "Caught": {"Type": "Pass", "End": True},
    })

    result = run(local, definition, {"count": "three"})

    assert result.status == "SUCCEEDED", (result.error, result.cause)
    assert result.states_entered == ["SendSms", "Caught"]
    assert result.output["Error"] == "States.QueryEvaluationError"
    assert "T2001" in result.output["Cause"]
    assert local.sms_messages() == []
