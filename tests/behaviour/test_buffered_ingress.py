"""Buffered ingress on the embedded AWS: requests sent to the SQS queue reach the Express workflow
through the EventBridge Pipe (as the pipe's role, under the access check), each exactly once,
redeliveries included; what cannot be started ends in the dead-letter queue."""

from __future__ import annotations

import json
import time
from typing import Any

import aws_cdk as cdk
import pytest

from constructs_lib import NotificationService
from local_aws import LocalAws
from tests.behaviour.conftest import SENDER, Deployment, new_id, role_policy_changed, without_action

PHONE = "+15555550100"


@pytest.fixture(scope="module")
def buffered(local_aws: LocalAws, tmp_path_factory: pytest.TempPathFactory) -> tuple[Deployment, Any]:
    app = cdk.App(outdir=str(tmp_path_factory.mktemp("buffered")), analytics_reporting=False)
    stack = cdk.Stack(app, "NotifyBuffered")
    service = NotificationService(stack, "Default", sender=SENDER, email_identities=["example.com"],
                                  buffered_ingress=True, monitoring=False)
    assert service.buffered_ingress is not None
    template = app.synth().get_stack_by_name("NotifyBuffered").template
    deployed = local_aws.deploy_template("NotifyBuffered", template)
    return Deployment(aws=local_aws, stack=deployed), service


def _queue_urls(deployment: Deployment) -> tuple[str, str]:
    sqs = deployment.aws.client("sqs")
    urls = [u for u in sqs.list_queues()["QueueUrls"] if "NotifyBuffered" in u and "BufferedIngress" in u]
    [queue] = [u for u in urls if "DeadLetter" not in u]
    [dead] = [u for u in urls if "DeadLetter" in u]
    return queue, dead


def _send(deployment: Deployment, body: str) -> str:
    queue, _ = _queue_urls(deployment)
    message_id: str = deployment.aws.client("sqs").send_message(QueueUrl=queue, MessageBody=body)["MessageId"]
    return message_id


def _sms(**fields: Any) -> dict[str, Any]:
    return {"channel": "sms", "message": f"queued {new_id()}", "phoneNumber": PHONE, **fields}


def _settle(deployment: Deployment) -> None:
    """Waits until no execution of the workflow runs."""
    sfn = deployment.aws.client("stepfunctions")
    deadline = time.monotonic() + 60
    while sfn.list_executions(stateMachineArn=deployment.stack.state_machine_arn, statusFilter="RUNNING")["executions"]:
        assert time.monotonic() < deadline, "executions still running"
        time.sleep(0.1)


def _texts(deployment: Deployment, text: str) -> int:
    return sum(1 for m in deployment.aws.sms_messages() if m.message == text)


def _waiting(deployment: Deployment, url: str) -> int:
    attributes = deployment.aws.client("sqs").get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])
    return sum(int(v) for v in attributes["Attributes"].values())


def test_each_queued_request_is_sent_once_and_recorded(buffered: Any) -> None:
    deployment, _ = buffered
    with_id = _sms(notificationId=new_id("q"))
    without_id = _sms()
    _send(deployment, json.dumps(with_id))
    _send(deployment, json.dumps(with_id))  # the same request queued twice (a client's retry)
    anonymous_message = _send(deployment, json.dumps(without_id))
    garbage_message = _send(deployment, "this is not json")

    delivered = deployment.aws.run_pipes()
    _settle(deployment)

    assert delivered == 4
    queue, dead = _queue_urls(deployment)
    assert (_waiting(deployment, queue), _waiting(deployment, dead)) == (0, 0)
    assert _texts(deployment, with_id["message"]) == 1
    record = deployment.record(with_id["notificationId"])
    assert (record["status"], record["duplicateCount"]) == ("SENT", 1)
    # Without a notificationId the SQS message id keys the record (a redelivery keeps it).
    assert _texts(deployment, without_id["message"]) == 1
    assert deployment.record(anonymous_message)["status"] == "SENT"
    rejected = deployment.record(garbage_message)
    assert (rejected["status"], rejected["error"]) == ("REJECTED", "ValidationError")


def test_a_message_delivered_twice_is_sent_once(buffered: Any) -> None:
    """At least once: the pipe may start the workflow twice for one message (SQS hands it out
    again when a delete is lost). Both executions get the same batch, so the same message id."""
    deployment, _ = buffered
    request = _sms()  # no notificationId: the message id keys the record
    batch = [{"request": request, "messageId": new_id("m")}]

    first = deployment.run(batch)  # type: ignore[arg-type]
    second = deployment.run(batch)  # type: ignore[arg-type]

    assert first.states_entered == ["ReadQueuedRequest", "ValidateRequest", "ClaimSms", "SendSms", "RecordOutcome"]
    assert second.states_entered == ["ReadQueuedRequest", "ValidateRequest", "ClaimSms", "RecordDuplicate"]
    assert _texts(deployment, request["message"]) == 1
    assert deployment.record(batch[0]["messageId"])["duplicateCount"] == 1


def test_the_first_state_reads_the_pipe_batch(buffered: Any) -> None:
    deployment, _ = buffered
    request = _sms(notificationId=new_id("q"))
    _send(deployment, json.dumps(request))

    deployment.aws.run_pipes()
    _settle(deployment)

    execution_arn = deployment.record(request["notificationId"])["executionArn"]
    assert deployment.aws.states_entered(execution_arn) == [
        "ReadQueuedRequest", "ValidateRequest", "ClaimSms", "SendSms", "RecordOutcome"]


def test_without_start_permission_requests_wait_then_go_to_the_dead_letter_queue(buffered: Any) -> None:
    deployment, service = buffered
    ingress = service.buffered_ingress
    role = deployment.stack.physical_id(cdk.Stack.of(service).get_logical_id(ingress.pipe_role.node.default_child))
    request = _sms(notificationId=new_id("q"))
    _send(deployment, json.dumps(request))
    queue, dead = _queue_urls(deployment)

    with role_policy_changed(deployment.aws, role, without_action("states:StartExecution")):
        for _ in range(6):  # maxReceiveCount is 5: the sixth receive moves it
            assert deployment.aws.run_pipes() == 0

    assert _texts(deployment, request["message"]) == 0
    assert (_waiting(deployment, queue), _waiting(deployment, dead)) == (0, 1)
    assert deployment.aws.access is not None
    assert "states:StartExecution" in deployment.aws.access.report()
    deployment.aws.client("sqs").purge_queue(QueueUrl=dead)
