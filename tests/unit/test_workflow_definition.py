"""Fine-grained assertions on the synthesized state machine definition."""

from __future__ import annotations

import re
from typing import Any

import pytest

from constructs_lib.retry import EMAIL_PERMANENT_ERRORS, SMS_PERMANENT_ERRORS
from tests.support.asl import all_states, definition

# "States.X", or "Service.NameException" with both parts in PascalCase, as Step Functions names errors.
AWS_ERROR_NAME = re.compile(r"States\.[A-Z]\w+|[A-Z][A-Za-z0-9]*\.[A-Z][A-Za-z0-9]*Exception")


@pytest.fixture(scope="module")
def asl(synthesized: Any) -> dict[str, Any]:
    return definition(synthesized.template())


@pytest.fixture(scope="module")
def states(asl: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return dict(all_states(asl))


def test_starts_by_validating_with_one_choice(asl: dict[str, Any]) -> None:
    assert asl["StartAt"] == "ValidateRequest"
    assert asl["States"]["ValidateRequest"]["Type"] == "Choice"
    assert "QueryLanguage" not in asl  # JSONPath: the local engine has no JSONata


def test_validation_rules_lead_to_rejections_then_named_fail_states(states: dict[str, Any]) -> None:
    choices = states["ValidateRequest"]["Choices"]
    rejection_targets = [c["Next"] for c in choices if c["Next"].startswith("Reject")]
    # every rule twice (keyed by notificationId or by execution name) plus the invalid-id rule
    assert len(rejection_targets) == 2 * 12 + 1
    for target in rejection_targets:
        reject = states[target]
        assert reject["Resource"].endswith(":states:::dynamodb:putItem")
        assert reject["Parameters"]["Item"]["status"] == {"S": "REJECTED"}
        assert states[reject["Next"]]["Type"] == "Fail"
        assert reject["Next"] in {"ValidationError", "UnsupportedChannel"}
        assert reject["Parameters"]["ConditionExpression"] == "attribute_not_exists(#id)"
        assert [c["Next"] for c in reject["Catch"]] == ["RejectedNotificationIdTaken", "DeliveryLogUnavailable"]
        assert reject["Catch"][0]["ErrorEquals"] == ["DynamoDB.ConditionalCheckFailedException"]
    assert states["RejectChannel"]["Next"] == "UnsupportedChannel"
    assert states["RejectMessage"]["Parameters"]["Item"]["reason"] == {"S": "message must be a non-empty string"}
    assert states["RejectMessage"]["Parameters"]["Item"]["notificationId"] == {"S.$": "$.notificationId"}
    assert states["RejectMessageByExecutionName"]["Parameters"]["Item"]["notificationId"] == {
        "S.$": "$$.Execution.Name"
    }
    assert states["ValidateRequest"]["Default"] == "RejectUnmatchedByExecutionName"
    for fail in ("ValidationError", "UnsupportedChannel"):
        assert states[fail] == {"Type": "Fail", "Error": fail, "CausePath": "$.rejection.reason"}


def test_message_rule_guards_presence_before_comparing(states: dict[str, Any]) -> None:
    first = states["ValidateRequest"]["Choices"][1]  # message rule keyed by notificationId
    assert first["Next"] == "RejectMessage"
    text = str(first)
    assert text.index("'IsPresent': True") < text.index("'StringEquals': ''")


def test_routes_every_channel_and_email_shape(states: dict[str, Any]) -> None:
    targets = {c["Next"] for c in states["ValidateRequest"]["Choices"]}
    assert "PrepareSms" in targets
    assert sum(t.startswith("PrepareEmail") for t in targets) == 8
    assert sum(t.startswith("PrepareBoth") for t in targets) == 16
    assert states["PrepareBothToList"]["Parameters"]["notificationKey.$"] == "$.notificationId"
    assert states["PrepareBothToListByExecutionName"]["Parameters"]["notificationKey.$"] == "$$.Execution.Name"
    assert states["PrepareEmailToAddress"]["Parameters"]["overrides"] == {"to.$": "States.Array($.email.to)"}
    assert states["PrepareEmailToList"]["Parameters"]["overrides"] == {}
    assert "Html" not in states["PrepareEmailToList"]["Parameters"]["body"]
    assert states["PrepareEmailToListHtml"]["Parameters"]["body"]["Html"] == {"Data.$": "$.email.htmlBody"}


def test_sms_publishes_to_the_phone_number_with_backoff_and_jitter(states: dict[str, Any]) -> None:
    send = states["SendSms"]
    assert send["Resource"] == "arn:${AWS::Partition}:states:::sns:publish"
    assert send["Parameters"] == {"PhoneNumber.$": "$.request.phoneNumber", "Message.$": "$.request.message"}
    assert send["TimeoutSeconds"] == 30
    permanent, transient = send["Retry"]
    assert permanent == {"ErrorEquals": list(SMS_PERMANENT_ERRORS), "MaxAttempts": 0}
    # Spelled as AWS emits them (optimized SNS integration), not as any emulator does.
    assert {"SNS.InvalidParameterException", "SNS.AuthorizationErrorException",
            "SNS.KMSAccessDeniedException"} <= set(permanent["ErrorEquals"])
    assert all(AWS_ERROR_NAME.fullmatch(name) for name in permanent["ErrorEquals"]), permanent["ErrorEquals"]
    assert transient == {"ErrorEquals": ["States.ALL"], "IntervalSeconds": 2, "MaxAttempts": 3,
                         "BackoffRate": 2, "MaxDelaySeconds": 20, "JitterStrategy": "FULL"}
    assert send["Catch"] == [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.failure", "Next": "RecordSmsFailed"}]
    assert send["Next"] == "RecordSmsSent"


def test_email_uses_ses_v2_with_optional_fields_normalised(states: dict[str, Any]) -> None:
    send = states["SendEmail"]
    assert send["Resource"] == "arn:${AWS::Partition}:states:::aws-sdk:sesv2:sendEmail"
    params = send["Parameters"]
    assert params["Destination"] == {"ToAddresses.$": "$.email.to", "CcAddresses.$": "$.email.cc",
                                     "BccAddresses.$": "$.email.bcc"}
    assert params["Content"]["Simple"]["Body.$"] == "$.body"
    # the stack's configuration set by default (delivery feedback), a request may pick an allowed one
    assert params["ConfigurationSetName.$"] == "$.email.configurationSet"
    permanent, transient = send["Retry"]
    assert permanent["ErrorEquals"] == list(EMAIL_PERMANENT_ERRORS) and permanent["MaxAttempts"] == 0
    # AWS names aws-sdk errors "SesV2.<Code>Exception"; no emulator spelling ("sesv2.") is listed.
    assert {"SesV2.MessageRejectedException", "SesV2.AccessDeniedException",
            "SesV2.AccountSuspendedException"} <= set(permanent["ErrorEquals"])
    assert all(AWS_ERROR_NAME.fullmatch(name) for name in permanent["ErrorEquals"]), permanent["ErrorEquals"]
    assert transient == {"ErrorEquals": ["States.ALL"], "IntervalSeconds": 3, "MaxAttempts": 4,
                         "BackoffRate": 1.5, "MaxDelaySeconds": 30, "JitterStrategy": "FULL"}
    merge = states["ApplyEmailDefaults"]["Parameters"]
    assert merge["request.$"] == "States.JsonMerge($.defaults, $.input, false)"
    assert "$.overrides" in merge["email.$"]


def test_both_runs_a_parallel_whose_branches_catch_their_own_failures(states: dict[str, Any]) -> None:
    both = states["SendBoth"]
    assert both["Type"] == "Parallel"
    assert [b["StartAt"] for b in both["Branches"]] == ["SendSmsOfBoth", "SendEmailOfBoth"]
    assert states["SendSmsOfBoth"]["Catch"][0]["Next"] == "SmsFailedOfBoth"
    assert states["SendEmailOfBoth"]["Catch"][0]["Next"] == "EmailFailedOfBoth"
    assert "Catch" not in both  # branches never fail: each turns its error into an outcome
    assert both["ResultSelector"] == {"smsBranch.$": "$[0]", "emailBranch.$": "$[1]"}
    check = states["CheckDeliveries"]
    assert [c["Next"] for c in check["Choices"]] == ["RecordBothSent", "RecordBothSmsOnly", "RecordBothEmailOnly"]
    assert check["Default"] == "RecordBothFailed"
    assert states["RecordBothFailed"]["Next"] == "DeliveryFailed"
    statuses = {n: states[n]["Parameters"]["ExpressionAttributeValues"][":status"]["S"]
                for n in ("RecordBothSent", "RecordBothSmsOnly", "RecordBothEmailOnly", "RecordBothFailed")}
    assert statuses == {"RecordBothSent": "SENT", "RecordBothSmsOnly": "PARTIAL", "RecordBothEmailOnly": "PARTIAL",
                        "RecordBothFailed": "FAILED"}


@pytest.mark.parametrize(("claim", "key", "nxt"), [
    ("ClaimSms", "$.request.notificationId", "SendSms"),
    ("ClaimEmail", "$.request.notificationId", "SendEmail"),
    ("ClaimBoth", "$.notificationKey", "SendBoth"),
])
def test_each_send_is_guarded_by_a_conditional_claim(states: dict[str, Any], claim: str, key: str,
                                                     nxt: str) -> None:
    state = states[claim]
    assert state["Resource"].endswith(":states:::dynamodb:putItem")
    assert state["Parameters"]["ConditionExpression"] == "attribute_not_exists(#id)"
    assert state["Parameters"]["Item"]["notificationId"] == {"S.$": key}
    assert state["Parameters"]["Item"]["status"] == {"S": "PROCESSING"}
    assert state["Parameters"]["Item"]["executionArn"] == {"S.$": "$$.Execution.Id"}
    duplicate, other = state["Catch"]
    assert duplicate["ErrorEquals"] == ["DynamoDB.ConditionalCheckFailedException"]
    assert states[duplicate["Next"]]["Next"] == "DuplicateIgnored"
    assert states[duplicate["Next"]]["Parameters"]["Key"] == {"notificationId": {"S.$": key}}
    assert "ADD #duplicateCount :duplicateCount" in states[duplicate["Next"]]["Parameters"]["UpdateExpression"]
    assert other == {"ErrorEquals": ["States.ALL"], "ResultPath": "$.logFailure", "Next": "DeliveryLogUnavailable"}
    assert state["Next"] == nxt
    assert states["DuplicateIgnored"]["Type"] == "Succeed"


def test_outcomes_update_the_claimed_record(states: dict[str, Any]) -> None:
    sent = states["RecordSmsSent"]
    assert sent["Resource"].endswith(":states:::dynamodb:updateItem")
    params = sent["Parameters"]
    assert params["Key"] == {"notificationId": {"S.$": "$.request.notificationId"}}
    assert params["UpdateExpression"].startswith("SET ")
    values = params["ExpressionAttributeValues"]
    assert values[":status"] == {"S": "SENT"}
    assert values[":results"]["M"]["sms"]["M"]["messageId"] == {"S.$": "$.smsResult.messageId"}
    assert values[":smsMessageId"] == {"S.$": "$.smsResult.messageId"}  # found by delivery-status feedback
    only_sms = states["RecordBothSmsOnly"]["Parameters"]["ExpressionAttributeValues"]
    assert ":smsMessageId" in only_sms and ":emailMessageId" not in only_sms  # index keys cannot be empty
    failed = states["RecordEmailFailed"]["Parameters"]["ExpressionAttributeValues"][":results"]["M"]["email"]["M"]
    assert failed["error"] == {"S.$": "$.failure.Error"}


def test_every_task_has_a_timeout_and_the_log_writes_retry_throttling(states: dict[str, Any]) -> None:
    tasks = {n: s for n, s in states.items() if s["Type"] == "Task"}
    assert tasks and all(s.get("TimeoutSeconds") == 30 for s in tasks.values())
    for name, state in tasks.items():
        if ":dynamodb:" in state["Resource"]:
            assert "DynamoDB.ProvisionedThroughputExceededException" in state["Retry"][0]["ErrorEquals"], name
            assert state["Retry"][0]["JitterStrategy"] == "FULL"


def test_no_state_is_unreachable(asl: dict[str, Any], states: dict[str, Any]) -> None:
    reachable: set[str] = set()

    def walk(machine: dict[str, Any]) -> None:
        todo = [machine["StartAt"]]
        while todo:
            name = todo.pop()
            if name in reachable:
                continue
            reachable.add(name)
            state = machine["States"][name]
            nexts = [state.get("Next"), state.get("Default")]
            nexts += [c["Next"] for c in state.get("Choices", []) + state.get("Catch", [])]
            todo += [n for n in nexts if n]
            for branch in state.get("Branches", []):
                walk(branch)

    walk(asl)
    assert reachable == set(states)
