"""Fine-grained assertions on the synthesized state machine definition (JSONata)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from constructs_lib import contract
from constructs_lib.channels import FAILED, SENT
from constructs_lib.delivery_log import CONDITIONAL_CHECK_FAILED
from constructs_lib.retry import EMAIL_PERMANENT_ERRORS, SMS_PERMANENT_ERRORS
from notification_stack.config import settings_from_context
from tests.conftest import cdk_json_context
from tests.support.asl import all_states, definition, evaluate_field

# "States.X", or "Service.NameException" with both parts in PascalCase, as Step Functions names errors.
AWS_ERROR_NAME = re.compile(r"States\.[A-Z]\w+|[A-Z][A-Za-z0-9]*\.[A-Z][A-Za-z0-9]*Exception")
# Fields of the JSONPath query language; a JSONata definition has none of them, at any depth.
JSONPATH_FIELDS = {"Parameters", "ResultPath", "InputPath", "OutputPath", "ResultSelector", "ItemsPath",
                   "ItemSelector", "Variable", "CausePath", "ErrorPath", "TimeoutSecondsPath"}
MAX_STATES = 20
SMS = {"notificationId": "n-1", "channel": "sms", "message": "hi", "phoneNumber": "+15555550100"}
EMAIL = {"notificationId": "n-2", "channel": "email", "message": "hi", "email": {"to": "to@example.org"}}
BOTH = {**SMS, **EMAIL, "notificationId": "n-3", "channel": "both"}
LOG_FAILURE = {"ErrorEquals": ["States.ALL"], "Next": "DeliveryLogUnavailable"}


def run(expression: Any, input: Any = None, result: Any = None, **variables: Any) -> Any:
    """Evaluates one ``{% ... %}`` field as Step Functions would, with ``$states`` and variables."""
    assert isinstance(expression, str) and expression.startswith("{%") and expression.endswith("%}"), expression
    return evaluate_field(expression, input, result, **variables)


@pytest.fixture(scope="module")
def asl(synthesized: Any) -> dict[str, Any]:
    return definition(synthesized.template())


@pytest.fixture(scope="module")
def states(asl: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return dict(all_states(asl))


@pytest.fixture(scope="module")
def validate(states: dict[str, Any]) -> dict[str, Any]:
    return states["ValidateRequest"]


def request_of(validate: dict[str, Any], body: dict[str, Any]) -> Any:
    return run(validate["Assign"]["request"], body)


def test_is_jsonata_and_starts_by_validating_with_one_choice(asl: dict[str, Any]) -> None:
    assert asl["QueryLanguage"] == "JSONata"
    assert asl["StartAt"] == "ValidateRequest"
    assert asl["States"]["ValidateRequest"]["Type"] == "Choice"


def _fields(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, inner in value.items():
            yield key
            yield from _fields(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _fields(inner)


def test_no_jsonpath_field_anywhere(asl: dict[str, Any]) -> None:
    fields = set(_fields(asl))
    assert not fields & JSONPATH_FIELDS, fields & JSONPATH_FIELDS
    assert not [f for f in fields if f.endswith(".$")]


def test_definition_stays_within_its_state_budget(asl: dict[str, Any], states: dict[str, Any]) -> None:
    assert len(states) <= MAX_STATES, sorted(states)
    assert len(states) > len(asl["States"])  # the branch states are counted too
    assert {"SendSmsOfBoth", "SmsNotSent", "SendEmailOfBoth", "EmailNotSent"} <= set(states)


def _route(validate: dict[str, Any], body: Any) -> str:
    """The state the Choice goes to for ``body``, its conditions evaluated in order."""
    for choice in validate["Choices"]:
        if run(choice["Condition"], body) is True:
            return str(choice["Next"])
    return str(validate["Default"])


def test_the_choice_rejects_then_routes_by_what_can_be_carried(validate: dict[str, Any]) -> None:
    [dev] = settings_from_context(cdk_json_context()["notify-cdk"], "dev")
    senders = [dev.sender, *[s for s in dev.allowed_senders if s != dev.sender]]
    route = contract.route(contract.rules(senders, ["${EmailConfigurationSet}"]))
    assert [(c["Condition"], c["Next"]) for c in validate["Choices"]] == [
        (route.reject, "RecordRejection"), (route.email_only, "ClaimEmail"), (route.sms_only, "ClaimSms")]
    assert validate["Default"] == "ClaimBoth"
    assert set(validate["Assign"]) == {"request"}  # top level: whichever rule matches


@pytest.mark.parametrize(("body", "state"), [
    (SMS, "ClaimSms"), (EMAIL, "ClaimEmail"), (BOTH, "ClaimBoth"),
    ({**BOTH, "phoneNumber": "555"}, "ClaimEmail"), ({**BOTH, "email": {"to": []}}, "ClaimSms"),
    ({**BOTH, "email": {"to": "a@example.org", "cc": "not a list"}}, "ClaimSms"),
    ({**BOTH, "phoneNumber": "555", "email": {}}, "RecordRejection"),
    ({"delivery_mode": "text", "message_content": "m", "user_phone": "+15555550100"}, "ClaimSms"),
    ({"delivery_mode": "mail", "message_content": "m", "user_email": "a@example.org"}, "ClaimEmail"),
    ({"delivery_mode": "dual", "message_content": "m", "user_phone": "+15555550100",
      "user_email": "a@example.org"}, "ClaimBoth"),
    ({"channel": "sms", "delivery_mode": "mail", "message": "m", "phoneNumber": "+15555550100"}, "ClaimSms"),
    (["not", "an", "object"], "RecordRejection"), ("text", "RecordRejection"),
    # a final newline passes an anchored regex in Python but not in JavaScript: refused in both
    ({**SMS, "phoneNumber": "+15555550100\n"}, "RecordRejection"),
    ({**SMS, "notificationId": "n-1\n"}, "RecordRejection"),
    ({**SMS, "phoneNumber": "+1555555010012345"}, "RecordRejection"),
    ({**SMS, "phoneNumber": "+123456"}, "RecordRejection"),
    ({**SMS, "phoneNumber": "+1234567"}, "ClaimSms"), ({**SMS, "notificationId": "x" * 81}, "RecordRejection"),
])
def test_each_request_goes_where_it_can_be_carried(validate: dict[str, Any], body: Any, state: str) -> None:
    assert _route(validate, body) == state


@pytest.mark.parametrize(("body", "error", "reason"), [
    ({**SMS, "message": ""}, "ValidationError", "message must be a non-empty string"),
    ({**SMS, "channel": "fax"}, "UnsupportedChannel", "channel must be one of: sms, email, both"),
    ({**SMS, "phoneNumber": "15555550100"}, "ValidationError", "phoneNumber must be"),
    ({**EMAIL, "email": {"to": "to@example.org", "from": "ceo@example.com"}}, "ValidationError", "allowed senders"),
    ({**EMAIL, "notificationId": "bad id"}, "ValidationError", "notificationId must be"),
    # the first rule broken decides: message comes before channel
    ({**SMS, "message": 1, "channel": "fax"}, "ValidationError", "message must be a non-empty string"),
    ({"delivery_mode": "pager", "message_content": "m"}, "UnsupportedChannel", "channel must be one of"),
])
def test_a_broken_rule_is_caught_and_named(validate: dict[str, Any], body: dict[str, Any], error: str,
                                          reason: str) -> None:
    assert _route(validate, body) == "RecordRejection"
    rejection = request_of(validate, body)["rejection"]
    assert rejection["error"] == error and reason in rejection["reason"]


@pytest.mark.parametrize("body", [SMS, EMAIL, BOTH, {**BOTH, "email": {"to": ["a@example.org"], "cc": [],
                                                                        "from": "alerts@example.com"}}])
def test_a_valid_request_breaks_no_rule(validate: dict[str, Any], body: dict[str, Any]) -> None:
    request = request_of(validate, body)
    assert "rejection" not in request and request["rejected"] == {}
    assert request["record"]["status"] == {"S": "PROCESSING"}


def test_a_both_keeps_the_reason_of_the_channel_it_cannot_carry(validate: dict[str, Any]) -> None:
    request = request_of(validate, {**BOTH, "phoneNumber": "555"})
    assert "rejection" not in request
    assert request["rejected"] == {"sms": {"status": "REJECTED", "messageId": "", "error": "ValidationError",
                                           "cause": "phoneNumber must be in E.164 form: + then 7 to 15 digits"}}
    assert "recipients" not in request  # none kept by default
    assert request["record"]["expiresAt"] == {"N": str(1767225600 + 90 * 24 * 3600)}  # 2026-01-01 + 90 days


def test_the_request_is_normalised_and_keyed(validate: dict[str, Any]) -> None:
    email = request_of(validate, {**EMAIL, "email": {"to": "to@example.org", "replyTo": "r@example.org"}})
    assert email["notificationId"] == "n-2"
    assert email["sendEmail"]["Destination"] == {"ToAddresses": ["to@example.org"]}
    assert email["sendEmail"]["ReplyToAddresses"] == ["r@example.org"]
    assert request_of(validate, {**SMS, "notificationId": "bad id"})["notificationId"] == "exec-name"
    assert request_of(validate, {k: v for k, v in SMS.items() if k != "notificationId"})["notificationId"] == \
        "exec-name"
    old = request_of(validate, {"delivery_mode": "mail", "message_content": "m", "user_email": "a@example.org"})
    assert (old["channel"], old["message"], old["record"]["dialect"]) == ("email", "m", {"S": "legacy"})
    assert old["sendEmail"]["Destination"]["ToAddresses"] == ["a@example.org"]
    assert request_of(validate, SMS)["record"]["dialect"] == {"S": "canonical"}


@pytest.mark.parametrize(("caller", "kept"), [("arn:aws:iam::123456789012:user/a", True), ("", False),
                                              (7, False), (None, False)])
def test_the_record_keeps_the_caller_the_api_identified(validate: dict[str, Any], caller: Any, kept: bool) -> None:
    record = request_of(validate, {**SMS, "caller": caller})["record"]
    assert record.get("caller") == ({"S": caller} if kept else None)
    assert request_of(validate, {**SMS, "message": "", "caller": "arn:x"})["record"]["caller"] == {"S": "arn:x"}


def test_rejections_are_recorded_then_fail_with_the_rules_error(states: dict[str, Any],
                                                                validate: dict[str, Any]) -> None:
    record = states["RecordRejection"]
    assert record["Resource"].endswith(":states:::dynamodb:putItem")
    assert record["Arguments"]["Item"] == "{% $request.record %}"
    assert record["Arguments"]["ConditionExpression"] == "attribute_not_exists(#id)"
    item = request_of(validate, {**SMS, "message": ""})["record"]
    assert item["notificationId"] == {"S": "n-1"}
    assert item["status"] == {"S": "REJECTED"} and item["error"] == {"S": "ValidationError"}
    assert item["reason"] == {"S": "message must be a non-empty string"}
    taken, other = record["Catch"]
    assert taken["ErrorEquals"] == [CONDITIONAL_CHECK_FAILED] and taken["Next"] == "Rejected"
    assert run(taken["Assign"]["request"], request={"rejection": {}})["rejection"]["error"] == \
        "RejectedNotificationIdTaken"
    assert other == LOG_FAILURE
    assert record["Next"] == "Rejected"
    assert states["Rejected"] == {"Type": "Fail", "Error": "{% $request.rejection.error %}",
                                  "Cause": "{% $request.rejection.reason %}"}


@pytest.mark.parametrize(("claim", "nxt"), [("ClaimSms", "SendSms"), ("ClaimEmail", "SendEmail"),
                                            ("ClaimBoth", "SendBoth")])
def test_each_send_is_guarded_by_a_conditional_claim(states: dict[str, Any], validate: dict[str, Any], claim: str,
                                                     nxt: str) -> None:
    state = states[claim]
    assert state["Resource"].endswith(":states:::dynamodb:putItem")
    assert state["Arguments"]["ConditionExpression"] == "attribute_not_exists(#id)"
    assert state["Arguments"]["ExpressionAttributeNames"] == {"#id": "notificationId"}
    assert state["Arguments"]["Item"] == "{% $request.record %}"
    item = request_of(validate, SMS)["record"]
    assert item["notificationId"] == {"S": "n-1"} and item["status"] == {"S": "PROCESSING"}
    assert item["executionArn"]["S"].endswith(":exec-name")
    duplicate, other = state["Catch"]
    assert duplicate == {"ErrorEquals": [CONDITIONAL_CHECK_FAILED], "Next": "RecordDuplicate"}
    assert other == LOG_FAILURE
    assert state["Next"] == nxt


def test_a_duplicate_is_counted_on_the_original_record_and_ends(states: dict[str, Any]) -> None:
    duplicate = states["RecordDuplicate"]
    assert duplicate["Resource"].endswith(":states:::dynamodb:updateItem")
    assert duplicate["Arguments"]["Key"] == {"notificationId": {"S": "{% $request.notificationId %}"}}
    assert "ADD duplicateCount :one" in duplicate["Arguments"]["UpdateExpression"]
    assert "ConditionExpression" not in duplicate["Arguments"]
    assert duplicate.get("End") is True
    assert duplicate["Catch"] == [LOG_FAILURE]


def _check_permanent_first(retry: list[dict[str, Any]], permanent_errors: tuple[str, ...]) -> dict[str, Any]:
    permanent, transient = retry
    assert permanent == {"ErrorEquals": list(permanent_errors), "MaxAttempts": 0}
    assert all(AWS_ERROR_NAME.fullmatch(name) for name in permanent["ErrorEquals"]), permanent["ErrorEquals"]
    return transient


def test_sms_publishes_to_the_phone_number_with_backoff_and_jitter(states: dict[str, Any]) -> None:
    send = states["SendSms"]
    assert send["Resource"] == "arn:${AWS::Partition}:states:::sns:publish"
    assert send["Arguments"] == {"PhoneNumber": "{% $request.phoneNumber %}", "Message": "{% $request.message %}"}
    assert send["TimeoutSeconds"] == 30
    transient = _check_permanent_first(send["Retry"], SMS_PERMANENT_ERRORS)
    # Spelled as AWS emits them (optimized SNS integration), not as any emulator does.
    assert {"SNS.InvalidParameterException", "SNS.AuthorizationErrorException",
            "SNS.KMSAccessDeniedException"} <= set(send["Retry"][0]["ErrorEquals"])
    assert transient == {"ErrorEquals": ["States.ALL"], "IntervalSeconds": 2, "MaxAttempts": 3,
                         "BackoffRate": 2, "MaxDelaySeconds": 20, "JitterStrategy": "FULL"}
    assert send["Assign"] == {"sms": SENT}
    assert send["Catch"] == [{"ErrorEquals": ["States.ALL"], "Assign": {"sms": FAILED}, "Next": "RecordFailed"}]
    assert send["Next"] == "RecordOutcome"
    assert run(SENT, result={"MessageId": "m-1"}) == {
        "status": "SENT", "messageId": "m-1", "error": ""}


def _send_email_request(states: dict[str, Any], validate: dict[str, Any], email: dict[str, Any],
                        name: str = "SendEmail") -> Any:
    """The SES v2 request the email state sends for ``email``, evaluated from its Arguments."""
    request = request_of(validate, {**EMAIL, "email": email})
    return evaluate_field(states[name]["Arguments"], request=request)


def test_email_uses_ses_v2_with_the_list_fields_and_the_configuration_set(states: dict[str, Any],
                                                                         validate: dict[str, Any]) -> None:
    send = states["SendEmail"]
    assert send["Resource"] == "arn:${AWS::Partition}:states:::aws-sdk:sesv2:sendEmail"
    assert send["TimeoutSeconds"] == 30
    plain = _send_email_request(states, validate, {"to": "to@example.org", "replyTo": "r@example.org"})
    assert plain["FromEmailAddress"] == "notifications@example.com"
    # SES v2 takes lists: a single address is wrapped, absent lists are left out
    assert plain["Destination"] == {"ToAddresses": ["to@example.org"]}
    assert plain["ReplyToAddresses"] == ["r@example.org"]
    assert plain["Content"] == {"Simple": {"Subject": {"Data": "Notification"}, "Body": {"Text": {"Data": "hi"}}}}
    # the stack's configuration set by default (delivery feedback), a request may pick an allowed one
    assert plain["ConfigurationSetName"] == "${EmailConfigurationSet}"
    full = _send_email_request(states, validate, {
        "to": ["a@example.org", "b@example.org"], "cc": ["c@example.org"], "bcc": ["d@example.org"],
        "subject": "S", "htmlBody": "<p>hi</p>", "from": "alerts@example.com"})
    assert full["FromEmailAddress"] == "alerts@example.com"
    assert full["Destination"] == {"ToAddresses": ["a@example.org", "b@example.org"],
                                   "CcAddresses": ["c@example.org"], "BccAddresses": ["d@example.org"]}
    assert full["Content"]["Simple"] == {"Subject": {"Data": "S"},
                                         "Body": {"Text": {"Data": "hi"}, "Html": {"Data": "<p>hi</p>"}}}
    permanent = send["Retry"][0]["ErrorEquals"]
    transient = _check_permanent_first(send["Retry"], EMAIL_PERMANENT_ERRORS)
    # AWS names aws-sdk errors "SesV2.<Code>Exception"; no emulator spelling ("sesv2.") is listed.
    assert {"SesV2.MessageRejectedException", "SesV2.AccessDeniedException",
            "SesV2.AccountSuspendedException"} <= set(permanent)
    assert transient == {"ErrorEquals": ["States.ALL"], "IntervalSeconds": 3, "MaxAttempts": 4,
                         "BackoffRate": 1.5, "MaxDelaySeconds": 30, "JitterStrategy": "FULL"}
    assert send["Assign"] == {"email": SENT}
    assert send["Catch"] == [{"ErrorEquals": ["States.ALL"], "Assign": {"email": FAILED}, "Next": "RecordFailed"}]
    assert send["Next"] == "RecordOutcome"


def test_both_runs_a_parallel_whose_branches_catch_their_own_failures(states: dict[str, Any]) -> None:
    both = states["SendBoth"]
    assert both["Type"] == "Parallel"
    assert [b["StartAt"] for b in both["Branches"]] == ["SendSmsOfBoth", "SendEmailOfBoth"]
    assert "Catch" not in both  # branches never fail: each turns its error into an outcome
    assert both["Assign"] == {"sms": "{% $states.result[0] %}", "email": "{% $states.result[1] %}"}
    assert both["Next"] == "RecordOutcome"
    for send, not_sent, channel in [("SendSmsOfBoth", "SmsNotSent", "sms"),
                                    ("SendEmailOfBoth", "EmailNotSent", "email")]:
        assert states[send]["Arguments"] == states["Send" + channel.capitalize()]["Arguments"]
        assert states[send]["Retry"] == states["Send" + channel.capitalize()]["Retry"]
        assert states[send]["Output"] == SENT and states[send].get("End") is True
        assert states[send]["Catch"] == [{"ErrorEquals": ["States.ALL"], "Next": not_sent}]
        assert states[not_sent]["Type"] == "Pass" and states[not_sent].get("End") is True
        assert run(states[not_sent]["Output"], {"Error": "E", "Cause": "C"}) == {
            "status": "FAILED", "messageId": "", "error": "E"}  # the provider's text is not kept


def _outcome(states: dict[str, Any], name: str, validate: dict[str, Any], body: dict[str, Any],
             **channels: dict[str, str]) -> Any:
    return run(states[name]["Arguments"], request=request_of(validate, body), **channels)


SENT_SMS = {"status": "SENT", "messageId": "sms-1", "error": ""}
SENT_EMAIL = {"status": "SENT", "messageId": "email-1", "error": ""}
NOT_SENT = {"status": "FAILED", "messageId": "", "error": "E"}


def test_outcomes_update_the_claimed_record_in_one_expression(states: dict[str, Any],
                                                               validate: dict[str, Any]) -> None:
    for name in ("RecordOutcome", "RecordFailed"):
        state = states[name]
        assert state["Resource"].endswith(":states:::dynamodb:updateItem")
        assert isinstance(state["Arguments"], str)  # one JSONata expression builds the whole request
        assert state["Catch"][-1] == LOG_FAILURE
    assert states["RecordOutcome"]["Catch"][0] == {"ErrorEquals": [CONDITIONAL_CHECK_FAILED], "Next": "RecordFailed"}
    assert states["RecordOutcome"].get("End") is True
    assert states["RecordFailed"]["Next"] == "DeliveryFailed"
    assert states["DeliveryFailed"]["Type"] == "Fail" and states["DeliveryFailed"]["Error"] == "DeliveryFailed"

    sent = _outcome(states, "RecordOutcome", validate, SMS, sms=SENT_SMS)
    assert sent["TableName"] == "${WorkflowDeliveryLogTable}"
    assert sent["Key"] == {"notificationId": {"S": "n-1"}}
    assert sent["UpdateExpression"].startswith("SET ")
    assert sent["ConditionExpression"] == "attribute_exists(notificationId)"
    values = sent["ExpressionAttributeValues"]
    assert values[":status"] == {"S": "SENT"}
    assert values[":results"]["M"]["sms"]["M"]["messageId"] == {"S": "sms-1"}
    assert values[":smsMessageId"] == {"S": "sms-1"}  # found by delivery-status feedback
    assert ":recipients" not in values  # none kept by default
    assert set(sent["ExpressionAttributeNames"]) == {k.replace(":", "#") for k in values}

    partial = _outcome(states, "RecordOutcome", validate, BOTH, sms=SENT_SMS, email=NOT_SENT)
    values = partial["ExpressionAttributeValues"]
    assert values[":status"] == {"S": "PARTIAL"}
    assert ":smsMessageId" in values and ":emailMessageId" not in values  # index keys cannot be empty
    assert values[":results"]["M"]["email"]["M"]["error"] == {"S": "E"}

    both_sent = _outcome(states, "RecordOutcome", validate, BOTH, sms=SENT_SMS, email=SENT_EMAIL)
    assert both_sent["ExpressionAttributeValues"][":status"] == {"S": "SENT"}
    assert both_sent["ExpressionAttributeValues"][":emailMessageId"] == {"S": "email-1"}

    # No channel delivered: the write is refused on purpose, and caught into RecordFailed.
    none = _outcome(states, "RecordOutcome", validate, BOTH, sms=NOT_SENT, email=NOT_SENT)
    assert none["ConditionExpression"] == "attribute_not_exists(notificationId)"
    failed = _outcome(states, "RecordFailed", validate, EMAIL, email=NOT_SENT)
    assert failed["ConditionExpression"] == "attribute_exists(notificationId)"
    assert failed["ExpressionAttributeValues"][":status"] == {"S": "FAILED"}
    assert failed["ExpressionAttributeValues"][":results"]["M"]["email"]["M"]["error"] == {"S": "E"}
    assert ":emailMessageId" not in failed["ExpressionAttributeValues"]


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
