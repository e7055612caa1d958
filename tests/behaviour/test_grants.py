"""Mutation tests: each grant the deployed stack relies on is taken away, on the live deployment,
and the workflow must then fail where AWS would refuse it, with AWS's error. This is what shows
the access check can fail; the grant is put back after each test.

It also holds the regression tests for the three defects the access check found in the default
stack: the state machine's key condition built from an empty machine name, the delivery-log key
missing from the role, and the logs-delivery condition comparing a ``*`` with StringEquals.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from botocore.exceptions import ClientError

from local_aws import LocalAws
from local_aws.access import AccessRequest
from tests.behaviour.conftest import Deployment, Mutation, Statement, new_id, role_policy_changed, without_action

SMS = {"channel": "sms", "message": "hi", "phoneNumber": "+15555550100"}
EMAIL = {"channel": "email", "message": "hi", "email": {"to": "a@example.org"}}


def _logical(deployment: Deployment, prefix: str, resource_type: str) -> str:
    [resource] = [r for r in deployment.stack.of_type(resource_type) if r.logical_id.startswith(prefix)]
    return resource.physical_id


@contextmanager
def _role_policy_changed(deployment: Deployment, change: Mutation) -> Iterator[None]:
    """The state machine role's policy as ``change`` makes it, restored on exit."""
    role = _logical(deployment, "WorkflowStateMachineRole", "AWS::IAM::Role")
    with role_policy_changed(deployment.aws, role, change):
        yield


def _without_statement(matches: Callable[[Statement], bool]) -> Mutation:
    def change(statements: list[Statement]) -> list[Statement]:
        kept = [s for s in statements if not matches(s)]
        assert len(kept) == len(statements) - 1, "expected exactly one statement to remove"
        return kept
    return change


def _is_state_machine_key_grant(statement: Statement) -> bool:
    return "kms:EncryptionContext:aws:states:stateMachineArn" in json.dumps(statement.get("Condition", {}))


def _is_table_key_grant(statement: Statement) -> bool:
    return "dynamodb." in json.dumps(statement.get("Condition", {}))


@contextmanager
def _key_policy_changed(deployment: Deployment, matches: Callable[[Statement], bool]) -> Iterator[None]:
    """The stack key's policy without the statements ``matches`` picks, restored on exit."""
    kms = deployment.aws.client("kms")
    key = _logical(deployment, "WorkflowEncryptionKey", "AWS::KMS::Key")
    policy = kms.get_key_policy(KeyId=key, PolicyName="default")["Policy"]
    # moto keeps a template's KeyPolicy as the object it was given
    original = json.dumps(policy) if isinstance(policy, dict) else policy
    changed = json.loads(original)
    changed["Statement"] = [s for s in changed["Statement"] if not matches(s)]
    assert len(changed["Statement"]) < len(json.loads(original)["Statement"])
    kms.put_key_policy(KeyId=key, PolicyName="default", Policy=json.dumps(changed))
    try:
        yield
    finally:
        kms.put_key_policy(KeyId=key, PolicyName="default", Policy=original)


@contextmanager
def _failed_queue_policy_removed(deployment: Deployment) -> Iterator[str]:
    sqs = deployment.aws.client("sqs")
    url = deployment.stack.outputs["FailedExecutionsQueueUrl"]
    original = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])["Attributes"]["Policy"]
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": ""})
    try:
        yield url
    finally:
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": original})


def _captured(deployment: Deployment, url: str, *, waiting_for: str | None = None) -> set[str]:
    """Execution ARNs in the queue. The status event is put when the execution's worker ends,
    a moment after describe_execution already says FAILED: poll for ``waiting_for``."""
    sqs = deployment.aws.client("sqs")
    arns: set[str] = set()
    deadline = time.monotonic() + 5
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        arns |= {json.loads(m["Body"])["detail"]["executionArn"] for m in messages}
        if not messages and (waiting_for is None or waiting_for in arns or time.monotonic() > deadline):
            return arns
        if not messages:
            time.sleep(0.05)


@pytest.fixture(autouse=True)
def _fresh_report(local_aws: LocalAws) -> None:
    assert local_aws.access is not None
    local_aws.access.clear()


def _denied_actions(deployment: Deployment) -> list[str]:
    assert deployment.aws.access is not None
    return [d.request.action for d in deployment.aws.access.denials]


# ---- the role's service grants -------------------------------------------------------------------


def test_without_dynamodb_put_item_the_claim_fails_and_nothing_is_sent(deployment: Deployment) -> None:
    sent_before = deployment.sent_counts()
    with _role_policy_changed(deployment, without_action("dynamodb:PutItem")):
        result = deployment.run({**SMS, "notificationId": new_id("grant")})

    assert (result.status, result.error) == ("FAILED", "DeliveryLogUnavailable")
    assert result.states_entered[-2:] == ["ClaimSms", "DeliveryLogUnavailable"]
    assert "DynamoDB.AccessDeniedException" in json.dumps(result.events, default=str)
    assert deployment.sent_counts() == sent_before
    assert _denied_actions(deployment) == ["dynamodb:PutItem"]


def test_without_dynamodb_update_item_the_outcome_cannot_be_recorded(deployment: Deployment) -> None:
    with _role_policy_changed(deployment, without_action("dynamodb:UpdateItem")):
        result = deployment.run({**SMS, "notificationId": new_id("grant")})

    assert (result.status, result.error) == ("FAILED", "DeliveryLogUnavailable")
    assert result.states_entered[-2:] == ["RecordOutcome", "DeliveryLogUnavailable"]
    assert set(_denied_actions(deployment)) == {"dynamodb:UpdateItem"}


def test_without_sns_publish_the_sms_fails_once_and_is_recorded(deployment: Deployment) -> None:
    nid = new_id("grant")
    with _role_policy_changed(deployment, without_action("sns:Publish")):
        result = deployment.run({**SMS, "notificationId": nid})

    assert (result.status, result.error) == ("FAILED", "DeliveryFailed")
    assert result.states_entered == ["ValidateRequest", "ClaimSms", "SendSms", "RecordFailed", "DeliveryFailed"]
    # SNS.AuthorizationErrorException is permanent: one attempt, no retries.
    assert _denied_actions(deployment) == ["sns:Publish"]
    assert deployment.record(nid)["results"]["sms"]["error"] == "SNS.AuthorizationErrorException"


def test_without_ses_send_email_the_email_fails_once_and_is_recorded(deployment: Deployment) -> None:
    nid = new_id("grant")
    with _role_policy_changed(deployment, without_action("ses:SendEmail")):
        result = deployment.run({**EMAIL, "notificationId": nid})

    assert (result.status, result.error) == ("FAILED", "DeliveryFailed")
    assert result.states_entered == ["ValidateRequest", "ClaimEmail", "SendEmail", "RecordFailed", "DeliveryFailed"]
    assert _denied_actions(deployment) == ["ses:SendEmail"]
    assert deployment.record(nid)["results"]["email"]["error"] == "SesV2.AccessDeniedException"


# ---- the keys ------------------------------------------------------------------------------------


def test_without_the_state_machine_key_grant_no_execution_starts(deployment: Deployment) -> None:
    with _role_policy_changed(deployment, _without_statement(_is_state_machine_key_grant)):
        with pytest.raises(ClientError) as raised:
            deployment.run({**SMS, "notificationId": new_id("grant")})

    assert raised.value.response["Error"]["Code"] == "KmsAccessDeniedException"
    assert _denied_actions(deployment) == ["kms:GenerateDataKey"]


def test_regression_key_condition_built_from_an_empty_machine_name_never_matches(deployment: Deployment) -> None:
    """Defect 1: CDK's condition compared the context with ``...:stateMachine:`` (no name)."""
    def cdk_condition(statements: list[Statement]) -> list[Statement]:
        for statement in statements:
            if _is_state_machine_key_grant(statement):
                [pattern] = statement["Condition"]["ArnLike"].values()
                unnamed = pattern.split("stateMachine:")[0] + "stateMachine:"
                statement["Condition"] = {"StringEquals": {"kms:EncryptionContext:aws:states:stateMachineArn": unnamed}}
        return statements

    with _role_policy_changed(deployment, cdk_condition):
        with pytest.raises(ClientError) as raised:
            deployment.run({**SMS, "notificationId": new_id("grant")})
    assert raised.value.response["Error"]["Code"] == "KmsAccessDeniedException"
    # With the ArnLike condition the same machine starts and sends.
    assert deployment.run({**SMS, "notificationId": new_id("grant")}).status == "SUCCEEDED"


def test_regression_without_the_delivery_log_key_grant_every_path_ends_unlogged(deployment: Deployment) -> None:
    """Defect 2: CDK's DynamoDB task grants do not add the table's customer-managed key."""
    sent_before = deployment.sent_counts()
    with _role_policy_changed(deployment, _without_statement(_is_table_key_grant)):
        result = deployment.run({**SMS, "notificationId": new_id("grant")})

    assert (result.status, result.error) == ("FAILED", "DeliveryLogUnavailable")
    assert result.states_entered[-2:] == ["ClaimSms", "DeliveryLogUnavailable"]
    assert _denied_actions(deployment) == ["kms:Decrypt"]
    assert deployment.sent_counts() == sent_before


def test_without_the_account_delegation_in_the_key_policy_no_execution_starts(deployment: Deployment) -> None:
    """The role's KMS grants count only because the key policy delegates to the account."""
    def delegation(statement: Statement) -> bool:
        return str(statement.get("Principal", {}).get("AWS", "")).endswith(":root")

    with _key_policy_changed(deployment, delegation):
        with pytest.raises(ClientError) as raised:
            deployment.run({**SMS, "notificationId": new_id("grant")})
    assert raised.value.response["Error"]["Code"] == "KmsAccessDeniedException"


def test_regression_logs_delivery_condition_expands_its_wildcard(deployment: Deployment) -> None:
    """Defect 3: ``kms:EncryptionContext:SourceArn`` = ``arn:aws:logs:<region>:<account>:*`` with
    StringEquals matches no real log group; the role's statement must match one, the old form not."""
    aws = deployment.aws
    assert aws.access is not None
    iam = aws.client("iam")
    role = _logical(deployment, "WorkflowStateMachineRole", "AWS::IAM::Role")
    role_arn = iam.get_role(RoleName=role)["Role"]["Arn"]
    key_arn = aws.client("kms").describe_key(
        KeyId=_logical(deployment, "WorkflowEncryptionKey", "AWS::KMS::Key"))["KeyMetadata"]["Arn"]
    group = f"arn:aws:logs:{aws.region}:{aws.account_id}:log-group:/aws/vendedlogs/states/x"
    delivery = AccessRequest(role_arn, "kms:GenerateDataKey", key_arn, {"kms:EncryptionContext:SourceArn": group})

    assert aws.access.evaluate(delivery) is None

    def string_equals(statements: list[Statement]) -> list[Statement]:
        for statement in statements:
            if "kms:EncryptionContext:SourceArn" in json.dumps(statement.get("Condition", {})):
                statement["Condition"] = {"StringEquals": statement["Condition"]["ArnLike"]}
        return statements

    with _role_policy_changed(deployment, string_equals):
        assert aws.access.evaluate(delivery) is not None


def test_the_phone_publish_grant_reaches_no_topic(deployment: Deployment) -> None:
    """``sns:Publish`` on ``*`` is what texting a phone number needs; the deny keeps it off every
    topic in the account, and removing the deny gives the topics back (so the deny is what counts)."""
    aws = deployment.aws
    assert aws.access is not None
    role = _logical(deployment, "WorkflowStateMachineRole", "AWS::IAM::Role")
    role_arn = aws.client("iam").get_role(RoleName=role)["Role"]["Arn"]
    topic = aws.client("sns").create_topic(Name=f"other-{new_id('topic')}")["TopicArn"]
    to_topic = AccessRequest(role_arn, "sns:Publish", topic)

    assert aws.access.evaluate(AccessRequest(role_arn, "sns:Publish", "*")) is None
    assert aws.access.evaluate(to_topic) is not None
    result = deployment.run({**SMS, "notificationId": new_id("grant")})
    assert result.status == "SUCCEEDED", result.cause

    def without_deny(statements: list[Statement]) -> list[Statement]:
        return [s for s in statements if s.get("Effect") != "Deny"]

    with _role_policy_changed(deployment, without_deny):
        assert aws.access.evaluate(to_topic) is None


# ---- service principals --------------------------------------------------------------------------


def test_without_the_queue_policy_failed_executions_are_not_captured(deployment: Deployment) -> None:
    failing = {**SMS, "phoneNumber": "not-a-number"}
    with _failed_queue_policy_removed(deployment) as url:
        _captured(deployment, url)  # drain what earlier tests left
        lost = deployment.run({**failing, "notificationId": new_id("grant")})
    kept = deployment.run({**failing, "notificationId": new_id("grant")})

    assert lost.status == kept.status == "FAILED"
    captured = _captured(deployment, url, waiting_for=kept.execution_arn)
    assert kept.execution_arn in captured and lost.execution_arn not in captured
    assert "sqs:SendMessage" in _denied_actions(deployment)


def test_without_the_events_key_grant_failed_executions_are_not_captured(deployment: Deployment) -> None:
    """The queue is encrypted with the stack key: EventBridge must be allowed to use it."""
    def events_grant(statement: Statement) -> bool:
        return statement.get("Principal", {}).get("Service") == "events.amazonaws.com"

    failing = {**SMS, "phoneNumber": "not-a-number"}
    url = deployment.stack.outputs["FailedExecutionsQueueUrl"]
    _captured(deployment, url)
    with _key_policy_changed(deployment, events_grant):
        lost = deployment.run({**failing, "notificationId": new_id("grant")})

    assert lost.status == "FAILED"
    time.sleep(0.5)  # the status event follows the execution's end; give a delivery time to show up
    assert lost.execution_arn not in _captured(deployment, url)
    assert "kms:GenerateDataKey" in _denied_actions(deployment)
