"""NotificationApi's bulk summaries and recipient preferences (issues 13 and 14), and the request
model's recipient, template and category fields: the synthesized routes and roles, the request
models, and the VTL mapping templates rendered with ``local_aws.apigateway.velocity``."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import jsonschema
import pytest
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk.assertions import Template
from hypothesis import given, settings
from hypothesis import strategies as st

from constructs_lib._props import PropError
from constructs_lib.ingress import NotificationApi
from local_aws.apigateway.velocity import render
from tests.support.asl import resources_of_type
from tests.unit.test_ingress import (
    ACCOUNT,
    PACKS,
    REGION,
    SENDER,
    TABLE_NAME,
    _as,
    _checked,
    _example,
    _method,
    _reporting_app,
    _resolve,
    _role_statements,
    _s,
    _scaffolding,
    _stack,
)
from tests.unit.test_nag_gate import add_nag_canary, findings, only_the_canary

PREFERENCES_TABLE = "NotifyCdk-dev-PreferencesTable"
ZONES = ["UTC", "Europe/Paris", "America/New_York"]
BULK_PATH = "/bulks/{bulkId}"
PREFERENCES_PATH = "/recipients/{recipientId}/preferences"
REQUEST_TIME = "25/Nov/2026:20:39:59 +0000"


def _preferences_table(stack: cdk.Stack, key: kms.IKey | None, partition_key: str = "recipientId") -> dynamodb.Table:
    # A given key makes the encryption customer-managed.
    table = dynamodb.Table(stack, "Preferences", billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST, encryption_key=key,
                           partition_key=dynamodb.Attribute(name=partition_key, type=dynamodb.AttributeType.STRING),
                           point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                               point_in_time_recovery_enabled=True))
    _scaffolding(table, *(f"{p}-DynamoDBInBackupPlan" for p in PACKS[1:]))
    return table


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """An API with bulk summaries and preferences, every table and log group under one key, a
    grantee per new route; all three cdk-nag packs and the canary."""
    outdir = tmp_path_factory.mktemp("recipients")
    app = _reporting_app(outdir)
    stack, machine, table = _stack(app, "Recipients", encrypted=True)
    key = stack.node.find_child("Key")
    assert isinstance(key, kms.Key)
    preferences = _preferences_table(stack, key)
    api = NotificationApi(stack, "Api", state_machine=machine, table=table, state_machine_key=key,
                          encryption_key=key, bulk_summaries=True, preferences_table=preferences,
                          preference_time_zones=ZONES)
    for role_id, grant, finding in (
        ("BulkReader", api.grant_read_bulk, api.read_bulk_grant_finding),
        ("PreferencesReader", api.grant_read_preferences, api.read_preferences_grant_finding),
        ("PreferencesWriter", api.grant_write_preferences, api.write_preferences_grant_finding),
    ):
        role = iam.Role(stack, role_id, assumed_by=iam.AccountRootPrincipal())
        grant(role)
        cdk.Validations.of(role).acknowledge(cdk.Acknowledgment(id=finding, reason="test: any id"))
        _scaffolding(role, *(f"{p}-IAMNoInlinePolicy" for p in PACKS[1:]))
    add_nag_canary(app)
    _checked(app, stack)
    assembly = app.synth()
    template = assembly.get_stack_by_name("Recipients").template
    return {"template": template, "findings": findings(outdir), "api_findings": api.unacknowledged_findings,
            "preferences": stack.get_logical_id(preferences.node.default_child),  # type: ignore[arg-type]
            "table": stack.get_logical_id(table.node.default_child)}  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def template(synthesized: dict[str, Any]) -> dict[str, Any]:
    return synthesized["template"]  # type: ignore[no-any-return]


def _templates(synthesized: dict[str, Any], http_method: str, path: str) -> dict[str, str]:
    """The request template (table names resolved) and the response templates by selection pattern."""
    integration = _method(synthesized["template"], http_method, path)["Integration"]
    refs = {synthesized["table"]: TABLE_NAME, synthesized["preferences"]: PREFERENCES_TABLE}
    templates = {"request": _resolve(integration["RequestTemplates"]["application/json"], refs)}
    for response in integration["IntegrationResponses"]:
        templates[response.get("SelectionPattern", "default")] = response["ResponseTemplates"]["application/json"]
    return templates


@pytest.fixture(scope="module")
def bulk_templates(synthesized: dict[str, Any]) -> dict[str, str]:
    return _templates(synthesized, "GET", BULK_PATH)


@pytest.fixture(scope="module")
def read_templates(synthesized: dict[str, Any]) -> dict[str, str]:
    return _templates(synthesized, "GET", PREFERENCES_PATH)


@pytest.fixture(scope="module")
def write_templates(synthesized: dict[str, Any]) -> dict[str, str]:
    return _templates(synthesized, "PUT", PREFERENCES_PATH)


def _role(template: dict[str, Any], http_method: str, path: str) -> str:
    role: str = _method(template, http_method, path)["Integration"]["Credentials"]["Fn::GetAtt"][0]
    return role


# ---- the routes and their roles ----------------------------------------------------------------


def test_cdk_nag_finds_nothing_after_the_constructs_acknowledgements(synthesized: dict[str, Any]) -> None:
    assert synthesized["findings"] == only_the_canary()
    assert synthesized["api_findings"] == []


@pytest.mark.parametrize(("http_method", "path", "parameter", "action", "answers"), [
    ("GET", BULK_PATH, "bulkId", "GetItem", {"200", "400", "404", "429", "502"}),
    ("GET", PREFERENCES_PATH, "recipientId", "GetItem", {"200", "400", "404", "429", "502"}),
    ("PUT", PREFERENCES_PATH, "recipientId", "UpdateItem", {"200", "400", "429", "502"}),
])
def test_each_route_is_a_direct_dynamodb_call_under_iam(template: dict[str, Any], http_method: str, path: str,
                                                        parameter: str, action: str, answers: set[str]) -> None:
    [validator] = resources_of_type(template, "AWS::ApiGateway::RequestValidator")
    method = _method(template, http_method, path)
    assert method["AuthorizationType"] == "AWS_IAM"
    assert method["RequestValidatorId"] == {"Ref": validator}
    assert method["RequestParameters"] == {f"method.request.path.{parameter}": True}
    assert {r["StatusCode"] for r in method["MethodResponses"]} == answers
    integration = method["Integration"]
    assert (integration["Type"], integration["IntegrationHttpMethod"], integration["PassthroughBehavior"]) == (
        "AWS", "POST", "NEVER")
    assert _resolve(integration["Uri"], {}) == f"arn:aws:apigateway:{REGION}:dynamodb:action/{action}"
    assert [(r["StatusCode"], r.get("SelectionPattern")) for r in integration["IntegrationResponses"]] == [
        ("200", None), ("400", r"4\d{2}"), ("502", r"5\d{2}")]


def test_put_validates_its_body_against_the_preferences_model(template: dict[str, Any]) -> None:
    models = {m["Properties"]["Schema"]["title"]: k
              for k, m in resources_of_type(template, "AWS::ApiGateway::Model").items()}
    assert _method(template, "PUT", PREFERENCES_PATH)["RequestModels"] == {
        "application/json": {"Ref": models["RecipientPreferences"]}}
    assert "RequestModels" not in _method(template, "GET", PREFERENCES_PATH)


def test_bulk_summaries_are_read_through_the_delivery_log_read_role(synthesized: dict[str, Any]) -> None:
    template = synthesized["template"]
    assert _role(template, "GET", BULK_PATH) == _role(template, "GET", "/notifications/{id}")


def test_the_preferences_roles_may_get_or_update_that_table_and_use_its_key_through_dynamodb(
    synthesized: dict[str, Any]
) -> None:
    template = synthesized["template"]
    [key] = resources_of_type(template, "AWS::KMS::Key")
    through_dynamodb = {"StringEquals": {"kms:ViaService": f"dynamodb.{REGION}.amazonaws.com"}}
    for http_method, action in (("GET", "dynamodb:GetItem"), ("PUT", "dynamodb:UpdateItem")):
        role = _role(template, http_method, PREFERENCES_PATH)
        statements = [{**s, "Condition": {k: {c: _resolve(v, {}) for c, v in cond.items()}
                                          for k, cond in s.get("Condition", {}).items()}}
                      for s in _role_statements(template, role)]
        assert statements == [
            {"Action": action, "Effect": "Allow", "Resource": {"Fn::GetAtt": [synthesized["preferences"], "Arn"]},
             "Condition": {}},
            {"Action": "kms:Decrypt", "Effect": "Allow", "Resource": {"Fn::GetAtt": [key, "Arn"]},
             "Condition": through_dynamodb},
        ]
        [trust] = resources_of_type(template, "AWS::IAM::Role")[role]["Properties"]["AssumeRolePolicyDocument"][
            "Statement"]
        assert trust["Principal"] == {"Service": "apigateway.amazonaws.com"}
        assert set(trust["Condition"]) == {"ArnLike", "StringEquals"}
    assert _role(template, "GET", PREFERENCES_PATH) != _role(template, "PUT", PREFERENCES_PATH)


def test_each_grant_allows_its_route_only(template: dict[str, Any]) -> None:
    [stage] = resources_of_type(template, "AWS::ApiGateway::Stage")

    def granted(role_id: str) -> str:
        [role] = [k for k in resources_of_type(template, "AWS::IAM::Role") if k.startswith(role_id)]
        [statement] = _role_statements(template, role)
        assert statement["Action"] == "execute-api:Invoke"
        return _resolve(statement["Resource"], {stage: "v1"}).split("/", 1)[1]

    assert granted("BulkReader") == "v1/GET/bulks/*"
    assert granted("PreferencesReader") == "v1/GET/recipients/*/preferences"
    assert granted("PreferencesWriter") == "v1/PUT/recipients/*/preferences"


# ---- GET /bulks/{bulkId} ------------------------------------------------------------------------


def test_the_summary_is_read_by_its_key(bulk_templates: dict[str, str]) -> None:
    assert render(bulk_templates["request"], path={"bulkId": "spring-2026_1"}).json() == {
        "TableName": TABLE_NAME, "Key": {"notificationId": {"S": "bulk#spring-2026_1"}}, "ConsistentRead": True}


@pytest.mark.parametrize("bulk_id", ["", "two words", "a#b", "x" * 65, "it's", "a/b"])
def test_an_id_that_cannot_be_a_bulk_id_is_never_a_key(bulk_templates: dict[str, str], bulk_id: str) -> None:
    """DynamoDB refuses a request without a Key: nothing is read."""
    request = render(bulk_templates["request"], path={"bulkId": bulk_id}).json()
    assert request == {"TableName": TABLE_NAME, "ConsistentRead": True}
    refused = render(bulk_templates[r"4\d{2}"], json.dumps({"__type": "ValidationException", "message": "Key"}),
                     path={"bulkId": bulk_id})
    assert (refused.status_override, refused.json()) == (
        None, {"message": "the bulkId must be 1 to 64 characters of A-Z a-z 0-9 _ -"})


BULK_ARN = f"arn:aws:states:{REGION}:{ACCOUNT}:execution:NotifyBulk:spring"
COMPLETED_SUMMARY = {
    "notificationId": _s("bulk#spring"), "kind": _s("bulk"), "bulkId": _s("spring"), "status": _s("COMPLETED"),
    "executionArn": _s(BULK_ARN), "startedAt": _s("2026-11-25T20:39:59.901Z"),
    "completedAt": _s("2026-11-25T20:41:02.004Z"), "source": _s("jsonl"), "total": {"N": "5"},
    "counts": {"M": {"SENT": {"N": "3"}, "REJECTED": {"N": "1"}, "DUPLICATE": {"N": "1"}}},
    "runs": {"N": "2"}, "expiresAt": {"N": "1790000000"},
}


def test_a_summary_answers_its_status_and_counts(bulk_templates: dict[str, str]) -> None:
    rendered = render(bulk_templates["default"], json.dumps({"Item": COMPLETED_SUMMARY}))
    assert rendered.status_override is None
    assert rendered.json() == {
        "bulkId": "spring", "status": "COMPLETED", "source": "jsonl", "executionArn": BULK_ARN,
        "startedAt": "2026-11-25T20:39:59.901Z", "completedAt": "2026-11-25T20:41:02.004Z", "total": 5, "runs": 2,
        "counts": {"SENT": 3, "REJECTED": 1, "DUPLICATE": 1}}


def test_a_running_s3_bulk_has_no_total_yet_and_no_counts(bulk_templates: dict[str, str]) -> None:
    running = {**COMPLETED_SUMMARY, "status": _s("RUNNING"), "total": {"NULL": True}, "counts": {"M": {}},
               "runs": {"N": "1"}}
    del running["completedAt"]
    assert render(bulk_templates["default"], json.dumps({"Item": running})).json() == {
        "bulkId": "spring", "status": "RUNNING", "source": "jsonl", "executionArn": BULK_ARN,
        "startedAt": "2026-11-25T20:39:59.901Z", "runs": 1, "counts": {}}


def test_a_failed_or_rejected_bulk_shows_why(bulk_templates: dict[str, str]) -> None:
    failed = {**COMPLETED_SUMMARY, "status": _s("FAILED"), "error": _s("States.ExceedToleratedFailureThreshold"),
              "cause": _s('The "Map Run" failed')}
    shown = render(bulk_templates["default"], json.dumps({"Item": failed})).json()
    assert (shown["status"], shown["error"], shown["cause"]) == (
        "FAILED", "States.ExceedToleratedFailureThreshold", 'The "Map Run" failed')
    rejected = {"notificationId": _s("bulk#b1"), "kind": _s("bulk"), "bulkId": _s("b1"), "status": _s("REJECTED"),
                "error": _s("ValidationError"), "reason": _s("channel must be sms, email or both"),
                "executionArn": _s(BULK_ARN), "receivedAt": _s("2026-11-25T20:39:59.901Z")}
    assert render(bulk_templates["default"], json.dumps({"Item": rejected})).json() == {
        "bulkId": "b1", "status": "REJECTED", "error": "ValidationError",
        "reason": "channel must be sms, email or both", "executionArn": BULK_ARN,
        "receivedAt": "2026-11-25T20:39:59.901Z", "counts": {}}


@pytest.mark.parametrize("answer", [{}, {"Item": {"notificationId": _s("bulk#x"), "status": _s("SENT")}}],
                         ids=["no item", "not a bulk summary"])
def test_no_summary_answers_404(bulk_templates: dict[str, str], answer: dict[str, Any]) -> None:
    rendered = render(bulk_templates["default"], json.dumps(answer))
    assert (rendered.status_override, rendered.json()) == (404, {"message": "bulk not found"})


def test_bulk_read_errors_answer_429_and_502(bulk_templates: dict[str, str]) -> None:
    throttled = render(bulk_templates[r"4\d{2}"], json.dumps({"__type": "x#ThrottlingException", "message": "x"}),
                       path={"bulkId": "spring"})
    assert (throttled.status_override, throttled.json()) == (429, {"message": "too many requests; retry later"})
    assert render(bulk_templates[r"5\d{2}"], "{}").json() == {"message": "the delivery log failed; retry later"}


# ---- PUT /recipients/{recipientId}/preferences -------------------------------------------------

FULL = {
    "phoneNumber": "+15555550100", "email": "ana@example.org", "locale": "pt-BR",
    "optOut": {"*": ["sms"], "marketing": ["sms", "email"]},
    "quietHours": {"start": "22:00", "end": "07:30", "timeZone": "Europe/Paris"},
}
NAMES = {"#updatedAt": "updatedAt", "#phoneNumber": "phoneNumber", "#email": "email", "#locale": "locale",
         "#optOut": "optOut", "#quietHours": "quietHours"}


def _update(templates: dict[str, str], body: dict[str, Any] | str, recipient_id: str = "user-42") -> dict[str, Any]:
    text = body if isinstance(body, str) else json.dumps(body)
    request: dict[str, Any] = render(templates["request"], text, path={"recipientId": recipient_id},
                                     context={"requestTime": REQUEST_TIME}).json()
    return request


def test_put_sets_every_field_given_with_the_request_time(write_templates: dict[str, str]) -> None:
    assert _update(write_templates, FULL, "ana.costa+1@example.org") == {
        "TableName": PREFERENCES_TABLE,
        "Key": {"recipientId": {"S": "ana.costa+1@example.org"}},
        "UpdateExpression": "SET #updatedAt = :updatedAt, #phoneNumber = :phoneNumber, #email = :email, "
                            "#locale = :locale, #optOut = :optOut, #quietHours = :quietHours",
        "ExpressionAttributeNames": NAMES,
        "ExpressionAttributeValues": {
            ":updatedAt": {"S": "2026-11-25T20:39:59Z"},
            ":phoneNumber": {"S": "+15555550100"}, ":email": {"S": "ana@example.org"}, ":locale": {"S": "pt-BR"},
            ":optOut": {"M": {"*": {"L": [{"S": "sms"}]}, "marketing": {"L": [{"S": "sms"}, {"S": "email"}]}}},
            ":quietHours": {"M": {"start": {"S": "22:00"}, "end": {"S": "07:30"}, "timeZone": {"S": "Europe/Paris"}}},
        },
        "ReturnValues": "ALL_NEW",
    }


def test_put_removes_every_field_left_out(write_templates: dict[str, str]) -> None:
    """The stored preferences are replaced: what the body leaves out does not survive."""
    request = _update(write_templates, {"email": "ana@example.org", "optOut": {}})
    assert request["UpdateExpression"] == ("SET #updatedAt = :updatedAt, #email = :email, #optOut = :optOut "
                                           "REMOVE #phoneNumber, #locale, #quietHours")
    assert request["ExpressionAttributeNames"] == NAMES  # each one used, as DynamoDB requires
    assert request["ExpressionAttributeValues"] == {
        ":updatedAt": {"S": "2026-11-25T20:39:59Z"}, ":email": {"S": "ana@example.org"}, ":optOut": {"M": {}}}
    nothing = _update(write_templates, {})
    assert nothing["UpdateExpression"] == ("SET #updatedAt = :updatedAt "
                                           "REMOVE #phoneNumber, #email, #locale, #optOut, #quietHours")
    assert nothing["ExpressionAttributeValues"] == {":updatedAt": {"S": "2026-11-25T20:39:59Z"}}


@settings(max_examples=100, deadline=None)
@given(local=st.text(min_size=1, max_size=40).filter(lambda s: "@" not in s and not any(c.isspace() for c in s)))
def test_any_address_survives_into_the_item(write_templates: dict[str, str], local: str) -> None:
    address = f"{local}@example.org"
    assert _update(write_templates, {"email": address})["ExpressionAttributeValues"][":email"] == {"S": address}


@pytest.mark.parametrize("recipient_id", ["", "two words", "a/b", "x" * 129, "it's", 'say "hi"', "a#b"])
def test_an_id_that_cannot_be_a_recipient_id_is_never_a_key(write_templates: dict[str, str],
                                                            read_templates: dict[str, str],
                                                            recipient_id: str) -> None:
    """Without a Key DynamoDB refuses the request: nothing is read or written."""
    assert "Key" not in _update(write_templates, FULL, recipient_id)
    assert "Key" not in render(read_templates["request"], path={"recipientId": recipient_id}).json()
    for templates, what in ((write_templates, "stored"), (read_templates, "read")):
        refused = render(templates[r"4\d{2}"], json.dumps({"__type": "ValidationException", "message": "key"}),
                         path={"recipientId": recipient_id})
        assert refused.json() == {
            "message": "the recipientId must be 1 to 128 characters of A-Z a-z 0-9 _ . @ + : -"}, what


def test_the_longest_recipient_id_is_a_key(read_templates: dict[str, str]) -> None:
    recipient_id = "Az09_.@+:-" * 12 + "x" * 8
    assert render(read_templates["request"], path={"recipientId": recipient_id}).json() == {
        "TableName": PREFERENCES_TABLE, "Key": {"recipientId": {"S": recipient_id}}, "ConsistentRead": True}


STORED = {
    "recipientId": _s("user-42"), "phoneNumber": _s("+15555550100"), "email": _s("ana@example.org"),
    "locale": _s("pt-BR"), "updatedAt": _s("2026-11-25T20:39:59Z"),
    "optOut": {"M": {"*": {"L": [_s("sms")]}, "marketing": {"L": [_s("sms"), _s("email")]}}},
    "quietHours": {"M": {"start": _s("22:00"), "end": _s("07:30"), "timeZone": _s("Europe/Paris")}},
}
SHOWN = {"recipientId": "user-42", **FULL, "updatedAt": "2026-11-25T20:39:59Z"}


def test_put_answers_the_stored_preferences(write_templates: dict[str, str]) -> None:
    rendered = render(write_templates["default"], json.dumps({"Attributes": STORED}))
    assert rendered.status_override is None
    assert rendered.json() == SHOWN


def test_get_answers_the_preferences_as_plain_json(read_templates: dict[str, str]) -> None:
    assert render(read_templates["default"], json.dumps({"Item": STORED})).json() == SHOWN
    only_an_address = {"recipientId": _s("r"), "email": _s('o\'brien "x"@example.org'), "updatedAt": _s("t")}
    assert render(read_templates["default"], json.dumps({"Item": only_an_address})).json() == {
        "recipientId": "r", "email": 'o\'brien "x"@example.org', "updatedAt": "t"}
    empty_opt_out = {"recipientId": _s("r"), "optOut": {"M": {}}}
    assert render(read_templates["default"], json.dumps({"Item": empty_opt_out})).json() == {
        "recipientId": "r", "optOut": {}}


def test_get_of_unknown_preferences_answers_404(read_templates: dict[str, str]) -> None:
    rendered = render(read_templates["default"], "{}")
    assert (rendered.status_override, rendered.json()) == (404, {"message": "no preferences for this recipient"})


def test_preferences_errors_answer_429_400_and_502(read_templates: dict[str, str],
                                                   write_templates: dict[str, str]) -> None:
    for templates, what in ((read_templates, "read"), (write_templates, "stored")):
        throttled = render(templates[r"4\d{2}"], json.dumps({"__type": "x#ProvisionedThroughputExceededException"}),
                           path={"recipientId": "user-42"})
        assert (throttled.status_override, throttled.json()) == (429, {"message": "too many requests; retry later"})
        other = render(templates[r"4\d{2}"], json.dumps({"__type": "x#AccessDeniedException"}),
                       path={"recipientId": "user-42"})
        assert (other.status_override, other.json()) == (
            None, {"message": f"the preferences could not be {what}", "error": "AccessDeniedException"})
        assert render(templates[r"5\d{2}"], "{}").json() == {"message": "the delivery log failed; retry later"}


# ---- the preferences model ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def models(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    loaded = {m["Properties"]["Schema"]["title"]: m["Properties"]["Schema"]
              for m in resources_of_type(template, "AWS::ApiGateway::Model").values()}
    for schema in loaded.values():
        jsonschema.Draft4Validator.check_schema(schema)
    return loaded


GOOD_PREFERENCES = {
    "everything": FULL,
    "nothing (every field removed)": {},
    "a language only": {"locale": "en"},
    "a three-letter language": {"locale": "fil"},
    "quiet hours within a day": {"quietHours": {"start": "12:00", "end": "14:00", "timeZone": "UTC"}},
    "quiet hours at the day's bounds": {"quietHours": {"start": "00:00", "end": "23:59",
                                                       "timeZone": "America/New_York"}},
    "every category's email": {"optOut": {"*": ["email"]}},
    "category names of their characters": {"optOut": {"a_b-1": ["sms"], "x" * 64: ["email", "sms"]}},
}
BAD_PREFERENCES = {
    "a zone not configured": {"quietHours": {"start": "22:00", "end": "07:00", "timeZone": "Asia/Tokyo"}},
    "a zone misspelt": {"quietHours": {"start": "22:00", "end": "07:00", "timeZone": "europe/paris"}},
    "24:00": {"quietHours": {"start": "24:00", "end": "07:00", "timeZone": "UTC"}},
    "one-digit hour": {"quietHours": {"start": "7:00", "end": "08:00", "timeZone": "UTC"}},
    "minute 60": {"quietHours": {"start": "07:60", "end": "08:00", "timeZone": "UTC"}},
    "seconds": {"quietHours": {"start": "07:00:00", "end": "08:00", "timeZone": "UTC"}},
    "quiet hours without end": {"quietHours": {"start": "22:00", "timeZone": "UTC"}},
    "quiet hours without a zone": {"quietHours": {"start": "22:00", "end": "07:00"}},
    "an unknown quiet-hours field": {"quietHours": {"start": "22:00", "end": "07:00", "timeZone": "UTC",
                                                    "days": ["mon"]}},
    "a channel that is not one": {"optOut": {"marketing": ["push"]}},
    "a channel as a string": {"optOut": {"marketing": "sms"}},
    "no channel": {"optOut": {"marketing": []}},
    "a channel twice": {"optOut": {"marketing": ["sms", "sms"]}},
    "an upper-case category": {"optOut": {"Marketing": ["sms"]}},
    "a category of 65 characters": {"optOut": {"x" * 65: ["sms"]}},
    "a wildcard within a category": {"optOut": {"mark*": ["sms"]}},
    "101 categories": {"optOut": {f"c{n}": ["sms"] for n in range(101)}},
    "a phone number without +": {"phoneNumber": "15555550100"},
    "an address without @": {"email": "ana.example.org"},
    "an address with a space": {"email": "ana costa@example.org"},
    "an address without a domain": {"email": "ana@localhost"},
    "a locale in capitals": {"locale": "EN"},
    "a locale with an underscore": {"locale": "pt_BR"},
    "the key in the body": {**FULL, "recipientId": "user-42"},
    "updatedAt in the body": {**FULL, "updatedAt": "2026-11-25T20:39:59Z"},
    "an unknown field": {"channels": ["sms"]},
    "not an object": ["sms"],
}


@pytest.mark.parametrize("body", list(GOOD_PREFERENCES.values()), ids=list(GOOD_PREFERENCES))
def test_the_preferences_model_passes_good_preferences(models: dict[str, dict[str, Any]], body: Any) -> None:
    jsonschema.Draft4Validator(models["RecipientPreferences"]).validate(body)


@pytest.mark.parametrize("body", list(BAD_PREFERENCES.values()), ids=list(BAD_PREFERENCES))
def test_the_preferences_model_refuses_bad_preferences(models: dict[str, dict[str, Any]], body: Any) -> None:
    assert not jsonschema.Draft4Validator(models["RecipientPreferences"]).is_valid(body)


# ---- the request model's recipient, template and category fields (issue 14) -----------------------

SMS = {"channel": "sms", "message": "hi", "phoneNumber": "+15555550100"}
TEMPLATE = {"name": "order-shipped", "data": {"order": "A-17", "items": [1, 2]}, "locale": "pt-BR"}
GOOD_REQUESTS = {
    "a template instead of the message": {"channel": "email", "template": TEMPLATE, "email": {"to": "a@example.org"}},
    "a template with its name only": {"channel": "sms", "template": {"name": "otp"}, "phoneNumber": "+15555550100"},
    "a template and the older dialect": {"delivery_mode": "text", "template": {"name": "otp"},
                                         "user_phone": "+15555550100"},
    "sms to a recipient without a phone number": {"channel": "sms", "message": "hi", "recipientId": "user-42"},
    "email to a recipient without an address": {"channel": "email", "message": "hi", "recipientId": "user-42"},
    "email to a recipient with a subject only": {"channel": "email", "message": "hi", "recipientId": "user-42",
                                                 "email": {"subject": "s", "cc": ["c@example.org"]}},
    "both to a recipient, nothing given": {"channel": "both", "template": {"name": "otp"},
                                           "recipientId": "ana.costa+1@example.org"},
    "both to a recipient, the phone given": {**SMS, "channel": "both", "recipientId": "user-42"},
    "a recipient and a valid phone number": {**SMS, "recipientId": "user-42"},
    "a category": {**SMS, "category": "order_updates-2"},
    "critical": {**SMS, "critical": True, "category": "security"},
    "not critical": {**SMS, "critical": False},
    "the longest recipientId": {"channel": "sms", "message": "hi", "recipientId": "Az09_.@+:-" * 12 + "x" * 8},
}
BAD_REQUESTS = {
    "neither message nor template": {"channel": "sms", "phoneNumber": "+15555550100"},
    "a template without a name": {**SMS, "template": {"data": {}}},
    "a template name in capitals": {**SMS, "template": {"name": "Order"}},
    "a template name of 65 characters": {**SMS, "template": {"name": "x" * 65}},
    "a template with another field": {**SMS, "template": {"name": "otp", "subject": "s"}},
    "template data that is not an object": {**SMS, "template": {"name": "otp", "data": ["a"]}},
    "a template locale in capitals": {**SMS, "template": {"name": "otp", "locale": "EN"}},
    "a template locale with a script": {**SMS, "template": {"name": "otp", "locale": "zh-Hant"}},
    "a recipientId with a space": {"channel": "sms", "message": "hi", "recipientId": "user 42"},
    "a recipientId with a slash": {"channel": "sms", "message": "hi", "recipientId": "a/b"},
    "a recipientId of 129 characters": {"channel": "sms", "message": "hi", "recipientId": "x" * 129},
    "an empty recipientId": {"channel": "sms", "message": "hi", "recipientId": ""},
    "a recipient with an invalid phone number": {**SMS, "phoneNumber": "0800", "recipientId": "user-42"},
    "a recipient with an empty email.to": {"channel": "email", "message": "hi", "recipientId": "user-42",
                                           "email": {"to": []}},
    "a recipient with 51 in email.cc": {"channel": "email", "message": "hi", "recipientId": "user-42",
                                        "email": {"cc": [f"r{n}@example.org" for n in range(51)]}},
    "a recipient without a channel": {"message": "hi", "recipientId": "user-42"},
    # the older dialect has no recipients: its contact data stays required
    "the older dialect with a recipient and no phone": {"delivery_mode": "text", "message_content": "m",
                                                        "recipientId": "user-42"},
    "a category in capitals": {**SMS, "category": "Security"},
    "a category with a dot": {**SMS, "category": "a.b"},
    "critical as a string": {**SMS, "critical": "true"},
}


@pytest.mark.parametrize("body", list(GOOD_REQUESTS.values()), ids=list(GOOD_REQUESTS))
def test_the_request_model_takes_recipients_templates_and_categories(models: dict[str, dict[str, Any]],
                                                                     body: Any) -> None:
    jsonschema.Draft4Validator(models["NotificationRequest"]).validate(body)


@pytest.mark.parametrize("body", list(BAD_REQUESTS.values()), ids=list(BAD_REQUESTS))
def test_the_request_model_refuses_bad_recipient_template_and_category_fields(models: dict[str, dict[str, Any]],
                                                                              body: Any) -> None:
    assert not jsonschema.Draft4Validator(models["NotificationRequest"]).is_valid(body)


@pytest.mark.parametrize("name", ["sms", "email", "both", "invalid"])
def test_the_examples_keep_their_verdicts(models: dict[str, dict[str, Any]], name: str) -> None:
    assert jsonschema.Draft4Validator(models["NotificationRequest"]).is_valid(_example(name)) == (name != "invalid")


def test_post_keeps_the_callers_identity_with_a_recipient(synthesized: dict[str, Any]) -> None:
    body = {"channel": "sms", "template": {"name": "otp", "data": {"code": "1234"}}, "recipientId": "user-42"}
    request = render(_as(SENDER, _templates(synthesized, "POST", "/notifications")["request"]),
                     json.dumps(body)).json()
    assert json.loads(request["input"])["recipientId"] == "user-42"
    assert json.loads(request["input"])["caller"] == "arn:aws:sts::123456789012:assumed-role/Sender"


# ---- props ------------------------------------------------------------------------------------------


Scope = Callable[[], tuple[cdk.Stack, sfn.StateMachine, dynamodb.Table]]


@pytest.fixture
def scope() -> Scope:
    return lambda: _stack(cdk.App(), "Props")


@pytest.mark.parametrize(("zones", "fix"), [
    ([], "distinct IANA"), (["UTC", "UTC"], "distinct IANA"), (["Mars/Olympus_Mons"], "distinct IANA"),
    (["../etc/passwd"], "distinct IANA"), ("Europe/Paris", "distinct IANA"), ([7], "distinct IANA"),
])
def test_fails_when_the_time_zones_are_unusable(scope: Scope, zones: Any, fix: str) -> None:
    stack, machine, table = scope()
    with pytest.raises(PropError) as raised:
        NotificationApi(stack, "Api", state_machine=machine, table=table,
                        preferences_table=_preferences_table(stack, None), preference_time_zones=zones)
    assert raised.value.prop == "preference_time_zones"
    assert fix in raised.value.fix


def test_fails_when_time_zones_come_without_the_table(scope: Scope) -> None:
    stack, machine, table = scope()
    with pytest.raises(PropError) as raised:
        NotificationApi(stack, "Api", state_machine=machine, table=table, preference_time_zones=["UTC"])
    assert raised.value.prop == "preference_time_zones"


def test_fails_when_the_preferences_table_is_keyed_otherwise(scope: Scope) -> None:
    stack, machine, table = scope()
    with pytest.raises(PropError) as raised:
        NotificationApi(stack, "Api", state_machine=machine, table=table,
                        preferences_table=_preferences_table(stack, None, partition_key="userId"))
    assert (raised.value.prop, raised.value.value) == ("preferences_table", ["userId"])


def test_without_time_zones_quiet_hours_name_utc(scope: Scope) -> None:
    stack, machine, table = scope()
    NotificationApi(stack, "Api", state_machine=machine, table=table, preferences_table=_preferences_table(stack, None))
    template = dict(Template.from_stack(stack).to_json())
    [model] = [m["Properties"] for m in resources_of_type(template, "AWS::ApiGateway::Model").values()
               if m["Properties"]["Schema"]["title"] == "RecipientPreferences"]
    assert model["Schema"]["properties"]["quietHours"]["properties"]["timeZone"]["enum"] == ["UTC"]


def test_fails_when_a_route_that_is_off_is_granted(scope: Scope) -> None:
    stack, machine, table = scope()
    api = NotificationApi(stack, "Api", state_machine=machine, table=table)
    assert (api.read_bulk_method, api.read_preferences_method, api.write_preferences_method,
            api.preferences_model) == (None, None, None, None)
    grantee = iam.Role(stack, "Grantee", assumed_by=iam.AccountRootPrincipal())
    for grant, prop in ((api.grant_read_bulk, "bulk_summaries"), (api.grant_read_preferences, "preferences_table"),
                        (api.grant_write_preferences, "preferences_table")):
        with pytest.raises(PropError) as raised:
            grant(grantee)
        assert raised.value.prop == prop


def test_the_new_routes_keep_the_apis_other_templates(tmp_path: Path) -> None:
    """Turning the new routes on adds resources and changes no other one (bar the deployment)."""
    def resources(**props: Any) -> dict[str, Any]:
        stack, machine, table = _stack(cdk.App(outdir=str(tmp_path / str(len(props)))), "Same", encrypted=True)
        key = stack.node.find_child("Key")
        assert isinstance(key, kms.Key)
        preferences = _preferences_table(stack, key)
        NotificationApi(stack, "Api", state_machine=machine, table=table, state_machine_key=key, **(
            {"preferences_table": preferences, **props} if props else {}))
        found: dict[str, Any] = Template.from_stack(stack).to_json()["Resources"]
        return found

    before, after = resources(), resources(bulk_summaries=True)
    changed = {k for k in before if before[k] != after.get(k)}
    assert {before[k]["Type"] for k in changed} <= {"AWS::ApiGateway::Deployment", "AWS::ApiGateway::Stage"}
