"""A whole-domain sender entry (``allowed_senders=["*@example.com"]``): any address of the domain
may send, others are rejected by the contract, and IAM (``ses:FromAddress``) refuses them too."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest

from constructs_lib import NotificationWorkflow
from local_aws import LocalAws
from local_aws.access import requests_for_call
from tests.behaviour.conftest import SENDER, Deployment, new_id


@pytest.fixture(scope="module")
def domain_senders(local_aws: LocalAws, tmp_path_factory: pytest.TempPathFactory) -> Deployment:
    app = cdk.App(outdir=str(tmp_path_factory.mktemp("senders")), analytics_reporting=False)
    stack = cdk.Stack(app, "NotifySenders")
    NotificationWorkflow(stack, "Workflow", sender=SENDER, email_identities=["example.com"],
                         allowed_senders=["*@example.com"])
    template = app.synth().get_stack_by_name("NotifySenders").template
    return Deployment(aws=local_aws, stack=local_aws.deploy_template("NotifySenders", template))


def _email(sender: str) -> dict[str, Any]:
    return {"notificationId": new_id("from"), "channel": "email", "message": "hi",
            "email": {"to": "a@example.org", "from": sender}}


def test_any_address_of_the_domain_may_send(domain_senders: Deployment) -> None:
    request = _email("billing@example.com")
    result = domain_senders.run(request)

    assert result.status == "SUCCEEDED", result.cause
    record = domain_senders.record(request["notificationId"])
    assert domain_senders.email(record["emailMessageId"]).from_address == "billing@example.com"


@pytest.mark.parametrize("sender", ["ceo@other.org", "example.com", "@example.com", "a@b@example.com"])
def test_other_senders_are_rejected_and_nothing_is_sent(domain_senders: Deployment, sender: str) -> None:
    sent_before = domain_senders.sent_counts()
    result = domain_senders.run(_email(sender))

    assert (result.status, result.error) == ("FAILED", "ValidationError")
    assert "allowed senders" in (result.cause or "")
    assert domain_senders.sent_counts() == sent_before


def _ses_send_denial(deployment: Deployment, sender: str) -> Any:
    """The access check's decision on the stack role's ses:SendEmail from ``sender`` on its identity."""
    aws = deployment.aws
    assert aws.access is not None
    role = aws.client("stepfunctions").describe_state_machine(
        stateMachineArn=deployment.stack.state_machine_arn)["roleArn"]
    [send] = requests_for_call(principal=role, iam_prefix="ses", operation="SendEmail",
                               params={"FromEmailAddress": sender}, account_id=aws.account_id,
                               region=aws.region, caller="test")
    denial = aws.access.evaluate(send)
    aws.access.clear()
    return denial


def test_iam_allows_the_domain_and_refuses_other_senders(domain_senders: Deployment) -> None:
    assert _ses_send_denial(domain_senders, "billing@example.com") is None
    assert _ses_send_denial(domain_senders, SENDER) is None
    assert _ses_send_denial(domain_senders, "ceo@other.org") is not None


def test_iam_refuses_an_address_of_a_granted_identity_outside_the_list(deployment: Deployment) -> None:
    """The dev stack grants identity/example.com, but ses:FromAddress allows only its two senders."""
    assert _ses_send_denial(deployment, "alerts@example.com") is None
    refused = _ses_send_denial(deployment, "ceo@example.com")
    assert refused is not None and refused.request.resource.endswith(":identity/example.com")
