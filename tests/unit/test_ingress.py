"""NotificationApi: the synthesized API, its request model, and its VTL mapping templates rendered
with the Velocity stand-in of ``local_aws.apigateway.velocity`` (API Gateway's $input/$util/$context)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import jsonschema
import pytest
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk.assertions import Template
from cdk_nag import AwsSolutionsChecks, HIPAASecurityChecks, NIST80053R5Checks
from constructs import Construct
from hypothesis import given, settings
from hypothesis import strategies as st

from constructs_lib import NotificationService, NotificationWorkflow
from constructs_lib._props import PropError
from constructs_lib.ingress import NotificationApi
from local_aws.apigateway.velocity import EXAMPLE_REQUEST_ID as REQUEST_ID
from local_aws.apigateway.velocity import render
from tests.conftest import ROOT, cdk_json_context
from tests.support.asl import resources_of_type
from tests.support.nag import add_all_packs, beyond_the_canary
from tests.unit.test_nag_gate import REPORT_WITHOUT_FAILING, add_nag_canary, findings, only_the_canary

ACCOUNT, REGION = "123456789012", "us-east-1"
STATE_MACHINE_ARN = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:NotificationWorkflow"
TABLE_NAME = "NotifyCdk-dev-DeliveryLogTable"


# ---- the synthesized API ----------------------------------------------------------------------


PACKS = ("AwsSolutions", "NIST.800.53.R5", "HIPAA.Security")


def _scaffolding(scope: Construct, *rules: str) -> None:
    """Findings on the test's own stand-ins (not on the construct under test)."""
    for rule in rules:
        cdk.Validations.of(scope).acknowledge(cdk.Acknowledgment(id=rule, reason="test scaffolding"))


def _stack(app: cdk.App, name: str, *, encrypted: bool = False
           ) -> tuple[cdk.Stack, sfn.StateMachine, dynamodb.Table]:
    """A stack with a stand-in workflow and delivery log; ``encrypted``: both under ``Key``, like
    NotificationWorkflow's (the key is ``stack.node.find_child("Key")``)."""
    stack = cdk.Stack(app, name, synthesizer=cdk.DefaultStackSynthesizer(generate_bootstrap_version_rule=False))
    key = kms.Key(stack, "Key", enable_key_rotation=True) if encrypted else None
    machine = sfn.StateMachine(
        stack, "Workflow", definition_body=sfn.DefinitionBody.from_chainable(sfn.Pass(stack, "Start")),
        encryption_configuration=sfn.CustomerManagedEncryptionConfiguration(key) if key else None,
    )
    _scaffolding(machine, "AwsSolutions-SF1", "AwsSolutions-SF2",
                 *(f"{p}-{rule}" for p in PACKS[1:] for rule in ("StepFunctionStateMachineXray", "IAMNoInlinePolicy")))
    table = dynamodb.Table(
        stack, "DeliveryLog",
        partition_key=dynamodb.Attribute(name="notificationId", type=dynamodb.AttributeType.STRING),
        billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
        point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
            point_in_time_recovery_enabled=True),
        encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED if key else None,
        encryption_key=key,
    )
    _scaffolding(table, *(f"{p}-DynamoDBInBackupPlan" for p in PACKS[1:]))
    return stack, machine, table


def _checked(app: cdk.App, stack: cdk.Stack) -> None:
    """Validation plugins apply to the whole app: every stack is checked by all three packs."""
    cdk.Validations.of(app).add_plugins(
        AwsSolutionsChecks(stack), NIST80053R5Checks(stack), HIPAASecurityChecks(stack))


def _reporting_app(outdir: Path) -> cdk.App:
    """An app whose cdk-nag findings go to the validation report instead of failing the synth."""
    return cdk.App(context={**cdk_json_context(), **REPORT_WITHOUT_FAILING}, outdir=str(outdir),
                   analytics_reporting=False)


def _api_with_key(app: cdk.App, name: str, **props: Any) -> tuple[cdk.Stack, NotificationApi]:
    """An API in a stack of its own whose state machine, delivery log and log groups share one key."""
    stack, machine, table = _stack(app, name, encrypted=True)
    key = stack.node.find_child("Key")
    assert isinstance(key, kms.Key)
    return stack, NotificationApi(stack, "Api", state_machine=machine, table=table, state_machine_key=key,
                                  encryption_key=key, **props)


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One app under all three cdk-nag packs the stack runs: the API as the stack will use it (IAM,
    the workflow's key for the state machine and the access logs), and one with every opt-out;
    plus the nag canary (see test_nag_gate.py), so the report shows that every pack ran."""
    outdir = tmp_path_factory.mktemp("ingress")
    app = _reporting_app(outdir)
    stack, api = _api_with_key(app, "Ingress")
    caller = iam.Role(stack, "Caller", assumed_by=iam.AccountRootPrincipal())
    api.grant_invoke(caller)
    cdk.Validations.of(caller).acknowledge(cdk.Acknowledgment(
        id=api.invoke_grant_finding, reason="test: the caller may read any notification"))
    _scaffolding(caller, *(f"{p}-IAMNoInlinePolicy" for p in PACKS[1:]))
    for role_id, grant, finding in (("Sender", api.grant_send, None),
                                    ("Reader", api.grant_read_own, api.invoke_grant_finding),
                                    ("Auditor", api.grant_read_all, api.read_all_grant_finding)):
        role = iam.Role(stack, role_id, assumed_by=iam.AccountRootPrincipal())
        grant(role)
        if finding:
            cdk.Validations.of(role).acknowledge(cdk.Acknowledgment(id=finding, reason="test: any id"))
        _scaffolding(role, *(f"{p}-IAMNoInlinePolicy" for p in PACKS[1:]))

    open_stack, open_machine, open_table = _stack(app, "OpenIngress")
    open_api = NotificationApi(
        open_stack, "Api", state_machine=open_machine, table=open_table,
        authorization=apigw.AuthorizationType.NONE, cloud_watch_role=False, stage_name="prod",
        web_acl_arn=f"arn:aws:wafv2:{REGION}:{ACCOUNT}:regional/webacl/notify/0a1b2c3d",
    )
    for finding in open_api.unacknowledged_findings:
        cdk.Validations.of(open_stack).acknowledge(cdk.Acknowledgment(id=finding, reason="test: a public API"))

    _, keyed_api = _api_with_key(
        app, "KeyedIngress", access_log_retention=logs.RetentionDays.ONE_WEEK, api_key_required=True,
        per_key_throttling=apigw.ThrottleSettings(rate_limit=5, burst_limit=10),
    )
    keyed_api.add_caller_key("CallerKey", description="test: one caller")

    scheduling_stack, scheduling_api = _api_with_key(app, "SchedulingIngress", cloud_watch_role=False,
                                                     max_send_delay=cdk.Duration.days(1))
    canceller = iam.Role(scheduling_stack, "Canceller", assumed_by=iam.AccountRootPrincipal())
    scheduling_api.grant_cancel(canceller)
    cdk.Validations.of(canceller).acknowledge(cdk.Acknowledgment(id=scheduling_api.cancel_grant_finding,
                                                                 reason="test: any id"))
    _scaffolding(canceller, *(f"{p}-IAMNoInlinePolicy" for p in PACKS[1:]))
    add_nag_canary(app)
    _checked(app, stack)

    assembly = app.synth()
    return {
        "template": assembly.get_stack_by_name("Ingress").template,
        "open": assembly.get_stack_by_name("OpenIngress").template,
        "open_findings": open_api.unacknowledged_findings,
        "keyed": assembly.get_stack_by_name("KeyedIngress").template,
        "keyed_findings": keyed_api.unacknowledged_findings,
        "scheduling": assembly.get_stack_by_name("SchedulingIngress").template,
        "scheduling_findings": scheduling_api.unacknowledged_findings,
        "api_findings": api.unacknowledged_findings,
        "findings": findings(outdir),
        "url": stack.resolve(api.url),
    }


@pytest.fixture(scope="module")
def template(synthesized: dict[str, Any]) -> dict[str, Any]:
    return synthesized["template"]  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def assertions(template: dict[str, Any]) -> Template:
    return Template.from_json(template)


def _resolve(value: Any, refs: dict[str, str]) -> str:
    """A template string with its Fn::Join/Ref parts replaced by deployed-looking values."""
    if isinstance(value, str):
        return value
    if "Fn::Join" in value:
        delimiter, parts = value["Fn::Join"]
        return str(delimiter).join(_resolve(p, refs) for p in parts)
    if "Ref" in value:
        return refs.get(value["Ref"], {"AWS::Region": REGION, "AWS::AccountId": ACCOUNT,
                                       "AWS::Partition": "aws"}.get(value["Ref"], value["Ref"]))
    if "Fn::GetAtt" in value:
        return refs[".".join(value["Fn::GetAtt"])]
    raise AssertionError(f"unexpected intrinsic {value}")


def _path(template: dict[str, Any], resource: Any) -> str:
    """The path of an API resource (``Ref`` to an AWS::ApiGateway::Resource), e.g. ``/notifications/{id}``."""
    resources = template["Resources"]
    if not (isinstance(resource, dict) and resource.get("Ref") in resources):
        return ""  # the API's root
    properties = resources[resource["Ref"]]["Properties"]
    return _path(template, properties["ParentId"]) + "/" + properties["PathPart"]


def _method(template: dict[str, Any], http_method: str, path: str | None = None) -> dict[str, Any]:
    """The method; for GET, ``/notifications/{id}`` unless another ``path`` is given."""
    path = path or ("/notifications/{id}" if http_method == "GET" else "/notifications")
    [method] = [m["Properties"] for m in resources_of_type(template, "AWS::ApiGateway::Method").values()
                if m["Properties"]["HttpMethod"] == http_method
                and _path(template, m["Properties"]["ResourceId"]) == path]
    return method


def _refs(template: dict[str, Any]) -> dict[str, str]:
    [machine] = resources_of_type(template, "AWS::StepFunctions::StateMachine")
    [table] = resources_of_type(template, "AWS::DynamoDB::Table")
    return {machine: STATE_MACHINE_ARN, table: TABLE_NAME}


def _integration_templates(template: dict[str, Any], http_method: str, path: str | None = None) -> dict[str, str]:
    """The request template (references resolved) and the response templates by selection pattern."""
    integration = _method(template, http_method, path)["Integration"]
    templates = {"request": _resolve(integration["RequestTemplates"]["application/json"], _refs(template))}
    for response in integration["IntegrationResponses"]:
        templates[response.get("SelectionPattern", "default")] = response["ResponseTemplates"]["application/json"]
    return templates


@pytest.fixture(scope="module")
def start_templates(template: dict[str, Any]) -> dict[str, str]:
    return _integration_templates(template, "POST")


@pytest.fixture(scope="module")
def read_templates(template: dict[str, Any]) -> dict[str, str]:
    return _integration_templates(template, "GET")


# ---- POST /notifications: the StartExecution request ------------------------------------------


def _start(templates: dict[str, str], body: dict[str, Any] | str, **kwargs: Any) -> dict[str, Any]:
    text = body if isinstance(body, str) else json.dumps(body)
    request: dict[str, Any] = render(templates["request"], text, **kwargs).json()
    assert set(request) == {"stateMachineArn", "name", "input"}
    assert request["stateMachineArn"] == STATE_MACHINE_ARN
    return request


def _example(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((ROOT / "examples" / f"{name}.json").read_text())
    return loaded


def test_the_execution_is_named_by_the_notification_id(start_templates: dict[str, str]) -> None:
    body = _example("both")
    request = _start(start_templates, body)
    assert request["name"] == "demo-both-001"
    assert json.loads(request["input"]) == body


def test_without_an_id_the_request_id_names_the_execution_and_keys_the_record(
    start_templates: dict[str, str]
) -> None:
    body = {k: v for k, v in _example("sms").items() if k != "notificationId"}
    request = _start(start_templates, body)
    assert request["name"] == REQUEST_ID
    assert json.loads(request["input"]) == {"notificationId": REQUEST_ID, **body}


@pytest.mark.parametrize("message", [
    'He said "hi"', "don't panic", "line one\nline two\r\n\ttabbed", "back\\slash and /slash/",
    "é ü ß 日本語 😀", "</script><script>alert(1)</script>", "$input.body #set($x = 1) ${context}", "\u2028\u2029",
])
def test_special_characters_in_the_message_survive(start_templates: dict[str, str], message: str) -> None:
    for body in ({"channel": "sms", "message": message, "phoneNumber": "+15555550100"},
                 {"notificationId": "n-1", "channel": "sms", "message": message, "phoneNumber": "+15555550100"}):
        assert json.loads(_start(start_templates, body)["input"])["message"] == message


@settings(max_examples=150, deadline=None)
@given(message=st.text(), subject=st.text(), with_id=st.booleans())
def test_any_text_survives_the_round_trip(start_templates: dict[str, str], message: str, subject: str,
                                          with_id: bool) -> None:
    body: dict[str, Any] = {"channel": "email", "message": message, "email": {"to": "a@example.org",
                                                                             "subject": subject}}
    if with_id:
        body["notificationId"] = "n_1"
    decoded = json.loads(_start(start_templates, body)["input"])
    assert decoded == {**body, "notificationId": body.get("notificationId", REQUEST_ID)}


@pytest.mark.parametrize("raw_root", [False, True], ids=["re-serialized", "as sent"])
def test_the_clients_whitespace_does_not_matter(start_templates: dict[str, str], raw_root: bool) -> None:
    """Whether $input.json('$') re-serializes the body or returns it as sent, the input is the body."""
    raw = ' \n{\n  "message" : "hi",\n\n  "channel":"sms", "phoneNumber": "+15555550100"\n}\n'
    assert json.loads(_start(start_templates, raw, raw_root=raw_root)["input"]) == {
        "notificationId": REQUEST_ID, "message": "hi", "channel": "sms", "phoneNumber": "+15555550100"}


# ---- POST /notifications: the responses -------------------------------------------------------


@pytest.mark.parametrize("arn", [
    f"arn:aws:states:{REGION}:{ACCOUNT}:execution:NotificationWorkflow:demo-sms-001",
    f"arn:aws:states:{REGION}:{ACCOUNT}:express:NotificationWorkflow:demo-sms-001:"
    "4f0c2b8e-9d1a-4c3e-8b7f-2a6d5e1c9b0a",
])
def test_a_started_execution_answers_202_with_the_id_and_arn(start_templates: dict[str, str], arn: str) -> None:
    rendered = render(start_templates["default"], json.dumps({"executionArn": arn, "startDate": 1.764103e9}))
    assert rendered.status_override is None
    assert rendered.json() == {"notificationId": "demo-sms-001", "executionArn": arn}


def test_a_reused_id_answers_409(start_templates: dict[str, str]) -> None:
    error = {"__type": "com.amazonaws.swf.service.v2.model#ExecutionAlreadyExists",
             "message": f"Execution Already Exists: 'arn:aws:states:{REGION}:{ACCOUNT}:execution:"
                        "NotificationWorkflow:demo-sms-001'"}
    rendered = render(start_templates[r"4\d{2}"], json.dumps(error))
    assert rendered.status_override == 409
    assert rendered.json() == {"message": "notification demo-sms-001 already exists"}


def test_a_reused_id_answers_409_even_when_the_message_changes(start_templates: dict[str, str]) -> None:
    rendered = render(start_templates[r"4\d{2}"], json.dumps({"__type": "ExecutionAlreadyExists",
                                                             "message": "Execution already started"}))
    assert rendered.status_override == 409
    assert rendered.json() == {"message": "notification already exists"}


def test_throttling_answers_429(start_templates: dict[str, str]) -> None:
    rendered = render(start_templates[r"4\d{2}"], json.dumps({"__type": "ThrottlingException",
                                                             "message": "Rate exceeded"}))
    assert rendered.status_override == 429
    assert rendered.json() == {"message": "too many requests; retry later"}


def test_other_client_errors_answer_400_with_the_error_name(start_templates: dict[str, str]) -> None:
    error = {"__type": "com.amazonaws.swf.service.v2.model#InvalidExecutionInput",
             "message": "Input exceeds the maximum size of 262144 bytes"}
    rendered = render(start_templates[r"4\d{2}"], json.dumps(error))
    assert rendered.status_override is None  # the integration response's own 400
    assert rendered.json() == {"message": "the notification was not accepted", "error": "InvalidExecutionInput"}


def test_server_errors_answer_a_static_502_body(start_templates: dict[str, str]) -> None:
    assert render(start_templates[r"5\d{2}"], "{}").json() == {"message": "the workflow service failed; retry later"}


def test_integration_responses_map_status_codes(template: dict[str, Any]) -> None:
    for method, expected in (("POST", [("202", None), ("400", r"4\d{2}"), ("502", r"5\d{2}")]),
                             ("GET", [("200", None), ("400", r"4\d{2}"), ("502", r"5\d{2}")])):
        responses = _method(template, method)["Integration"]["IntegrationResponses"]
        assert [(r["StatusCode"], r.get("SelectionPattern")) for r in responses] == expected
    assert {r["StatusCode"] for r in _method(template, "POST")["MethodResponses"]} == {"202", "400", "409", "429",
                                                                                       "502"}
    assert {r["StatusCode"] for r in _method(template, "GET")["MethodResponses"]} == {"200", "400", "404", "429",
                                                                                      "502"}


# ---- GET /notifications/{id} ------------------------------------------------------------------


def test_the_get_item_request_keys_by_the_path_id(read_templates: dict[str, str]) -> None:
    for notification_id in ("demo-sms-001", "it's \"odd\"", "a/b\\c"):
        request = render(read_templates["request"], path={"id": notification_id}).json()
        assert request == {"TableName": TABLE_NAME, "Key": {"notificationId": {"S": notification_id}},
                           "ConsistentRead": True}


def _s(value: str) -> dict[str, str]:
    return {"S": value}


DELIVERED_ITEM = {
    "notificationId": _s("demo-both-001"), "status": _s("PARTIAL"), "channel": _s("both"),
    "executionArn": _s(f"arn:aws:states:{REGION}:{ACCOUNT}:execution:NotificationWorkflow:demo-both-001"),
    "receivedAt": _s("2026-11-25T20:39:59.901Z"), "completedAt": _s("2026-11-25T20:40:00.720Z"),
    "metadata": _s('{"priority":"normal","category":"operations"}'), "duplicateCount": {"N": "2"},
    "lastDuplicateAt": _s("2026-11-25T20:41:12.004Z"), "fallback": _s("email"),
    "lastDuplicateExecutionArn": _s("arn:aws:states:us-east-1:123456789012:execution:NotificationWorkflow:x"),
    "recipients": {"M": {"sms": _s("9f86d081884c7d65"), "email": _s("2c26b46b68ffc68f")}},
    "message": _s("Maintenance tonight"),
    "smsMessageId": _s("5a1b2c3d"), "expiresAt": {"N": "1790000000"},
    "results": {"M": {
        "sms": {"M": {"status": _s("FAILED"), "messageId": _s(""), "error": _s("SNS.InvalidParameterException"),
                      "cause": _s('Invalid parameter: PhoneNumber "+1555" (Service: Sns)')}},
        "email": {"M": {"status": _s("SENT"), "messageId": _s("0100019b1a2f3c4d-000000"), "error": _s(""),
                        "cause": _s(""), "deliveryStatus": _s("BOUNCED"), "deliveryDetail": _s("Permanent/General"),
                        "deliveryUpdatedAt": _s("2026-11-25T20:40:03.100Z")}},
    }},
}


def test_a_record_is_returned_as_plain_json_without_recipients_or_message(read_templates: dict[str, str]) -> None:
    rendered = render(read_templates["default"], json.dumps({"Item": DELIVERED_ITEM}))
    assert rendered.status_override is None
    assert rendered.json() == {
        "notificationId": "demo-both-001", "status": "PARTIAL", "channel": "both",
        "receivedAt": "2026-11-25T20:39:59.901Z", "completedAt": "2026-11-25T20:40:00.720Z",
        "executionArn": DELIVERED_ITEM["executionArn"]["S"], "duplicateCount": 2,
        "lastDuplicateAt": "2026-11-25T20:41:12.004Z", "fallback": "email",
        "metadata": {"priority": "normal", "category": "operations"},
        "results": {
            "sms": {"status": "FAILED", "error": "SNS.InvalidParameterException",
                    "cause": 'Invalid parameter: PhoneNumber "+1555" (Service: Sns)'},
            "email": {"status": "SENT", "messageId": "0100019b1a2f3c4d-000000", "deliveryStatus": "BOUNCED",
                      "deliveryDetail": "Permanent/General", "deliveryUpdatedAt": "2026-11-25T20:40:03.100Z"},
        },
    }


def test_a_rejected_record_has_its_reason_and_no_results(read_templates: dict[str, str]) -> None:
    item = {"notificationId": _s("demo-invalid-001"), "status": _s("REJECTED"), "error": _s("ValidationError"),
            "reason": _s("phoneNumber is required for sms"), "receivedAt": _s("2026-11-25T20:39:59.901Z"),
            "completedAt": _s("2026-11-25T20:39:59.901Z")}
    assert render(read_templates["default"], json.dumps({"Item": item})).json() == {
        "notificationId": "demo-invalid-001", "status": "REJECTED", "error": "ValidationError",
        "reason": "phoneNumber is required for sms", "receivedAt": "2026-11-25T20:39:59.901Z",
        "completedAt": "2026-11-25T20:39:59.901Z", "results": {}}


def test_a_processing_record_is_returned_before_any_outcome(read_templates: dict[str, str]) -> None:
    item = {"notificationId": _s("n-2"), "status": _s("PROCESSING"), "channel": _s("sms"),
            "receivedAt": _s("2026-11-25T20:39:59.901Z")}
    assert render(read_templates["default"], json.dumps({"Item": item})).json() == {
        "notificationId": "n-2", "status": "PROCESSING", "channel": "sms",
        "receivedAt": "2026-11-25T20:39:59.901Z", "results": {}}


def test_no_item_answers_404(read_templates: dict[str, str]) -> None:
    rendered = render(read_templates["default"], "{}")
    assert rendered.status_override == 404
    assert rendered.json() == {"message": "notification not found"}


def test_read_throttling_answers_429(read_templates: dict[str, str]) -> None:
    error = {"__type": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException", "message": "x"}
    rendered = render(read_templates[r"4\d{2}"], json.dumps(error))
    assert rendered.status_override == 429


# ---- the request model ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def schema(template: dict[str, Any]) -> dict[str, Any]:
    [model] = resources_of_type(template, "AWS::ApiGateway::Model").values()
    assert model["Properties"]["ContentType"] == "application/json"
    loaded: dict[str, Any] = model["Properties"]["Schema"]
    return loaded


def test_the_model_is_draft_4(schema: dict[str, Any]) -> None:
    assert schema["$schema"] == "http://json-schema.org/draft-04/schema#"
    jsonschema.Draft4Validator.check_schema(schema)


@pytest.mark.parametrize("name", ["sms", "email", "both"])
def test_the_example_requests_pass_the_model(schema: dict[str, Any], name: str) -> None:
    jsonschema.Draft4Validator(schema).validate(_example(name))


def _addresses(count: int) -> list[str]:
    return [f"r{n}@example.org" for n in range(count)]


BAD_REQUESTS = {
    "sms without phoneNumber (examples/invalid.json)": _example("invalid"),
    "unknown channel": {**_example("sms"), "channel": "pager"},
    "empty message": {**_example("sms"), "message": ""},
    "message not a string": {**_example("sms"), "message": 42},
    "phone number without +": {**_example("sms"), "phoneNumber": "15555550100"},
    "phone number too short": {**_example("sms"), "phoneNumber": "+12345"},
    "email without email": {"channel": "email", "message": "m"},
    "both with neither channel valid": {"channel": "both", "message": "m", "phoneNumber": "5", "email": {"to": []}},
    "email.to missing": {"channel": "email", "message": "m", "email": {"subject": "s"}},
    "email.to empty list": {"channel": "email", "message": "m", "email": {"to": []}},
    "email.to a number": {"channel": "email", "message": "m", "email": {"to": 7}},
    "notificationId with a space": {**_example("sms"), "notificationId": "two words"},
    "notificationId with a colon": {**_example("sms"), "notificationId": "a:b"},
    "notificationId too long": {**_example("sms"), "notificationId": "x" * 81},
    "notificationId empty": {**_example("sms"), "notificationId": ""},
    "not an object": ["channel", "sms"],
    "older dialect without a phone": {"delivery_mode": "text", "message_content": "m"},
    "older dialect, unknown mode": {"delivery_mode": "pager", "message_content": "m", "user_phone": "+15555550100"},
    "older dialect without a message": {"delivery_mode": "text", "user_phone": "+15555550100"},
    # canonical fields win: a canonical sms channel needs the canonical phone number
    "canonical channel with only the older phone": {"channel": "sms", "message": "m", "user_phone": "+15555550100"},
    # bounds: SES takes 50 recipients per message; text sizes no notification reaches
    "51 in email.to": {**_example("email"), "email": {"to": _addresses(51)}},
    "51 in email.cc": {**_example("email"), "email": {"to": "a@example.org", "cc": _addresses(51)}},
    "51 in email.bcc": {**_example("email"), "email": {"to": "a@example.org", "bcc": _addresses(51)}},
    "older dialect, mail with 51 in email.to": {"delivery_mode": "mail", "message_content": "m",
                                                 "email": {"to": _addresses(51)}},
    "message over 100,000 characters": {**_example("sms"), "message": "x" * 100_001},
    "older message over 100,000 characters": {"delivery_mode": "text", "message_content": "x" * 100_001,
                                               "user_phone": "+15555550100"},
    "htmlBody over 100,000 characters": {**_example("email"), "email": {"to": "a@example.org",
                                                                      "htmlBody": "x" * 100_001}},
    "subject over 998 characters": {**_example("email"), "email": {"to": "a@example.org", "subject": "s" * 999}},
    # only the fields the workflow reads
    "an unknown top-level field": {**_example("sms"), "priority": "high"},
    "a misspelt optional field": {**_example("sms"), "meta_data": {"category": "security"}},
    "an unknown email field": {**_example("email"), "email": {"to": "a@example.org", "attachments": ["x"]}},
}

# Requests the workflow can carry on at least one requested channel.
GOOD_REQUESTS = {
    "both with an invalid phone number": {**_example("both"), "phoneNumber": "15555550100"},
    "both without phoneNumber": {k: v for k, v in _example("both").items() if k != "phoneNumber"},
    "both with an empty email.to": {**_example("both"), "email": {"to": []}},
    "older dialect, text": {"delivery_mode": "text", "message_content": "m", "user_phone": "+15555550100"},
    "older dialect, mail": {"delivery_mode": "mail", "message_content": "m", "user_email": "a@example.org"},
    "older dialect, dual with a phone only": {"delivery_mode": "dual", "message_content": "m",
                                               "user_phone": "+15555550100"},
    "older fields under a canonical channel": {"channel": "sms", "message_content": "m",
                                               "phoneNumber": "+15555550100"},
    "50 recipients in each of email.to, cc and bcc": {
        **_example("email"), "email": {"to": _addresses(50), "cc": _addresses(50), "bcc": _addresses(50)}},
    "both with 51 in email.to goes out by SMS": {**_example("both"), "email": {"to": _addresses(51)}},
    "both with 51 in email.cc goes out by SMS": {**_example("both"),
                                                 "email": {"to": "a@example.org", "cc": _addresses(51)}},
    "text at its bounds": {**_example("email"), "message": "x" * 100_000, "email": {
        "to": "a@example.org", "subject": "s" * 998, "htmlBody": "h" * 100_000}},
    "every email field": {"channel": "email", "message": "m", "email": {
        "to": ["a@example.org"], "subject": "s", "from": "alerts@example.com", "cc": ["c@example.org"],
        "bcc": ["b@example.org"], "replyTo": "r@example.org", "htmlBody": "<p>m</p>", "configurationSet": "cs",
        "messageType": "Transactional"}},
    "metadata is any object": {**_example("sms"), "metadata": {"nested": {"a": [1, 2]}, "n": 1}},
    "every older field": {"delivery_mode": "dual", "message_content": "m", "user_phone": "+15555550100",
                          "user_email": "a@example.org"},
}


@pytest.mark.parametrize("body", list(GOOD_REQUESTS.values()), ids=list(GOOD_REQUESTS))
def test_the_model_passes_what_one_channel_can_carry(schema: dict[str, Any], body: Any) -> None:
    jsonschema.Draft4Validator(schema).validate(body)


@pytest.mark.parametrize("body", list(BAD_REQUESTS.values()), ids=list(BAD_REQUESTS))
def test_the_model_refuses_bad_requests(schema: dict[str, Any], body: Any) -> None:
    assert not jsonschema.Draft4Validator(schema).is_valid(body)


def test_the_longest_execution_safe_id_passes(schema: dict[str, Any]) -> None:
    jsonschema.Draft4Validator(schema).validate({**_example("sms"), "notificationId": "A-z_0" * 16})


# ---- the rest of the template -----------------------------------------------------------------


def test_both_methods_require_iam_and_validation(assertions: Template, template: dict[str, Any]) -> None:
    [validator] = resources_of_type(template, "AWS::ApiGateway::RequestValidator")
    for http_method in ("POST", "GET"):
        method = _method(template, http_method)
        assert method["AuthorizationType"] == "AWS_IAM"
        assert method["RequestValidatorId"] == {"Ref": validator}
    assertions.has_resource_properties("AWS::ApiGateway::RequestValidator", {
        "ValidateRequestBody": True, "ValidateRequestParameters": True})
    [model] = resources_of_type(template, "AWS::ApiGateway::Model")
    assert _method(template, "POST")["RequestModels"] == {"application/json": {"Ref": model}}
    assert _method(template, "GET")["RequestParameters"] == {"method.request.path.id": True}


def test_post_starts_the_workflow_and_get_reads_the_table(template: dict[str, Any]) -> None:
    for http_method, action in (("POST", ":states:action/StartExecution"), ("GET", ":dynamodb:action/GetItem")):
        integration = _method(template, http_method)["Integration"]
        assert integration["Type"] == "AWS" and integration["IntegrationHttpMethod"] == "POST"
        assert action in _resolve(integration["Uri"], {})
        assert integration["PassthroughBehavior"] == "NEVER"


def _role_statements(template: dict[str, Any], role_logical_id: str) -> list[dict[str, Any]]:
    return [s for p in resources_of_type(template, "AWS::IAM::Policy").values()
            if {"Ref": role_logical_id} in p["Properties"]["Roles"]
            for s in p["Properties"]["PolicyDocument"]["Statement"]]


def test_each_integration_role_may_do_one_thing_with_its_key(template: dict[str, Any]) -> None:
    [machine] = resources_of_type(template, "AWS::StepFunctions::StateMachine")
    [table] = resources_of_type(template, "AWS::DynamoDB::Table")
    key = {"Fn::GetAtt": [next(k for k in resources_of_type(template, "AWS::KMS::Key")), "Arn"]}
    expected = {
        # The execution input is encrypted with the state machine's key.
        "POST": [("states:StartExecution", {"Ref": machine}), ("kms:GenerateDataKey", key)],
        # The item is decrypted with the table's key.
        "GET": [("dynamodb:GetItem", {"Fn::GetAtt": [table, "Arn"]}), ("kms:Decrypt", key)],
    }
    for http_method, grants in expected.items():
        role = _method(template, http_method)["Integration"]["Credentials"]["Fn::GetAtt"][0]
        trust = resources_of_type(template, "AWS::IAM::Role")[role]["Properties"]["AssumeRolePolicyDocument"]
        assert trust["Statement"][0]["Principal"] == {"Service": "apigateway.amazonaws.com"}
        assert _role_statements(template, role) == [
            {"Action": action, "Effect": "Allow", "Resource": resource} for action, resource in grants]


def test_without_keys_the_roles_get_no_kms_permission(synthesized: dict[str, Any]) -> None:
    template = synthesized["open"]
    for http_method in ("POST", "GET"):
        role = _method(template, http_method)["Integration"]["Credentials"]["Fn::GetAtt"][0]
        assert [s["Action"] for s in _role_statements(template, role)] in (
            ["states:StartExecution"], ["dynamodb:GetItem"])


def _access_log_group(template: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The group the stage's access logs go to (the other one takes its execution logs)."""
    [stage] = resources_of_type(template, "AWS::ApiGateway::Stage").values()
    destination = json.dumps(stage["Properties"]["AccessLogSetting"]["DestinationArn"])
    [(group_id, group)] = [(k, g) for k, g in resources_of_type(template, "AWS::Logs::LogGroup").items()
                           if f'"{k}"' in destination]
    return group_id, group


def _logs_may_use_key_for(template: dict[str, Any], key: dict[str, Any], refs: dict[str, str]) -> list[str]:
    """The log-group ARNs the key policy lets CloudWatch Logs use the key for, resolved."""
    return [_resolve(arn, refs) for s in key["Properties"]["KeyPolicy"]["Statement"]
            if "logs." in json.dumps(s.get("Principal"))
            for arn in s["Condition"]["ArnEquals"]["kms:EncryptionContext:aws:logs:arn"]]


def test_the_access_logs_are_encrypted_with_the_given_key(template: dict[str, Any]) -> None:
    [(key_id, key)] = resources_of_type(template, "AWS::KMS::Key").items()
    _, group = _access_log_group(template)
    assert group["Properties"]["KmsKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    # A fixed name, so the key policy can name the group without a dependency cycle.
    assert group["Properties"]["LogGroupName"].startswith("/notify-cdk/")
    assert any(arn.endswith(":log-group:" + group["Properties"]["LogGroupName"])
               for arn in _logs_may_use_key_for(template, key, {}))


def test_the_stage_throttles_logs_and_traces(template: dict[str, Any]) -> None:
    [stage] = resources_of_type(template, "AWS::ApiGateway::Stage").values()
    props = stage["Properties"]
    assert props["StageName"] == "v1"
    assert props["TracingEnabled"] is True
    assert props["MethodSettings"] == [{
        "DataTraceEnabled": False, "HttpMethod": "*", "LoggingLevel": "INFO", "ResourcePath": "/*",
        "ThrottlingBurstLimit": 100, "ThrottlingRateLimit": 50}]
    group, log_group = _access_log_group(template)
    # The group's ARN without the ":*" suffix (feature flag logGroupDestinationArnWithoutWildcard).
    assert _resolve(props["AccessLogSetting"]["DestinationArn"], {group: "AccessLogs"}).endswith(
        ":log-group:AccessLogs")
    access_format = json.loads(props["AccessLogSetting"]["Format"])
    assert access_format["requestId"] == "$context.requestId"
    assert {"status", "integrationStatus", "caller", "errorType"} <= set(access_format)
    assert log_group["Properties"]["RetentionInDays"] == 30
    assert log_group["DeletionPolicy"] == "Retain"


def test_the_api_is_regional_and_sets_the_account_logging_role(template: dict[str, Any]) -> None:
    [api] = resources_of_type(template, "AWS::ApiGateway::RestApi").values()
    assert api["Properties"]["EndpointConfiguration"] == {"Types": ["REGIONAL"]}
    [account] = resources_of_type(template, "AWS::ApiGateway::Account").values()
    assert account["DeletionPolicy"] == "Retain"


def test_grant_invoke_allows_both_methods_on_the_stage(template: dict[str, Any]) -> None:
    [caller] = [k for k in resources_of_type(template, "AWS::IAM::Role") if k.startswith("Caller")]
    [statement] = _role_statements(template, caller)
    assert statement["Action"] == "execute-api:Invoke"
    [stage] = resources_of_type(template, "AWS::ApiGateway::Stage")
    arns = sorted(_resolve(r, {stage: "v1"}) for r in statement["Resource"])
    assert [a.split("/", 1)[1] for a in arns] == ["v1/GET/notifications/*", "v1/POST/notifications"]


def test_the_url_is_the_stage_url(synthesized: dict[str, Any], template: dict[str, Any]) -> None:
    [api] = resources_of_type(template, "AWS::ApiGateway::RestApi")
    [stage] = resources_of_type(template, "AWS::ApiGateway::Stage")
    url = _resolve(synthesized["url"], {api: "a1b2c3d4e5", stage: "v1", "AWS::URLSuffix": "amazonaws.com"})
    assert url == "https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com/v1/"


# ---- hardening (issue 12) ---------------------------------------------------------------------

API_ID = "a1b2c3d4e5"


def _api_refs(template: dict[str, Any]) -> dict[str, str]:
    [api] = resources_of_type(template, "AWS::ApiGateway::RestApi")
    return {api: API_ID}


@pytest.mark.parametrize("name", ["template", "open", "scheduling"])
def test_only_this_api_may_assume_the_integration_roles(synthesized: dict[str, Any], name: str) -> None:
    """API Gateway acting for another API or account cannot use these roles (confused deputy)."""
    template = synthesized[name]
    methods = [("POST", None), ("GET", None)] + ([("DELETE", "/notifications/{id}")] if name == "scheduling" else [])
    for http_method, path in methods:
        role = _method(template, http_method, path)["Integration"]["Credentials"]["Fn::GetAtt"][0]
        trust = resources_of_type(template, "AWS::IAM::Role")[role]["Properties"]["AssumeRolePolicyDocument"]
        [statement] = trust["Statement"]
        assert statement["Principal"] == {"Service": "apigateway.amazonaws.com"}
        assert set(statement["Condition"]) == {"ArnLike", "StringEquals"}
        assert _resolve(statement["Condition"]["ArnLike"]["aws:SourceArn"], _api_refs(template)) == \
            f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{API_ID}/*"
        assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}


@pytest.mark.parametrize(("name", "stage_name", "retention_days", "encrypted"), [
    ("template", "v1", 30, True), ("open", "prod", 30, False), ("keyed", "v1", 7, True)])
def test_the_execution_log_group_is_created_with_retention_and_the_key(
    synthesized: dict[str, Any], name: str, stage_name: str, retention_days: int, encrypted: bool
) -> None:
    """Not left to API Gateway, which would create it unencrypted and never expiring."""
    template = synthesized[name]
    access_id, access = _access_log_group(template)
    [(group_id, group)] = [(k, g) for k, g in resources_of_type(template, "AWS::Logs::LogGroup").items()
                           if k != access_id]
    props = group["Properties"]
    # The name API Gateway writes a stage's execution logs to.
    expected_name = f"API-Gateway-Execution-Logs_{API_ID}/{stage_name}"
    assert _resolve(props["LogGroupName"], _api_refs(template)) == expected_name
    assert props["RetentionInDays"] == access["Properties"]["RetentionInDays"] == retention_days
    assert group["DeletionPolicy"] == "Retain"
    [stage] = resources_of_type(template, "AWS::ApiGateway::Stage").values()
    assert group_id in stage["DependsOn"]
    if encrypted:
        [(key_id, key)] = resources_of_type(template, "AWS::KMS::Key").items()
        assert props["KmsKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
        assert f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{expected_name}" in _logs_may_use_key_for(
            template, key, _api_refs(template))
    else:
        assert "KmsKeyId" not in props


def test_per_caller_throttling_is_a_usage_plan_throttling_each_api_key(synthesized: dict[str, Any]) -> None:
    template = synthesized["keyed"]
    [(plan_id, plan)] = resources_of_type(template, "AWS::ApiGateway::UsagePlan").items()
    assert plan["Properties"]["Throttle"] == {"RateLimit": 5, "BurstLimit": 10}
    [api] = resources_of_type(template, "AWS::ApiGateway::RestApi")
    [stage] = resources_of_type(template, "AWS::ApiGateway::Stage")
    assert plan["Properties"]["ApiStages"] == [{"ApiId": {"Ref": api}, "Stage": {"Ref": stage}, "Throttle": {}}]
    for http_method in ("POST", "GET"):
        method = _method(template, http_method)
        assert method["ApiKeyRequired"] is True
        assert method["AuthorizationType"] == "AWS_IAM"  # the key throttles; SigV4 still authenticates
    [key_id] = resources_of_type(template, "AWS::ApiGateway::ApiKey")
    [plan_key] = resources_of_type(template, "AWS::ApiGateway::UsagePlanKey").values()
    assert plan_key["Properties"] == {"KeyId": {"Ref": key_id}, "KeyType": "API_KEY", "UsagePlanId": {"Ref": plan_id}}


@pytest.mark.parametrize("name", ["template", "open"])
def test_without_api_keys_there_is_no_usage_plan(synthesized: dict[str, Any], name: str) -> None:
    template = synthesized[name]
    assert not resources_of_type(template, "AWS::ApiGateway::UsagePlan")
    assert not resources_of_type(template, "AWS::ApiGateway::ApiKey")
    for http_method in ("POST", "GET"):
        assert not _method(template, http_method).get("ApiKeyRequired")


WAF_FINDINGS = {"AwsSolutions-APIG3", "NIST.800.53.R5-APIGWAssociatedWithWAF"}


def test_an_open_api_without_a_web_acl_leaves_the_waf_findings_to_the_stack(tmp_path: Path) -> None:
    """The construct acknowledges "no WAF" only where IAM refuses unsigned requests."""
    app = _reporting_app(tmp_path)
    stack, api = _api_with_key(app, "OpenWithoutWaf", authorization=apigw.AuthorizationType.NONE)
    _checked(app, stack)
    app.synth()

    reported = {rule for rules in findings(tmp_path).values() for rule in rules}
    assert WAF_FINDINGS <= reported
    assert reported == set(api.unacknowledged_findings) == WAF_FINDINGS | {"AwsSolutions-APIG4", "AwsSolutions-COG4"}


# ---- cdk-nag ----------------------------------------------------------------------------------


def test_cdk_nag_finds_nothing_after_the_constructs_acknowledgements(synthesized: dict[str, Any]) -> None:
    """All three packs ran over both APIs (each reports the canary) and found nothing else."""
    assert synthesized["findings"] == only_the_canary()
    assert synthesized["api_findings"] == []
    assert synthesized["keyed_findings"] == []
    assert synthesized["scheduling_findings"] == []


def test_an_open_api_leaves_its_findings_to_the_stack(synthesized: dict[str, Any]) -> None:
    """Without a key and with NONE authorization, the stack has these to acknowledge, no more
    (the open stack acknowledges exactly these and the report names nothing but the canary)."""
    assert synthesized["open_findings"] == [
        "NIST.800.53.R5-CloudWatchLogGroupEncrypted", "HIPAA.Security-CloudWatchLogGroupEncrypted",
        "AwsSolutions-APIG4", "AwsSolutions-COG4"]
    template = synthesized["open"]
    assert {m["Properties"]["AuthorizationType"]
            for m in resources_of_type(template, "AWS::ApiGateway::Method").values()} == {"NONE"}
    assert not resources_of_type(template, "AWS::ApiGateway::Account")
    [association] = resources_of_type(template, "AWS::WAFv2::WebACLAssociation").values()
    assert "prod" in json.dumps(association["Properties"]["ResourceArn"]) or \
        "Stage" in json.dumps(association["Properties"]["ResourceArn"])


def test_the_gate_fails_when_a_stack_ignores_an_open_apis_findings(tmp_path: Path) -> None:
    app = cdk.App(context=cdk_json_context(), outdir=str(tmp_path), analytics_reporting=False)
    stack, machine, table = _stack(app, "Unacknowledged")
    NotificationApi(stack, "Api", state_machine=machine, table=table, authorization=apigw.AuthorizationType.NONE)
    cdk.Validations.of(stack).add_plugins(AwsSolutionsChecks(stack))
    with pytest.raises(RuntimeError, match=r"ValidationFailed(.|\n)*AwsSolutions-APIG4"):
        app.synth()


# ---- props ------------------------------------------------------------------------------------


@pytest.fixture
def scope() -> Callable[[], tuple[cdk.Stack, sfn.StateMachine, dynamodb.Table]]:
    return lambda: _stack(cdk.App(), "Props")


@pytest.mark.parametrize(("props", "prop"), [
    ({"authorization": apigw.AuthorizationType.COGNITO}, "authorization"),
    ({"authorization": apigw.AuthorizationType.CUSTOM}, "authorization"),
    ({"throttling_rate_limit": 0}, "throttling_rate_limit"),
    ({"throttling_burst_limit": 0}, "throttling_burst_limit"),
    ({"throttling_burst_limit": 2.5}, "throttling_burst_limit"),
    ({"stage_name": "my stage"}, "stage_name"),
    ({"stage_name": ""}, "stage_name"),
    ({"per_key_throttling": apigw.ThrottleSettings(rate_limit=5, burst_limit=10)}, "per_key_throttling"),
    ({"api_key_required": True}, "per_key_throttling"),
    ({"api_key_required": True, "per_key_throttling": apigw.ThrottleSettings(rate_limit=5)}, "per_key_throttling"),
    ({"api_key_required": True, "per_key_throttling": apigw.ThrottleSettings(rate_limit=0, burst_limit=10)},
     "per_key_throttling.rate_limit"),
    # above the stage's own limits (50 and 100 by default), which apply first
    ({"api_key_required": True, "per_key_throttling": apigw.ThrottleSettings(rate_limit=51, burst_limit=10)},
     "per_key_throttling.rate_limit"),
    ({"api_key_required": True, "per_key_throttling": apigw.ThrottleSettings(rate_limit=5, burst_limit=101)},
     "per_key_throttling.burst_limit"),
    ({"api_key_required": True, "per_key_throttling": apigw.ThrottleSettings(rate_limit=5, burst_limit=2.5)},
     "per_key_throttling.burst_limit"),
])
def test_fails_when_a_prop_is_unusable(
    scope: Callable[[], tuple[cdk.Stack, sfn.StateMachine, dynamodb.Table]], props: dict[str, Any], prop: str
) -> None:
    stack, machine, table = scope()
    with pytest.raises(PropError) as raised:
        NotificationApi(stack, "Api", state_machine=machine, table=table, **props)
    assert raised.value.prop == prop
    assert "NotificationApi: invalid" in str(raised.value)


def test_caller_keys_need_api_keys_on(
    scope: Callable[[], tuple[cdk.Stack, sfn.StateMachine, dynamodb.Table]]
) -> None:
    stack, machine, table = scope()
    api = NotificationApi(stack, "Api", state_machine=machine, table=table)
    with pytest.raises(PropError) as raised:
        api.add_caller_key("CallerKey")
    assert raised.value.prop == "api_key_required"


# ---- whose record: the caller's identity (issue 12, the IDOR finding) ---------------------------

SENDER = "arn:aws:sts::123456789012:assumed-role/Sender/i-0abc"
OTHER = "arn:aws:iam::123456789012:user/other"


def _as(caller: str, template: str) -> str:
    """The template as API Gateway runs it for a SigV4 request from ``caller``."""
    return f'#set($context.identity.userArn = "{caller}")' + template


def test_post_puts_the_callers_identity_in_the_input_without_the_session(start_templates: dict[str, str]) -> None:
    body = {k: v for k, v in _example("sms").items() if k != "notificationId"}
    request = render(_as(SENDER, start_templates["request"]), json.dumps(body)).json()
    assert json.loads(request["input"]) == {
        "caller": "arn:aws:sts::123456789012:assumed-role/Sender", "notificationId": REQUEST_ID, **body}
    with_id = render(_as(OTHER, start_templates["request"]), json.dumps(_example("sms"))).json()
    assert json.loads(with_id["input"]) == {"caller": OTHER, **_example("sms")}
    assert with_id["name"] == _example("sms")["notificationId"]


def test_a_body_cannot_name_its_own_caller(schema: dict[str, Any]) -> None:
    assert not jsonschema.Draft4Validator(schema).is_valid({**_example("sms"), "caller": OTHER})


def test_get_answers_404_for_a_record_another_caller_sent(template: dict[str, Any]) -> None:
    own = _integration_templates(template, "GET")["default"]
    item = {**DELIVERED_ITEM, "caller": _s("arn:aws:sts::123456789012:assumed-role/Sender")}
    mine = render(_as(SENDER, own), json.dumps({"Item": item}))
    assert mine.status_override is None and mine.json()["caller"] == item["caller"]["S"]
    for caller, record in ((OTHER, item), (SENDER, DELIVERED_ITEM)):  # another's; one with no caller
        refused = render(_as(caller, own), json.dumps({"Item": record}))
        assert (refused.status_override, refused.json()) == (404, {"message": "notification not found"})
    every = _integration_templates(template, "GET", "/all-notifications/{id}")["default"]
    assert render(_as(OTHER, every), json.dumps({"Item": item})).json()["notificationId"] == "demo-both-001"


def test_send_read_own_and_read_all_are_separate_grants(template: dict[str, Any]) -> None:
    [stage] = resources_of_type(template, "AWS::ApiGateway::Stage")

    def granted(role_id: str) -> list[str]:
        [role] = [k for k in resources_of_type(template, "AWS::IAM::Role") if k.startswith(role_id)]
        [statement] = _role_statements(template, role)
        assert statement["Action"] == "execute-api:Invoke"
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        return sorted(_resolve(r, {stage: "v1"}).split("/", 1)[1] for r in resources)

    assert granted("Sender") == ["v1/POST/notifications"]
    assert granted("Reader") == ["v1/GET/notifications/*"]
    assert granted("Auditor") == ["v1/GET/all-notifications/*"]


# ---- scheduled sends: the model and DELETE /notifications/{id} (issue 13) -------------------------

ITEM_PATH = "/notifications/{id}"
CANCEL_RESPONSES = {"200", "400", "404", "429", "502"}


@pytest.fixture(scope="module")
def scheduling(synthesized: dict[str, Any]) -> dict[str, Any]:
    return synthesized["scheduling"]  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def cancel_templates(scheduling: dict[str, Any]) -> dict[str, str]:
    return _integration_templates(scheduling, "DELETE", ITEM_PATH)


def _methods(template: dict[str, Any]) -> set[tuple[str, str]]:
    return {(m["Properties"]["HttpMethod"], _path(template, m["Properties"]["ResourceId"]))
            for m in resources_of_type(template, "AWS::ApiGateway::Method").values()}


def test_delete_exists_only_with_scheduled_sends(synthesized: dict[str, Any]) -> None:
    read_and_send = {("POST", "/notifications"), ("GET", ITEM_PATH), ("GET", "/all-notifications/{id}")}
    for name in ("template", "open", "keyed"):
        assert _methods(synthesized[name]) == read_and_send
    assert _methods(synthesized["scheduling"]) == read_and_send | {("DELETE", ITEM_PATH)}


def test_delete_updates_the_record_through_its_own_role(scheduling: dict[str, Any]) -> None:
    [validator] = resources_of_type(scheduling, "AWS::ApiGateway::RequestValidator")
    method = _method(scheduling, "DELETE", ITEM_PATH)
    assert method["AuthorizationType"] == "AWS_IAM"
    assert method["RequestValidatorId"] == {"Ref": validator}
    assert method["RequestParameters"] == {"method.request.path.id": True}
    assert "RequestModels" not in method
    assert {r["StatusCode"] for r in method["MethodResponses"]} == CANCEL_RESPONSES
    integration = method["Integration"]
    assert integration["Type"] == "AWS" and integration["IntegrationHttpMethod"] == "POST"
    assert ":dynamodb:action/UpdateItem" in _resolve(integration["Uri"], {})
    assert integration["PassthroughBehavior"] == "NEVER"
    assert [(r["StatusCode"], r.get("SelectionPattern")) for r in integration["IntegrationResponses"]] == [
        ("200", None), ("400", r"4\d{2}"), ("502", r"5\d{2}")]
    roles = {_method(scheduling, m, p)["Integration"]["Credentials"]["Fn::GetAtt"][0]
             for m, p in (("POST", None), ("GET", None), ("DELETE", ITEM_PATH))}
    assert len(roles) == 3  # one role per integration


def test_the_cancel_role_may_only_set_the_status_of_a_record(scheduling: dict[str, Any]) -> None:
    [table] = resources_of_type(scheduling, "AWS::DynamoDB::Table")
    [key] = resources_of_type(scheduling, "AWS::KMS::Key")
    role = _method(scheduling, "DELETE", ITEM_PATH)["Integration"]["Credentials"]["Fn::GetAtt"][0]
    assert _role_statements(scheduling, role) == [
        {"Action": "dynamodb:UpdateItem", "Effect": "Allow", "Resource": {"Fn::GetAtt": [table, "Arn"]},
         "Condition": {
             "ForAllValues:StringEquals": {"dynamodb:Attributes": ["notificationId", "status", "cancelledAt",
                                                                   "caller"]},
             "StringEqualsIfExists": {"dynamodb:ReturnValues": "NONE"}}},
        {"Action": "kms:Decrypt", "Effect": "Allow", "Resource": {"Fn::GetAtt": [key, "Arn"]}},
    ]


def _cancel(templates: dict[str, str], notification_id: str, caller: str | None = SENDER,
            request_time: str = "25/Nov/2026:20:39:59 +0000") -> dict[str, Any]:
    template = templates["request"] if caller is None else _as(caller, templates["request"])
    request: dict[str, Any] = render(template, path={"id": notification_id},
                                     context={"requestTime": request_time}).json()
    return request


def test_cancel_sets_cancelled_only_on_the_callers_scheduled_record(cancel_templates: dict[str, str]) -> None:
    request = _cancel(cancel_templates, "demo-sms-001")
    assert request == {
        "TableName": TABLE_NAME,
        "Key": {"notificationId": {"S": "demo-sms-001"}},
        "UpdateExpression": "SET #status = :cancelled, cancelledAt = :at",
        "ConditionExpression": "#status = :scheduled AND caller = :caller",
        "ExpressionAttributeNames": {"#status": "status"},
        "ExpressionAttributeValues": {
            ":cancelled": {"S": "CANCELLED"}, ":scheduled": {"S": "SCHEDULED"},
            ":at": {"S": "2026-11-25T20:39:59Z"},
            # as POST stores it: an assumed role without its session name
            ":caller": {"S": "arn:aws:sts::123456789012:assumed-role/Sender"}},
        "ReturnValues": "NONE",
    }
    assert _cancel(cancel_templates, "n", OTHER)["ExpressionAttributeValues"][":caller"] == {"S": OTHER}


@pytest.mark.parametrize(("request_time", "iso"), [
    ("01/Jan/2027:00:00:00 +0000", "2027-01-01T00:00:00Z"),
    ("29/Feb/2028:23:59:59 +0000", "2028-02-29T23:59:59Z"),
    ("05/Sep/2026:08:07:06 -0530", "2026-09-05T08:07:06-05:30"),
])
def test_cancelled_at_is_the_request_time_in_iso_8601(cancel_templates: dict[str, str], request_time: str,
                                                      iso: str) -> None:
    request = _cancel(cancel_templates, "n", request_time=request_time)
    assert request["ExpressionAttributeValues"][":at"] == {"S": iso}


def test_without_iam_the_one_anonymous_caller_cancels_records_without_a_caller(
    cancel_templates: dict[str, str]
) -> None:
    request = _cancel(cancel_templates, "n", caller=None)
    assert request["ConditionExpression"] == "#status = :scheduled AND attribute_not_exists(caller)"
    assert ":caller" not in request["ExpressionAttributeValues"]


@pytest.mark.parametrize("bad_id", ["two words", "a:b", "x" * 81, "it's", "a/b"])
def test_an_id_the_api_never_gives_is_never_used_as_a_key(cancel_templates: dict[str, str], bad_id: str) -> None:
    """DynamoDB refuses an empty key without writing; the client error template answers 400."""
    assert _cancel(cancel_templates, bad_id)["Key"] == {"notificationId": {"S": ""}}
    # as either engine refuses it: AWS for the empty key, the local one by the condition
    for refused in ("ValidationException", "ConditionalCheckFailedException"):
        error = {"__type": f"com.amazonaws.dynamodb.v20120810#{refused}", "message": "x"}
        rendered = render(cancel_templates[r"4\d{2}"], json.dumps(error), path={"id": bad_id})
        assert (rendered.status_override, rendered.json()) == (
            None, {"message": "the id must be 1 to 80 characters of A-Z a-z 0-9 _ -"})


def test_a_cancelled_record_answers_200_with_its_id(cancel_templates: dict[str, str]) -> None:
    rendered = render(cancel_templates["default"], "{}", path={"id": "demo-sms-001"})
    assert (rendered.status_override, rendered.json()) == (
        None, {"notificationId": "demo-sms-001", "status": "CANCELLED"})


def test_a_failed_condition_answers_one_404(cancel_templates: dict[str, str]) -> None:
    """Not found, another caller's and no longer SCHEDULED all fail the condition alike."""
    error = {"__type": "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException",
             "message": "The conditional request failed"}
    rendered = render(cancel_templates[r"4\d{2}"], json.dumps(error), path={"id": "demo-sms-001"})
    assert (rendered.status_override, rendered.json()) == (404, {"message": "No scheduled notification with this id"})


def test_cancel_throttling_answers_429_and_server_errors_502(cancel_templates: dict[str, str]) -> None:
    error = {"__type": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException", "message": "x"}
    assert render(cancel_templates[r"4\d{2}"], json.dumps(error), path={"id": "n"}).status_override == 429
    other = {"__type": "com.amazonaws.dynamodb.v20120810#ValidationException", "message": "x"}
    assert render(cancel_templates[r"4\d{2}"], json.dumps(other), path={"id": "n"}).json() == {
        "message": "the notification could not be cancelled", "error": "ValidationException"}
    assert render(cancel_templates[r"5\d{2}"], "{}").json() == {"message": "the delivery log failed; retry later"}


def test_get_shows_the_send_time_with_scheduling(scheduling: dict[str, Any], template: dict[str, Any]) -> None:
    item = {"notificationId": _s("n-3"), "status": _s("CANCELLED"), "channel": _s("sms"),
            "sendAt": _s("2026-12-01T08:00:00.000Z"), "cancelledAt": _s("2026-11-30T10:00:00Z")}
    shown = render(_integration_templates(scheduling, "GET", "/all-notifications/{id}")["default"],
                   json.dumps({"Item": item})).json()
    assert (shown["sendAt"], shown["cancelledAt"]) == ("2026-12-01T08:00:00.000Z", "2026-11-30T10:00:00Z")
    unscheduled = render(_integration_templates(template, "GET", "/all-notifications/{id}")["default"],
                         json.dumps({"Item": item})).json()
    assert "sendAt" not in unscheduled and "cancelledAt" not in unscheduled


@pytest.fixture(scope="module")
def scheduling_schema(scheduling: dict[str, Any]) -> dict[str, Any]:
    [model] = resources_of_type(scheduling, "AWS::ApiGateway::Model").values()
    loaded: dict[str, Any] = model["Properties"]["Schema"]
    return loaded


SCHEDULED_REQUESTS = {
    "sendAt": {**_example("sms"), "sendAt": "2026-12-01T09:00:00+01:00"},
    "sendAt with milliseconds": {**_example("sms"), "sendAt": "2026-12-01T08:00:00.000Z"},
    "delaySeconds 0": {**_example("sms"), "delaySeconds": 0},
    "delaySeconds max_send_delay": {**_example("sms"), "delaySeconds": 86_400},
}
BAD_SCHEDULED_REQUESTS = {
    "delaySeconds past max_send_delay": {**_example("sms"), "delaySeconds": 86_401},
    "negative delaySeconds": {**_example("sms"), "delaySeconds": -1},
    "fractional delaySeconds": {**_example("sms"), "delaySeconds": 1.5},
    "delaySeconds a string": {**_example("sms"), "delaySeconds": "5"},
    "sendAt a number": {**_example("sms"), "sendAt": 1790000000},
    "sendAt over 40 characters": {**_example("sms"), "sendAt": "2026-12-01T09:00:00+01:00" + " " * 16},
    "both sendAt and delaySeconds": {**_example("sms"), "sendAt": "2026-12-01T08:00:00Z", "delaySeconds": 5},
}


@pytest.mark.parametrize("body", list(SCHEDULED_REQUESTS.values()), ids=list(SCHEDULED_REQUESTS))
def test_with_scheduling_the_model_takes_a_send_time(scheduling_schema: dict[str, Any], schema: dict[str, Any],
                                                     body: dict[str, Any]) -> None:
    jsonschema.Draft4Validator(scheduling_schema).validate(body)
    assert not jsonschema.Draft4Validator(schema).is_valid(body)  # without scheduling: refused


@pytest.mark.parametrize("body", list(BAD_SCHEDULED_REQUESTS.values()), ids=list(BAD_SCHEDULED_REQUESTS))
def test_with_scheduling_the_model_refuses_a_bad_send_time(scheduling_schema: dict[str, Any],
                                                           body: dict[str, Any]) -> None:
    assert not jsonschema.Draft4Validator(scheduling_schema).is_valid(body)


@pytest.mark.parametrize("name", ["sms", "email", "both"])
def test_with_scheduling_the_examples_still_pass(scheduling_schema: dict[str, Any], name: str) -> None:
    jsonschema.Draft4Validator(scheduling_schema).validate(_example(name))


def test_grant_cancel_allows_delete_only(scheduling: dict[str, Any]) -> None:
    [stage] = resources_of_type(scheduling, "AWS::ApiGateway::Stage")
    [role] = [k for k in resources_of_type(scheduling, "AWS::IAM::Role") if k.startswith("Canceller")]
    [statement] = _role_statements(scheduling, role)
    assert statement["Action"] == "execute-api:Invoke"
    assert _resolve(statement["Resource"], {stage: "v1"}).split("/", 1)[1] == "v1/DELETE/notifications/*"


def test_fails_when_cancelling_is_granted_without_scheduling(
    scope: Callable[[], tuple[cdk.Stack, sfn.StateMachine, dynamodb.Table]]
) -> None:
    stack, machine, table = scope()
    api = NotificationApi(stack, "Api", state_machine=machine, table=table)
    assert api.cancel_method is None
    with pytest.raises(PropError) as raised:
        api.grant_cancel(iam.Role(stack, "Canceller", assumed_by=iam.AccountRootPrincipal()))
    assert raised.value.prop == "max_send_delay"


def test_the_workflows_max_send_delay_turns_cancelling_on() -> None:
    stack = cdk.Stack(cdk.App(), "FromWorkflow")
    on = NotificationWorkflow(stack, "Scheduling", sender="n@example.com", email_identities=["example.com"],
                              max_send_delay=cdk.Duration.days(2))
    off = NotificationWorkflow(stack, "Immediate", sender="n@example.com", email_identities=["example.com"])
    assert NotificationApi(stack, "On", workflow=on, cloud_watch_role=False).cancel_method is not None
    assert NotificationApi(stack, "Off", workflow=off, cloud_watch_role=False).cancel_method is None
    with pytest.raises(PropError) as raised:
        NotificationApi(stack, "Both", workflow=off, max_send_delay=cdk.Duration.days(1))
    assert raised.value.prop == "max_send_delay"


# ---- POST to the buffered-ingress queue (issue 13) ----------------------------------------------

QUEUE_NAME = "NotifyQueued-BufferedIngressQueue-Ab12Cd34"
QUEUE_URL = f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{QUEUE_NAME}"
QUEUED_RESPONSES = {"202", "400", "429", "502"}


@pytest.fixture(scope="module")
def queued(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """NotificationService(buffered_ingress=True, api=True) under the three packs, with the canary."""
    outdir = tmp_path_factory.mktemp("queued")
    app = _reporting_app(outdir)
    stack = cdk.Stack(app, "Queued", synthesizer=cdk.DefaultStackSynthesizer(generate_bootstrap_version_rule=False))
    service = NotificationService(stack, "Default", sender="n@example.com", email_identities=["example.com"],
                                  buffered_ingress=True, api=True)
    add_all_packs(app)
    add_nag_canary(app)
    assembly = app.synth()
    assert service.buffered_ingress is not None and service.api is not None
    return {"template": assembly.get_stack_by_name("Queued").template, "outdir": outdir,
            "queue": stack.get_logical_id(service.buffered_ingress.queue.node.default_child),  # type: ignore[arg-type]
            "key": stack.get_logical_id(service.workflow.encryption_key.node.default_child)}  # type: ignore[arg-type]


def _queued_refs(queued: dict[str, Any]) -> dict[str, str]:
    return {queued["queue"]: QUEUE_URL, f"{queued['queue']}.QueueName": QUEUE_NAME}


@pytest.fixture(scope="module")
def queue_templates(queued: dict[str, Any]) -> dict[str, str]:
    integration = _method(queued["template"], "POST")["Integration"]
    templates = {"request": _resolve(integration["RequestTemplates"]["application/json"], _queued_refs(queued))}
    for response in integration["IntegrationResponses"]:
        templates[response.get("SelectionPattern", "default")] = response["ResponseTemplates"]["application/json"]
    return templates


def test_with_a_queue_post_sends_a_batch_of_one_to_it_in_the_json_protocol(queued: dict[str, Any]) -> None:
    method = _method(queued["template"], "POST")
    assert method["AuthorizationType"] == "AWS_IAM" and "RequestModels" in method
    assert {r["StatusCode"] for r in method["MethodResponses"]} == QUEUED_RESPONSES  # no 409 on this path
    integration = method["Integration"]
    assert (integration["Type"], integration["IntegrationHttpMethod"], integration["PassthroughBehavior"]) == (
        "AWS", "POST", "NEVER")
    assert _resolve(integration["Uri"], _queued_refs(queued)) == \
        f"arn:aws:apigateway:{REGION}:sqs:path/{ACCOUNT}/{QUEUE_NAME}"
    assert integration["RequestParameters"] == {
        "integration.request.header.Content-Type": "'application/x-amz-json-1.0'",
        "integration.request.header.X-Amz-Target": "'AmazonSQS.SendMessageBatch'"}
    assert [(r["StatusCode"], r.get("SelectionPattern")) for r in integration["IntegrationResponses"]] == [
        ("202", None), ("400", r"4\d{2}"), ("502", r"5\d{2}")]


def test_the_queue_role_may_only_send_to_the_queue_and_use_its_key_for_that(queued: dict[str, Any]) -> None:
    template = queued["template"]
    role = _method(template, "POST")["Integration"]["Credentials"]["Fn::GetAtt"][0]
    assert role.startswith("ApiSendToQueueRole")
    assert _role_statements(template, role) == [
        {"Action": "sqs:SendMessage", "Effect": "Allow", "Resource": {"Fn::GetAtt": [queued["queue"], "Arn"]}},
        {"Action": ["kms:Decrypt", "kms:GenerateDataKey"], "Effect": "Allow",
         "Resource": {"Fn::GetAtt": [queued["key"], "Arn"]}},
    ]
    [statement] = resources_of_type(template, "AWS::IAM::Role")[role]["Properties"]["AssumeRolePolicyDocument"][
        "Statement"]
    assert statement["Principal"] == {"Service": "apigateway.amazonaws.com"}
    assert set(statement["Condition"]) == {"ArnLike", "StringEquals"}


def test_with_a_queue_the_api_has_no_start_execution_role(queued: dict[str, Any]) -> None:
    template = queued["template"]
    api_roles = {k for k in resources_of_type(template, "AWS::IAM::Role") if k.startswith("Api")}
    assert not any(r.startswith("ApiStartExecutionRole") for r in api_roles)
    starters = {role["Ref"] for policy in resources_of_type(template, "AWS::IAM::Policy").values()
                for s in policy["Properties"]["PolicyDocument"]["Statement"]
                if "states:StartExecution" in json.dumps(s["Action"]) for role in policy["Properties"]["Roles"]}
    assert [r for r in starters if not r.startswith("BufferedIngressPipeRole")] == []  # only the pipe starts it


def _queued_request(templates: dict[str, str], body: dict[str, Any], caller: str | None = None) -> dict[str, Any]:
    template = templates["request"] if caller is None else _as(caller, templates["request"])
    request: dict[str, Any] = render(template, json.dumps(body)).json()
    assert request["QueueUrl"] == QUEUE_URL
    [entry] = request["Entries"]
    assert set(entry) == {"Id", "MessageBody"}
    return entry


def test_the_message_is_the_request_with_the_caller_and_its_id(queue_templates: dict[str, str]) -> None:
    entry = _queued_request(queue_templates, _example("sms"), caller=SENDER)
    assert entry["Id"] == "demo-sms-001"
    assert json.loads(entry["MessageBody"]) == {"caller": "arn:aws:sts::123456789012:assumed-role/Sender",
                                                **_example("sms")}


def test_without_an_id_the_request_id_names_the_message_and_keys_the_record(queue_templates: dict[str, str]) -> None:
    body = {k: v for k, v in _example("email").items() if k != "notificationId"}
    entry = _queued_request(queue_templates, body)
    assert entry["Id"] == REQUEST_ID
    assert json.loads(entry["MessageBody"]) == {"notificationId": REQUEST_ID, **body}


@settings(max_examples=100, deadline=None)
@given(message=st.text(), with_id=st.booleans())
def test_any_text_survives_the_queue(queue_templates: dict[str, str], message: str, with_id: bool) -> None:
    body: dict[str, Any] = {"channel": "sms", "message": message, "phoneNumber": "+15555550100",
                            **({"notificationId": "n_1"} if with_id else {})}
    assert json.loads(_queued_request(queue_templates, body)["MessageBody"]) == {
        "notificationId": "n_1" if with_id else REQUEST_ID, **body}


def test_a_queued_message_answers_202_with_the_id_sqs_answers_back(queue_templates: dict[str, str]) -> None:
    answer = {"Successful": [{"Id": "demo-sms-001", "MessageId": "5fea7756-0ea4-451a-a703-a558b933e274",
                              "MD5OfMessageBody": "65a8e27d8879283831b664bd8b7f0ad4"}], "Failed": []}
    rendered = render(queue_templates["default"], json.dumps(answer))
    assert rendered.status_override is None  # the integration response's own 202
    assert rendered.json() == {"notificationId": "demo-sms-001"}


@pytest.mark.parametrize(("failed", "status", "answer"), [
    ({"Code": "RequestThrottled", "SenderFault": False}, 429, {"message": "too many requests; retry later"}),
    ({"Code": "InvalidMessageContents", "SenderFault": True}, 400,
     {"message": "the notification was not accepted", "error": "InvalidMessageContents"}),
    ({"Code": "InternalError", "SenderFault": False}, 502, {"message": "the queue failed; retry later"}),
])
def test_a_failed_entry_answers_by_its_code_and_fault(queue_templates: dict[str, str], failed: dict[str, Any],
                                                      status: int, answer: dict[str, str]) -> None:
    """SendMessageBatch answers 200 with the entry under Failed."""
    body = {"Successful": [], "Failed": [{"Id": "demo-sms-001", "Message": "...", **failed}]}
    rendered = render(queue_templates["default"], json.dumps(body))
    assert (rendered.status_override, rendered.json()) == (status, answer)


@pytest.mark.parametrize(("error_type", "status", "answer"), [
    ("com.amazonaws.sqs#KmsThrottled", 429, {"message": "too many requests; retry later"}),
    ("com.amazonaws.sqs#BatchRequestTooLong", None,
     {"message": "the notification was not accepted", "error": "BatchRequestTooLong"}),
])
def test_a_refused_request_answers_429_or_400(queue_templates: dict[str, str], error_type: str, status: int | None,
                                              answer: dict[str, str]) -> None:
    rendered = render(queue_templates[r"4\d{2}"], json.dumps({"__type": error_type, "message": "..."}))
    assert (rendered.status_override, rendered.json()) == (status, answer)
    assert render(queue_templates[r"5\d{2}"], "{}").json() == {"message": "the queue failed; retry later"}


def test_cdk_nag_finds_nothing_in_a_service_whose_api_queues(queued: dict[str, Any]) -> None:
    assert beyond_the_canary(queued["outdir"]) == {}


def test_fails_when_the_queue_and_the_workflow_do_not_go_together() -> None:
    stack, machine, table = _stack(cdk.App(), "QueueProps")
    queued_workflow = NotificationWorkflow(stack, "Queued", sender="n@example.com", email_identities=["example.com"],
                                           queued_input=True)
    plain_workflow = NotificationWorkflow(stack, "Plain", sender="n@example.com", email_identities=["example.com"])
    queue = sqs.Queue(stack, "Queue")
    for props, prop in (({"workflow": plain_workflow, "queue": queue}, "queue"),  # no pipe starts it
                        ({"state_machine": machine, "table": table, "queue": queue}, "state_machine")):
        with pytest.raises(PropError) as raised:
            NotificationApi(stack, f"Api{prop}{len(props)}", **props)
        assert raised.value.prop == prop
    NotificationApi(stack, "ApiQueued", table=table, queue=queue)  # the table to read and the queue suffice
    # A workflow with queued_input reads a request started directly too, so POST may start it.
    NotificationApi(stack, "ApiDirect", workflow=queued_workflow)
