"""POST /notifications queued (issue 13): NotificationService(buffered_ingress=True, api=True) on the
embedded AWS, called over HTTP with SigV4. POST sends the request to the buffered-ingress queue
through its own integration role (under the access check) and answers 202; the EventBridge Pipe
starts the workflow later, and the record is keyed by the id the 202 named."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import aws_cdk as cdk
import pytest
from botocore.credentials import Credentials

from constructs_lib import NotificationApiOptions, NotificationService
from local_aws import LocalAws
from local_aws.apigateway import ApiServer
from local_aws.apigateway.client import ApiAnswer, call_api
from local_aws.apigateway.server import _service_action
from tests.behaviour.conftest import SENDER, Deployment, new_id, role_policy_changed, without_action

PHONE = "+15555550100"
STACK = "NotifyApiQueued"


@pytest.fixture(scope="module")
def queued(local_aws: LocalAws, tmp_path_factory: pytest.TempPathFactory) -> tuple[Deployment, NotificationService]:
    app = cdk.App(outdir=str(tmp_path_factory.mktemp("api-queued")), analytics_reporting=False)
    stack = cdk.Stack(app, STACK)
    service = NotificationService(stack, "Default", sender=SENDER, email_identities=["example.com"],
                                  buffered_ingress=True, monitoring=False,
                                  api=NotificationApiOptions(cloud_watch_role=False))
    template = app.synth().get_stack_by_name(STACK).template
    return Deployment(aws=local_aws, stack=local_aws.deploy_template(STACK, template)), service


@pytest.fixture(scope="module")
def deployment(queued: tuple[Deployment, NotificationService]) -> Deployment:
    return queued[0]


@pytest.fixture(scope="module")
def api(deployment: Deployment) -> Iterator[ApiServer]:
    with deployment.aws.serve_api(STACK) as server:
        yield server


def _user(deployment: Deployment, api: ApiServer, name: str, *methods: str) -> tuple[Credentials, str]:
    iam = deployment.aws.client("iam")
    user = iam.create_user(UserName=name)["User"]
    if methods:
        iam.put_user_policy(UserName=name, PolicyName="invoke", PolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Action": "execute-api:Invoke",
                "Resource": [api.gateway.method_arn(*m.split(" ", 1)) for m in methods]}]}))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return Credentials(key["AccessKeyId"], key["SecretAccessKey"]), user["Arn"]


@pytest.fixture(scope="module")
def sender(deployment: Deployment, api: ApiServer) -> tuple[Credentials, str]:
    """A user allowed to POST and GET (what NotificationApi.grant_invoke grants), and its ARN."""
    return _user(deployment, api, "queue-api-sender", "POST /notifications", "GET /notifications/*")


@pytest.fixture(autouse=True)
def _fresh_report(local_aws: LocalAws) -> Iterator[None]:
    assert local_aws.access is not None
    local_aws.access.clear()
    yield
    local_aws.access.clear()


def _post(api: ApiServer, body: dict[str, Any], signed_by: Credentials) -> ApiAnswer:
    return call_api(api.url + "notifications", "POST", body=body, signed_by=signed_by)


def _sms(**fields: Any) -> dict[str, Any]:
    return {"channel": "sms", "message": f"queued by the API {new_id()}", "phoneNumber": PHONE, **fields}


def _queue_url(deployment: Deployment) -> str:
    urls = deployment.aws.client("sqs").list_queues(QueueNamePrefix=STACK)["QueueUrls"]
    [queue] = [u for u in urls if "BufferedIngress" in u and "DeadLetter" not in u]
    return queue


def _queued_bodies(deployment: Deployment) -> list[dict[str, Any]]:
    """The messages waiting in the queue, read without taking them (visible again at once)."""
    sqs, url = deployment.aws.client("sqs"), _queue_url(deployment)
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0)["Messages"]
    return [json.loads(m["Body"]) for m in messages]


def _waiting(deployment: Deployment) -> int:
    attributes = deployment.aws.client("sqs").get_queue_attributes(
        QueueUrl=_queue_url(deployment),
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
    return sum(int(v) for v in attributes.values())


def _drain(deployment: Deployment) -> None:
    """The pipes run once and every execution they started ends."""
    deployment.aws.run_pipes()
    sfn = deployment.aws.client("stepfunctions")
    deadline = time.monotonic() + 60
    while sfn.list_executions(stateMachineArn=deployment.stack.state_machine_arn, statusFilter="RUNNING")["executions"]:
        assert time.monotonic() < deadline, "executions still running"
        time.sleep(0.1)
    assert _waiting(deployment) == 0


def _texts(deployment: Deployment, text: str) -> int:
    return sum(1 for m in deployment.aws.sms_messages() if m.message == text)


def _item(deployment: Deployment, notification_id: str) -> dict[str, Any] | None:
    return deployment.aws.table_item(deployment.stack.table_name, {"notificationId": notification_id})


def test_post_queues_the_request_and_the_pipe_starts_it(deployment: Deployment, api: ApiServer,
                                                        sender: tuple[Credentials, str]) -> None:
    credentials, user_arn = sender
    request = _sms(notificationId=new_id("queued"))
    nid = request["notificationId"]

    answer = _post(api, request, credentials)

    assert (answer.status, answer.body) == (202, {"notificationId": nid})
    assert _queued_bodies(deployment) == [{"caller": user_arn, **request}]
    assert _item(deployment, nid) is None and _texts(deployment, request["message"]) == 0  # nothing started yet
    assert deployment.aws.access is not None and deployment.aws.access.denials == []

    _drain(deployment)

    record = deployment.record(nid)
    assert (record["status"], record["caller"]) == ("SENT", user_arn)
    assert _texts(deployment, request["message"]) == 1
    read = call_api(api.url + f"notifications/{nid}", signed_by=credentials)
    assert (read.status, read.body["status"], read.body["caller"]) == (200, "SENT", user_arn)


def test_without_an_id_the_request_id_names_the_queued_notification(deployment: Deployment, api: ApiServer,
                                                                    sender: tuple[Credentials, str]) -> None:
    credentials, user_arn = sender
    request = _sms()

    answer = _post(api, request, credentials)

    assert answer.status == 202, answer.body
    nid = answer.body["notificationId"]
    assert nid == answer.headers["x-amzn-RequestId"]
    assert _queued_bodies(deployment) == [{"caller": user_arn, "notificationId": nid, **request}]
    _drain(deployment)
    record = deployment.record(nid)  # keyed by the id the 202 named, not by the SQS message id
    assert (record["status"], record["caller"]) == ("SENT", user_arn)
    assert _texts(deployment, request["message"]) == 1


def test_the_same_id_twice_is_queued_twice_and_sent_once(deployment: Deployment, api: ApiServer,
                                                         sender: tuple[Credentials, str]) -> None:
    """No 409 on this path: the workflow's claim finds the repeat."""
    credentials, _ = sender
    request = _sms(notificationId=new_id("twice"))

    answers = [_post(api, request, credentials) for _ in range(2)]

    assert [(a.status, a.body) for a in answers] == [(202, {"notificationId": request["notificationId"]})] * 2
    _drain(deployment)
    assert _texts(deployment, request["message"]) == 1
    assert deployment.record(request["notificationId"])["duplicateCount"] == 1


def test_a_caller_without_invoke_permission_answers_403_and_queues_nothing(deployment: Deployment,
                                                                           api: ApiServer) -> None:
    stranger, _ = _user(deployment, api, "queue-api-stranger")

    answer = _post(api, _sms(), stranger)

    assert answer.status == 403
    assert answer.headers["x-amzn-ErrorType"] == "AccessDeniedException"
    assert _waiting(deployment) == 0


def test_a_body_the_model_refuses_answers_400_and_queues_nothing(deployment: Deployment, api: ApiServer,
                                                                 sender: tuple[Credentials, str]) -> None:
    answer = _post(api, {"channel": "sms", "message": "hi", "phoneNumber": "0800"}, sender[0])

    assert (answer.status, answer.body) == (400, {"message": "Invalid request body"})
    assert _waiting(deployment) == 0


@pytest.mark.parametrize(("action", "error"), [("sqs:SendMessage", "AccessDenied"),
                                               ("kms:GenerateDataKey", "KmsAccessDenied")])
def test_the_integration_role_is_what_lets_api_gateway_queue(queued: tuple[Deployment, NotificationService],
                                                             api: ApiServer, sender: tuple[Credentials, str],
                                                             action: str, error: str) -> None:
    """The server calls SQS as the role under the access check: without its grant, nothing is queued."""
    deployment, service = queued
    assert service.api is not None
    role_arn = deployment.aws.client("iam").get_role(RoleName=deployment.stack.physical_id(
        cdk.Stack.of(service).get_logical_id(service.api.node.find_child("SendToQueueRole").node.default_child)
    ))["Role"]["Arn"]

    with role_policy_changed(deployment.aws, role_arn, without_action(action)):
        answer = _post(api, _sms(), sender[0])

    assert (answer.status, answer.body) == (400, {"message": "the notification was not accepted", "error": error})
    assert _waiting(deployment) == 0
    assert deployment.aws.access is not None and deployment.aws.access.denials != []


# ---- the local server: which AWS integrations it can call ----------------------------------------------


def test_a_path_uri_is_served_with_the_json_protocols_static_headers() -> None:
    uri = "arn:aws:apigateway:us-east-1:sqs:path/123456789012/queue"
    headers = {"integration.request.header.Content-Type": "'application/x-amz-json-1.0'",
               "integration.request.header.X-Amz-Target": "'AmazonSQS.SendMessageBatch'"}
    assert _service_action({"Uri": uri, "RequestParameters": headers}) == ("sqs", "SendMessageBatch")
    assert _service_action({"Uri": "arn:aws:apigateway:us-east-1:states:action/StartExecution"}) == (
        "states", "StartExecution")
    form = {**headers, "integration.request.header.Content-Type": "'application/x-www-form-urlencoded'"}
    for refused in ({"Uri": uri, "RequestParameters": form},  # the Query protocol
                    {"Uri": uri, "RequestParameters": {k: "method.request.header.x" for k in headers}},  # not static
                    {"Uri": uri}):
        with pytest.raises(NotImplementedError):
            _service_action(refused)
