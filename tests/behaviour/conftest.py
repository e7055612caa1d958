"""The synthesized stack deployed once into the embedded local AWS for the behaviour suite."""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
import pytest

from constructs_lib import NotificationWorkflow
from local_aws import DeployedStack, ExecutionResult, LocalAws, SentEmail, SmsMessage
from tests.conftest import cdk_json_context

SENDER = "notifications@example.com"
ALLOWED_SENDER = "alerts@example.com"


@dataclass
class Deployment:
    """The deployed dev stack and what it did, read back from the local AWS."""

    aws: LocalAws
    stack: DeployedStack

    def run(self, request: dict[str, Any], name: str | None = None) -> ExecutionResult:
        return self.aws.start_and_wait(self.stack.state_machine_arn, request, name=name or new_id())

    def record(self, notification_id: str) -> dict[str, Any]:
        item = self.aws.table_item(self.stack.table_name, {"notificationId": notification_id})
        assert item is not None, f"no delivery-log record for {notification_id}"
        return item

    def records(self) -> list[dict[str, Any]]:
        return self.aws.table_items(self.stack.table_name)

    def sms(self, message_id: str) -> SmsMessage:
        [sms] = [m for m in self.aws.sms_messages() if m.message_id == message_id]
        return sms

    def email(self, message_id: str) -> SentEmail:
        [email] = [m for m in self.aws.sent_emails() if m.message_id == message_id]
        return email

    def sent_counts(self) -> tuple[int, int]:
        return len(self.aws.sms_messages()), len(self.aws.sent_emails())


Statement = dict[str, Any]
Mutation = Callable[[list[Statement]], list[Statement]]


@contextmanager
def role_policy_changed(aws: LocalAws, role: str, change: Mutation) -> Iterator[None]:
    """The role's one inline policy as ``change`` makes it (a role name or ARN), restored on exit."""
    iam = aws.client("iam")
    role_name = role.rsplit("/", 1)[-1]
    [name] = iam.list_role_policies(RoleName=role_name)["PolicyNames"]
    original = iam.get_role_policy(RoleName=role_name, PolicyName=name)["PolicyDocument"]
    changed = copy.deepcopy(original)
    changed["Statement"] = change(changed["Statement"])
    assert changed != original, "the mutation changed nothing"
    iam.put_role_policy(RoleName=role_name, PolicyName=name, PolicyDocument=json.dumps(changed))
    try:
        yield
    finally:
        iam.put_role_policy(RoleName=role_name, PolicyName=name, PolicyDocument=json.dumps(original))


def without_action(action: str) -> Mutation:
    def change(statements: list[Statement]) -> list[Statement]:
        kept = []
        for statement in statements:
            actions = [a for a in statement_actions(statement) if a != action]
            if actions:
                kept.append({**statement, "Action": actions})
        return kept
    return change


def statement_actions(statement: Statement) -> list[str]:
    actions = statement["Action"]
    return [actions] if isinstance(actions, str) else list(actions)


def new_id(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="package")
def local_aws() -> Iterator[LocalAws]:
    settings = cdk_json_context()["notify-cdk"]["environments"]["dev"]
    with LocalAws.in_process() as aws:
        aws.verify_email_identities([settings["sender"], *settings["allowedSenders"], *settings["emailIdentities"]])
        yield aws
        assert aws.access is not None
        print("\n" + aws.access.report())


@pytest.fixture(scope="package")
def deployment(local_aws: LocalAws, synthesized: Any) -> Deployment:
    """The app's own dev stack, as cdk.json configures it."""
    return Deployment(aws=local_aws, stack=local_aws.deploy_assembly(synthesized.outdir, "NotifyCdk-dev"))


def deploy_stack(local_aws: LocalAws, tmp_path_factory: pytest.TempPathFactory, stack_name: str,
                 build: Callable[[cdk.Stack], object]) -> Deployment:
    """A stack of its own, built by ``build``, synthesized and deployed into the local AWS."""
    app = cdk.App(outdir=str(tmp_path_factory.mktemp(stack_name)), analytics_reporting=False)
    build(cdk.Stack(app, stack_name))
    template = app.synth().get_stack_by_name(stack_name).template
    return Deployment(aws=local_aws, stack=local_aws.deploy_template(stack_name, template))


@pytest.fixture(scope="package")
def variant(local_aws: LocalAws, tmp_path_factory: pytest.TempPathFactory) -> Deployment:
    """The workflow with the opt-in behaviours on: SMS-to-email fallback, plain recipients and
    the message kept in the delivery log."""
    app = cdk.App(outdir=str(tmp_path_factory.mktemp("variant")), analytics_reporting=False)
    stack = cdk.Stack(app, "NotifyVariant")
    NotificationWorkflow(
        stack, "Workflow", sender=SENDER, email_identities=["example.com"],
        sms_fallback_to_email=True, store_plain_recipients=True, store_message=True,
    )
    template = app.synth().get_stack_by_name("NotifyVariant").template
    return Deployment(aws=local_aws, stack=local_aws.deploy_template("NotifyVariant", template))
