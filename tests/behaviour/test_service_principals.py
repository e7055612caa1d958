"""Services writing into the stack's resources, under the access check: CloudWatch alarms into the
alarm topic (topic policy and the key under the topic), SNS into the delivery-feedback queue
(queue policy), SES into the feedback topic (topic policy and key). Each is shown allowed as
deployed, and refused once the statement it relies on is taken away."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from local_aws import LocalAws
from local_aws.access import requests_for_call
from tests.behaviour.conftest import Deployment, Statement


def _physical(deployment: Deployment, prefix: str, resource_type: str) -> str:
    [resource] = [r for r in deployment.stack.of_type(resource_type) if r.logical_id.startswith(prefix)]
    return resource.physical_id


def _drain(aws: LocalAws, url: str) -> list[dict[str, Any]]:
    sqs = aws.client("sqs")
    bodies: list[dict[str, Any]] = []
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            return bodies
        bodies += [json.loads(m["Body"]) for m in messages]
        for m in messages:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


@contextmanager
def _policy_without(aws: LocalAws, get: Any, put: Any, matches: Any) -> Iterator[None]:
    original = get()
    document = original if isinstance(original, dict) else json.loads(original)
    changed = {**document, "Statement": [s for s in document["Statement"] if not matches(s)]}
    assert len(changed["Statement"]) == len(document["Statement"]) - 1
    put(json.dumps(changed))
    try:
        yield
    finally:
        put(original if isinstance(original, str) else json.dumps(original))


def _key_policy_without(deployment: Deployment, matches: Any) -> Any:
    kms = deployment.aws.client("kms")
    key = _physical(deployment, "WorkflowEncryptionKey", "AWS::KMS::Key")
    return _policy_without(
        deployment.aws,
        lambda: kms.get_key_policy(KeyId=key, PolicyName="default")["Policy"],
        lambda policy: kms.put_key_policy(KeyId=key, PolicyName="default", Policy=policy),
        matches,
    )


def _service(service: str) -> Any:
    def matches(statement: Statement) -> bool:
        principal = statement.get("Principal")
        return isinstance(principal, dict) and principal.get("Service") == service
    return matches


@pytest.fixture(autouse=True)
def _fresh_report(deployment: Deployment) -> None:
    assert deployment.aws.access is not None
    deployment.aws.access.clear()


def _denials(deployment: Deployment) -> list[tuple[str, str]]:
    assert deployment.aws.access is not None
    return [(d.request.principal, d.request.action) for d in deployment.aws.access.denials]


# ---- CloudWatch -> alarm topic ------------------------------------------------------------------


@pytest.fixture
def alarm_inbox(deployment: Deployment) -> str:
    """A queue subscribed to the alarm topic (with the policy SNS needs to deliver to it)."""
    aws = deployment.aws
    topic = deployment.stack.outputs["AlarmTopicArn"]
    sqs = aws.client("sqs")
    url = sqs.create_queue(QueueName=f"alarm-inbox-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"}, "Action": "sqs:SendMessage",
        "Resource": arn, "Condition": {"ArnEquals": {"aws:SourceArn": topic}}}]})})
    aws.client("sns").subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    return str(url)


def _flip(deployment: Deployment) -> str:
    """Puts the failed-execution alarm into ALARM (from OK); returns its name."""
    cloudwatch = deployment.aws.client("cloudwatch")
    name = _physical(deployment, "MonitoringFailedExecutionsQueuedAlarm", "AWS::CloudWatch::Alarm")
    cloudwatch.set_alarm_state(AlarmName=name, StateValue="OK", StateReason="reset by the test")
    cloudwatch.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="raised by the test")
    return name


def _alarms(deployment: Deployment, url: str) -> list[dict[str, Any]]:
    return [json.loads(body["Message"]) for body in _drain(deployment.aws, url)]


def test_an_alarm_notifies_the_alarm_topic(deployment: Deployment, alarm_inbox: str) -> None:
    name = _flip(deployment)

    notified = [a for a in _alarms(deployment, alarm_inbox) if a["NewStateValue"] == "ALARM"]
    assert [a["AlarmName"] for a in notified] == [name]
    assert _denials(deployment) == []


def test_without_its_key_grant_cloudwatch_cannot_notify_the_encrypted_topic(
    deployment: Deployment, alarm_inbox: str
) -> None:
    with _key_policy_without(deployment, _service("cloudwatch.amazonaws.com")):
        _flip(deployment)

    assert [a for a in _alarms(deployment, alarm_inbox) if a["NewStateValue"] == "ALARM"] == []
    assert ("cloudwatch.amazonaws.com", "kms:GenerateDataKey") in _denials(deployment)


def test_without_the_topic_policy_cloudwatch_cannot_publish(deployment: Deployment, alarm_inbox: str) -> None:
    sns = deployment.aws.client("sns")
    topic = deployment.stack.outputs["AlarmTopicArn"]
    with _policy_without(
        deployment.aws,
        lambda: sns.get_topic_attributes(TopicArn=topic)["Attributes"]["Policy"],
        lambda policy: sns.set_topic_attributes(TopicArn=topic, AttributeName="Policy", AttributeValue=policy),
        _service("cloudwatch.amazonaws.com"),
    ):
        _flip(deployment)

    assert [a for a in _alarms(deployment, alarm_inbox) if a["NewStateValue"] == "ALARM"] == []
    assert ("cloudwatch.amazonaws.com", "sns:Publish") in _denials(deployment)


# ---- SES -> feedback topic -> feedback queue --------------------------------------------------


def _feedback(deployment: Deployment) -> tuple[str, str]:
    topic = _physical(deployment, "DeliveryFeedbackEventTopic", "AWS::SNS::Topic")
    queue_url = _physical(deployment, "DeliveryFeedbackEventQueue", "AWS::SQS::Queue")
    return topic, queue_url


def _configuration_set_the_workflow_sends_with(deployment: Deployment) -> str:
    """Read from an email the workflow sends (the stack's set is its default)."""
    nid = f"cs-{uuid.uuid4().hex[:12]}"
    deployment.run({"notificationId": nid, "channel": "email", "message": "hi", "email": {"to": "a@example.org"}})
    item = deployment.aws.table_item(deployment.stack.table_name, {"notificationId": nid})
    assert item is not None and item["status"] == "SENT", item
    name = deployment.email(item["emailMessageId"]).configuration_set
    assert name
    return str(name)


def test_ses_may_publish_delivery_events_to_the_encrypted_feedback_topic(deployment: Deployment) -> None:
    """SES publishes as ses.amazonaws.com with its configuration set as the source."""
    aws = deployment.aws
    assert aws.access is not None
    topic, _ = _feedback(deployment)
    configuration_set = _configuration_set_the_workflow_sends_with(deployment)
    source = {"aws:SourceArn": f"arn:aws:ses:{aws.region}:{aws.account_id}:configuration-set/{configuration_set}",
              "aws:SourceAccount": aws.account_id}
    requests = requests_for_call(principal="ses.amazonaws.com", iam_prefix="sns", operation="Publish",
                                 params={"TopicArn": topic}, account_id=aws.account_id, region=aws.region,
                                 caller="SES event destination", source=source)

    assert [r.action for r in requests] == ["sns:Publish", "kms:GenerateDataKey", "kms:Decrypt"]
    assert [aws.access.evaluate(r) for r in requests] == [None, None, None]
    other_set = {**source, "aws:SourceArn": source["aws:SourceArn"] + "-other"}
    assert aws.access.evaluate(requests_for_call(
        principal="ses.amazonaws.com", iam_prefix="sns", operation="Publish", params={"TopicArn": topic},
        account_id=aws.account_id, region=aws.region, caller="another set", source=other_set)[0]) is not None


def test_the_feedback_topic_delivers_to_its_queue_only_with_the_queue_policy(deployment: Deployment) -> None:
    aws = deployment.aws
    sqs, sns = aws.client("sqs"), aws.client("sns")
    topic, queue_url = _feedback(deployment)
    _drain(aws, queue_url)

    sns.publish(TopicArn=topic, Message=json.dumps({"eventType": "Delivery", "probe": "delivered"}))
    delivered = _drain(aws, queue_url)

    def sns_statement(statement: Statement) -> bool:
        return statement.get("Principal", {}).get("Service") == "sns.amazonaws.com"

    with _policy_without(
        aws,
        lambda: sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["Policy"])["Attributes"]["Policy"],
        lambda policy: sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"Policy": policy}),
        sns_statement,
    ):
        sns.publish(TopicArn=topic, Message=json.dumps({"eventType": "Delivery", "probe": "dropped"}))
    dropped = _drain(aws, queue_url)

    assert [_probe(b) for b in delivered] == ["delivered"]
    assert dropped == []
    assert ("sns.amazonaws.com", "sqs:SendMessage") in _denials(deployment)


def _probe(body: dict[str, Any]) -> str:
    """The probe field of a published message, raw or in SNS's envelope."""
    message = json.loads(body["Message"]) if "Message" in body else body
    return str(message["probe"])
