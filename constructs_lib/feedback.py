"""DeliveryFeedback: what the providers report after sending (delivered, bounced, complained,
failed) lands on the delivery-log record of the notification.

Email: SES configuration set -> event destination (Delivery, Bounce, Complaint, Reject) -> SNS
topic (KMS-encrypted, TLS only) -> SQS queue -> Lambda. The queue sits between SNS and the
function because the function's concurrency is deliberately small: SQS absorbs bursts (a bounce
storm), lets the function report per-record failures (``batchItemFailures``) so one record is
retried without its batch, and keeps what cannot be processed in a dead-letter queue in its
original form (an alarm fires while anything is there). SNS invoking Lambda directly would retry
a throttled invocation only as a whole and cannot retry a single record later.

SMS through AWS End User Messaging SMS: the configuration set's SNS event destination publishes
its ``TEXT_*`` events to the same topic (:attr:`DeliveryFeedback.sms_event_topic`; pass it as
``EndUserMessagingSms(event_topic=...)``, which adds the topic and key policy statements End User
Messaging needs), so they share the queue, the function's retries and the dead-letter queue with
the SES events.

SMS through SNS: SNS writes SMS delivery-status logs to ``sns/<region>/<account>/DirectPublishToPhoneNumber``
(and ``.../Failure``) once the account's SMS attributes point at :attr:`sms_delivery_status_role`.
CloudFormation cannot set account-level SMS attributes; run once per account and Region::

    aws sns set-sms-attributes --attributes \\
        DeliveryStatusIAMRole=<sms_delivery_status_role ARN>,DeliveryStatusSuccessSamplingRate=100

(without a success sampling rate of 100, SNS logs only failures and no SMS ever shows DELIVERED).
Subscription filters on both log groups invoke the same function asynchronously; failed
invocations end in the same dead-letter queue after Lambda's two retries.

The function finds the record through two GSIs of the delivery-log table that the workflow must
write (see :data:`REQUIRED_INDEXES`).
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from typing import TYPE_CHECKING

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_logs_destinations as logs_destinations
from aws_cdk import aws_ses as ses
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from ._log_encryption import allow_logs_to_use_key, retained_log_group, transient_topic_key
from ._nag import nag_resource
from ._props import PropError, is_token, require_int_between, require_workflow_or
from .delivery_log import (
    EMAIL_MESSAGE_ID_ATTRIBUTE,
    EMAIL_MESSAGE_ID_INDEX,
    REQUIRED_INDEXES,
    SMS_MESSAGE_ID_ATTRIBUTE,
    SMS_MESSAGE_ID_INDEX,
)

if TYPE_CHECKING:
    from .workflow import NotificationWorkflow

__all__ = [
    "ASSET_EXCLUDE",
    "DeliveryFeedback",
    "EMAIL_MESSAGE_ID_ATTRIBUTE",
    "EMAIL_MESSAGE_ID_INDEX",
    "HANDLER_DIRECTORY",
    "METRICS_NAMESPACE",
    "REQUIRED_INDEXES",
    "SMS_MESSAGE_ID_ATTRIBUTE",
    "LOG_ENCRYPTION_FINDINGS",
    "ALARM_ACTION_FINDINGS",
    "SMS_MESSAGE_ID_INDEX",
]

_NAME = "DeliveryFeedback"
_PACKS = ("NIST.800.53.R5", "HIPAA.Security")
#: What the NIST 800-53 and HIPAA packs report for log groups without a customer-managed key.
LOG_ENCRYPTION_FINDINGS = tuple(f"{pack}-CloudWatchLogGroupEncrypted" for pack in _PACKS)
#: What the NIST 800-53 and HIPAA packs report for an alarm that notifies nobody.
ALARM_ACTION_FINDINGS = tuple(f"{pack}-CloudWatchAlarmAction" for pack in _PACKS)

_HANDLER_PACKAGE = "lambda_src.delivery_status"


def _handler_directory() -> Path:
    """The directory of the handler package, wherever it is imported from: the checkout, or
    site-packages when notify-cdk is installed (it ships ``lambda_src`` beside ``constructs_lib``)."""
    try:
        spec = importlib.util.find_spec(_HANDLER_PACKAGE)
    except ModuleNotFoundError:  # no lambda_src at all
        spec = None
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    directory = Path(locations[0]).resolve() if locations else None
    if directory is None or not (directory / "handler.py").is_file():
        parent = importlib.util.find_spec("lambda_src")
        found = list(parent.submodule_search_locations or []) if parent is not None else []
        raise ImportError(
            f"{_NAME}: no handler.py in the Lambda handler package {_HANDLER_PACKAGE} (directory: {directory}; "
            f"lambda_src found at: {found or 'nowhere'}). notify-cdk installs lambda_src beside constructs_lib: "
            "reinstall it, or rename a different lambda_src package that comes first on sys.path."
        )
    return directory


HANDLER_DIRECTORY = _handler_directory()
# Bytecode differs per machine and Python; excluding it keeps the asset hash stable.
ASSET_EXCLUDE = ["__pycache__", "*.pyc"]


METRICS_NAMESPACE = "NotifyCdk/DeliveryFeedback"
SES_EVENTS = [
    ses.EmailSendingEvent.DELIVERY,
    ses.EmailSendingEvent.BOUNCE,
    ses.EmailSendingEvent.COMPLAINT,
    ses.EmailSendingEvent.REJECT,
]

_FUNCTION_TIMEOUT = cdk.Duration.seconds(30)
# AWS recommends a visibility timeout of at least six times the function timeout.
_VISIBILITY_TIMEOUT = cdk.Duration.minutes(3)
_MAX_RECEIVE_COUNT = 8
# An unmatched recent email event is retried for this long, then dropped; it stays below
# visibility timeout x (receives - 1), so such events never reach the dead-letter queue.
_UNMATCHED_RETRY_SECONDS = 600
# Duration is immutable, so one shared default instance is safe.
_DEFAULT_PERIOD = cdk.Duration.minutes(5)
_CONFIGURATION_SET_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class DeliveryFeedback(Construct):
    """Delivery-status feedback for the delivery log: SES events, AWS End User Messaging SMS events
    and SNS SMS delivery logs.

    Every prop is keyword-only.

    :param workflow: the notification workflow whose delivery log (``table``) gets the statuses.
        Default: none (then give ``table``).
    :param table: the delivery-log table (partition key ``notificationId``), when no ``workflow``
        is given. It must have the GSIs in :data:`REQUIRED_INDEXES` (``BySmsMessageId`` on
        ``smsMessageId`` and ``ByEmailMessageId`` on ``emailMessageId``, strings), which the
        workflow fills. Default: the workflow's.
    :param configuration_set_name: an existing SES configuration set to add the event
        destination to (the workflow must send with it). Default: a new configuration set,
        exposed as :attr:`configuration_set_name`.
    :param reserved_concurrency: reserved concurrency of the function, shared by the SQS event
        source and the SMS log subscriptions. From 3 to 1000. Default: 5.
    :param max_queue_concurrency: the SQS event source's maximum concurrency. It must stay below
        ``reserved_concurrency``: at or above it, queue batches take every slot, so the SMS log
        invocations are throttled and throttled batches count receives towards the dead-letter
        queue. From 2 (the event source's minimum) to ``reserved_concurrency - 1``.
        Default: half of ``reserved_concurrency``, at least 2.
    :param log_retention: retention of the function's log group and of the SMS delivery-status
        log groups this construct creates. Default: one month.
    :param create_sms_log_groups: create the two SMS delivery-status log groups (their names are
        fixed by SNS, one pair per account and Region). Set ``False`` when they exist already
        (another stack made them, or SNS did once delivery-status logging was on); the
        subscription filters then attach to the existing groups. Default: ``True``.
    :param encryption_key: customer-managed key for the event topic and the log groups this
        construct creates. A ``kms.Key`` gets key-policy statements letting SES (topic) and
        CloudWatch Logs (those groups) use it, and one for End User Messaging
        (``sms-voice.amazonaws.com``) once an ``EndUserMessagingSms`` gets :attr:`sms_event_topic`;
        an imported key must allow them already.
        Default: a new key for the topic only; log groups use CloudWatch Logs' own encryption and
        the NIST 800-53 and HIPAA packs report it (see :attr:`unacknowledged_findings`).
    :param alarm_topic: topic the dead-letter alarm notifies (e.g.
        ``NotificationMonitoring.alarm_topic``; ``NotificationService`` passes its monitoring's).
        Default: none: the alarm has no action until you add one, and the NIST 800-53 and HIPAA
        packs report it (see :attr:`unacknowledged_findings`).

    Attributes: :attr:`function`, :attr:`log_group`, :attr:`event_topic` (also
    :attr:`sms_event_topic`), :attr:`topic_key`,
    :attr:`event_queue`, :attr:`dead_letter_queue`, :attr:`dead_letter_alarm` (notifies
    ``alarm_topic``), :attr:`configuration_set`, :attr:`configuration_set_name`,
    :attr:`sms_delivery_status_role`, :attr:`sms_log_groups`, :attr:`unacknowledged_findings`
    (cdk-nag findings left to the stack: none when an ``encryption_key`` and an ``alarm_topic``
    are given).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        workflow: NotificationWorkflow | None = None,
        table: dynamodb.ITable | None = None,
        configuration_set_name: str | None = None,
        reserved_concurrency: int = 5,
        max_queue_concurrency: int | None = None,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH,
        create_sms_log_groups: bool = True,
        encryption_key: kms.IKey | None = None,
        alarm_topic: sns.ITopic | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        require_workflow_or(_NAME, workflow, {"table": table}, required=("table",))
        table = workflow.table if workflow is not None else table
        assert table is not None  # require_workflow_or checked it
        if max_queue_concurrency is None:
            max_queue_concurrency = max(2, reserved_concurrency // 2)
        self._check_props(configuration_set_name=configuration_set_name, reserved_concurrency=reserved_concurrency,
                          max_queue_concurrency=max_queue_concurrency)
        stack = cdk.Stack.of(self)

        # ---- queues: events wait here; what cannot be processed ends in the dead-letter queue
        #: Events the function could not process after its retries (encrypted, 14 days).
        self.dead_letter_queue = sqs.Queue(
            self,
            "DeadLetterQueue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=cdk.Duration.days(14),
            removal_policy=cdk.RemovalPolicy.DESTROY,  # holds copies of provider events only
        )
        #: In alarm while any event waits in the dead-letter queue: each is a delivery status
        #: the delivery log is missing until someone redrives it.
        self.dead_letter_alarm = cloudwatch.Alarm(
            self,
            "DeadLetterAlarm",
            metric=self.metric_dead_letters(period=cdk.Duration.minutes(1)),
            threshold=0,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description="Delivery-status feedback: events wait in the dead-letter queue; "
                              "inspect them, fix the cause, then redrive.",
        )
        if alarm_topic is not None:
            self.dead_letter_alarm.add_alarm_action(cloudwatch_actions.SnsAction(alarm_topic))
        #: SES and End User Messaging SMS events from the topic, consumed by the function in batches.
        self.event_queue = sqs.Queue(
            self,
            "EventQueue",
            # SSE-SQS, not a KMS key: SNS can deliver to it without a key policy of ours.
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            visibility_timeout=_VISIBILITY_TIMEOUT,
            dead_letter_queue=sqs.DeadLetterQueue(queue=self.dead_letter_queue, max_receive_count=_MAX_RECEIVE_COUNT),
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )

        # ---- email: configuration set -> topic -> queue
        #: The key encrypting the SES event topic (the one given, or a new one).
        self.topic_key: kms.IKey = encryption_key or transient_topic_key(
            self, "EventTopicKey", "Encrypts SES delivery events on the delivery-feedback topic")
        if isinstance(self.topic_key, kms.Key):
            # SES publishes to an encrypted topic only if the key lets it (an AWS-managed key cannot).
            self.topic_key.add_to_resource_policy(iam.PolicyStatement(
                principals=[iam.ServicePrincipal("ses.amazonaws.com")],
                actions=["kms:GenerateDataKey*", "kms:Decrypt"],
                resources=["*"],
                conditions={"StringEquals": {"aws:SourceAccount": stack.account},
                            # Only configuration sets of this account and Region publish events.
                            "ArnLike": {"aws:SourceArn": stack.format_arn(
                                service="ses", resource="configuration-set", resource_name="*")}},
            ))
        #: Where the configuration set publishes delivery, bounce, complaint and reject events.
        self.event_topic = sns.Topic(self, "EventTopic", master_key=self.topic_key, enforce_ssl=True)
        self.event_topic.add_subscription(subscriptions.SqsSubscription(self.event_queue))
        #: The topic an AWS End User Messaging SMS configuration set publishes its delivery events to:
        #: give it as ``EndUserMessagingSms(event_topic=...)``. The same topic as :attr:`event_topic`
        #: (the handler tells the events apart); End User Messaging may publish to it once that
        #: construct added its topic policy statement, and nothing is allowed before.
        self.sms_event_topic: sns.ITopic = self.event_topic

        if configuration_set_name is None:
            created = ses.ConfigurationSet(self, "ConfigurationSet")
            #: The SES configuration set whose events are read (created or looked up).
            self.configuration_set: ses.IConfigurationSet = created
        else:
            self.configuration_set = ses.ConfigurationSet.from_configuration_set_name(
                self, "ConfigurationSet", configuration_set_name
            )
        #: Its name, for the workflow's ``configuration_set_name``.
        self.configuration_set_name: str = self.configuration_set.configuration_set_name
        ses.ConfigurationSetEventDestination(
            self,
            "EmailEvents",
            configuration_set=self.configuration_set,
            destination=ses.EventDestination.sns_topic(self.event_topic),
            events=SES_EVENTS,
        )

        # ---- the function
        #: The function's log group.
        self.log_group = retained_log_group(
            self, "FunctionLogs", purpose="function", retention=log_retention, encryption_key=encryption_key
        )
        role = iam.Role(
            self,
            "FunctionRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Delivery-status feedback: reads SES/SMS events, updates the delivery log",
        )
        # Its own log group only, instead of the account-wide AWSLambdaBasicExecutionRole.
        self.log_group.grant_write(role)
        #: The delivery-status handler (``lambda_src/delivery_status``).
        self.function = lambda_.Function(
            self,
            "Function",
            runtime=lambda_.Runtime.PYTHON_3_14,
            architecture=lambda_.Architecture.ARM_64,
            handler="handler.handler",
            code=lambda_.Code.from_asset(str(HANDLER_DIRECTORY), exclude=ASSET_EXCLUDE),
            description="Applies SES and SNS SMS delivery events to the notification delivery log",
            role=role,
            memory_size=256,
            timeout=_FUNCTION_TIMEOUT,
            tracing=lambda_.Tracing.ACTIVE,
            reserved_concurrent_executions=reserved_concurrency,
            dead_letter_queue=self.dead_letter_queue,
            retry_attempts=2,
            log_group=self.log_group,
            environment={
                "DELIVERY_LOG_TABLE": table.table_name,
                "SMS_MESSAGE_ID_INDEX": SMS_MESSAGE_ID_INDEX,
                "EMAIL_MESSAGE_ID_INDEX": EMAIL_MESSAGE_ID_INDEX,
                "METRICS_NAMESPACE": METRICS_NAMESPACE,
                "UNMATCHED_RETRY_SECONDS": str(_UNMATCHED_RETRY_SECONDS),
            },
        )
        self.function.add_event_source(event_sources.SqsEventSource(
            self.event_queue,
            batch_size=10,
            report_batch_item_failures=True,
            max_concurrency=max_queue_concurrency,
        ))
        self._grant_table(table, role)

        # ---- SMS: delivery-status log groups -> subscription filters -> the function
        #: Role SNS uses to write SMS delivery-status logs; set it as the account's ``DeliveryStatusIAMRole``.
        self.sms_delivery_status_role = iam.Role(
            self,
            "SmsDeliveryStatusRole",
            assumed_by=iam.ServicePrincipal(
                "sns.amazonaws.com", conditions={"StringEquals": {"aws:SourceAccount": stack.account}}
            ),
            description="SNS writes SMS delivery-status logs with this role: set the account's SMS "
                        "attribute DeliveryStatusIAMRole to its ARN",
        )
        base_name = f"sns/{stack.region}/{stack.account}/DirectPublishToPhoneNumber"
        #: The SNS SMS delivery-status log groups the function subscribes to, by name.
        self.sms_log_groups: dict[str, logs.ILogGroup] = {}
        for construct_name, group_name in (("SmsDeliveryLogs", base_name), ("SmsFailureLogs", f"{base_name}/Failure")):
            group = self._sms_log_group(construct_name, group_name, create_sms_log_groups, log_retention,
                                        encryption_key)
            self.sms_log_groups[group_name] = group
            logs.SubscriptionFilter(
                self,
                f"{construct_name}Subscription",
                log_group=group,
                destination=logs_destinations.LambdaDestination(self.function),
                filter_pattern=logs.FilterPattern.all_events(),
            )

        #: cdk-nag findings a stack must acknowledge itself (choices this construct cannot own).
        self.unacknowledged_findings: list[str] = [
            *([] if encryption_key else LOG_ENCRYPTION_FINDINGS), *([] if alarm_topic else ALARM_ACTION_FINDINGS)]
        self._acknowledge_findings(table, role)

    # ---- parts ----------------------------------------------------------------------------------

    def _sms_log_group(self, construct_name: str, group_name: str, create: bool,
                       retention: logs.RetentionDays, encryption_key: kms.IKey | None) -> logs.ILogGroup:
        stack = cdk.Stack.of(self)
        group_arn = stack.format_arn(
            service="logs", resource="log-group", resource_name=group_name,
            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
        )
        group: logs.ILogGroup
        if create:
            if encryption_key is not None:
                allow_logs_to_use_key(self, encryption_key, [group_name])
            group = logs.LogGroup(
                self, construct_name, log_group_name=group_name, retention=retention,
                encryption_key=encryption_key, removal_policy=cdk.RemovalPolicy.RETAIN,
            )
        else:
            group = logs.LogGroup.from_log_group_name(self, construct_name, group_name)
        # SNS may try to create the group before writing; it exists, so this only avoids a denial.
        self.sms_delivery_status_role.add_to_principal_policy(iam.PolicyStatement(
            actions=["logs:CreateLogGroup"], resources=[group_arn]
        ))
        # The group ARN attribute ends in ":*": the group's log streams, whose names SNS picks.
        self.sms_delivery_status_role.add_to_principal_policy(iam.PolicyStatement(
            actions=["logs:CreateLogStream", "logs:PutLogEvents"], resources=[group.log_group_arn]
        ))
        return group

    def _grant_table(self, table: dynamodb.ITable, role: iam.IRole) -> None:
        """Query on the two GSIs and UpdateItem on the table: nothing that reads or writes whole items."""
        iam.Grant.add_to_principal(
            grantee=role,
            actions=["dynamodb:Query"],
            resource_arns=[f"{table.table_arn}/index/{index}" for index in REQUIRED_INDEXES],
        )
        iam.Grant.add_to_principal(grantee=role, actions=["dynamodb:UpdateItem"], resource_arns=[table.table_arn])
        if table.encryption_key is not None:
            table.encryption_key.grant_encrypt_decrypt(role)

    def _acknowledge_findings(self, table: dynamodb.ITable, role: iam.Role) -> None:
        """Findings that follow from this construct's design, acknowledged where they arise.
        The NIST 800-53 and HIPAA ids matter where a stack runs those packs too."""
        for pack in _PACKS:
            for owner in (role, self.sms_delivery_status_role):
                cdk.Validations.of(owner).acknowledge(cdk.Acknowledgment(
                    id=f"{pack}-IAMNoInlinePolicy",
                    reason="The role's statements are attached as a policy of that one role; a managed "
                           "policy would only make them shareable.",
                ))
            cdk.Validations.of(self.function).acknowledge(cdk.Acknowledgment(
                id=f"{pack}-LambdaInsideVPC",
                reason="The function reaches only AWS APIs (DynamoDB, X-Ray) over TLS with IAM, like the "
                       "rest of this VPC-less service; a VPC would add endpoints and no protection.",
            ))
        acknowledge = cdk.Validations.of(role).acknowledge
        acknowledge(cdk.Acknowledgment(
            id="AwsSolutions-IAM5[Resource::*]",
            reason="X-Ray tracing (xray:PutTraceSegments, xray:PutTelemetryRecords) has no resource-level "
                   "permissions; it is the only statement on '*'.",
        ))
        if table.encryption_key is not None:
            for action in ("kms:GenerateDataKey*", "kms:ReEncrypt*"):
                acknowledge(cdk.Acknowledgment(
                    id=f"AwsSolutions-IAM5[Action::{action}]",
                    reason="The delivery-log table is encrypted with a customer-managed key; writing "
                           "through DynamoDB needs the key's encrypt/decrypt action group, on that key only.",
                ))
        for group in self.sms_log_groups.values():
            resource = nag_resource(self, group.log_group_arn)
            if "*" in resource:  # an imported group's ARN is built here, not read from the group
                cdk.Validations.of(self.sms_delivery_status_role).acknowledge(cdk.Acknowledgment(
                    id=f"AwsSolutions-IAM5[Resource::{resource}]",
                    reason="SNS names the log streams of the SMS delivery-status log group at run time; "
                           "the wildcard covers that one group's streams.",
                ))

    # ---- public helpers -------------------------------------------------------------------------

    def metric(self, metric_name: str, *, period: cdk.Duration = _DEFAULT_PERIOD) -> cloudwatch.Metric:
        """A count the function publishes (Embedded Metric Format), summed over ``period``:
        ``DeliveryUpdates``, ``StaleEvents``, ``UnmatchedEvents``, ``IgnoredEvents``,
        ``MalformedEvents``, ``RetriedEvents`` or ``ProcessingErrors``."""
        return cloudwatch.Metric(
            namespace=METRICS_NAMESPACE,
            metric_name=metric_name,
            dimensions_map={"FunctionName": self.function.function_name},
            statistic="Sum",
            period=period,
        )

    def metric_malformed_events(self, *, period: cdk.Duration = _DEFAULT_PERIOD) -> cloudwatch.Metric:
        """Events the function dropped as unusable: unparseable, or refused by DynamoDB as invalid
        (logged, never retried, never applied)."""
        return self.metric("MalformedEvents", period=period)

    def metric_dead_letters(self, *, period: cdk.Duration = _DEFAULT_PERIOD) -> cloudwatch.Metric:
        """Events waiting in the dead-letter queue (maximum over ``period``)."""
        return self.dead_letter_queue.metric_approximate_number_of_messages_visible(
            period=period, statistic="Maximum"
        )

    # ---- prop checks ----------------------------------------------------------------------------

    @staticmethod
    def _check_props(*, configuration_set_name: str | None, reserved_concurrency: int,
                     max_queue_concurrency: int) -> None:
        # 3: the event source's minimum of 2, plus one slot the queue cannot take.
        require_int_between(_NAME, "reserved_concurrency", reserved_concurrency, 3, 1000)
        if isinstance(max_queue_concurrency, bool) or not isinstance(max_queue_concurrency, int) \
                or not 2 <= max_queue_concurrency < reserved_concurrency:
            raise PropError(_NAME, "max_queue_concurrency", max_queue_concurrency,
                            f"Use a whole number from 2 to {reserved_concurrency - 1}: below "
                            f"reserved_concurrency={reserved_concurrency}, so queue batches never take "
                            "the slots the SMS log invocations need.")
        if configuration_set_name is None or is_token(configuration_set_name):
            return
        if not isinstance(configuration_set_name, str) or not _CONFIGURATION_SET_NAME.match(configuration_set_name):
            raise PropError(_NAME, "configuration_set_name", configuration_set_name,
                            "Give an SES configuration set name: 1-64 letters, digits, '_' or '-', "
                            "or None to create one.")
