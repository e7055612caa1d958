"""The API's AWS integrations, run as their credentials roles under the access check.

moto's API Gateway keeps neither an integration's credentials nor its request templates, and
does not call AWS services; so each integration is taken from the template, its request template
rendered as API Gateway renders it (the Velocity stand-in, ``local_aws.apigateway.velocity``),
resolved against the deployed stack, and sent to the service by a client acting as the role.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import jsonschema
import pytest
from botocore.exceptions import ClientError

from local_aws.access import guard_client
from local_aws.apigateway import render, resolve_intrinsic
from tests.behaviour.conftest import Deployment, new_id, role_policy_changed, without_action

SMS = {"channel": "sms", "message": "hi", "phoneNumber": "+15555550100"}


def _integration(deployment: Deployment, template: dict[str, Any], action: str) -> tuple[str, str]:
    """The credentials role ARN and the JSON request template of the integration calling ``action``
    (both GET methods read with the same role and request)."""
    integration = next(iter(_integrations(deployment, template, action).values()))
    aws, stack = deployment.aws, deployment.stack
    return (resolve_intrinsic(integration["Credentials"], aws, stack),
            resolve_intrinsic(integration["RequestTemplates"]["application/json"], aws, stack))


def _integrations(deployment: Deployment, template: dict[str, Any], action: str) -> dict[str, dict[str, Any]]:
    """The integrations calling ``action``, by the path part above the method's (``notifications``
    for ``/notifications/{id}``)."""
    resources = template["Resources"]

    def parent_part(method: dict[str, Any]) -> str:
        parent = resources[method["ResourceId"]["Ref"]]["Properties"]["ParentId"]
        return str(resources[parent["Ref"]]["Properties"]["PathPart"]) if "Ref" in parent else ""

    return {
        parent_part(r["Properties"]): r["Properties"]["Integration"] for r in resources.values()
        if r["Type"] == "AWS::ApiGateway::Method"
        and resolve_intrinsic(r["Properties"]["Integration"]["Uri"], deployment.aws, deployment.stack)
        .endswith(f":action/{action}")
    }


@contextmanager
def _acting_as(deployment: Deployment, service: str, role_arn: str, caller: str) -> Iterator[Any]:
    assert deployment.aws.access is not None
    client = boto3.client(service, region_name=deployment.aws.region)
    release = guard_client(client, deployment.aws.access, principal=role_arn, caller=caller)
    try:
        yield client
    finally:
        release()


@pytest.fixture
def template(synthesized: Any) -> dict[str, Any]:
    result: dict[str, Any] = synthesized.template("NotifyCdk-dev")
    return result


@pytest.fixture(autouse=True)
def _fresh_report(deployment: Deployment) -> None:
    assert deployment.aws.access is not None
    deployment.aws.access.clear()


def test_post_starts_the_workflow_as_the_start_role(deployment: Deployment, template: dict[str, Any]) -> None:
    role, request_template = _integration(deployment, template, "StartExecution")
    nid = new_id("api")
    request = render(request_template, json.dumps({**SMS, "notificationId": nid})).json()

    with _acting_as(deployment, "stepfunctions", role, "API POST /notifications") as sfn:
        started = sfn.start_execution(**request)

    assert started["executionArn"].endswith(f":{nid}")
    assert deployment.aws.access is not None and deployment.aws.access.denials == []
    record = _wait_for_record(deployment, nid, status="SENT")
    assert record["channel"] == "sms"


@pytest.mark.parametrize("body", [
    {"delivery_mode": "text", "message_content": "hi", "user_phone": "+15555550100"},
    {"channel": "both", "message": "hi", "phoneNumber": "not a number", "email": {"to": "a@example.org"}},
], ids=["older dialect", "both with one channel valid"])
def test_post_accepts_what_one_channel_can_carry(deployment: Deployment, template: dict[str, Any],
                                                 body: dict[str, Any]) -> None:
    [model] = [r["Properties"]["Schema"] for r in template["Resources"].values()
               if r["Type"] == "AWS::ApiGateway::Model"]
    jsonschema.Draft4Validator(model).validate(body)  # API Gateway's validator lets it through
    role, request_template = _integration(deployment, template, "StartExecution")
    nid = new_id("api")
    request = render(request_template, json.dumps({**body, "notificationId": nid})).json()

    with _acting_as(deployment, "stepfunctions", role, "API POST /notifications") as sfn:
        sfn.start_execution(**request)

    record = _wait_for_record(deployment, nid, status="PARTIAL" if "channel" in body else "SENT")
    assert record["dialect"] == ("canonical" if "channel" in body else "legacy")


def test_get_reads_the_record_as_the_read_role(deployment: Deployment, template: dict[str, Any]) -> None:
    nid = new_id("api")
    deployment.run({**SMS, "notificationId": nid})
    role, request_template = _integration(deployment, template, "GetItem")
    request = render(request_template, path={"id": nid}).json()

    with _acting_as(deployment, "dynamodb", role, "API GET /notifications/{id}") as dynamodb:
        item = dynamodb.get_item(**request)["Item"]

    assert item["notificationId"] == {"S": nid} and item["status"] == {"S": "SENT"}
    assert deployment.aws.access is not None and deployment.aws.access.denials == []


def test_without_its_key_grant_the_start_role_cannot_start(deployment: Deployment, template: dict[str, Any]) -> None:
    """The machine's data is under the customer-managed key: the caller needs kms:GenerateDataKey."""
    role, request_template = _integration(deployment, template, "StartExecution")
    request = render(request_template, json.dumps({**SMS, "notificationId": new_id("api")})).json()

    with role_policy_changed(deployment.aws, role, without_action("kms:GenerateDataKey")), \
            _acting_as(deployment, "stepfunctions", role, "API POST /notifications") as sfn, \
            pytest.raises(ClientError) as raised:
        sfn.start_execution(**request)

    assert raised.value.response["Error"]["Code"] == "KmsAccessDeniedException"
    assert deployment.aws.access is not None
    assert [d.request.action for d in deployment.aws.access.denials] == ["kms:GenerateDataKey"]


def test_without_its_key_grant_the_read_role_cannot_read(deployment: Deployment, template: dict[str, Any]) -> None:
    role, request_template = _integration(deployment, template, "GetItem")
    request = render(request_template, path={"id": new_id("api")}).json()

    with role_policy_changed(deployment.aws, role, without_action("kms:Decrypt")), \
            _acting_as(deployment, "dynamodb", role, "API GET /notifications/{id}") as dynamodb, \
            pytest.raises(ClientError) as raised:
        dynamodb.get_item(**request)

    assert raised.value.response["Error"]["Code"] == "AccessDeniedException"
    assert deployment.aws.access is not None
    assert [d.request.action for d in deployment.aws.access.denials] == ["kms:Decrypt"]


def _wait_for_record(deployment: Deployment, nid: str, *, status: str, timeout_s: float = 10) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        item = deployment.aws.table_item(deployment.stack.table_name, {"notificationId": nid})
        if item is not None and item.get("status") == status:
            return item
        assert time.monotonic() < deadline, f"record {nid} is {item}, not {status}"
        time.sleep(0.05)


def test_a_record_is_read_back_only_by_its_sender_or_a_read_all_caller(deployment: Deployment,
                                                                       template: dict[str, Any]) -> None:
    """The IDOR finding: POST keeps the caller's identity (the session of an assumed role dropped);
    GET /notifications/{id} answers 404 to anyone else, GET /all-notifications/{id} does not."""
    sender = f"arn:aws:sts::{deployment.aws.account_id}:assumed-role/OrderService/i-0abc"
    role, request_template = _integration(deployment, template, "StartExecution")
    nid = new_id("idor")
    request = render(f'#set($context.identity.userArn = "{sender}")' + request_template,
                     json.dumps({**SMS, "notificationId": nid})).json()
    with _acting_as(deployment, "stepfunctions", role, "API POST /notifications") as sfn:
        sfn.start_execution(**request)
    record = _wait_for_record(deployment, nid, status="SENT")
    assert record["caller"] == sender.rsplit("/", 1)[0]

    read_role, read_request = _integration(deployment, template, "GetItem")
    with _acting_as(deployment, "dynamodb", read_role, "API GET") as dynamodb:
        item = dynamodb.get_item(**render(read_request, path={"id": nid}).json())

    def answer(integration: dict[str, Any], caller: str) -> tuple[int | None, Any]:
        [ok] = [r for r in integration["IntegrationResponses"] if r["StatusCode"] == "200"]
        response_template = ok["ResponseTemplates"]["application/json"]
        rendered = render(f'#set($context.identity.userArn = "{caller}")' + response_template, json.dumps(item))
        return rendered.status_override, rendered.json()

    reads = _integrations(deployment, template, "GetItem")
    own, every = reads["notifications"], reads["all-notifications"]
    assert answer(own, sender.replace("i-0abc", "i-0def"))[1]["notificationId"] == nid  # another session
    other = f"arn:aws:iam::{deployment.aws.account_id}:user/someone-else"
    assert answer(own, other) == (404, {"message": "notification not found"})
    assert answer(every, other)[1]["notificationId"] == nid
