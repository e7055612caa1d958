"""The delivery log: one DynamoDB item per request, written by native Step Functions tasks."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_backup as backup
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from .contract import SCHEDULE_TOKEN_FIELD, SCHEDULED_RECORD_FIELD
from .retry import DELIVERY_LOG_RETRY, DELIVERY_LOG_TRANSIENT_ERRORS

PARTITION_KEY = "notificationId"
TTL_ATTRIBUTE = "expiresAt"
CONDITIONAL_CHECK_FAILED = "DynamoDB.ConditionalCheckFailedException"
#: Record statuses of a scheduled send: waiting for its time, and cancelled before it.
SCHEDULED = "SCHEDULED"
CANCELLED = "CANCELLED"
#: Send-rate counters share the table; ``#`` never appears in a notificationId.
RATE_ITEM_PREFIX = "rate#"
# Provider message ids, written only for a channel that was sent (index keys cannot be empty),
# so delivery-status feedback can find the record from an SES or SNS event.
SMS_MESSAGE_ID_ATTRIBUTE = "smsMessageId"
EMAIL_MESSAGE_ID_ATTRIBUTE = "emailMessageId"
SMS_MESSAGE_ID_INDEX = "BySmsMessageId"
EMAIL_MESSAGE_ID_INDEX = "ByEmailMessageId"
# A value no record's token equals when the request has none (DynamoDB refuses an empty string).
_SCHEDULE_TOKEN = f'{{% $exists($request.{SCHEDULE_TOKEN_FIELD}) ? $request.{SCHEDULE_TOKEN_FIELD} : "-" %}}'
#: GSI name -> its partition key (string); KEYS_ONLY projections.
REQUIRED_INDEXES = {SMS_MESSAGE_ID_INDEX: SMS_MESSAGE_ID_ATTRIBUTE, EMAIL_MESSAGE_ID_INDEX: EMAIL_MESSAGE_ID_ATTRIBUTE}


def recoverable_table(scope: Construct, construct_id: str, *, partition_key: str, encryption_key: kms.IKey | None,
                      removal_policy: cdk.RemovalPolicy, time_to_live_attribute: str | None = None,
                      deletion_protection: bool | None = None) -> dynamodb.Table:
    """A new on-demand table keyed by the string ``partition_key``, with point-in-time recovery,
    encrypted with ``encryption_key`` (else an AWS-managed key): the secure defaults the
    library's tables share."""
    return dynamodb.Table(
        scope,
        construct_id,
        partition_key=dynamodb.Attribute(name=partition_key, type=dynamodb.AttributeType.STRING),
        billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
        point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
            point_in_time_recovery_enabled=True
        ),
        encryption=(
            dynamodb.TableEncryption.CUSTOMER_MANAGED if encryption_key
            else dynamodb.TableEncryption.AWS_MANAGED
        ),
        encryption_key=encryption_key,
        time_to_live_attribute=time_to_live_attribute,
        deletion_protection=deletion_protection,
        removal_policy=removal_policy,
    )


class DeliveryLog(Construct):
    """The table behind the delivery log, created (secure defaults) or taken from ``table``.

    :param table: an existing table whose partition key is the string ``notificationId`` (add the
        ``REQUIRED_INDEXES`` GSIs to it to use delivery-status feedback). Default: a new on-demand
        table with point-in-time recovery, encryption, a TTL attribute ``expiresAt`` and the
        message-id indexes.
    :param encryption_key: customer-managed key for a new table. Default: AWS-managed key.
    :param removal_policy: what happens to a new table when it leaves the stack.
        Default: ``RETAIN`` (the log is the record of what was sent).
    :param backup_plan: back the table up with AWS Backup (a new or a given table): ``True``
        creates a daily plan keeping each backup 35 days, in a vault encrypted with
        ``encryption_key`` (retained on delete); a ``backup.IBackupPlan`` of yours gets a selection
        for the table. Default: ``False`` (point-in-time recovery only; the NIST 800-53 and HIPAA
        packs' ``DynamoDBInBackupPlan`` finding is acknowledged on a new table, since those 35 days
        of continuous backups cover what a plan adds within the Region).

    Attributes: :attr:`table`, :attr:`backup_plan` (``None`` without one), :attr:`backup_vault`
    (the vault created with the plan, else ``None``).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        table: dynamodb.ITable | None = None,
        encryption_key: kms.IKey | None = None,
        removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.RETAIN,
        backup_plan: bool | backup.IBackupPlan = False,
    ) -> None:
        super().__init__(scope, construct_id)
        #: The AWS Backup plan that backs the table up (``None`` without one).
        self.backup_plan: backup.IBackupPlan | None = None
        #: The vault created with the plan (``None`` when no plan, or a plan of yours, is used).
        self.backup_vault: backup.BackupVault | None = None
        if table is not None:
            #: The delivery-log table (the one given, or the new one).
            self.table: dynamodb.ITable = table
            self._back_up(backup_plan, encryption_key, created=False)
            return
        created = recoverable_table(self, "Table", partition_key=PARTITION_KEY, encryption_key=encryption_key,
                                    removal_policy=removal_policy, time_to_live_attribute=TTL_ATTRIBUTE)
        for index, attribute in REQUIRED_INDEXES.items():
            created.add_global_secondary_index(
                index_name=index,
                partition_key=dynamodb.Attribute(name=attribute, type=dynamodb.AttributeType.STRING),
                projection_type=dynamodb.ProjectionType.KEYS_ONLY,
            )
        #: The delivery-log table (the new one, with the message-id indexes).
        self.table = created
        self._back_up(backup_plan, encryption_key, created=True)

    def _back_up(self, backup_plan: bool | backup.IBackupPlan, encryption_key: kms.IKey | None, *,
                 created: bool) -> None:
        if isinstance(backup_plan, bool):
            if not backup_plan:
                if created:
                    for pack in ("NIST.800.53.R5", "HIPAA.Security"):
                        cdk.Validations.of(self.table).acknowledge(cdk.Acknowledgment(
                            id=f"{pack}-DynamoDBInBackupPlan",
                            reason="Point-in-time recovery (35 days of continuous backups) is on and the table "
                                   "is retained on delete; an AWS Backup plan is opt-in (backup_plan=True).",
                        ))
                return
            self.backup_vault = backup.BackupVault(
                self, "BackupVault", encryption_key=encryption_key, removal_policy=cdk.RemovalPolicy.RETAIN,
            )
            self.backup_plan = backup.BackupPlan.daily35_day_retention(self, "BackupPlan", self.backup_vault)
        else:
            self.backup_plan = backup_plan
        selection = backup.BackupSelection(
            self, "BackupSelection", backup_plan=self.backup_plan,
            resources=[backup.BackupResource.from_dynamo_db_table(self.table)],
        )
        cdk.Validations.of(selection).acknowledge(cdk.Acknowledgment(
            id="AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
               "AWSBackupServiceRolePolicyForBackup]",
            reason="AWS Backup's own managed policy for the role it backs the table up with; AWS keeps it "
                   "current with the services Backup supports.",
        ))

    def _create_record(self, scope: Construct, state_id: str, *, item: str, timeout: cdk.Duration,
                       own_execution_may_replace: bool = False, by_schedule_token: bool = False,
                       output: str | None = None) -> sfn.CustomState:
        """Writes a new record whose whole typed item is the JSONata expression ``item``; fails with
        ``DynamoDB.ConditionalCheckFailedException`` when one with the same notificationId exists,
        so no request overwrites another's record (``own_execution_may_replace``: unless this very
        execution wrote it, as a scheduled send does before its wait; with ``by_schedule_token``,
        unless it holds ``$request.scheduleToken``, as one written for EventBridge Scheduler does).
        The caller grants ``dynamodb:PutItem``."""
        arguments: dict[str, object] = {
            "TableName": self.table.table_name,
            "Item": item,
            "ConditionExpression": "attribute_not_exists(#id)",
            "ExpressionAttributeNames": {"#id": PARTITION_KEY},
        }
        if own_execution_may_replace and by_schedule_token:
            arguments["ConditionExpression"] = f"attribute_not_exists(#id) OR {SCHEDULE_TOKEN_FIELD} = :token"
            arguments["ExpressionAttributeValues"] = {":token": {"S": _SCHEDULE_TOKEN}}
        elif own_execution_may_replace:
            arguments["ConditionExpression"] = "attribute_not_exists(#id) OR executionArn = :me"
            arguments["ExpressionAttributeValues"] = {":me": {"S": "{% $states.context.Execution.Id %}"}}
        state_json: dict[str, object] = {
            "Type": "Task",
            "Resource": f"arn:{cdk.Aws.PARTITION}:states:::dynamodb:putItem",
            "Arguments": arguments,
            "TimeoutSeconds": int(timeout.to_seconds()),
        }
        if output is not None:
            state_json["Output"] = output
        state = sfn.CustomState(scope, state_id, state_json=state_json)
        DELIVERY_LOG_RETRY.apply(state, transient_errors=DELIVERY_LOG_TRANSIENT_ERRORS)
        return state

    def _start_scheduled_send(self, scope: Construct, state_id: str, *, timeout: cdk.Duration,
                              by_schedule_token: bool = False) -> sfn.CustomState:
        """At a scheduled request's send time: marks this execution's record ``PROCESSING``; fails
        with ``DynamoDB.ConditionalCheckFailedException`` when it was cancelled meanwhile. With
        ``by_schedule_token`` the record is the one holding ``$request.scheduleToken`` and still
        ``SCHEDULED``: a schedule that fires twice starts the send once. Passes its input on. The
        caller grants ``dynamodb:UpdateItem``."""
        if by_schedule_token:
            condition = f"{SCHEDULE_TOKEN_FIELD} = :me AND #s = :scheduled"
            values = {":me": {"S": _SCHEDULE_TOKEN}, ":processing": {"S": "PROCESSING"}, ":scheduled": {"S": SCHEDULED}}
        else:
            condition = "executionArn = :me AND #s <> :cancelled"
            values = {":me": {"S": "{% $states.context.Execution.Id %}"}, ":processing": {"S": "PROCESSING"},
                      ":cancelled": {"S": CANCELLED}}
        state = sfn.CustomState(scope, state_id, state_json={
            "Type": "Task",
            "Resource": f"arn:{cdk.Aws.PARTITION}:states:::dynamodb:updateItem",
            "Arguments": {
                "TableName": self.table.table_name,
                "Key": {PARTITION_KEY: {"S": "{% $request.notificationId %}"}},
                "UpdateExpression": "SET #s = :processing",
                "ConditionExpression": condition,
                "ExpressionAttributeNames": {"#s": "status"},
                "ExpressionAttributeValues": values,
                "ReturnValues": "ALL_NEW",
            },
            # The claim that follows replaces the record: it keeps what duplicates wrote meanwhile.
            "Output": "{% $merge([$states.input, {\"" + SCHEDULED_RECORD_FIELD + "\": $states.result.Attributes}]) %}",
            "TimeoutSeconds": int(timeout.to_seconds()),
        })
        DELIVERY_LOG_RETRY.apply(state, transient_errors=DELIVERY_LOG_TRANSIENT_ERRORS)
        return state

    def _take_send_slot(self, scope: Construct, state_id: str, *, channel: str, per_second: int, units: str,
                        timeout: cdk.Duration, wait: cdk.Duration) -> sfn.CustomState:
        """Takes ``units`` (a JSONata expression, at most ``per_second``) of this second's
        ``per_second`` for ``channel`` before a send: a conditional counter on the item
        ``rate#<channel>#<epoch second>`` (gone two minutes later by TTL). When the second is full
        the update fails with ``DynamoDB.ConditionalCheckFailedException`` and is tried again
        about every half second (full jitter), each time in the second it runs in, for ``wait``.
        The caller grants ``dynamodb:UpdateItem``."""
        taken = f"$min([{units}, {per_second}])"
        second = "$floor($millis() / 1000)"
        state = sfn.CustomState(scope, state_id, state_json={
            "Type": "Task",
            "Resource": f"arn:{cdk.Aws.PARTITION}:states:::dynamodb:updateItem",
            "Arguments": {
                "TableName": self.table.table_name,
                "Key": {PARTITION_KEY: {"S": f'{{% "{RATE_ITEM_PREFIX}{channel}#" & $string({second}) %}}'}},
                "UpdateExpression": "ADD used :n SET expiresAt = :expires",
                "ConditionExpression": "attribute_not_exists(used) OR used <= :room",
                "ExpressionAttributeValues": {
                    ":n": {"N": f"{{% $string({taken}) %}}"},
                    ":room": {"N": f"{{% $string({per_second} - {taken}) %}}"},
                    ":expires": {"N": f"{{% $string({second} + 120) %}}"},
                },
            },
            "TimeoutSeconds": int(timeout.to_seconds()),
        })
        state.add_retry(errors=[CONDITIONAL_CHECK_FAILED], interval=cdk.Duration.seconds(1),
                        max_attempts=max(1, int(wait.to_seconds()) * 2), backoff_rate=1.0,
                        jitter_strategy=sfn.JitterType.FULL)
        DELIVERY_LOG_RETRY.apply(state, transient_errors=DELIVERY_LOG_TRANSIENT_ERRORS)
        return state

    def _count_duplicate(self, scope: Construct, state_id: str, *, timeout: cdk.Duration) -> sfn.CustomState:
        """Counts a duplicate request on the original record (an update: concurrent duplicates and
        delivery-status feedback are never overwritten). The caller grants ``dynamodb:UpdateItem``."""
        state = sfn.CustomState(scope, state_id, state_json={
            "Type": "Task",
            "Resource": f"arn:{cdk.Aws.PARTITION}:states:::dynamodb:updateItem",
            "Arguments": {
                "TableName": self.table.table_name,
                "Key": {PARTITION_KEY: {"S": "{% $request.notificationId %}"}},
                "UpdateExpression": ("SET lastDuplicateExecutionArn = :arn, lastDuplicateAt = :at "
                                     "ADD duplicateCount :one"),
                "ExpressionAttributeValues": {
                    ":arn": {"S": "{% $states.context.Execution.Id %}"},
                    ":at": {"S": "{% $states.context.State.EnteredTime %}"},
                    ":one": {"N": "1"},
                },
            },
            "TimeoutSeconds": int(timeout.to_seconds()),
        })
        DELIVERY_LOG_RETRY.apply(state, transient_errors=DELIVERY_LOG_TRANSIENT_ERRORS)
        return state

    def _update_record(
        self, scope: Construct, state_id: str, *, arguments: str, timeout: cdk.Duration
    ) -> sfn.CustomState:
        """An ``UpdateItem`` whose whole request is the JSONata expression ``arguments`` (the
        attributes it sets depend on the outcome), in a machine whose query language is JSONata.
        The caller grants ``dynamodb:UpdateItem``."""
        state = sfn.CustomState(scope, state_id, state_json={
            "Type": "Task",
            "Resource": f"arn:{cdk.Aws.PARTITION}:states:::dynamodb:updateItem",
            "Arguments": arguments,
            "TimeoutSeconds": int(timeout.to_seconds()),
        })
        DELIVERY_LOG_RETRY.apply(state, transient_errors=DELIVERY_LOG_TRANSIENT_ERRORS)
        return state
