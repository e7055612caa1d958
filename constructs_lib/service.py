"""NotificationService: the notification workflow with its monitoring, and optionally its API and
its delivery-status feedback, wired together in one construct."""

from __future__ import annotations

import dataclasses
import os
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
from .preferences import RecipientPreferences
from .sms_voice import EndUserMessagingSms
from .templates import NotificationTemplates
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
    :param templates_directory: create ``NotificationTemplates`` from this directory (SES templates
        for email, SMS text rendered by the workflow): requests may carry ``template``.
        Default: none.
    :param recipient_preferences: create ``RecipientPreferences`` (a table of each recipient's
        contact points, opt-outs per category and quiet hours, with the API's
        ``/recipients/{recipientId}/preferences`` when ``api`` is on): requests may carry
        ``recipientId``, ``category`` and ``critical``. Scheduled sends are turned on (2 days ahead
        unless ``workflow_options`` sets ``max_send_delay``): quiet hours use them. Default: ``False``.
    :param preference_time_zones: the IANA time zones quiet hours may use. Default: ``("UTC",)``.
    :param email_unsubscribe_topics: create an SES contact list with these topics (notification
        categories; subscribed by default): every email carries a one-click List-Unsubscribe
        header, and an address that unsubscribed is not sent to (``SKIPPED_OPT_OUT``).
        Default: none (no contact list).
    :param check_suppression_list: check each email's address against the account's SES
        suppression list before sending. Default: ``False``.
    :param sms_origination_identity: send SMS through AWS End User Messaging SMS from this phone
        number or pool (id or ARN), instead of SNS; with ``feedback``, its delivery events reach
        the records too. Default: none (SNS).
    :param sms_opt_out_list_name: the opt-out list of that origination identity (numbers that
        texted STOP are not sent to). Default: ``"Default"``, the list a new phone number has.
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
        templates_directory: str | os.PathLike[str] | None = None,
        recipient_preferences: bool = False,
        preference_time_zones: Sequence[str] = ("UTC",),
        email_unsubscribe_topics: Sequence[str] | None = None,
        check_suppression_list: bool = False,
        sms_origination_identity: str | None = None,
        sms_opt_out_list_name: str = "Default",
    ) -> None:
        super().__init__(scope, construct_id)
        options = dict(workflow_options or {})
        explicit = {"sender", "email_identities", "allowed_senders", "default_subject", "configuration_set_name",
                    "sms_topic", "table", "table_removal_policy", "backup_plan", "workflow_type", "timeout",
                    "log_retention", "encryption_key", "templates", "preferences", "sms_provider",
                    "email_contact_list", "email_topics", "check_suppression_list"}
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

        recipient_options = self._recipient_parts(
            options, encryption_key=encryption_key, templates_directory=templates_directory,
            recipient_preferences=recipient_preferences, preference_time_zones=preference_time_zones,
            email_unsubscribe_topics=email_unsubscribe_topics, check_suppression_list=check_suppression_list,
            sms_origination_identity=sms_origination_identity, sms_opt_out_list_name=sms_opt_out_list_name,
            sms_topic=sms_topic)
        if self.recipient_preferences is not None:
            encryption_key = self.recipient_preferences.encryption_key

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
            **recipient_options,
            **options,
        )
        key = self.workflow.encryption_key
        #: The API (``None`` unless ``api`` is on).
        self.api: NotificationApi | None = None

        def create_api(queue: sqs.IQueue | None) -> None:
            api_options = api if isinstance(api, NotificationApiOptions) else NotificationApiOptions()
            preferences_table = self.recipient_preferences.table if self.recipient_preferences else None
            self.api = NotificationApi(self, "Api", workflow=self.workflow, encryption_key=key, queue=queue,
                                       preferences_table=preferences_table,
                                       preference_time_zones=list(preference_time_zones) if preferences_table
                                       else None,
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
            if self.sms is not None:
                self.sms.add_event_topic(self.feedback.sms_event_topic)

        #: The queue and pipe in front of the workflow (``None`` unless ``buffered_ingress`` is on).
        self.buffered_ingress: BufferedIngress | None = None
        if buffered_ingress:
            self.buffered_ingress = BufferedIngress(
                self, "BufferedIngress", workflow=self.workflow, encryption_key=key,
                alarm_topic=self.monitoring.alarm_topic if self.monitoring is not None else None,
            )
            if api is not False:
                create_api(self.buffered_ingress.queue)

    def _recipient_parts(self, options: dict[str, Any], *, encryption_key: kms.IKey | None,
                         templates_directory: str | os.PathLike[str] | None, recipient_preferences: bool,
                         preference_time_zones: Sequence[str], email_unsubscribe_topics: Sequence[str] | None,
                         check_suppression_list: bool, sms_origination_identity: str | None,
                         sms_opt_out_list_name: str, sms_topic: sns.ITopic | None) -> dict[str, Any]:
        """The templates, preferences table, contact list and End User Messaging parts asked for,
        built before the workflow, as its props."""
        props: dict[str, Any] = {}
        #: The templates (``None`` without ``templates_directory``).
        self.templates: NotificationTemplates | None = None
        if templates_directory is not None:
            self.templates = NotificationTemplates(self, "Templates", directory=templates_directory)
            props["templates"] = self.templates
        #: The recipients' preferences (``None`` unless ``recipient_preferences``).
        self.recipient_preferences: RecipientPreferences | None = None
        if recipient_preferences:
            # The table shares the workflow's key, made here since the workflow comes after it.
            key = encryption_key or kms.Key(self, "EncryptionKey", enable_key_rotation=True,
                                            description="notify-cdk: delivery log, preferences, logs, executions",
                                            removal_policy=cdk.RemovalPolicy.RETAIN)
            self.recipient_preferences = RecipientPreferences(self, "RecipientPreferences", encryption_key=key,
                                                              time_zones=preference_time_zones)
            props["preferences"] = self.recipient_preferences
            options.setdefault("max_send_delay", cdk.Duration.days(2))
        #: The SES contact list unsubscribes are kept in (``None`` without ``email_unsubscribe_topics``).
        self.contact_list: ses.CfnContactList | None = None
        if email_unsubscribe_topics is not None:
            if isinstance(email_unsubscribe_topics, str) or not email_unsubscribe_topics:
                raise PropError(_NAME, "email_unsubscribe_topics", email_unsubscribe_topics,
                                "Give a list of one or more topic names (notification categories).")
            self.contact_list = ses.CfnContactList(
                self, "EmailContactList", contact_list_name=cdk.Names.unique_id(self)[-64:],
                description="notify-cdk: who unsubscribed from which topic",
                topics=[ses.CfnContactList.TopicProperty(topic_name=topic, display_name=topic,
                                                         default_subscription_status="OPT_IN")
                        for topic in email_unsubscribe_topics])
            props["email_contact_list"] = self.contact_list.ref
            props["email_topics"] = list(email_unsubscribe_topics)
        props["check_suppression_list"] = check_suppression_list
        #: End User Messaging SMS (``None`` without ``sms_origination_identity``: SMS goes through SNS).
        self.sms: EndUserMessagingSms | None = None
        if sms_origination_identity is not None:
            if sms_topic is not None:
                raise PropError(_NAME, "sms_origination_identity", sms_origination_identity,
                                "SMS goes either to sms_topic (SNS) or through End User Messaging: give one of them.")
            self.sms = EndUserMessagingSms(self, "EndUserMessagingSms", origination_identity=sms_origination_identity,
                                           opt_out_list_name=sms_opt_out_list_name)
            props["sms_provider"] = self.sms
        return props

    def grant_send(self, grantee: iam.IGrantable) -> iam.Grant:
        """Lets ``grantee`` send notifications by starting the workflow
        (``states:StartExecution``, with the workflow key's data-key use). To call the API, grant
        with ``api.grant_invoke``; to read records, use the API or the workflow's grants."""
        started = self.workflow.grant_start_execution(grantee)
        # Step Functions encrypts the execution input with the workflow's key on the caller's behalf.
        return started.combine(self.workflow.encryption_key.grant(grantee, "kms:GenerateDataKey"))
