"""Recipient preferences and bulk summaries through the API (issues 13 and 14) on the embedded AWS:
a NotificationApi with ``preferences_table`` and ``bulk_summaries`` beside its workflow and a
BulkSend, served over HTTP and called with SigV4 by roles the stack grants with the construct's own
``grant_*`` methods, under the access check (the integration roles included)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from botocore.credentials import Credentials

from constructs_lib import BulkSend, NotificationApi, NotificationWorkflow
from constructs_lib.bulk import bulk_record_key
from local_aws import DeployedStack, LocalAws
from local_aws.apigateway import ApiServer, resolve_intrinsic
from local_aws.apigateway.client import ApiAnswer, call_api
from tests.behaviour.conftest import SENDER, new_id, role_policy_changed, without_action

STACK = "NotifyApiRecipients"
ZONES = ["UTC", "Europe/Paris", "America/New_York"]
CALLERS = ("PreferencesWriter", "PreferencesReader", "BulkReader", "Sender", "Stranger")
PREFERENCES = {
    "phoneNumber": "+15555550123", "email": "ana@example.org", "locale": "pt-BR",
    "optOut": {"*": ["sms"], "marketing": ["sms", "email"]},
    "quietHours": {"start": "22:00", "end": "07:30", "timeZone": "Europe/Paris"},
}


@dataclass
class Recipients:
    """The deployed stack: the names the tests read, and each caller's role ARN."""

    aws: LocalAws
    preferences_table: str
    delivery_log: str
    bulk_arn: str
    roles: dict[str, str]
    write_role: str

    def preferences(self, recipient_id: str) -> dict[str, Any] | None:
        return self.aws.table_item(self.preferences_table, {"recipientId": recipient_id})


@pytest.fixture(scope="module")
def recipients(local_aws: LocalAws, tmp_path_factory: pytest.TempPathFactory) -> Recipients:
    app = cdk.App(outdir=str(tmp_path_factory.mktemp("api-recipients")), analytics_reporting=False)
    stack = cdk.Stack(app, STACK)
    workflow = NotificationWorkflow(stack, "Workflow", sender=SENDER, email_identities=["example.com"])
    preferences = dynamodb.Table(
        stack, "Preferences", billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
        partition_key=dynamodb.Attribute(name="recipientId", type=dynamodb.AttributeType.STRING),
        encryption_key=workflow.encryption_key, removal_policy=cdk.RemovalPolicy.DESTROY)
    # One of three recipients may be rejected and the bulk still completes.
    bulk = BulkSend(stack, "Bulk", workflow=workflow, tolerated_failure_percentage=50)
    api = NotificationApi(stack, "Api", workflow=workflow, cloud_watch_role=False, bulk_summaries=True,
                          preferences_table=preferences, preference_time_zones=ZONES)
    roles = {name: iam.Role(stack, name, assumed_by=iam.AccountRootPrincipal()) for name in CALLERS}
    api.grant_read_preferences(roles["PreferencesWriter"])
    api.grant_write_preferences(roles["PreferencesWriter"])
    api.grant_read_preferences(roles["PreferencesReader"])
    api.grant_read_bulk(roles["BulkReader"])
    api.grant_send(roles["Sender"])

    def logical_id(construct: Any) -> str:
        return stack.get_logical_id(construct.node.default_child)

    template = app.synth().get_stack_by_name(STACK).template
    deployed = local_aws.deploy_template(STACK, template)
    iam_client = local_aws.client("iam")
    for role in roles.values():
        _grant_as_on_aws(local_aws, template, deployed, logical_id(role))

    def role_arn(construct: Any) -> str:
        arn: str = iam_client.get_role(RoleName=deployed.physical_id(logical_id(construct)))["Role"]["Arn"]
        return arn

    return Recipients(
        aws=local_aws, preferences_table=deployed.physical_id(logical_id(preferences)),
        delivery_log=deployed.physical_id(logical_id(workflow.table)),
        bulk_arn=deployed.physical_id(logical_id(bulk.state_machine)),
        roles={name: role_arn(role) for name, role in roles.items()},
        write_role=role_arn(api.node.find_child("WritePreferencesRole")),
    )


def _grant_as_on_aws(aws: LocalAws, template: dict[str, Any], deployed: DeployedStack, role_id: str) -> None:
    """The role's policy as the grants synthesized it, with the stage resolved as on AWS: moto's
    CloudFormation does not model AWS::ApiGateway::Stage, so the method ARNs it deployed name no
    stage. The actions and the rest of each ARN are the construct's."""
    resources = template["Resources"]
    [stage] = [k for k, r in resources.items() if r["Type"] == "AWS::ApiGateway::Stage"]
    statements = [s for r in resources.values() if r["Type"] == "AWS::IAM::Policy"
                  and {"Ref": role_id} in r["Properties"]["Roles"]
                  for s in r["Properties"]["PolicyDocument"]["Statement"]]
    if not statements:
        return
    stage_name = resources[stage]["Properties"]["StageName"]
    text = json.dumps(statements).replace(json.dumps({"Ref": stage}), json.dumps(stage_name))
    resolved = [{**s, "Resource": [resolve_intrinsic(r, aws, deployed) for r in
                                   (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]])]}
                for s in json.loads(text)]
    iam_client, role_name = aws.client("iam"), deployed.physical_id(role_id)
    [name] = iam_client.list_role_policies(RoleName=role_name)["PolicyNames"]
    iam_client.put_role_policy(RoleName=role_name, PolicyName=name, PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": resolved}))


@pytest.fixture(scope="module")
def api(recipients: Recipients) -> Iterator[ApiServer]:
    with recipients.aws.serve_api(STACK) as server:
        yield server


@pytest.fixture(scope="module")
def callers(recipients: Recipients) -> dict[str, Credentials]:
    """A session of each caller's role."""
    sts = recipients.aws.client("sts")
    sessions = {name: sts.assume_role(RoleArn=arn, RoleSessionName="test")["Credentials"]
                for name, arn in recipients.roles.items()}
    return {name: Credentials(s["AccessKeyId"], s["SecretAccessKey"], s["SessionToken"])
            for name, s in sessions.items()}


@pytest.fixture(autouse=True)
def _fresh_report(local_aws: LocalAws) -> Iterator[None]:
    assert local_aws.access is not None
    local_aws.access.clear()
    yield
    local_aws.access.clear()  # the denials these tests provoke are not the next test's


def _call(api: ApiServer, method: str, path: str, signed_by: Credentials, body: Any = None) -> ApiAnswer:
    return call_api(api.url + path, method, body=body, signed_by=signed_by)


def _no_denials(recipients: Recipients) -> None:
    assert recipients.aws.access is not None and recipients.aws.access.denials == []


# ---- PUT and GET /recipients/{recipientId}/preferences --------------------------------------------


def test_put_stores_the_preferences_and_get_reads_them_back(recipients: Recipients, api: ApiServer,
                                                            callers: dict[str, Credentials]) -> None:
    recipient = new_id("ana")
    before = datetime.now(UTC).replace(microsecond=0)

    put = _call(api, "PUT", f"recipients/{recipient}/preferences", callers["PreferencesWriter"], PREFERENCES)

    assert put.status == 200, put.body
    stored = recipients.preferences(recipient)
    assert stored is not None
    assert before <= datetime.fromisoformat(stored["updatedAt"]) <= datetime.now(UTC)
    # The item as the workflow reads it: optOut category -> list of channels, quietHours a map.
    assert stored == {"recipientId": recipient, **PREFERENCES, "updatedAt": stored["updatedAt"]}
    assert put.body == stored
    read = _call(api, "GET", f"recipients/{recipient}/preferences", callers["PreferencesReader"])
    assert (read.status, read.body) == (200, stored)
    _no_denials(recipients)


def test_put_replaces_the_preferences_whole(recipients: Recipients, api: ApiServer,
                                            callers: dict[str, Credentials]) -> None:
    recipient = new_id("ana")
    path = f"recipients/{recipient}/preferences"
    assert _call(api, "PUT", path, callers["PreferencesWriter"], PREFERENCES).status == 200

    put = _call(api, "PUT", path, callers["PreferencesWriter"], {"email": "ana.new@example.org"})

    assert put.status == 200, put.body
    stored = recipients.preferences(recipient)
    assert stored is not None and set(stored) == {"recipientId", "email", "updatedAt"}
    assert stored["email"] == "ana.new@example.org"
    assert _call(api, "GET", path, callers["PreferencesWriter"]).body == put.body == stored


@pytest.mark.parametrize("body", [
    {"quietHours": {"start": "22:00", "end": "07:00", "timeZone": "Asia/Tokyo"}},
    {"quietHours": {"start": "22:00", "end": "7:00", "timeZone": "UTC"}},
    {"quietHours": {"start": "24:00", "end": "07:00", "timeZone": "UTC"}},
    {"optOut": {"marketing": ["push"]}},
    {"optOut": {"Marketing": ["sms"]}},
    {**PREFERENCES, "updatedAt": "2026-01-01T00:00:00Z"},
], ids=["a zone not configured", "a one-digit hour", "24:00", "a channel that is not one", "a category in capitals",
        "updatedAt in the body"])
def test_a_body_the_model_refuses_answers_400_and_stores_nothing(recipients: Recipients, api: ApiServer,
                                                                 callers: dict[str, Credentials],
                                                                 body: dict[str, Any]) -> None:
    recipient = new_id("bad")

    answer = _call(api, "PUT", f"recipients/{recipient}/preferences", callers["PreferencesWriter"], body)

    assert (answer.status, answer.body) == (400, {"message": "Invalid request body"})
    assert answer.headers["x-amzn-ErrorType"] == "BadRequestException"
    assert recipients.preferences(recipient) is None


def test_preferences_never_stored_answer_404(api: ApiServer, callers: dict[str, Credentials]) -> None:
    answer = _call(api, "GET", f"recipients/{new_id('nobody')}/preferences", callers["PreferencesReader"])
    assert (answer.status, answer.body) == (404, {"message": "no preferences for this recipient"})


@pytest.mark.parametrize("recipient_id", ["two%20words", "a%2Fb", "x" * 129, "a%23b"])
def test_an_id_that_cannot_be_a_recipient_id_answers_400_and_touches_nothing(
    recipients: Recipients, api: ApiServer, callers: dict[str, Credentials], recipient_id: str
) -> None:
    before = recipients.aws.table_items(recipients.preferences_table)
    expected = (400, {"message": "the recipientId must be 1 to 128 characters of A-Z a-z 0-9 _ . @ + : -"})
    path = f"recipients/{recipient_id}/preferences"

    put = _call(api, "PUT", path, callers["PreferencesWriter"], PREFERENCES)
    read = _call(api, "GET", path, callers["PreferencesWriter"])

    assert (put.status, put.body) == expected
    assert (read.status, read.body) == expected
    assert recipients.aws.table_items(recipients.preferences_table) == before


def test_an_address_or_a_number_is_a_recipient_id(recipients: Recipients, api: ApiServer,
                                                  callers: dict[str, Credentials]) -> None:
    for recipient in (f"{new_id('ana')}+tag@example.org", "+15555550199", "crm:customer.7"):
        put = _call(api, "PUT", f"recipients/{recipient}/preferences", callers["PreferencesWriter"],
                    {"locale": "en"})
        assert (put.status, put.body["recipientId"]) == (200, recipient)
        assert recipients.preferences(recipient) == {"recipientId": recipient, "locale": "en",
                                                     "updatedAt": put.body["updatedAt"]}


@pytest.mark.parametrize(("caller", "method"), [
    ("PreferencesReader", "PUT"), ("BulkReader", "GET"), ("Sender", "PUT"), ("Stranger", "GET"),
])
def test_a_caller_without_the_grant_is_refused(recipients: Recipients, api: ApiServer,
                                               callers: dict[str, Credentials], caller: str, method: str) -> None:
    recipient = new_id("ana")

    answer = _call(api, method, f"recipients/{recipient}/preferences", callers[caller],
                   PREFERENCES if method == "PUT" else None)

    assert answer.status == 403
    assert answer.headers["x-amzn-ErrorType"] == "AccessDeniedException"
    assert recipients.aws.access is not None
    assert [d.request.action for d in recipients.aws.access.denials] == ["execute-api:Invoke"]
    assert recipients.preferences(recipient) is None


@pytest.mark.parametrize("action", ["dynamodb:UpdateItem", "kms:Decrypt"])
def test_the_write_role_is_what_lets_api_gateway_store(recipients: Recipients, api: ApiServer,
                                                       callers: dict[str, Credentials], action: str) -> None:
    """The server calls DynamoDB as the integration role under the access check: without its
    grant (the table, or its key through DynamoDB) nothing is stored."""
    recipient = new_id("ana")

    with role_policy_changed(recipients.aws, recipients.write_role, without_action(action)):
        answer = _call(api, "PUT", f"recipients/{recipient}/preferences", callers["PreferencesWriter"], PREFERENCES)

    assert answer.status == 400
    assert answer.body["message"] == "the preferences could not be stored"
    assert recipients.aws.access is not None
    assert {d.request.action for d in recipients.aws.access.denials} == {action}
    assert recipients.preferences(recipient) is None


# ---- GET /bulks/{bulkId} -----------------------------------------------------------------------


def test_a_bulks_summary_is_read_through_the_api(recipients: Recipients, api: ApiServer,
                                                 callers: dict[str, Credentials]) -> None:
    bulk_id = new_id("b")
    request = {"bulkId": bulk_id, "channel": "sms", "message": f"Spring sale {bulk_id}",
               "recipients": [{"phoneNumber": "+15555550141"}, {"phoneNumber": "0123"},
                              {"phoneNumber": "+15555550142"}]}
    run = recipients.aws.start_and_wait(recipients.bulk_arn, request, name=bulk_id, timeout_s=120)
    assert run.status == "SUCCEEDED", (run.error, run.cause)

    answer = _call(api, "GET", f"bulks/{bulk_id}", callers["BulkReader"])

    assert answer.status == 200, answer.body
    summary = recipients.aws.table_item(recipients.delivery_log, {"notificationId": bulk_record_key(bulk_id)})
    assert summary is not None
    assert answer.body == {
        "bulkId": bulk_id, "status": "COMPLETED", "source": "inline", "executionArn": summary["executionArn"],
        "startedAt": summary["startedAt"], "completedAt": summary["completedAt"], "total": 3, "runs": 1,
        "counts": {"SENT": 2, "REJECTED": 1}}
    _no_denials(recipients)


def test_a_rejected_bulk_shows_its_reason(recipients: Recipients, api: ApiServer,
                                          callers: dict[str, Credentials]) -> None:
    bulk_id = new_id("b")
    run = recipients.aws.start_and_wait(recipients.bulk_arn, {
        "bulkId": bulk_id, "channel": "pager", "message": "m", "recipients": [{"phoneNumber": "+15555550143"}]},
        name=bulk_id)
    assert run.status == "FAILED"

    answer = _call(api, "GET", f"bulks/{bulk_id}", callers["BulkReader"])

    assert answer.status == 200, answer.body
    assert (answer.body["status"], answer.body["reason"], answer.body["counts"]) == (
        "REJECTED", "channel must be sms, email or both", {})


def test_an_unknown_bulk_answers_404_and_an_impossible_id_400(api: ApiServer,
                                                              callers: dict[str, Credentials]) -> None:
    unknown = _call(api, "GET", f"bulks/{new_id('b')}", callers["BulkReader"])
    assert (unknown.status, unknown.body) == (404, {"message": "bulk not found"})
    impossible = _call(api, "GET", f"bulks/{'x' * 65}", callers["BulkReader"])
    assert (impossible.status, impossible.body) == (
        400, {"message": "the bulkId must be 1 to 64 characters of A-Z a-z 0-9 _ -"})


def test_reading_bulks_is_a_grant_of_its_own(recipients: Recipients, api: ApiServer,
                                             callers: dict[str, Credentials]) -> None:
    answer = _call(api, "GET", f"bulks/{new_id('b')}", callers["PreferencesWriter"])
    assert answer.status == 403
    assert recipients.aws.access is not None and len(recipients.aws.access.denials) == 1


# ---- POST /notifications takes the new request fields ---------------------------------------------


@pytest.mark.parametrize(("body", "status"), [
    ({"channel": "sms", "template": {"name": "otp", "data": {"code": "1234"}}, "recipientId": "user-42",
      "category": "security", "critical": True}, 202),
    ({"channel": "email", "message": "hi", "recipientId": "user-42"}, 202),
    ({"channel": "sms", "message": "hi", "recipientId": "user 42"}, 400),
    ({"channel": "sms", "template": {"name": "OTP"}, "recipientId": "user-42"}, 400),
], ids=["a template to a recipient", "email to a recipient", "a recipientId with a space",
        "a template name in capitals"])
def test_post_takes_a_recipient_and_a_template(recipients: Recipients, api: ApiServer,
                                               callers: dict[str, Credentials], body: dict[str, Any],
                                               status: int) -> None:
    nid = new_id("recipient")

    answer = _call(api, "POST", "notifications", callers["Sender"], {**body, "notificationId": nid})

    assert answer.status == status, answer.body
    started = recipients.aws.client("stepfunctions").list_executions(
        stateMachineArn=answer.body["executionArn"].rsplit(":", 1)[0].replace(":execution:", ":stateMachine:")
    )["executions"] if status == 202 else []
    assert [e["name"] for e in started if e["name"] == nid] == ([nid] if status == 202 else [])
    _no_denials(recipients)
