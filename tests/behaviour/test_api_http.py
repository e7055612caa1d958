"""The API over HTTP: the deployed stack's REST API served locally (``LocalAws.serve_api``) and
called with SigV4-signed requests from principals of the local IAM, as a client calls API Gateway."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from constructs_lib import NotificationApi, NotificationWorkflow
from local_aws import LocalAws
from local_aws.access import AccessRequest
from local_aws.apigateway import ApiServer
from local_aws.apigateway.client import ApiAnswer, call_api
from tests.behaviour.conftest import SENDER, Deployment, new_id
from tests.conftest import ROOT

SMS = {"channel": "sms", "message": "hi", "phoneNumber": "+15555550100"}


@pytest.fixture(scope="module")
def api(deployment: Deployment) -> Iterator[ApiServer]:
    with deployment.aws.serve_api(deployment.stack.stack_name) as server:
        yield server


def _invoke_policy(api: ApiServer, *resources: str) -> str:
    gateway = api.gateway
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "execute-api:Invoke",
        "Resource": [gateway.method_arn(*r.split(" ", 1)) for r in resources]}]})


def _user(deployment: Deployment, name: str, policy: str | None) -> Credentials:
    iam = deployment.aws.client("iam")
    iam.create_user(UserName=name)
    if policy is not None:
        iam.put_user_policy(UserName=name, PolicyName="invoke", PolicyDocument=policy)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return Credentials(key["AccessKeyId"], key["SecretAccessKey"])


@pytest.fixture(scope="module")
def sender(deployment: Deployment, api: ApiServer) -> Credentials:
    """A user allowed to POST and GET (what NotificationApi.grant_invoke grants)."""
    return _user(deployment, "api-sender", _invoke_policy(api, "POST /notifications", "GET /notifications/*"))


@pytest.fixture(scope="module")
def stranger(deployment: Deployment) -> Credentials:
    return _user(deployment, "api-stranger", None)


@pytest.fixture(scope="module")
def role_session(deployment: Deployment, api: ApiServer) -> Credentials:
    """Temporary credentials of an assumed role allowed to POST and GET."""
    iam, account = deployment.aws.client("iam"), deployment.aws.account_id
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                     "Principal": {"AWS": f"arn:aws:iam::{account}:root"}}]}
    role = iam.create_role(RoleName="ApiCaller", AssumeRolePolicyDocument=json.dumps(trust))["Role"]
    iam.put_role_policy(RoleName="ApiCaller", PolicyName="invoke",
                        PolicyDocument=_invoke_policy(api, "POST /notifications", "GET /notifications/*"))
    session = deployment.aws.client("sts").assume_role(RoleArn=role["Arn"], RoleSessionName="job-7")["Credentials"]
    return Credentials(session["AccessKeyId"], session["SecretAccessKey"], session["SessionToken"])


@pytest.fixture(autouse=True)
def _fresh_report(deployment: Deployment) -> Iterator[None]:
    assert deployment.aws.access is not None
    deployment.aws.access.clear()
    yield
    deployment.aws.access.clear()  # the denials these tests provoke are not the next test's


def call(api: ApiServer, method: str, path: str, *, body: Any = None, signed_by: Credentials | None = None,
         region: str = "us-east-1") -> ApiAnswer:
    """One HTTP request to the served API, SigV4-signed (botocore's signer) when ``signed_by``."""
    return call_api(api.url + path, method, body=body, signed_by=signed_by, region=region)


def read_when(api: ApiServer, nid: str, status: str, signed_by: Credentials, timeout_s: float = 10) -> Any:
    """GET the record until the workflow has given it ``status`` (it runs after the 202)."""
    deadline = time.monotonic() + timeout_s
    answer = call(api, "GET", f"notifications/{nid}", signed_by=signed_by)
    while answer.status != 200 or answer.body.get("status") != status:
        assert time.monotonic() < deadline, f"GET {nid}: {answer}"
        time.sleep(0.05)
        answer = call(api, "GET", f"notifications/{nid}", signed_by=signed_by)
    return answer.body


# ---- what a caller with the grant gets ---------------------------------------------------------------------


def test_post_answers_202_and_the_workflow_writes_the_record(deployment: Deployment, api: ApiServer,
                                                              sender: Credentials) -> None:
    nid = new_id("http")
    answer = call(api, "POST", "notifications", body={**SMS, "notificationId": nid}, signed_by=sender)

    assert answer.status == 202, answer.body
    assert answer.body["notificationId"] == nid and answer.body["executionArn"].endswith(f":{nid}")
    assert answer.headers["x-amzn-RequestId"]
    assert read_when(api, nid, "SENT", sender)["channel"] == "sms"
    assert deployment.record(nid)["status"] == "SENT"  # the delivery log itself
    assert deployment.aws.access is not None and deployment.aws.access.denials == []


def test_get_answers_200_with_the_record(deployment: Deployment, api: ApiServer, sender: Credentials) -> None:
    nid = new_id("http")
    assert call(api, "POST", "notifications", body={**SMS, "notificationId": nid}, signed_by=sender).status == 202
    read_when(api, nid, "SENT", sender)

    answer = call(api, "GET", f"notifications/{nid}", signed_by=sender)

    assert answer.status == 200, answer.body
    assert answer.body["notificationId"] == nid and answer.body["status"] == "SENT"
    assert answer.body["results"]["sms"]["status"] == "SENT"
    assert "phoneNumber" not in json.dumps(answer.body) and "message" not in answer.body


def test_without_an_id_the_request_id_names_the_notification(deployment: Deployment, api: ApiServer,
                                                              sender: Credentials) -> None:
    answer = call(api, "POST", "notifications", body=SMS, signed_by=sender)

    assert answer.status == 202
    assert answer.body["notificationId"] == answer.headers["x-amzn-RequestId"]
    read_when(api, answer.body["notificationId"], "SENT", sender)


def test_assumed_role_credentials_are_a_caller_too(deployment: Deployment, api: ApiServer,
                                                   role_session: Credentials) -> None:
    nid = new_id("http")
    assert call(api, "POST", "notifications", body={**SMS, "notificationId": nid},
                signed_by=role_session).status == 202
    read_when(api, nid, "SENT", role_session)


# ---- whose record (the IDOR finding) ------------------------------------------------------------------------


def test_a_record_is_read_back_by_its_sender_and_a_read_all_caller_only(deployment: Deployment, api: ApiServer,
                                                                        sender: Credentials) -> None:
    """Principal A sends; principal B, granted the same routes, gets 404 as for an unknown id;
    a principal granted GET /all-notifications reads it."""
    other = _user(deployment, "api-other-sender",
                  _invoke_policy(api, "POST /notifications", "GET /notifications/*"))
    auditor = _user(deployment, "api-auditor", _invoke_policy(api, "GET /all-notifications/*"))
    nid = new_id("idor")
    assert call(api, "POST", "notifications", body={**SMS, "notificationId": nid}, signed_by=sender).status == 202
    record = read_when(api, nid, "SENT", sender)

    assert record["caller"] == "arn:aws:iam::123456789012:user/api-sender"
    assert call(api, "GET", f"notifications/{nid}", signed_by=other).body == {"message": "notification not found"}
    assert call(api, "GET", f"notifications/{nid}", signed_by=other).status == 404
    every = call(api, "GET", f"all-notifications/{nid}", signed_by=auditor)
    assert (every.status, every.body["notificationId"]) == (200, nid)
    assert call(api, "GET", f"all-notifications/{nid}", signed_by=other).status == 403  # not granted read-all


def test_sessions_of_one_role_are_one_caller(api: ApiServer, role_session: Credentials,
                                             deployment: Deployment) -> None:
    nid = new_id("idor")
    assert call(api, "POST", "notifications", body={**SMS, "notificationId": nid},
                signed_by=role_session).status == 202
    session = deployment.aws.client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{deployment.aws.account_id}:role/ApiCaller", RoleSessionName="job-8")["Credentials"]
    second = Credentials(session["AccessKeyId"], session["SecretAccessKey"], session["SessionToken"])

    assert read_when(api, nid, "SENT", second)["caller"] == "arn:aws:sts::123456789012:assumed-role/ApiCaller"


# ---- what API Gateway refuses, and what the integration answers -----------------------------------------------


@pytest.mark.parametrize("body", [
    {"channel": "sms", "message": "hi"},
    {**SMS, "notificationId": "has spaces"},
    {**SMS, "unexpected": True},
    # this stack's workflow has no scheduled sends: a send time would be ignored, so it is refused
    {**SMS, "sendAt": "2030-01-01T00:00:00Z"},
    {**SMS, "delaySeconds": 5},
], ids=["no phone number", "bad id", "unknown field", "sendAt without scheduling", "delaySeconds without scheduling"])
def test_a_body_the_model_refuses_answers_400_and_starts_nothing(deployment: Deployment, api: ApiServer,
                                                                  sender: Credentials, body: dict[str, Any]) -> None:
    before = len(deployment.records())
    answer = call(api, "POST", "notifications", body=body, signed_by=sender)

    assert (answer.status, answer.body) == (400, {"message": "Invalid request body"})
    assert answer.headers["x-amzn-ErrorType"] == "BadRequestException"
    assert len(deployment.records()) == before


def test_the_same_id_twice_answers_409(deployment: Deployment, api: ApiServer, sender: Credentials) -> None:
    nid = new_id("http")
    assert call(api, "POST", "notifications", body={**SMS, "notificationId": nid}, signed_by=sender).status == 202
    read_when(api, nid, "SENT", sender)

    again = call(api, "POST", "notifications", body={**SMS, "message": "other", "notificationId": nid},
                 signed_by=sender)

    assert (again.status, again.body) == (409, {"message": f"notification {nid} already exists"})


def test_an_unknown_id_answers_404(api: ApiServer, sender: Credentials) -> None:
    answer = call(api, "GET", f"notifications/{new_id('missing')}", signed_by=sender)
    assert (answer.status, answer.body) == (404, {"message": "notification not found"})


def test_an_unsigned_request_answers_403(api: ApiServer) -> None:
    answer = call(api, "POST", "notifications", body={**SMS, "notificationId": new_id("http")})
    assert (answer.status, answer.body) == (403, {"message": "Missing Authentication Token"})
    assert answer.headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"


def test_a_principal_without_invoke_answers_403(deployment: Deployment, api: ApiServer,
                                                stranger: Credentials) -> None:
    answer = call(api, "POST", "notifications", body={**SMS, "notificationId": new_id("http")}, signed_by=stranger)

    assert answer.status == 403
    assert answer.body["Message"].startswith("User: arn:aws:iam::123456789012:user/api-stranger is not authorized "
                                             "to perform: execute-api:Invoke on resource: arn:aws:execute-api:")
    assert deployment.aws.access is not None
    assert [(d.request.action, d.request.principal) for d in deployment.aws.access.denials] == [
        ("execute-api:Invoke", "arn:aws:iam::123456789012:user/api-stranger")]


def test_a_grant_on_post_only_does_not_read(deployment: Deployment, api: ApiServer) -> None:
    poster = _user(deployment, "api-poster", _invoke_policy(api, "POST /notifications"))
    assert call(api, "GET", f"notifications/{new_id('http')}", signed_by=poster).status == 403


@pytest.mark.parametrize("forged", ["wrong secret", "wrong region", "unknown key", "altered body"])
def test_a_bad_signature_answers_403(api: ApiServer, sender: Credentials, forged: str) -> None:
    credentials = {"wrong secret": Credentials(sender.access_key, "x" * 40),
                   "unknown key": Credentials("AKIAIOSFODNN7EXAMPLE", sender.secret_key)}.get(forged, sender)
    body = {**SMS, "notificationId": new_id("http")}
    data = json.dumps(body).encode()
    request = AWSRequest(method="POST", url=api.url + "notifications", data=data,
                         headers={"Content-Type": "application/json"})
    SigV4Auth(credentials, "execute-api", "eu-west-1" if forged == "wrong region" else "us-east-1").add_auth(request)
    sent = data.replace(b'"hi"', b'"ho"') if forged == "altered body" else data
    prepared = urllib.request.Request(request.url, data=sent, headers=dict(request.headers), method="POST")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(prepared, timeout=10)
    assert refused.value.code == 403
    assert refused.value.headers["x-amzn-ErrorType"] == (
        "UnrecognizedClientException" if forged == "unknown key" else "InvalidSignatureException")


def test_an_unknown_route_answers_403_like_api_gateway(api: ApiServer, sender: Credentials) -> None:
    answer = call(api, "DELETE", "notifications", signed_by=sender)
    assert (answer.status, answer.body) == (403, {"message": "Missing Authentication Token"})


def test_api_gateway_assumes_an_integration_role_for_this_api_only(deployment: Deployment, api: ApiServer) -> None:
    """The server assumes the role under its trust policy (aws:SourceArn), as API Gateway does."""
    gateway, access = api.gateway, deployment.aws.access
    assert access is not None
    [start] = [m for m in gateway.api.methods if m.http_method == "POST"]

    def assume(source_arn: str) -> object:
        return access.evaluate(AccessRequest(
            "apigateway.amazonaws.com", "sts:AssumeRole", start.integration["Credentials"],
            {"aws:SourceArn": source_arn, "aws:SourceAccount": deployment.aws.account_id}))

    this_api = gateway.method_arn("POST", "/notifications")
    assert assume(this_api) is None
    assert assume(this_api.replace(gateway.api.api_id, "otherapi00")) is not None


# ---- the README's curl command -------------------------------------------------------------------------------


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_with_aws_sigv4_is_accepted(api: ApiServer, sender: Credentials, tmp_path: Path) -> None:
    """As the README shows it (without a session token: the sender is an IAM user), with the
    email example under a fresh id."""
    nid = new_id("curl")
    request = tmp_path / "email.json"
    request.write_text(json.dumps({**json.loads((ROOT / "examples" / "email.json").read_text()),
                                   "notificationId": nid}))
    completed = subprocess.run(
        ["curl", "--silent", "--show-error", "--aws-sigv4", "aws:amz:us-east-1:execute-api",
         "--user", f"{sender.access_key}:{sender.secret_key}", "-H", "Content-Type: application/json",
         "--data", f"@{request}", "--write-out", "\n%{http_code}",
         api.url + "notifications"],
        capture_output=True, text=True, timeout=30, check=True)
    body, status = completed.stdout.rsplit("\n", 1)
    assert (status, json.loads(body)["notificationId"]) == ("202", nid)
    read_when(api, nid, "SENT", sender)

    read = subprocess.run(
        ["curl", "--silent", "--aws-sigv4", "aws:amz:us-east-1:execute-api", "--user",
         f"{sender.access_key}:{sender.secret_key}", api.url + f"notifications/{nid}"],
        capture_output=True, text=True, timeout=30, check=True)
    assert json.loads(read.stdout)["status"] == "SENT"


# ---- scheduled sends: DELETE /notifications/{id} cancels (issue 13) ---------------------------------------


@pytest.fixture(scope="module")
def scheduling(local_aws: LocalAws, tmp_path_factory: pytest.TempPathFactory) -> Deployment:
    """A workflow with scheduled sends and its API, deployed beside the dev stack."""
    app = cdk.App(outdir=str(tmp_path_factory.mktemp("api-scheduling")), analytics_reporting=False)
    stack = cdk.Stack(app, "NotifyApiScheduling")
    workflow = NotificationWorkflow(stack, "Workflow", sender=SENDER, email_identities=["example.com"],
                                    max_send_delay=cdk.Duration.days(1))
    NotificationApi(stack, "Api", workflow=workflow, cloud_watch_role=False)
    template = app.synth().get_stack_by_name("NotifyApiScheduling").template
    return Deployment(aws=local_aws, stack=local_aws.deploy_template("NotifyApiScheduling", template))


@pytest.fixture(scope="module")
def scheduling_api(scheduling: Deployment) -> Iterator[ApiServer]:
    with scheduling.aws.serve_api(scheduling.stack.stack_name) as server:
        yield server


ALL_OWN = ("POST /notifications", "GET /notifications/*", "DELETE /notifications/*")


@pytest.fixture(scope="module")
def scheduler(scheduling: Deployment, scheduling_api: ApiServer) -> Credentials:
    """Sends, reads and cancels its own notifications (grant_invoke and grant_cancel)."""
    return _user(scheduling, "api-scheduler", _invoke_policy(scheduling_api, *ALL_OWN))


@pytest.fixture(scope="module")
def other_scheduler(scheduling: Deployment, scheduling_api: ApiServer) -> Credentials:
    return _user(scheduling, "api-other-scheduler", _invoke_policy(scheduling_api, *ALL_OWN))


def _schedule(deployment: Deployment, api: ApiServer, caller: Credentials, delay_s: int = 5) -> dict[str, Any]:
    """POSTs an SMS ``delay_s`` ahead and waits for its record to be SCHEDULED; the request, with
    the executionArn the API answered."""
    request = {**SMS, "notificationId": new_id("later"), "delaySeconds": delay_s}
    request["message"] = f"reminder {request['notificationId']}"
    answer = call(api, "POST", "notifications", body=request, signed_by=caller)
    assert answer.status == 202, answer.body
    deadline = time.monotonic() + 10
    while (item := _item(deployment, request["notificationId"])) is None or item["status"] != "SCHEDULED":
        assert time.monotonic() < deadline, f"never SCHEDULED: {item}"
        time.sleep(0.05)
    return {**request, "executionArn": answer.body["executionArn"]}


def _item(deployment: Deployment, notification_id: str) -> dict[str, Any] | None:
    return deployment.aws.table_item(deployment.stack.table_name, {"notificationId": notification_id})


def _ended(deployment: Deployment, execution_arn: str, timeout_s: float = 20) -> tuple[str, list[str]]:
    """The execution's status once it has ended, and the states it entered."""
    sfn = deployment.aws.client("stepfunctions")
    deadline = time.monotonic() + timeout_s
    while (status := sfn.describe_execution(executionArn=execution_arn)["status"]) == "RUNNING":
        assert time.monotonic() < deadline, f"{execution_arn} still RUNNING"
        time.sleep(0.1)
    return status, deployment.aws.states_entered(execution_arn)


def _sent(deployment: Deployment, request: dict[str, Any]) -> list[Any]:
    return [m for m in deployment.aws.sms_messages() if m.message == request["message"]]


def test_delete_cancels_a_scheduled_send_and_nothing_goes_out(scheduling: Deployment, scheduling_api: ApiServer,
                                                              scheduler: Credentials) -> None:
    request = _schedule(scheduling, scheduling_api, scheduler)
    before = datetime.now(UTC).replace(microsecond=0)

    answer = call(scheduling_api, "DELETE", f"notifications/{request['notificationId']}", signed_by=scheduler)

    assert (answer.status, answer.body) == (200, {"notificationId": request["notificationId"], "status": "CANCELLED"})
    record = scheduling.record(request["notificationId"])
    assert record["status"] == "CANCELLED"
    assert before <= datetime.fromisoformat(record["cancelledAt"]) <= datetime.now(UTC)
    assert record["caller"] == "arn:aws:iam::123456789012:user/api-scheduler"
    status, entered = _ended(scheduling, request["executionArn"])
    assert (status, entered[-2:]) == ("SUCCEEDED", ["StartScheduledSend", "Cancelled"])
    assert _sent(scheduling, request) == []
    assert scheduling.record(request["notificationId"])["status"] == "CANCELLED"
    read = call(scheduling_api, "GET", f"notifications/{request['notificationId']}", signed_by=scheduler)
    assert (read.body["status"], read.body["cancelledAt"]) == ("CANCELLED", record["cancelledAt"])
    assert scheduling.aws.access is not None and scheduling.aws.access.denials == []


def test_only_the_sender_cancels_and_only_while_scheduled(scheduling: Deployment, scheduling_api: ApiServer,
                                                          scheduler: Credentials,
                                                          other_scheduler: Credentials) -> None:
    """Another caller's DELETE, and the sender's once it was sent, answer 404 as for an unknown id."""
    request = _schedule(scheduling, scheduling_api, scheduler)
    path = f"notifications/{request['notificationId']}"
    not_cancellable = (404, {"message": "No scheduled notification with this id"})

    other = call(scheduling_api, "DELETE", path, signed_by=other_scheduler)

    assert (other.status, other.body) == not_cancellable
    assert scheduling.record(request["notificationId"])["status"] == "SCHEDULED"
    assert "cancelledAt" not in scheduling.record(request["notificationId"])
    status, entered = _ended(scheduling, request["executionArn"])
    assert (status, entered[-1]) == ("SUCCEEDED", "RecordOutcome")
    assert len(_sent(scheduling, request)) == 1

    late = call(scheduling_api, "DELETE", path, signed_by=scheduler)

    assert (late.status, late.body) == not_cancellable
    assert scheduling.record(request["notificationId"])["status"] == "SENT"
    unknown = call(scheduling_api, "DELETE", f"notifications/{new_id('missing')}", signed_by=scheduler)
    assert (unknown.status, unknown.body) == not_cancellable


@pytest.mark.parametrize("bad_id", ["two%20words", "a:b", "x" * 81])
def test_delete_of_an_id_the_api_never_gives_answers_400(scheduling: Deployment, scheduling_api: ApiServer,
                                                         scheduler: Credentials, bad_id: str) -> None:
    before = scheduling.records()
    answer = call(scheduling_api, "DELETE", f"notifications/{bad_id}", signed_by=scheduler)
    assert (answer.status, answer.body) == (400, {"message": "the id must be 1 to 80 characters of A-Z a-z 0-9 _ -"})
    assert scheduling.records() == before


def test_cancelling_is_a_grant_of_its_own(scheduling: Deployment, scheduling_api: ApiServer) -> None:
    sender_only = _user(scheduling, "api-scheduler-sends-only",
                        _invoke_policy(scheduling_api, "POST /notifications", "GET /notifications/*"))
    request = _schedule(scheduling, scheduling_api, sender_only, delay_s=2)

    answer = call(scheduling_api, "DELETE", f"notifications/{request['notificationId']}", signed_by=sender_only)

    assert answer.status == 403
    assert scheduling.record(request["notificationId"])["status"] == "SCHEDULED"
    assert _ended(scheduling, request["executionArn"])[0] == "SUCCEEDED"
    assert len(_sent(scheduling, request)) == 1


def test_the_scheduling_stacks_model_takes_a_send_time_and_refuses_two(scheduling_api: ApiServer,
                                                                       scheduler: Credentials) -> None:
    both = {**SMS, "notificationId": new_id("later"), "delaySeconds": 5, "sendAt": "2030-01-01T00:00:00Z"}
    assert call(scheduling_api, "POST", "notifications", body=both, signed_by=scheduler).status == 400
    too_late = {**SMS, "notificationId": new_id("later"), "delaySeconds": 86_401}
    assert call(scheduling_api, "POST", "notifications", body=too_late, signed_by=scheduler).status == 400
