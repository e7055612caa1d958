"""Log groups encrypted with a customer-managed key: names the key policy can point at, and the
key-policy statement that lets CloudWatch Logs use the key for those groups only; and the key of a
topic whose messages are transient."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct


def named_log_group(scope: Construct, purpose: str) -> str:
    """A log group name fixed by the construct's path. Groups encrypted with a customer-managed
    key get one: the key policy must name the group, and with a generated name the key and the
    group would each depend on the other."""
    return f"/notify-cdk/{cdk.Names.unique_id(scope)}/{purpose}"


def allow_logs_to_use_key(scope: Construct, key: kms.IKey, log_group_names: list[str]) -> None:
    """Lets CloudWatch Logs use ``key`` for these log groups only (encryption-context condition).
    Only a key created in this app can be changed; an imported key must allow it already."""
    if not isinstance(key, kms.Key):
        return
    stack = cdk.Stack.of(scope)
    key.add_to_resource_policy(iam.PolicyStatement(
        principals=[iam.ServicePrincipal(f"logs.{stack.region}.amazonaws.com")],
        actions=["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
        resources=["*"],
        conditions={"ArnEquals": {"kms:EncryptionContext:aws:logs:arn": [
            stack.format_arn(service="logs", resource="log-group", resource_name=name,
                             arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME)
            for name in log_group_names
        ]}},
    ))


def retained_log_group(
    scope: Construct, construct_id: str, *, purpose: str, retention: logs.RetentionDays,
    encryption_key: kms.IKey | None,
) -> logs.LogGroup:
    """A log group kept on delete, encrypted with ``encryption_key`` when one is given (and then
    named after ``purpose`` so the key policy can point at it)."""
    name = None
    if encryption_key is not None:
        name = named_log_group(scope, purpose)
        allow_logs_to_use_key(scope, encryption_key, [name])
    return logs.LogGroup(
        scope, construct_id, log_group_name=name, retention=retention, encryption_key=encryption_key,
        removal_policy=cdk.RemovalPolicy.RETAIN,
    )


def transient_topic_key(scope: Construct, construct_id: str, description: str) -> kms.Key:
    """A key for a topic whose messages are transient: nothing stays encrypted under it once they
    are delivered, so it is destroyed with the stack (after the shortest pending window)."""
    return kms.Key(scope, construct_id, description=description, enable_key_rotation=True,
                   removal_policy=cdk.RemovalPolicy.DESTROY, pending_window=cdk.Duration.days(7))
