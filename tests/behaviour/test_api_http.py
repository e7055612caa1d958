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
from pathlib import Path
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from local_aws.access import AccessRequest
from local_aws.apigateway import ApiServer
from local_aws.apigateway.client import ApiAnswer, call_api
from tests.behaviour.conftest import Deployment, new_id
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
], ids=["no phone number", "bad id", "unknown field"])
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
