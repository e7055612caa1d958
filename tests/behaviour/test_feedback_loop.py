"""The whole loop on the local AWS: the deployed workflow sends and records the provider message
ids, then the delivery-status handler, fed provider events for those ids in the shapes SQS and
CloudWatch Logs deliver, updates the same records.

The local engine cannot run the Lambda itself (no container runtime) nor make SES publish events,
so the handler is called in process with the deployed function's environment."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from lambda_src.delivery_status import handler as feedback
from local_aws.access import guard_client
from tests.behaviour.conftest import Deployment, new_id, role_policy_changed, without_action
from tests.lambda_handlers.test_delivery_status import (
    awslogs_event,
    awslogs_payload,
    sample,
    ses_event,
    sns_notification,
    sqs_batch,
)


def _function_configuration(deployment: Deployment) -> dict[str, Any]:
    lambda_client = deployment.aws.client("lambda")
    [name] = [f["FunctionName"] for f in lambda_client.list_functions()["Functions"]
              if "DeliveryFeedback" in f["FunctionName"]]
    configuration: dict[str, Any] = lambda_client.get_function_configuration(FunctionName=name)
    return configuration


@pytest.fixture
def function_env(deployment: Deployment, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """The environment the deployed delivery-status function was given by the template; its
    DynamoDB calls are made as the function's role, under the access check."""
    configuration = _function_configuration(deployment)
    env: dict[str, str] = configuration["Environment"]["Variables"]
    assert env["DELIVERY_LOG_TABLE"] == deployment.stack.table_name
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert deployment.aws.access is not None
    deployment.aws.access.clear()
    release = guard_client(feedback._dynamodb(), deployment.aws.access, principal=configuration["Role"],
                           caller="delivery-status function")
    yield env
    release()
    assert deployment.aws.access.denials == [], deployment.aws.access.report()


def _sms_status_line(message_id: str, status: str) -> str:
    line = sample("sms_success" if status == "SUCCESS" else "sms_failure")
    line["notification"]["messageId"] = message_id
    return json.dumps(line)


def _ses(name: str, message_id: str) -> str:
    event: dict[str, Any] = ses_event(name)
    event["mail"]["messageId"] = message_id
    return sns_notification(event, like=name)


def test_sms_and_email_sent_by_the_workflow_get_their_delivery_status(
    deployment: Deployment, function_env: dict[str, str]
) -> None:
    nid = new_id("loop")
    result = deployment.run({"notificationId": nid, "channel": "both", "message": "hi",
                             "phoneNumber": "+15555550100", "email": {"to": "a@example.org"}})
    assert result.status == "SUCCEEDED", result.cause
    record = deployment.record(nid)

    sms_reply = feedback.handler(awslogs_event(awslogs_payload(_sms_status_line(record["smsMessageId"],
                                                                                  "SUCCESS"))), None)
    email_reply = feedback.handler(sqs_batch(_ses("ses_bounce", record["emailMessageId"])), None)

    assert sms_reply == {} and email_reply == {"batchItemFailures": []}
    updated = deployment.record(nid)
    assert updated["results"]["sms"]["deliveryStatus"] == "DELIVERED"
    assert updated["results"]["email"]["deliveryStatus"] == "BOUNCED"
    assert updated["status"] == "SENT"  # what the workflow recorded stays as it was


def test_a_later_delivery_never_downgrades_a_complaint(deployment: Deployment, function_env: dict[str, str]) -> None:
    nid = new_id("loop")
    deployment.run({"notificationId": nid, "channel": "email", "message": "hi", "email": {"to": "a@example.org"}})
    message_id = deployment.record(nid)["emailMessageId"]

    feedback.handler(sqs_batch(_ses("ses_complaint", message_id)), None)
    feedback.handler(sqs_batch(_ses("ses_delivery", message_id)), None)

    assert deployment.record(nid)["results"]["email"]["deliveryStatus"] == "COMPLAINED"


def test_without_its_update_grant_the_function_returns_the_event_for_a_retry(
    deployment: Deployment, function_env: dict[str, str]
) -> None:
    """The function's role is checked: without dynamodb:UpdateItem the update is refused and the
    SQS message is reported as a batch item failure, so it is retried, not lost."""
    nid = new_id("loop")
    deployment.run({"notificationId": nid, "channel": "email", "message": "hi", "email": {"to": "a@example.org"}})
    message_id = deployment.record(nid)["emailMessageId"]
    role = _function_configuration(deployment)["Role"]

    with role_policy_changed(deployment.aws, role, without_action("dynamodb:UpdateItem")):
        reply = feedback.handler(sqs_batch(_ses("ses_bounce", message_id)), None)

    assert reply["batchItemFailures"] != []
    assert "deliveryStatus" not in deployment.record(nid)["results"]["email"]
    assert deployment.aws.access is not None
    assert [d.request.action for d in deployment.aws.access.denials] == ["dynamodb:UpdateItem"]
    deployment.aws.access.clear()
