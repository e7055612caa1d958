"""NotificationService: the notification workflow with its monitoring, and optionally its API and
its delivery-status feedback, wired together in one construct."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_backup as backup
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_ses as ses
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from ._props import PropError
from .buffered_ingress import BufferedIngress
from .feedback import DeliveryFeedback
from .ingress import NotificationApi
from .monitoring import NotificationMonitoring
from .workflow import DEFAULT_TIMEOUT, NotificationWorkflow

__all__ = ["NotificationApiOptions", "NotificationService"]

_NAME = "NotificationService"


@dataclasses.dataclass(frozen=True)
class NotificationApiOptions:
    """How :class:`NotificationService` builds its ``NotificationApi`` (``api=NotificationApiOptions(...)``);
    the service gives the API its workflow and the workflow's key. Each field is the
    ``NotificationApi`` prop of the same name.

    :param authorization: ``IAM`` (SigV4) or ``NONE``. Default: ``IAM``.
    :param throttling_rate_limit: steady-state requests per second of the stage. Default: 50.
    :param throttling_burst_limit: burst of the stage. Default: 100.
    :param access_log_retention: retention of the access log group. Default: one month.
    :param stage_name: the deployment stage. Default: ``"v1"``.
    :param cloud_watch_role: create and set the account's API Gateway CloudWatch role (one per
        account and Region). Default: ``True``.
    :param web_acl_arn: a regional AWS WAF web ACL for the stage. Default: none.
    :param api_key_required: every method also needs an API key, throttled per key by a usage
        plan (per-caller throttling). Default: ``False``.
    :param per_key_throttling: each key's limits (with ``api_key_required``). Default: none.
    """

    authorization: apigw.AuthorizationType = apigw.AuthorizationType.IAM
    throttling_rate_limit: float = 50
    throttling_burst_limit: int = 100
    access_log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH
    stage_name: str = "v1"
    cloud_watch_role: bool = True
    web_acl_arn: str | None = None
    api_key_required: bool = False
    per_key_throttling: apigw.ThrottleSettings | None = None


class NotificationService(Construct):
    """The notification service in one construct: a :class:`NotificationWorkflow`, its
    :class:`NotificationMonitoring` (on by default) and, when asked, a :class:`NotificationApi`
    and :class:`DeliveryFeedback`, all encrypted with the workflow's key.

    The parts are created under this construct with the ids ``Workflow``, ``Monitoring``,
    ``Api``, ``DeliveryFeedback`` (and ``EmailConfigurationSet``), so giving this construct the
    id ``"Default"`` keeps the logical ids the parts would have as children of the stack.
    With ``feedback`` on, the service creates the SES configuration set before the workflow
    (the workflow sends every email with it) unless ``configuration_set_name`` names one, and
    the feedback's dead-letter alarm notifies the monitoring's alarm topic. With default props
    the three cdk-nag packs (AwsSolutions, NIST 800-53 R5, HIPAA Security) find nothing: what
    is inherent is acknowledged by the part it arises in. Every prop is keyword-only.

    :param sender: the default ``From`` address; covered by ``email_identities``.
    :param email_identities: SES identities (domains or addresses) the workflow may send from.
    :param allowed_senders: other addresses a request may choose with ``email.from``.
        Default: none.
    :param default_subject: subject when a request gives none. Default: ``"Notification"``.
    :param configuration_set_name: SES configuration set for every email (with ``feedback``, the
        one the events are read from). Default: none, or with ``feedback`` a new one.
    :param sms_topic: publish SMS to this topic instead of straight to phone numbers.
        Default: none.
    :param table: an existing delivery-log table (partition key ``notificationId``; with
        ``feedback``, the GSIs in ``REQUIRED_INDEXES``). Default: a new table.
    :param table_removal_policy: for a new table. Default: ``RETAIN``.
    :param backup_plan: ``True`` for a daily AWS Backup plan of the table, or a plan of yours.
        Default: ``False`` (point-in-time recovery only).
    :param workflow_type: ``STANDARD`` or ``EXPRESS``. Default: ``STANDARD``, or ``EXPRESS`` with
        ``buffered_ingress``.
    :param timeout: the whole execution. Default: 5 minutes.
    :param log_retention: retention of the workflow's execution logs and of the feedback's logs.
        Default: one month.
    :param encryption_key: customer-managed key for everything the service encrypts.
        Default: a new key with rotation on (the workflow's ``encryption_key``).
    :param workflow_options: any other ``NotificationWorkflow`` prop by name, e.g.
        ``{"sms_fallback_to_email": True, "record_retention": Duration.days(30)}``.
        Default: none.
    :param monitoring: create ``NotificationMonitoring`` (alarms, an encrypted alarm topic, a
        dashboard). Default: ``True``.
    :param alarm_email: address subscribed to the alarm topic (needs ``monitoring``).
        Default: none.
    :param sms_monthly_spend_limit_usd: the account's SNS SMS spend limit; the monitoring alarms at
        80% of it (``None``: no spend alarm). Default: 1 (a new account's limit).
    :param api: ``True`` or ``NotificationApiOptions`` to create ``NotificationApi``; with
        ``buffered_ingress`` its ``POST`` queues requests (the API's ``queue`` is the ingress's).
        Default: ``False``.
    :param feedback: create ``DeliveryFeedback`` (SES events and SMS delivery logs onto the
        records). Without ``monitoring`` its dead-letter alarm has no action and the NIST 800-53
        and HIPAA packs report it. Default: ``False``.
    :param buffered_ingress: create ``BufferedIngress``: an encrypted SQS queue (with a
        dead-letter queue and two alarms on the monitoring's topic) that an EventBridge Pipe drains
        into the workflow, which is then built with ``queued_input``. Default: ``False``.
    :raises PropError: when a prop is unusable (the parts check their own props too).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        sender: str,
        email_identities: Sequence[str],
        allowed_senders: Sequence[str] = (),
        default_subject: str = "Notification",
        configuration_set_name: str | None = None,
        sms_topic: sns.ITopic | None = None,
        table: dynamodb.ITable | None = None,
        table_removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.RETAIN,
        backup_plan: bool | backup.IBackupPlan = False,
        workflow_type: sfn.StateMachineType | None = None,
        timeout: cdk.Duration = DEFAULT_TIMEOUT,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH,
        encryption_key: kms.IKey | None = None,
        workflow_options: Mapping[str, Any] | None = None,
        monitoring: bool = True,
        alarm_email: str | None = None,
        sms_monthly_spend_limit_usd: float | None = 1.0,
        api: bool | NotificationApiOptions = False,
        feedback: bool = False,
        buffered_ingress: bool = False,
    ) -> None:
        super().__init__(scope, construct_id)
        options = dict(workflow_options or {})
        explicit = {"sender", "email_identities", "allowed_senders", "default_subject", "configuration_set_name",
                    "sms_topic", "table", "table_removal_policy", "backup_plan", "workflow_type", "timeout",
                    "log_retention", "encryption_key"}
        if "queued_input" in options:
            raise PropError(_NAME, "workflow_options['queued_input']", options["queued_input"],
                            "Give buffered_ingress=True: the service builds the queue, the pipe and the "
                            "workflow's input together.")
        for prop in options:
            if prop in explicit:
                raise PropError(_NAME, f"workflow_options[{prop!r}]", options[prop],
                                f"Give {prop}= to NotificationService itself, not in workflow_options.")
        if alarm_email is not None and not monitoring:
            raise PropError(_NAME, "alarm_email", alarm_email,
                            "It subscribes to the monitoring's alarm topic: keep monitoring=True or drop alarm_email.")
        if not isinstance(api, (bool, NotificationApiOptions)):
            raise PropError(_NAME, "api", api, "Give True, False or NotificationApiOptions(...).")

        # Construction order: the workflow sends every email with the configuration set, so the
        # set the feedback reads must exist before the workflow does.
        #: The SES configuration set the service created for the feedback (``None`` otherwise).
        self.configuration_set: ses.ConfigurationSet | None = None
        if feedback and configuration_set_name is None:
            self.configuration_set = ses.ConfigurationSet(self, "EmailConfigurationSet")
            configuration_set_name = self.configuration_set.configuration_set_name

        #: The notification workflow (state machine, delivery log, execution logs, key).
        self.workflow = NotificationWorkflow(
            self,
            "Workflow",
            sender=sender,
            email_identities=email_identities,
            allowed_senders=allowed_senders,
            default_subject=default_subject,
            configuration_set_name=configuration_set_name,
            sms_topic=sms_topic,
            table=table,
            table_removal_policy=table_removal_policy,
            backup_plan=backup_plan,
            # The buffered path starts executions at the queue's pace: Express by default there.
            workflow_type=workflow_type or (
                sfn.StateMachineType.EXPRESS if buffered_ingress else sfn.StateMachineType.STANDARD),
            timeout=timeout,
            log_retention=log_retention,
            encryption_key=encryption_key,
            queued_input=buffered_ingress,
            **options,
        )
        key = self.workflow.encryption_key
        #: The API (``None`` unless ``api`` is on).
        self.api: NotificationApi | None = None

        def create_api(queue: sqs.IQueue | None) -> None:
            api_options = api if isinstance(api, NotificationApiOptions) else NotificationApiOptions()
            self.api = NotificationApi(self, "Api", workflow=self.workflow, encryption_key=key, queue=queue,
                                       # Not asdict: it would deep-copy the CDK structs.
                                       **{f.name: getattr(api_options, f.name)
                                          for f in dataclasses.fields(api_options)})

        # With buffered ingress the API's POST sends to its queue, so the API comes after it;
        # otherwise here, where it always was (templates keep their resource order).
        if api is not False and not buffered_ingress:
            create_api(None)
        #: The alarms, alarm topic and dashboard (``None`` with ``monitoring=False``).
        self.monitoring: NotificationMonitoring | None = None
        if monitoring:
            self.monitoring = NotificationMonitoring(
                self, "Monitoring", workflow=self.workflow, alarm_email=alarm_email, encryption_key=key,
                sms_monthly_spend_limit_usd=sms_monthly_spend_limit_usd,
            )
        #: Delivery-status feedback (``None`` unless ``feedback`` is on).
        self.feedback: DeliveryFeedback | None = None
        if feedback:
            assert configuration_set_name is not None  # created above when not given
            self.feedback = DeliveryFeedback(
                self, "DeliveryFeedback", workflow=self.workflow, configuration_set_name=configuration_set_name,
                log_retention=log_retention, encryption_key=key,
                alarm_topic=self.monitoring.alarm_topic if self.monitoring is not None else None,
            )

        #: The queue and pipe in front of the workflow (``None`` unless ``buffered_ingress`` is on).
        self.buffered_ingress: BufferedIngress | None = None
        if buffered_ingress:
            self.buffered_ingress = BufferedIngress(
                self, "BufferedIngress", workflow=self.workflow, encryption_key=key,
                alarm_topic=self.monitoring.alarm_topic if self.monitoring is not None else None,
            )
            if api is not False:
                create_api(self.buffered_ingress.queue)

    def grant_send(self, grantee: iam.IGrantable) -> iam.Grant:
        """Lets ``grantee`` send notifications by starting the workflow
        (``states:StartExecution``, with the workflow key's data-key use). To call the API, grant
        with ``api.grant_invoke``; to read records, use the API or the workflow's grants."""
        started = self.workflow.grant_start_execution(grantee)
        # Step Functions encrypts the execution input with the workflow's key on the caller's behalf.
        return started.combine(self.workflow.encryption_key.grant(grantee, "kms:GenerateDataKey"))
