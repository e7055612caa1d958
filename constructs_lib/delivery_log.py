"""The delivery log: one DynamoDB item per request, written by native Step Functions tasks."""

from __future__ import annotations

from collections.abc import Mapping

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from .retry import DELIVERY_LOG_RETRY, DELIVERY_LOG_TRANSIENT_ERRORS

Attr = tasks.DynamoAttributeValue
JsonPath = sfn.JsonPath

PARTITION_KEY = "notificationId"
TTL_ATTRIBUTE = "expiresAt"
CONDITIONAL_CHECK_FAILED = "DynamoDB.ConditionalCheckFailedException"
# Provider message ids, written only for a channel that was sent (index keys cannot be empty),
# so delivery-status feedback can find the record from an SES or SNS event.
SMS_MESSAGE_ID_ATTRIBUTE = "smsMessageId"
EMAIL_MESSAGE_ID_ATTRIBUTE = "emailMessageId"
SMS_MESSAGE_ID_INDEX = "BySmsMessageId"
EMAIL_MESSAGE_ID_INDEX = "ByEmailMessageId"
#: GSI name -> its partition key (string); KEYS_ONLY projections.
REQUIRED_INDEXES = {SMS_MESSAGE_ID_INDEX: SMS_MESSAGE_ID_ATTRIBUTE, EMAIL_MESSAGE_ID_INDEX: EMAIL_MESSAGE_ID_ATTRIBUTE}


class DeliveryLog(Construct):
    """The table behind the delivery log, created (secure defaults) or taken from ``table``.

    :param table: an existing table whose partition key is the string ``notificationId`` (add the
        ``REQUIRED_INDEXES`` GSIs to it to use delivery-status feedback). Default: a new on-demand
        table with point-in-time recovery, encryption, a TTL attribute ``expiresAt`` and the
        message-id indexes.
    :param encryption_key: customer-managed key for a new table. Default: AWS-managed key.
    :param removal_policy: what happens to a new table when it leaves the stack.
        Default: ``RETAIN`` (the log is the record of what was sent).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        table: dynamodb.ITable | None = None,
        encryption_key: kms.IKey | None = None,
        removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, construct_id)
        if table is not None:
            #: The delivery-log table (the one given, or the new one).
            self.table: dynamodb.ITable = table
            return
        created = dynamodb.Table(
            self,
            "Table",
            partition_key=dynamodb.Attribute(name=PARTITION_KEY, type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            encryption=(
                dynamodb.TableEncryption.CUSTOMER_MANAGED if encryption_key
                else dynamodb.TableEncryption.AWS_MANAGED
            ),
            encryption_key=encryption_key,
            time_to_live_attribute=TTL_ATTRIBUTE,
            removal_policy=removal_policy,
        )
        for index, attribute in REQUIRED_INDEXES.items():
            created.add_global_secondary_index(
                index_name=index,
                partition_key=dynamodb.Attribute(name=attribute, type=dynamodb.AttributeType.STRING),
                projection_type=dynamodb.ProjectionType.KEYS_ONLY,
            )
        #: The delivery-log table (the new one, with the message-id indexes).
        self.table = created

    def create_record(
        self,
        scope: Construct,
        state_id: str,
        *,
        item: Mapping[str, tasks.DynamoAttributeValue],
        result_selector: Mapping[str, object] | None = None,
        result_path: str | None = None,
        timeout: cdk.Duration,
    ) -> tasks.DynamoPutItem:
        """Writes a new record; fails with ``DynamoDB.ConditionalCheckFailedException`` when
        one with the same notificationId exists, so no request overwrites another's record."""
        state = tasks.DynamoPutItem(
            scope,
            state_id,
            table=self.table,
            item=dict(item),
            condition_expression="attribute_not_exists(#id)",
            expression_attribute_names={"#id": PARTITION_KEY},
            result_selector=dict(result_selector) if result_selector else None,
            result_path=result_path if result_path else JsonPath.DISCARD,
            task_timeout=sfn.Timeout.duration(timeout),
        )
        DELIVERY_LOG_RETRY.apply(state, transient_errors=DELIVERY_LOG_TRANSIENT_ERRORS)
        return state

    def update_record(
        self,
        scope: Construct,
        state_id: str,
        *,
        key_path: str,
        set_attributes: Mapping[str, tasks.DynamoAttributeValue],
        add_counters: Mapping[str, int] | None = None,
        timeout: cdk.Duration,
    ) -> tasks.DynamoUpdateItem:
        """Sets attributes on the record at ``key_path`` (an update, so concurrent writers such as
        the duplicate counter or delivery-status feedback are not overwritten)."""
        names = {f"#{attr}": attr for attr in [*set_attributes, *(add_counters or {})]}
        values = {f":{attr}": value for attr, value in set_attributes.items()}
        expression = "SET " + ", ".join(f"#{a} = :{a}" for a in set_attributes)
        if add_counters:
            values.update({f":{a}": Attr.from_number(n) for a, n in add_counters.items()})
            expression += " ADD " + ", ".join(f"#{a} :{a}" for a in add_counters)
        state = tasks.DynamoUpdateItem(
            scope,
            state_id,
            table=self.table,
            key={PARTITION_KEY: string_at(key_path)},
            update_expression=expression,
            expression_attribute_names=names,
            expression_attribute_values=values,
            result_path=JsonPath.DISCARD,
            task_timeout=sfn.Timeout.duration(timeout),
        )
        DELIVERY_LOG_RETRY.apply(state, transient_errors=DELIVERY_LOG_TRANSIENT_ERRORS)
        return state


def string_at(path: str) -> tasks.DynamoAttributeValue:
    return Attr.from_string(JsonPath.string_at(path))


def channel_result(path: str) -> tasks.DynamoAttributeValue:
    """A channel outcome as the send states leave it: status, messageId, error, cause."""
    return Attr.from_map({field: string_at(f"{path}.{field}") for field in ("status", "messageId", "error", "cause")})
