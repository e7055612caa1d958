"""NotificationWorkflow: validate, route, send by SMS and/or email, record the outcome."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import cast

import aws_cdk as cdk
from aws_cdk import aws_backup as backup
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from . import contract
from ._log_encryption import allow_logs_to_use_key
from ._nag import acknowledge_own_role_policy
from ._props import PropError, is_token, require_duration_between, require_email, require_int_between
from ._props import is_domain as _is_domain
from .channels import (
    FAILED,
    RATE_LIMITED_OUTCOME,
    THROTTLING_ERRORS,
    channel_not_sent,
    email_send_state,
    rate_limited,
    sms_send_state,
    sms_voice_send_state,
)
from .delivery_log import (
    CONDITIONAL_CHECK_FAILED,
    EMAIL_MESSAGE_ID_ATTRIBUTE,
    SMS_MESSAGE_ID_ATTRIBUTE,
    DeliveryLog,
)
from .preferences import RecipientPreferences
from .retry import (
    DELIVERY_LOG_RETRY,
    DELIVERY_LOG_TRANSIENT_ERRORS,
    RetryPolicy,
    default_email_retry,
    default_sms_retry,
)
from .sms_voice import EndUserMessagingSms
from .templates import NotificationTemplates, catalogue_literal, missing_variables, render_sms, resolve_locale

_NAME = "NotificationWorkflow"
DEFAULT_TIMEOUT = cdk.Duration.minutes(5)
DEFAULT_TASK_TIMEOUT = cdk.Duration.seconds(30)
DEFAULT_RECORD_RETENTION = cdk.Duration.days(90)
#: A Standard execution lasts at most a year: the wait for a send time plus ``timeout``.
STANDARD_EXECUTION_LIMIT = cdk.Duration.days(365)
KMS_DATA_KEY_REUSE = cdk.Duration.minutes(5)
#: Error of a failed execution where no channel delivered.
DELIVERY_FAILED = "DeliveryFailed"
#: Error of a failed execution whose delivery-log record could not be written.
DELIVERY_LOG_UNAVAILABLE = "DeliveryLogUnavailable"
#: Transient errors of the opt-out look-ups, retried.
OPT_OUT_CHECK_TRANSIENT_ERRORS = ("PinpointSmsVoiceV2.ThrottlingException",
                                  "PinpointSmsVoiceV2.InternalServerException", "SesV2.TooManyRequestsException")
# What an opt-out look-up answers when there is nothing to find.
_NOT_FOUND = {"sms": "PinpointSmsVoiceV2.ResourceNotFoundException", "email": "SesV2.NotFoundException"}
#: Error of a failed execution whose recipient's preferences could not be read.
PREFERENCES_UNAVAILABLE = "PreferencesUnavailable"
#: Error of a rejected request whose notificationId already belongs to another request's record.
REJECTED_NOTIFICATION_ID_TAKEN = "RejectedNotificationIdTaken"
#: Transient EventBridge Scheduler errors a schedule's creation is retried on.
SCHEDULER_TRANSIENT_ERRORS = ["Scheduler.ThrottlingException", "Scheduler.InternalServerException"]

# The send time in whole seconds, rounded up, without a zone (UTC): nothing goes out before it.
_SEND_SECOND = '$substringBefore($fromMillis($ceil($toMillis($request.sendAt) / 1000) * 1000), ".")'


class NotificationWorkflow(Construct):
    """A Step Functions state machine that delivers one notification by SMS, email or both.

    The request contract, the states entered per path and the delivery-log record are described
    in the README. Every prop is keyword-only.

    :param sender: the default ``From`` address; must be covered by ``email_identities``.
    :param email_identities: SES identities (domains or addresses) the workflow may send from;
        ``ses:SendEmail`` is scoped to these.
    :param allowed_senders: other addresses a request may choose with ``email.from``; ``*@example.com``
        allows any address of that domain. IAM enforces the same list (``ses:FromAddress``).
        Default: none (a request's ``email.from`` must then equal ``sender``).
    :param default_subject: subject when a request gives none. Default: ``"Notification"``.
    :param configuration_set_name: SES configuration set applied to every email. Default: none.
    :param allowed_configuration_sets: other sets a request may choose with
        ``email.configurationSet`` (needs ``configuration_set_name``). Default: none.
    :param sms_topic: publish SMS requests to this topic instead of straight to the phone
        number (the number travels as the ``phoneNumber`` message attribute). Default: none.
    :param sms_retry: backoff for transient SMS errors. Default: 2 s, 3 retries, rate 2, cap 20 s,
        full jitter.
    :param email_retry: backoff for transient email errors. Default: 3 s, 4 retries, rate 1.5,
        cap 30 s, full jitter.
    :param table: an existing delivery-log table (partition key ``notificationId``, string).
        Default: a new table (see ``DeliveryLog``).
    :param table_removal_policy: for a new table. Default: ``RETAIN``.
    :param backup_plan: back the delivery-log table up with AWS Backup: ``True`` for a daily plan
        (35 days) in a vault encrypted with ``encryption_key``, or a ``backup.IBackupPlan`` of yours
        (see ``DeliveryLog``). Default: ``False`` (point-in-time recovery only).
    :param log_retention: retention of the execution log group. Default: one month.
    :param include_execution_data: log inputs and outputs (they hold phone numbers and
        addresses). Default: ``False``.
    :param workflow_type: ``STANDARD`` or ``EXPRESS``. Default: ``STANDARD``.
    :param timeout: the whole execution. Default: 5 minutes (Express allows at most 5).
    :param task_timeout: each task attempt. Default: 30 seconds.
    :param tracing_enabled: X-Ray tracing. Default: ``True``.
    :param encryption_key: customer-managed KMS key for the delivery log, the execution logs, the
        state machine's data and the failed-execution queue. Default: a new key with rotation on.
        A key passed in must already let CloudWatch Logs use it for the execution log group
        (``logs.<region>.amazonaws.com``, encryption context ``aws:logs:arn``).
    :param capture_failed_executions: send FAILED, TIMED_OUT and ABORTED executions to an encrypted
        SQS queue through an EventBridge rule, so none is lost. Default: ``True``.
    :param store_plain_recipients: keep phone numbers and addresses in the delivery log as given.
        Default: ``False`` (none is kept: a hash of a phone number is no protection, since every
        number can be tried in seconds).
    :param record_retention: how long a delivery-log record is kept: every record's ``expiresAt``
        (the table's TTL attribute) is this long after the request was received. Default: 90 days.
    :param store_message: keep the message text in the delivery log. Default: ``False``.
    :param sms_fallback_to_email: when an SMS request carries an ``email`` and the SMS cannot be
        delivered (a permanent error, or transient ones past the retries), send the message by email
        instead and record it as a fallback. Default: ``False``.
    :param max_send_delay: turns scheduled sends on: a request may carry ``sendAt`` (ISO 8601 with
        an offset) or ``delaySeconds``, up to this far ahead; its record is ``SCHEDULED`` until
        then, cancellable by setting it ``CANCELLED``. STANDARD: the execution waits in a Wait state,
        and the state machine's timeout becomes ``timeout`` plus this (at most a year minus
        ``timeout``). EXPRESS (which lasts at most 5 minutes): the execution creates an EventBridge
        Scheduler one-time schedule (in ``schedule_group``, its input encrypted with
        ``encryption_key``, deleted once it has fired) that starts this state machine at the send
        time with a secret token; that execution alone may take the record over (at most a year).
        Default: ``None`` (off).
    :param queued_input: the workflow is started by an EventBridge Pipe from ``BufferedIngress``:
        its input is the pipe's batch of one, ``[{"request": ..., "messageId": ...}]``, read by
        a first Pass state, ``ReadQueuedRequest`` (the SQS message id keys the record when the
        request has no ``notificationId``, so a message delivered twice is sent once). Other
        input (a request object) is read as usual. Default: ``False``.
    :param sms_max_parts_per_second: the most SMS parts a second this workflow hands SNS, across all
        its executions (your origination identity's throughput: toll-free 3, 10DLC 1 to 75, short
        code 100). Each SMS first takes its parts from a per-second counter in the delivery log
        (``TakeSmsSlot``), waiting while the second is full. Default: ``None`` (no limit).
    :param ses_max_send_rate: the most email recipients a second this workflow hands SES (your
        account's maximum send rate; 1 in the sandbox). Each email first takes its recipients
        (To, Cc and Bcc, at most the rate) from the counter (``TakeEmailSlot``). Default:
        ``None`` (no limit).
    :param templates: a request may carry ``template: {name, data, locale?}`` in place of its
        message: SMS text is rendered in the state machine, email is sent with SES's stored
        template; a variable the data lacks rejects that channel, naming it (see
        ``NotificationTemplates``). Default: ``None``.
    :param preferences: a request may carry ``recipientId`` (with ``category`` and ``critical``):
        ``LookUpRecipient`` reads the recipient's preferences first, fills in the contact points
        the request leaves out, leaves out the channels the recipient opted out of for the
        category (``SKIPPED_PREFERENCE``) and, inside the recipient's quiet hours, schedules the
        send for when they end (needs ``max_send_delay`` of at least a day). ``critical: true``
        overrides preferences, never a legal opt-out. Default: ``None``.
    :param sms_provider: send SMS through AWS End User Messaging SMS (``SendTextMessage`` from this
        origination identity, with its configuration set, and ``Context: {notificationId}``); a
        number on the identity's opt-out list is not sent to (``SKIPPED_OPT_OUT``). Default:
        ``None`` (SNS ``Publish``).
    :param email_contact_list: an SES contact list: every email carries ``ListManagementOptions``
        (SES adds a one-click ``List-Unsubscribe`` header), with the request's ``category`` as the
        topic when it is one of ``email_topics``; an address that unsubscribed (from everything or
        from that topic) is not sent to (``SKIPPED_OPT_OUT``). Default: ``None``.
    :param email_topics: the topics of ``email_contact_list`` (notification categories). Default:
        none (emails carry the list without a topic).
    :param check_suppression_list: look each email's first address up in the account's SES
        suppression list before sending (``SKIPPED_OPT_OUT`` when it is there; SES would accept
        the message and then drop it). Default: ``False``.
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
        allowed_configuration_sets: Sequence[str] = (),
        sms_topic: sns.ITopic | None = None,
        sms_retry: RetryPolicy | None = None,
        email_retry: RetryPolicy | None = None,
        table: dynamodb.ITable | None = None,
        table_removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.RETAIN,
        backup_plan: bool | backup.IBackupPlan = False,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH,
        include_execution_data: bool = False,
        workflow_type: sfn.StateMachineType = sfn.StateMachineType.STANDARD,
        timeout: cdk.Duration = DEFAULT_TIMEOUT,
        task_timeout: cdk.Duration = DEFAULT_TASK_TIMEOUT,
        tracing_enabled: bool = True,
        encryption_key: kms.IKey | None = None,
        capture_failed_executions: bool = True,
        store_plain_recipients: bool = False,
        store_message: bool = False,
        sms_fallback_to_email: bool = False,
        record_retention: cdk.Duration = DEFAULT_RECORD_RETENTION,
        max_send_delay: cdk.Duration | None = None,
        queued_input: bool = False,
        sms_max_parts_per_second: int | None = None,
        ses_max_send_rate: int | None = None,
        templates: NotificationTemplates | None = None,
        preferences: RecipientPreferences | None = None,
        sms_provider: EndUserMessagingSms | None = None,
        email_contact_list: str | None = None,
        email_topics: Sequence[str] = (),
        check_suppression_list: bool = False,
    ) -> None:
        super().__init__(scope, construct_id)
        self._sms_retry = sms_retry or default_sms_retry()
        self._email_retry = email_retry or default_email_retry()
        self._sms_retry.validate(_NAME, "sms_retry")
        self._email_retry.validate(_NAME, "email_retry")
        self._check_props(
            sender=sender,
            email_identities=email_identities,
            allowed_senders=allowed_senders,
            default_subject=default_subject,
            configuration_set_name=configuration_set_name,
            allowed_configuration_sets=allowed_configuration_sets,
            workflow_type=workflow_type,
            timeout=timeout,
            task_timeout=task_timeout,
        )
        require_duration_between(_NAME, "record_retention", record_retention, cdk.Duration.days(1),
                                 cdk.Duration.days(3650))
        self._record_retention = record_retention
        self._check_max_send_delay(max_send_delay, workflow_type, timeout)
        #: How far ahead a request may schedule its send (``None``: scheduled sends are off).
        self.max_send_delay = max_send_delay
        # Express executions cannot wait: their sends are scheduled through EventBridge Scheduler.
        self._through_scheduler = max_send_delay is not None and workflow_type == sfn.StateMachineType.EXPRESS
        #: Whether the workflow reads a pipe's batch (see ``BufferedIngress``).
        self.queued_input = queued_input
        for prop, rate in (("sms_max_parts_per_second", sms_max_parts_per_second),
                           ("ses_max_send_rate", ses_max_send_rate)):
            if rate is not None:
                require_int_between(_NAME, prop, rate, 1, 10_000)
        #: The configured send rates (``None``: not limited).
        self.sms_max_parts_per_second = sms_max_parts_per_second
        self.ses_max_send_rate = ses_max_send_rate
        # A send waits for a slot at most half the execution's time, so its record is still written.
        self._slot_wait = cdk.Duration.seconds(max(1, int(timeout.to_seconds() / 2))) \
            if not timeout.is_unresolved() else cdk.Duration.minutes(1)
        self._sender = sender
        self._default_subject = default_subject
        self._configuration_set_name = configuration_set_name
        self._task_timeout = task_timeout
        self._sms_topic = sms_topic
        self._check_recipient_props(preferences, max_send_delay, sms_topic, sms_provider, email_contact_list,
                                    email_topics)
        #: The templates a request may name (``None`` when not configured).
        self.templates = templates
        #: The recipients' preferences table (``None`` when not configured).
        self.preferences = preferences
        #: End User Messaging SMS (``None``: SMS goes through SNS).
        self.sms_provider = sms_provider
        self._contact_list = email_contact_list
        self._email_topics = list(email_topics)
        self._check_suppression = check_suppression_list
        # A channel can be left out at send time (a legal opt-out), or before (a preference).
        self._skips = bool(preferences or sms_provider or email_contact_list or check_suppression_list)
        self._store_plain_recipients = store_plain_recipients
        self._store_message = store_message
        self._sms_fallback = sms_fallback_to_email
        self._senders = [sender, *[s for s in allowed_senders if s != sender]]
        self._exact_senders = [s for s in self._senders if not s.startswith("*@")]
        self._configuration_sets = (
            [configuration_set_name, *allowed_configuration_sets] if configuration_set_name else []
        )
        stack = cdk.Stack.of(self)
        # SES authorizes a send on the sender's own identity when the address is verified by itself,
        # else on its domain's: grant both, so verifying an address later breaks nothing.
        identities = list(dict.fromkeys([*email_identities, *self._exact_senders]))
        self._ses_resources = [
            stack.format_arn(service="ses", resource="identity", resource_name=identity)
            for identity in identities
        ] + [
            stack.format_arn(service="ses", resource="configuration-set", resource_name=name)
            for name in self._configuration_sets
        ]

        #: The customer-managed key behind the log, the logs, the state machine data and the queue.
        self.encryption_key: kms.IKey = encryption_key or kms.Key(
            self,
            "EncryptionKey",
            enable_key_rotation=True,
            description="notify-cdk: delivery log, execution logs, state machine data, failed executions",
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        #: The delivery-log construct (its ``table`` is also ``self.table``).
        self.delivery_log = DeliveryLog(
            self, "DeliveryLog", table=table, encryption_key=self.encryption_key,
            removal_policy=table_removal_policy, backup_plan=backup_plan,
        )
        #: The delivery-log table: one record per request, keyed by ``notificationId``.
        self.table: dynamodb.ITable = self.delivery_log.table
        log_group_name = f"/aws/vendedlogs/states/{cdk.Names.unique_id(self)}"
        allow_logs_to_use_key(self, self.encryption_key, [log_group_name])
        #: The execution log group, under ``/aws/vendedlogs/states/``.
        self.log_group = logs.LogGroup(
            self,
            "ExecutionLogs",
            # Step Functions needs the vended-logs prefix to stay within the resource-policy size limit.
            log_group_name=log_group_name,
            retention=log_retention,
            encryption_key=self.encryption_key,
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )

        #: The schedule group of sends scheduled through EventBridge Scheduler (EXPRESS with
        #: ``max_send_delay``; else ``None``).
        self.schedule_group: scheduler.CfnScheduleGroup | None = None
        #: The role EventBridge Scheduler starts those sends with (else ``None``).
        self.scheduler_role: iam.Role | None = None
        if self._through_scheduler:
            self._create_scheduler_parts()

        #: The notification state machine.
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            definition_body=sfn.DefinitionBody.from_chainable(self._definition()),
            query_language=sfn.QueryLanguage.JSONATA,
            state_machine_type=workflow_type,
            timeout=timeout.plus(max_send_delay) if max_send_delay and not self._through_scheduler else timeout,
            tracing_enabled=tracing_enabled,
            logs=sfn.LogOptions(
                destination=self.log_group,
                level=sfn.LogLevel.ALL,
                include_execution_data=include_execution_data,
            ),
        )
        self._encrypt_state_machine()
        self._grant_delivery_log_key()
        # The email states are hand-written (one shared request), so their grant is too.
        # IAM enforces the sender allowlist too, not only the workflow's contract.
        self.state_machine.add_to_role_policy(iam.PolicyStatement(
            actions=["ses:SendEmail"], resources=self._ses_resources,
            conditions={"StringLike": {"ses:FromAddress": self._senders}}))
        if sms_provider is not None:
            sms_provider.grant_send(self.state_machine)
            sms_provider.grant_read_opt_outs(self.state_machine)
        else:
            self._grant_sms_publish()
        self._grant_recipient_parts()
        if self._through_scheduler:
            self._grant_scheduling()
        #: Queue of failed, timed-out and aborted executions (``None`` when not captured).
        self.failed_executions: sqs.Queue | None = (
            self._capture_failed_executions() if capture_failed_executions else None
        )
        self._acknowledge_findings()

    # ---- definition -------------------------------------------------------------------------

    def _definition(self) -> sfn.IChainable:
        """One Choice validates and routes; each channel is claim, send, record (see the README)."""
        self._log_unavailable = sfn.Fail.jsonata(
            self, "DeliveryLogUnavailable", error=DELIVERY_LOG_UNAVAILABLE,
            # A catcher's output, and so this state's input, is the error it caught.
            cause="{% $states.input.Cause %}",
        )
        self._delivery_failed = sfn.Fail.jsonata(
            self, "DeliveryFailed", error=DELIVERY_FAILED,
            cause="No channel delivered; see the record.",
        )
        self._record_failed = self._record_outcome("RecordFailed", failed=True).next(self._delivery_failed)
        contract_rules = contract.rules(self._senders, self._configuration_sets, templates=self.templates is not None)
        if self.templates is not None:
            contract_rules += contract.template_rules(sorted(self.templates.catalogue))
        if self.preferences is not None:
            contract_rules += contract.preference_rules()
        bindings = contract.recipient_bindings(templates=self.templates is not None,
                                               preferences=self.preferences is not None,
                                               quiet_hours="$rc.quietUntil" if self.max_send_delay else None)
        scheduling = self.max_send_delay is not None
        if self.max_send_delay is not None:
            contract_rules += contract.schedule_rules(int(self.max_send_delay.to_seconds()))
        route = contract.route(contract_rules, sms_may_carry_email=self._sms_fallback, scheduling=scheduling,
                               scheduler=self._through_scheduler, bindings=bindings)
        validate = sfn.Choice.jsonata(
            self, "ValidateRequest",
            # The top-level Assign applies whichever rule matches.
            assign={"request": contract.request_expression(
                contract_rules, sender=self._sender, default_subject=self._default_subject,
                configuration_set=self._configuration_set_name, sms_may_carry_email=self._sms_fallback,
                plain_recipients=self._store_plain_recipients,
                retention_seconds=int(self._record_retention.to_seconds()), scheduling=scheduling,
                scheduler=self._through_scheduler, bindings=bindings, templates=self.templates is not None,
                list_management=self._list_management(),
            )},
        )
        # Preferences and templates are read first, and again at a scheduled send's time.
        self._entry: sfn.IChainable = self._recipient_preamble(validate)
        # Each rule's comment names it (in the console and in the README's diagram).
        if route.fired is not None:
            validate.when(sfn.Condition.jsonata(route.fired), self._start_scheduled_send(validate),
                          comment="started by its schedule")
        validate.when(sfn.Condition.jsonata(route.reject), self._reject(), comment="no channel can be carried")
        if route.skipped is not None:
            validate.when(sfn.Condition.jsonata(route.skipped), self._record_skipped(),
                          comment="every channel left out by the recipient")
        if route.scheduled is not None:
            ahead = self._schedule_send() if self._through_scheduler else self._wait_for_send_time(validate)
            validate.when(sfn.Condition.jsonata(route.scheduled), ahead, comment="send time ahead")
        validate.when(sfn.Condition.jsonata(route.email_only), self._email_path(), comment="email only")
        validate.when(sfn.Condition.jsonata(route.sms_only), self._sms_path(), comment="sms only")
        validate.otherwise(self._both_path())
        if self.queued_input:
            return sfn.Pass.jsonata(self, "ReadQueuedRequest", outputs=contract.QUEUED_REQUEST).next(self._entry)
        return self._entry

    # ---- recipients: preferences, templates, opt-outs ------------------------------------------

    def _recipient_preamble(self, validate: sfn.Choice) -> sfn.IChainable:
        """What ``ValidateRequest`` reads besides the input: ``LookUpRecipient`` (the recipient's
        preferences, ``$recipient``, with ``quietUntil``: when the quiet hours the recipient is in
        end) and the rendered template (``$rendered``), or ``RenderTemplate`` without preferences."""
        rendered = self._rendering_expression()
        if self.preferences is None:
            if rendered is None:
                return validate
            return sfn.Pass.jsonata(self, "RenderTemplate", assign={contract.RENDERED: rendered}).next(validate)
        item = "$states.result.Item"
        quiet = f"{item}.quietHours.M"
        plain = (
            f"($i := {item}; $exists($i) ? {{"
            '"phoneNumber": $i.phoneNumber.S, "email": $i.email.S, "locale": $i.locale.S, '
            '"optOut": $merge([{}, $each($i.optOut.M, function($v, $k){{$k: [$v.L.S]}})]), '
            + (f'"quietUntil": ($qh := {{"start": {quiet}.start.S, "end": {quiet}.end.S, '
               f'"timeZone": {quiet}.timeZone.S}}; $now := $millis(); '
               f'{self.preferences.quiet_hours_expression("$qh", "$now")})'
               if self.max_send_delay is not None else '"quietUntil": null')
            + "} : {})"
        )
        assign = {contract.RECIPIENT: "{% " + contract.compact(plain) + " %}"}
        if rendered is not None:
            assign[contract.RENDERED] = rendered
        recipient_id = (f'$type($states.input.recipientId) = "string" and '
                        f'$contains($states.input.recipientId, /{contract.RECIPIENT_ID_PATTERN}/) '
                        '? $states.input.recipientId : "#none"')
        look_up = sfn.CustomState(self, "LookUpRecipient", state_json={
            "Type": "Task",
            "Resource": f"arn:{cdk.Aws.PARTITION}:states:::dynamodb:getItem",
            "Arguments": {"TableName": self.preferences.table.table_name,
                          "Key": {"recipientId": {"S": "{% " + recipient_id + " %}"}}},
            "Assign": assign,
            "Output": "{% $states.input %}",
            "TimeoutSeconds": int(self._task_timeout.to_seconds()),
        })
        DELIVERY_LOG_RETRY.apply(look_up, transient_errors=DELIVERY_LOG_TRANSIENT_ERRORS)
        look_up.add_catch(sfn.Fail.jsonata(self, "PreferencesUnavailable", error=PREFERENCES_UNAVAILABLE,
                                           cause="{% $states.input.Cause %}"))
        return look_up.next(validate)

    def _rendering_expression(self) -> str | None:
        """``$rendered``: a templated request's SMS text (``sms``, and ``smsText``: the template's
        text), SES template (``emailTemplate``, ``data``) and the variables each lacks, in the
        locale asked (the request's, else the recipient's), falling back to the default."""
        if self.templates is None:
            return None
        catalogue = catalogue_literal(self.templates.catalogue)
        locale = ("$exists($tp.locale) ? $tp.locale : $states.result.Item.locale.S" if self.preferences is not None
                  else "$tp.locale")
        body = (
            f'$type($states.input.template) = "object" ? ($cat := {catalogue}; $tp := $states.input.template; '
            f"$n := $tp.name; $d := $tp.data; $q := {locale}; "
            '$t := $type($n) = "string" and $n in $keys($cat) ? $lookup($cat, $n); '
            f'$s := $lookup($t.locales, {resolve_locale("$cat", "$n", "$q", "sms")}); '
            f'$m := $lookup($t.locales, {resolve_locale("$cat", "$n", "$q", "email")}); '
            '{"name": $exists($t) ? $n, "smsText": $s.sms, '
            f'"sms": {render_sms("$s.sms", "$d")}, "smsMissing": {missing_variables("$s.vars.sms", "$d")}, '
            f'"emailTemplate": $m.emailTemplate, "emailMissing": {missing_variables("$m.vars.email", "$d")}, '
            '"data": $string($type($d) = "object" ? $d : {})}) : {}'
        )
        return "{% " + contract.compact("(" + body + ")") + " %}"

    def _list_management(self) -> str | None:
        """SES's ``ListManagementOptions`` of every email (JSONata), when a contact list is set: the
        request's category is the topic when it is one of the list's."""
        if self._contact_list is None:
            return None
        topic = (f', "TopicName": $r.category in {json.dumps(self._email_topics)} ? $r.category'
                 if self._email_topics else "")
        return '{"ContactListName": ' + json.dumps(self._contact_list) + topic + "}"

    def _record_skipped(self) -> sfn.IChainable:
        """Records ``SKIPPED_PREFERENCE`` (nothing is sent) and succeeds."""
        state = self.delivery_log._create_record(
            self, "RecordSkipped", item="{% $request.record %}", timeout=self._task_timeout,
            own_execution_may_replace=self.max_send_delay is not None, by_schedule_token=self._through_scheduler)
        state.add_catch(self._duplicate, errors=[CONDITIONAL_CHECK_FAILED])
        state.add_catch(self._log_unavailable)
        return state.next(sfn.Succeed.jsonata(self, "Skipped", comment="The recipient's preferences leave it out."))

    def _grant_recipient_parts(self) -> None:
        stack = cdk.Stack.of(self)
        if self.templates is not None:
            self.templates.grant_send(self.state_machine)
        if self.preferences is not None:
            self.preferences.grant_read(self.state_machine)
        if self._contact_list is not None:
            self.state_machine.add_to_role_policy(iam.PolicyStatement(
                actions=["ses:GetContact"],
                resources=[stack.format_arn(service="ses", resource="contact-list", resource_name=self._contact_list)]))
        if self._check_suppression:
            # The suppression list has no resource ARN.
            self.state_machine.add_to_role_policy(iam.PolicyStatement(
                actions=["ses:GetSuppressedDestination"], resources=["*"]))

    @staticmethod
    def _check_recipient_props(preferences: RecipientPreferences | None, max_send_delay: cdk.Duration | None,
                               sms_topic: sns.ITopic | None, sms_provider: EndUserMessagingSms | None,
                               email_contact_list: str | None, email_topics: Sequence[str]) -> None:
        if preferences is not None and (max_send_delay is None or (
                not max_send_delay.is_unresolved() and max_send_delay.to_seconds() < 86400)):
            raise PropError(_NAME, "max_send_delay", max_send_delay and max_send_delay.to_human_string(),
                            "Quiet hours delay a send until they end, up to a day ahead: with preferences, "
                            "give max_send_delay=cdk.Duration.days(1) or more.")
        if sms_topic is not None and sms_provider is not None:
            raise PropError(_NAME, "sms_provider", "EndUserMessagingSms",
                            "SMS goes either to sms_topic (SNS) or through sms_provider: give one of them.")
        if isinstance(email_topics, str):
            raise PropError(_NAME, "email_topics", email_topics, "Give a list of topic names, not a string.")
        if email_topics and email_contact_list is None:
            raise PropError(_NAME, "email_topics", list(email_topics),
                            "Topics belong to a contact list: give email_contact_list too.")

    def _claim(self, state_id: str) -> sfn.CustomState:
        """Creates the request's record before anything is sent: the conditional write is the
        idempotency guard, so a second request with the same notificationId sends nothing."""
        state = self.delivery_log._create_record(self, state_id, item="{% $request.record %}",
                                                timeout=self._task_timeout,
                                                own_execution_may_replace=self.max_send_delay is not None,
                                                by_schedule_token=self._through_scheduler)
        state.add_catch(self._duplicate, errors=[CONDITIONAL_CHECK_FAILED])
        state.add_catch(self._log_unavailable)
        return state

    def _wait_for_send_time(self, validate: sfn.Choice) -> sfn.IChainable:
        """Records the request ``SCHEDULED`` (the id is taken from then on), waits until its send
        time, then routes it again through ``validate``, unless it was cancelled meanwhile."""
        record = self._record_scheduled()
        wait = sfn.Wait.jsonata(self, "WaitUntilSendAt", time=sfn.WaitTime.timestamp(
            "{% " + _SEND_SECOND + ' & "Z" %}'))
        return record.next(wait).next(self._start_scheduled_send(validate))

    def _record_scheduled(self) -> sfn.CustomState:
        """The ``SCHEDULED`` record (the id is taken from then on); passes its input on."""
        record = self.delivery_log._create_record(self, "ScheduleSend", item="{% $request.record %}",
                                                 timeout=self._task_timeout, own_execution_may_replace=True,
                                                 by_schedule_token=self._through_scheduler,
                                                 output="{% $states.input %}")
        record.add_catch(self._duplicate, errors=[CONDITIONAL_CHECK_FAILED])
        record.add_catch(self._log_unavailable)
        return record

    def _start_scheduled_send(self, validate: sfn.Choice) -> sfn.IChainable:
        """At the send time: the record goes ``PROCESSING`` and the request is routed again, unless
        it was cancelled (or, through Scheduler, another firing of its schedule started it)."""
        start = self.delivery_log._start_scheduled_send(self, "StartScheduledSend", timeout=self._task_timeout,
                                                        by_schedule_token=self._through_scheduler)
        start.add_catch(sfn.Succeed.jsonata(self, "Cancelled", comment="Cancelled before its send time."),
                        errors=[CONDITIONAL_CHECK_FAILED])
        start.add_catch(self._log_unavailable)
        return start.next(self._entry)

    def _schedule_send(self) -> sfn.IChainable:
        """Records the request ``SCHEDULED`` with its token, then creates a one-time schedule that
        starts this state machine at the send time with the request and the token (``delaySeconds``
        made ``sendAt``, so the time is not counted again). The schedule's client token is the
        token: a retried creation makes no second schedule."""
        assert self.schedule_group is not None and self.scheduler_role is not None
        record = self._record_scheduled()
        forwarded = contract.compact(
            '$string($merge([$sift($states.input, function($v, $k){$k != "delaySeconds"}), '
            '{"notificationId": $request.notificationId, "sendAt": $request.sendAt, '
            f'"{contract.SCHEDULE_TOKEN_FIELD}": $request.{contract.SCHEDULE_TOKEN_FIELD}}}]))')
        create = sfn.CustomState(self, "CreateSchedule", state_json={
            "Type": "Task",
            "Resource": f"arn:{cdk.Aws.PARTITION}:states:::aws-sdk:scheduler:createSchedule",
            "Arguments": {
                "Name": f"{{% $request.{contract.SCHEDULE_TOKEN_FIELD} %}}",
                "ClientToken": f"{{% $request.{contract.SCHEDULE_TOKEN_FIELD} %}}",
                "GroupName": self.schedule_group.ref,
                "ScheduleExpression": '{% "at(" & ' + _SEND_SECOND + ' & ")" %}',
                "ScheduleExpressionTimezone": "UTC",
                "FlexibleTimeWindow": {"Mode": "OFF"},
                "ActionAfterCompletion": "DELETE",
                "KmsKeyArn": self.encryption_key.key_arn,
                "Target": {
                    "Arn": "{% $states.context.StateMachine.Id %}",
                    "RoleArn": self.scheduler_role.role_arn,
                    "Input": "{% " + forwarded + " %}",
                },
            },
            "TimeoutSeconds": int(self._task_timeout.to_seconds()),
        })
        create.add_retry(errors=SCHEDULER_TRANSIENT_ERRORS, interval=cdk.Duration.seconds(1), max_attempts=4,
                         backoff_rate=2, jitter_strategy=sfn.JitterType.FULL)
        # Not scheduled: the record goes FAILED with the error, not left SCHEDULED.
        create.add_catch(self._record_failed, assign={"sms": FAILED, "email": FAILED})
        sent_later = sfn.Succeed.jsonata(self, "SendScheduled", comment="Its schedule starts the send.")
        return record.next(create).next(sent_later)

    def _create_scheduler_parts(self) -> None:
        """The schedule group, and the role EventBridge Scheduler starts executions with (only for
        schedules of this group, in this account)."""
        stack = cdk.Stack.of(self)
        self.schedule_group = scheduler.CfnScheduleGroup(self, "ScheduleGroup")
        self.scheduler_role = iam.Role(
            self, "SchedulerRole",
            description="notify-cdk: EventBridge Scheduler starts scheduled notifications",
            assumed_by=iam.ServicePrincipal("scheduler.amazonaws.com", conditions={
                "StringEquals": {"aws:SourceAccount": stack.account},
                "ArnEquals": {"aws:SourceArn": self.schedule_group.attr_arn},
            }),
        )

    def _grant_scheduling(self) -> None:
        """The machine may create schedules in its group only, handing them the scheduler role only;
        the scheduler role may only start this machine. Scheduler encrypts each schedule's input
        with the workflow's key on the caller's behalf and decrypts it with the role's."""
        assert self.schedule_group is not None and self.scheduler_role is not None
        stack = cdk.Stack.of(self)
        via_scheduler = {"StringEquals": {"kms:ViaService": f"scheduler.{stack.region}.amazonaws.com"}}
        self.state_machine.add_to_role_policy(iam.PolicyStatement(
            actions=["scheduler:CreateSchedule"],
            resources=[stack.format_arn(service="scheduler", resource="schedule",
                                        resource_name=f"{self.schedule_group.ref}/*")]))
        self.state_machine.add_to_role_policy(iam.PolicyStatement(
            actions=["iam:PassRole"], resources=[self.scheduler_role.role_arn],
            conditions={"StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}}))
        self.state_machine.add_to_role_policy(iam.PolicyStatement(
            actions=["kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey", "kms:Decrypt"],
            resources=[self.encryption_key.key_arn], conditions=via_scheduler))
        self.state_machine.grant_start_execution(self.scheduler_role)
        # Starting an execution of a machine encrypted with the key needs a data key of it.
        self.encryption_key.grant(self.scheduler_role, "kms:GenerateDataKey")
        self.scheduler_role.add_to_policy(iam.PolicyStatement(
            actions=["kms:Decrypt"], resources=[self.encryption_key.key_arn], conditions=via_scheduler))

    @staticmethod
    def _check_max_send_delay(max_send_delay: cdk.Duration | None, workflow_type: sfn.StateMachineType,
                              timeout: cdk.Duration) -> None:
        if max_send_delay is None:
            return
        require_duration_between(_NAME, "max_send_delay", max_send_delay, cdk.Duration.minutes(1),
                                 STANDARD_EXECUTION_LIMIT)
        waits_in_execution = workflow_type == sfn.StateMachineType.STANDARD
        if waits_in_execution and not max_send_delay.is_unresolved() and not timeout.is_unresolved() and \
                max_send_delay.to_seconds() + timeout.to_seconds() > STANDARD_EXECUTION_LIMIT.to_seconds():
            raise PropError(_NAME, "max_send_delay", max_send_delay.to_human_string(),
                            f"The wait plus timeout ({timeout.to_human_string()}) must fit in a Standard execution's "
                            f"year: use at most {int(STANDARD_EXECUTION_LIMIT.to_seconds() - timeout.to_seconds())} "
                            "seconds.")

    @property
    def _duplicate(self) -> sfn.IChainable:
        """Counts the duplicate on the original record and ends without sending."""
        existing = self.node.try_find_child("RecordDuplicate")
        if existing is not None:
            return existing  # type: ignore[return-value]
        state = self.delivery_log._count_duplicate(self, "RecordDuplicate", timeout=self._task_timeout)
        state.add_catch(self._log_unavailable)
        return state

    def _send_sms(self, state_id: str, outcome: str = "assign") -> sfn.CustomState:
        requeued = THROTTLING_ERRORS["sms"] if self.sms_max_parts_per_second is not None else ()
        if self.sms_provider is not None:
            return sms_voice_send_state(self, state_id, provider=self.sms_provider, retry=self._sms_retry,
                                        timeout=self._task_timeout, outcome=outcome, requeued_errors=requeued)
        return sms_send_state(self, state_id, topic=self._sms_topic, retry=self._sms_retry,
                              timeout=self._task_timeout, outcome=outcome, requeued_errors=requeued)

    def _sms_path(self) -> sfn.IChainable:
        send = self._send_sms("SendSms")
        failed = {"sms": FAILED}
        first_sms = self._guarded("sms", "", self._limited(send, "sms", "TakeSmsSlot",
                                                           on_wait_exceeded=self._record_failed),
                                  on_error=self._record_failed)
        if self._sms_fallback:
            can_fall_back = sfn.Choice.jsonata(self, "FallBackToEmail")
            send_email = self._send_email("SendFallbackEmail")
            first_email = self._guarded("email", "OfFallback", self._limited(
                send_email, "email", "TakeFallbackEmailSlot", on_wait_exceeded=self._record_failed),
                on_error=self._record_failed)
            send_email.add_catch(self._record_failed, assign={"email": FAILED})
            send_email.next(self._record_sent)
            can_fall_back.when(sfn.Condition.jsonata('{% $request.channel = "sms" and $exists($request.sendEmail) %}'),
                               first_email,
                               assign={"fallback": "email"})
            can_fall_back.otherwise(self._record_failed)
            send.add_catch(can_fall_back, assign=failed)
        else:
            send.add_catch(self._record_failed, assign=failed)
        send.next(self._record_sent)
        return self._claim("ClaimSms").next(first_sms)

    def _email_path(self) -> sfn.IChainable:
        send = self._send_email("SendEmail")
        first = self._guarded("email", "", self._limited(send, "email", "TakeEmailSlot",
                                                         on_wait_exceeded=self._record_failed),
                              on_error=self._record_failed)
        send.add_catch(self._record_failed, assign={"email": FAILED})
        send.next(self._record_sent)
        return self._claim("ClaimEmail").next(first)

    def _both_path(self) -> sfn.IChainable:
        """Each branch catches its own failure, so one channel never cancels the other."""
        sms = self._send_sms("SendSmsOfBoth", outcome="output")
        sms_not_sent = channel_not_sent(self, "SmsNotSent")
        email = self._send_email("SendEmailOfBoth", outcome="output")
        email_not_sent = channel_not_sent(self, "EmailNotSent")
        send_both = sfn.Parallel.jsonata(
            self, "SendBoth", assign={"sms": "{% $states.result[0] %}", "email": "{% $states.result[1] %}"},
        )
        # The rate's catchers come first: a throttled send takes a slot again before it fails.
        send_both.branch(self._guarded("sms", "OfBoth", self._limited(
            sms, "sms", "TakeSmsSlotOfBoth", on_wait_exceeded=rate_limited(self, "SmsRateLimited")),
            on_error=sms_not_sent))
        send_both.branch(self._guarded("email", "OfBoth", self._limited(
            email, "email", "TakeEmailSlotOfBoth", on_wait_exceeded=rate_limited(self, "EmailRateLimited")),
            on_error=email_not_sent))
        sms.add_catch(sms_not_sent)
        email.add_catch(email_not_sent)
        return self._claim("ClaimBoth").next(send_both.next(self._record_sent))

    def _guarded(self, channel: str, suffix: str, send: sfn.IChainable, *, on_error: sfn.IChainable) -> sfn.IChainable:
        """``send``, after the channel's legal opt-out checks when any is configured: an opted-out
        recipient's channel is ``SKIPPED_OPT_OUT`` (``suffix``: ``OfBoth`` inside the Parallel,
        where the outcome is the branch's output; ``on_error``: where a check that fails goes)."""
        checks = self._opt_out_checks(channel, suffix)
        if not checks:
            return send
        in_branch = suffix == "OfBoth"
        name = "Sms" if channel == "sms" else "Email"
        reason = f"${channel}OptOut"
        outcome = ('{% {"status":"' + contract.SKIPPED_OPT_OUT + '","messageId":"","error":"","cause":' + reason
                   + "} %}")
        skipped = (sfn.Pass.jsonata(self, f"{name}OptedOut{suffix}", outputs=outcome) if in_branch else
                   sfn.Pass.jsonata(self, f"{name}OptedOut{suffix}", assign={channel: outcome}).next(self._record_sent))
        decide = sfn.Choice.jsonata(self, f"Is{name}OptedOut{suffix}")
        decide.when(sfn.Condition.jsonata(f'{{% $type({reason}) = "string" %}}'), skipped)
        decide.otherwise(send)
        following: list[sfn.IChainable] = [check for check, _ in checks[1:]] + [decide]
        for (check, nothing_found), after in zip(checks, following, strict=True):
            check.add_catch(nothing_found.next(after), errors=[_NOT_FOUND[channel]])
            check.add_catch(on_error, errors=[sfn.Errors.ALL], assign=None if in_branch else {channel: FAILED})
            check.next(after)
        return checks[0][0]

    def _opt_out_checks(self, channel: str, suffix: str) -> list[tuple[sfn.CustomState, sfn.Pass]]:
        """The task states that find a legal opt-out, each assigning ``$<channel>OptOut`` (the reason,
        or null), with the state its not-found error (nothing found) goes to."""
        partition = cdk.Aws.PARTITION
        checks: list[tuple[sfn.CustomState, sfn.Pass]] = []
        if channel == "sms" and self.sms_provider is not None:
            checks.append((sfn.CustomState(self, f"CheckSmsOptOut{suffix}", state_json={
                "Type": "Task",
                "Resource": f"arn:{partition}:states:::aws-sdk:pinpointsmsvoicev2:describeOptedOutNumbers",
                "Arguments": {"OptOutListName": self.sms_provider.opt_out_list_name,
                              "OptedOutNumbers": "{% [$request.phoneNumber] %}"},
                "Assign": {"smsOptOut": '{% $count($states.result.OptedOutNumbers) > 0 '
                                        '? "the number is on the opt-out list" : null %}'},
                "TimeoutSeconds": int(self._task_timeout.to_seconds()),
            }),
                # AWS documents an error for a number it cannot describe: read as not opted out (a
                # number on the list is still refused by SendTextMessage itself).
                sfn.Pass.jsonata(self, f"NotOnOptOutList{suffix}", assign={"smsOptOut": None})))
        first_to = "$request.sendEmail.Destination.ToAddresses[0]"
        if channel == "email" and self._contact_list is not None:
            topic = "$request.sendEmail.ListManagementOptions.TopicName"
            check = sfn.CustomState(self, f"CheckEmailOptOut{suffix}", state_json={
                "Type": "Task",
                "Resource": f"arn:{partition}:states:::aws-sdk:sesv2:getContact",
                "Arguments": {"ContactListName": self._contact_list, "EmailAddress": f"{{% {first_to} %}}"},
                "Assign": {"emailOptOut": "{% " + contract.compact(
                    f"($c := $states.result; $t := {topic}; "
                    "$p := $c.TopicPreferences[TopicName = $t].SubscriptionStatus; "
                    "$d := $c.TopicDefaultPreferences[TopicName = $t].SubscriptionStatus; "
                    '$c.UnsubscribeAll = true ? "unsubscribed from every topic" '
                    ': ($exists($t) and ($exists($p) ? $p : $d) = "OPT_OUT") ? "unsubscribed from " & $t : null)')
                    + " %}"},
                "TimeoutSeconds": int(self._task_timeout.to_seconds()),
            })
            # Not a contact of the list: nothing to opt out of.
            checks.append((check, sfn.Pass.jsonata(self, f"NotAContact{suffix}", assign={"emailOptOut": None})))
        if channel == "email" and self._check_suppression:
            check = sfn.CustomState(self, f"CheckSuppressionList{suffix}", state_json={
                "Type": "Task",
                "Resource": f"arn:{partition}:states:::aws-sdk:sesv2:getSuppressedDestination",
                "Arguments": {"EmailAddress": f"{{% {first_to} %}}"},
                "Assign": {"emailOptOut": '{% "on the suppression list (" & '
                                          '$states.result.SuppressedDestination.Reason & ")" %}'},
                "TimeoutSeconds": int(self._task_timeout.to_seconds()),
            })
            # Not suppressed: the contact list's answer (if any) stands.
            checks.append((check, sfn.Pass.jsonata(self, f"NotSuppressed{suffix}", assign=None if self._contact_list
                                                   else {"emailOptOut": None})))
        for check, _ in checks:
            check.add_retry(errors=[*OPT_OUT_CHECK_TRANSIENT_ERRORS],
                            interval=cdk.Duration.seconds(1), max_attempts=3, backoff_rate=2,
                            jitter_strategy=sfn.JitterType.FULL)
        return checks

    def _limited(self, send: sfn.CustomState, channel: str, slot_id: str,
                 on_wait_exceeded: sfn.IChainable) -> sfn.IChainable:
        """``send``, after taking its units of the channel's send rate when one is configured. A
        send that waited too long for a slot is FAILED with ``SendRateLimited``."""
        per_second = self.sms_max_parts_per_second if channel == "sms" else self.ses_max_send_rate
        if per_second is None:
            return send
        slot = self.delivery_log._take_send_slot(
            self, slot_id, channel=channel, per_second=per_second,
            units=contract.SMS_PARTS if channel == "sms" else contract.EMAIL_RECIPIENTS,
            timeout=self._task_timeout, wait=self._slot_wait)
        # In a Parallel branch the catcher's output is the branch's; elsewhere the outcome is assigned.
        in_branch = isinstance(on_wait_exceeded, sfn.Pass)
        slot.add_catch(on_wait_exceeded, assign=None if in_branch else {channel: RATE_LIMITED_OUTCOME})
        # A throttled send takes a slot again (so retries count against the rate), as often as the
        # channel's retry policy would have retried it in place; then it fails with the throttling.
        throttled = slot_id[0].lower() + slot_id[1:] + "Throttled"
        last_error = f"{throttled}Error"
        policy = self._sms_retry if channel == "sms" else self._email_retry
        failed = '{% {"status":"FAILED","messageId":"","error":$' + last_error + "} %}"
        give_up: sfn.IChainable = (
            sfn.Pass.jsonata(self, f"{slot_id}GaveUp", outputs=failed) if in_branch
            else sfn.Pass.jsonata(self, f"{slot_id}GaveUp", assign={channel: failed}).next(on_wait_exceeded))
        again = sfn.Choice.jsonata(self, f"{slot_id}Again")
        again.when(sfn.Condition.jsonata(f"{{% ${throttled} > {policy.max_attempts} %}}"), give_up)
        again.otherwise(slot)
        send.add_catch(again, errors=list(THROTTLING_ERRORS[channel]), assign={
            throttled: f"{{% ${throttled} + 1 %}}", last_error: "{% $states.errorOutput.Error %}"})
        counted = sfn.Pass.jsonata(self, f"{slot_id}Count", assign={throttled: 0},
                                   comment="Counts the throttled sends that take a slot again.")
        return counted.next(slot).next(send)

    def _send_email(self, state_id: str, outcome: str = "assign") -> sfn.CustomState:
        requeued = THROTTLING_ERRORS["email"] if self.ses_max_send_rate is not None else ()
        return email_send_state(self, state_id, retry=self._email_retry, timeout=self._task_timeout,
                                outcome=outcome, requeued_errors=requeued)

    # ---- delivery-log records -----------------------------------------------------------------

    @property
    def _record_sent(self) -> sfn.IChainable:
        existing = self.node.try_find_child("RecordOutcome")
        if existing is not None:
            return existing  # type: ignore[return-value]
        return self._record_outcome("RecordOutcome", failed=False)

    def _record_outcome(self, state_id: str, *, failed: bool) -> sfn.CustomState:
        """Records the outcome from ``$sms``/``$email``: SENT, PARTIAL, or (``failed``) FAILED.
        ``RecordOutcome`` writes only when a channel delivered: its condition fails when none did,
        and that is caught into ``RecordFailed``, which records FAILED and ends in DeliveryFailed."""
        sent_ids = "" if failed else (
            f'"{SMS_MESSAGE_ID_ATTRIBUTE}": "sms" in $sent ? $sms.messageId, '
            f'"{EMAIL_MESSAGE_ID_ATTRIBUTE}": "email" in $sent ? $email.messageId, '
        )
        status = '"FAILED"' if failed else (
            '$exists($fallback) ? ("email" in $sent ? "SENT" : "FAILED") '
            ': ($count($sent) = $count($channels) ? "SENT" : ($count($sent) > 0 ? "PARTIAL" : "FAILED"))'
        )
        left_out = f'["{contract.SKIPPED_PREFERENCE}", "{contract.SKIPPED_OPT_OUT}"]'
        if self._skips and not failed:
            # Channels left out count neither way; with none left to send, the record says why.
            status = "(" + (
                f'$due := $filter($channels, function($c){{$not($lookup($results, $c).status in {left_out})}}); '
                '$exists($fallback) ? ("email" in $sent ? "SENT" : "FAILED") '
                f': $count($due) = 0 ? ($count($filter($channels, function($c){{$lookup($results, $c).status = '
                f'"{contract.SKIPPED_OPT_OUT}"}})) > 0 ? "{contract.SKIPPED_OPT_OUT}" '
                f': "{contract.SKIPPED_PREFERENCE}") '
                ': ($count($sent) = $count($due) ? "SENT" : ($count($sent) > 0 ? "PARTIAL" : "FAILED"))'
            ) + ")"
        # A delivery writes over the claim; when none delivered the condition fails on purpose.
        condition = ('"attribute_exists(notificationId)"' if failed else '$status = "FAILED" '
                     '? "attribute_not_exists(notificationId)" : "attribute_exists(notificationId)"')
        arguments = "{% " + contract.compact(
            "("
            '$channels := ($request.channel = "both" or $exists($fallback)) ? ["sms", "email"] : [$request.channel]; '
            "$results := $merge([{}, $request.rejected, $exists($sms) ? {\"sms\": $sms}, "
            '$exists($email) ? {"email": $email}]); '
            + ("" if failed else '$sent := $filter($channels, function($c){$lookup($results, $c).status = "SENT"}); ')
            + f"$status := {status}; "
            "$ours := function($v, $c){$c in $channels}; "
            # Typed for DynamoDB: strings, and maps of them.
            '$typed := function($x){$type($x) = "object" '
            '? {"M": $merge([{}, $each($x, function($v, $k){{$k: $typed($v)}})])} : {"S": $x}}; '
            "$set := {"
            '"status": $status, "completedAt": $states.context.State.EnteredTime, "metadata": $request.metadata, '
            + ('"recipients": $merge([{}, $sift($request.recipients, $ours)]), '
               if self._store_plain_recipients else "")
            + '"results": $merge([{}, $sift($results, $ours)]), '
            + sent_ids
            + ('"message": $request.message, ' if self._store_message else "")
            + '"fallback": $fallback}; '
            "{"
            f'"TableName": "{self.table.table_name}", '
            '"Key": {"notificationId": {"S": $request.notificationId}}, '
            '"UpdateExpression": "SET " & $join($each($set, function($v, $k){"#" & $k & "=:" & $k}), ","), '
            f'"ConditionExpression": {condition}, '
            '"ExpressionAttributeNames": $merge($each($set, function($v, $k){{"#" & $k: $k}})), '
            '"ExpressionAttributeValues": $merge($each($set, function($v, $k){{":" & $k: $typed($v)}}))'
            "})"
        ) + " %}"
        state = self.delivery_log._update_record(self, state_id, arguments=arguments, timeout=self._task_timeout)
        if not failed:
            state.add_catch(self._record_failed, errors=[CONDITIONAL_CHECK_FAILED])
        state.add_catch(self._log_unavailable)
        return state

    def _reject(self) -> sfn.IChainable:
        """Records REJECTED with the reason, then fails with the rejection's named error. The key is
        the request's notificationId when it is valid, else the execution name."""
        rejected = sfn.Fail.jsonata(self, "Rejected", error="{% $request.rejection.error %}",
                                    cause="{% $request.rejection.reason %}")
        state = self.delivery_log._create_record(self, "RecordRejection", item="{% $request.record %}",
                                                timeout=self._task_timeout)
        taken = {"error": REJECTED_NOTIFICATION_ID_TAKEN,
                 "reason": "The notificationId belongs to another request, whose record is left as it was."}
        state.add_catch(rejected, errors=[CONDITIONAL_CHECK_FAILED], assign={
            "request": "{% $merge([$request, {\"rejection\": " + json.dumps(taken) + "}]) %}"})
        state.add_catch(self._log_unavailable)
        return state.next(rejected)

    # ---- IAM --------------------------------------------------------------------------------

    def _encrypt_state_machine(self) -> None:
        """Encrypts the machine's data with the customer-managed key, and grants its role that key.

        Set on the L1 resource: CDK's ``CustomerManagedEncryptionConfiguration`` conditions the role
        on ``kms:EncryptionContext:aws:states:stateMachineArn`` equal to an ARN built from the
        machine's physical name, which is empty here, so that condition never matches; and its
        logs-delivery statement compares ``kms:EncryptionContext:SourceArn`` with StringEquals
        against a value ending in ``*``, which StringEquals never expands. A fixed machine name
        would give an exact ARN but replaces a deployed machine (and its history) and must be unique
        per account and region; CloudFormation's generated name contains the logical id, so the
        condition matches that with ArnLike instead.
        """
        stack = cdk.Stack.of(self)
        cfn_machine = cast(sfn.CfnStateMachine, self.state_machine.node.default_child)
        cfn_machine.encryption_configuration = sfn.CfnStateMachine.EncryptionConfigurationProperty(
            type="CUSTOMER_MANAGED_KMS_KEY",
            kms_key_id=self.encryption_key.key_arn,
            kms_data_key_reuse_period_seconds=int(KMS_DATA_KEY_REUSE.to_seconds()),
        )
        machines_of_this_construct = stack.format_arn(
            service="states", resource="stateMachine", resource_name=f"*{cfn_machine.logical_id}*",
            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
        )
        self.state_machine.add_to_role_policy(iam.PolicyStatement(
            actions=["kms:Decrypt", "kms:GenerateDataKey"],
            resources=[self.encryption_key.key_arn],
            conditions={"ArnLike": {"kms:EncryptionContext:aws:states:stateMachineArn": machines_of_this_construct}},
        ))
        # Vended log delivery to the encrypted execution log group (as CDK's L2 would add it).
        if isinstance(self.encryption_key, kms.Key):
            self.encryption_key.add_to_resource_policy(iam.PolicyStatement(
                principals=[iam.ServicePrincipal("delivery.logs.amazonaws.com")],
                actions=["kms:Decrypt*"],
                resources=["*"],
                conditions={
                    "StringEquals": {"aws:SourceAccount": stack.account},
                    "ArnLike": {"aws:SourceArn": stack.format_arn(
                        service="logs", resource="*", arn_format=cdk.ArnFormat.NO_RESOURCE_NAME)},
                },
            ))
        self.state_machine.add_to_role_policy(iam.PolicyStatement(
            actions=["kms:GenerateDataKey"],
            resources=[self.encryption_key.key_arn],
            conditions={"ArnLike": {"kms:EncryptionContext:SourceArn": stack.format_arn(
                service="logs", resource="*", arn_format=cdk.ArnFormat.NO_RESOURCE_NAME)}},
        ))

    def _grant_delivery_log_key(self) -> None:
        """The record states are hand-written (whole-item expressions), so their table grant is
        too; the table's key is granted for use through DynamoDB alone."""
        self.state_machine.add_to_role_policy(iam.PolicyStatement(
            actions=["dynamodb:PutItem", "dynamodb:UpdateItem"], resources=[self.table.table_arn]))
        key = self.table.encryption_key
        if key is None:
            return
        self.state_machine.add_to_role_policy(iam.PolicyStatement(
            actions=["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"],
            resources=[key.key_arn],
            conditions={"StringEquals": {"kms:ViaService": f"dynamodb.{cdk.Stack.of(self).region}.amazonaws.com"}},
        ))

    def _grant_sms_publish(self) -> None:
        if self._sms_topic is not None:
            self._sms_topic.grant_publish(self.state_machine)
            return
        # SMS straight to a phone number has no resource ARN to scope to; the deny keeps that grant
        # from reaching any topic (a phone publish is authorized on "*", never on a topic ARN).
        self.state_machine.add_to_role_policy(iam.PolicyStatement(actions=["sns:Publish"], resources=["*"]))
        self.state_machine.add_to_role_policy(iam.PolicyStatement(
            effect=iam.Effect.DENY, actions=["sns:Publish"],
            resources=[cdk.Stack.of(self).format_arn(service="sns", region="*", account="*", resource="*")]))

    def _capture_failed_executions(self) -> sqs.Queue:
        """Failed, timed-out and aborted executions land in an encrypted queue (14 days), where
        an alarm sees them and an operator can redrive them."""
        queue = sqs.Queue(
            self,
            "FailedExecutions",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=self.encryption_key,
            enforce_ssl=True,
            retention_period=cdk.Duration.days(14),
        )
        rule = events.Rule(
            self,
            "FailedExecutionsRule",
            description="Failed, timed-out and aborted notification executions",
            event_pattern=events.EventPattern(
                source=["aws.states"],
                detail_type=["Step Functions Execution Status Change"],
                detail={
                    "status": ["FAILED", "TIMED_OUT", "ABORTED"],
                    "stateMachineArn": [self.state_machine.state_machine_arn],
                },
            ),
        )
        # The target by hand: targets.SqsQueue would let EventBridge use the key for any rule of the
        # account, with more actions than sending needs; this rule alone may, with what it needs.
        cast(events.CfnRule, rule.node.default_child).targets = [
            events.CfnRule.TargetProperty(id="FailedExecutionsQueue", arn=queue.queue_arn)]
        # By name, not by the rule's ARN: the key would then depend on the rule, which depends on the
        # state machine, which depends on the key. The generated name holds the logical id.
        rule_id = cast(events.CfnRule, rule.node.default_child).logical_id
        from_this_rule = {"ArnLike": {"aws:SourceArn": cdk.Stack.of(self).format_arn(
            service="events", resource="rule", resource_name=f"*{rule_id}*")}}
        queue.add_to_resource_policy(iam.PolicyStatement(
            principals=[iam.ServicePrincipal("events.amazonaws.com")], actions=["sqs:SendMessage"],
            resources=[queue.queue_arn], conditions=from_this_rule))
        if isinstance(self.encryption_key, kms.Key):
            self.encryption_key.add_to_resource_policy(iam.PolicyStatement(
                principals=[iam.ServicePrincipal("events.amazonaws.com")],
                actions=["kms:GenerateDataKey", "kms:Decrypt"], resources=["*"],
                conditions={**from_this_rule, "StringEquals": {"aws:SourceAccount": cdk.Stack.of(self).account}}))
        cdk.Validations.of(queue).acknowledge(cdk.Acknowledgment(
            id="AwsSolutions-SQS3",
            reason="This queue is itself the dead-letter destination for failed executions; "
                   "nothing consumes it automatically, so it needs no dead-letter queue of its own.",
        ))
        return queue

    def _acknowledge_findings(self) -> None:
        """Findings that follow from what the state machine must be allowed to do, acknowledged on
        the resource they arise on."""
        role_policy = self.state_machine.role.node.find_child("DefaultPolicy")
        acknowledge_own_role_policy(role_policy, "the state machine's")
        cdk.Validations.of(self.state_machine).acknowledge(cdk.Acknowledgment(
            id="AwsSolutions-IAM5[Resource::*]",
            reason="Three action groups have no resource-level permissions and need '*': sns:Publish "
                   "straight to a phone number (give the workflow an sms_topic to scope it), the "
                   "CloudWatch Logs delivery actions Step Functions logging uses, and X-Ray tracing.",
        ))
        if self._sms_topic is not None and self._sms_topic.master_key is not None:
            cdk.Validations.of(self.state_machine).acknowledge(cdk.Acknowledgment(
                id="AwsSolutions-IAM5[Action::kms:GenerateDataKey*]",
                reason="Publishing to the KMS-encrypted sms_topic needs the data-key action group, which "
                       "the topic's grant_publish gives on that topic's key only.",
            ))

    # ---- public helpers -----------------------------------------------------------------------

    def grant_redrive(self, grantee: iam.IGrantable) -> iam.Grant:
        """Lets ``grantee`` redrive failed executions (``states:RedriveExecution``) and read the
        failed-execution queue."""
        stack = cdk.Stack.of(self)
        executions = stack.format_arn(
            service="states", resource="execution",
            resource_name=f"{self.state_machine.state_machine_name}:*",
            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
        )
        if self.failed_executions is not None:
            self.failed_executions.grant_consume_messages(grantee)
        return iam.Grant.add_to_principal(
            grantee=grantee, actions=["states:RedriveExecution", "states:DescribeExecution"],
            resource_arns=[executions],
        )

    def grant_start_execution(self, grantee: iam.IGrantable) -> iam.Grant:
        """Lets ``grantee`` start notifications."""
        return self.state_machine.grant_start_execution(grantee)

    def grant_read_delivery_log(self, grantee: iam.IGrantable) -> iam.Grant:
        """Lets ``grantee`` read delivery-log records."""
        return self.table.grant_read_data(grantee)

    def metric_failed(
        self, *, period: cdk.Duration | None = None, statistic: str | None = None, label: str | None = None,
        unit: cloudwatch.Unit | None = None, color: str | None = None,
        dimensions_map: Mapping[str, str] | None = None, account: str | None = None, region: str | None = None,
    ) -> cloudwatch.Metric:
        """Executions that failed (rejections and undelivered notifications included). The
        options are those of ``cloudwatch.MetricOptions``; default statistic: Sum, period: 5 minutes."""
        return self.state_machine.metric_failed(
            period=period, statistic=statistic, label=label, unit=unit, color=color,
            dimensions_map=dimensions_map, account=account, region=region)

    def metric_succeeded(
        self, *, period: cdk.Duration | None = None, statistic: str | None = None, label: str | None = None,
        unit: cloudwatch.Unit | None = None, color: str | None = None,
        dimensions_map: Mapping[str, str] | None = None, account: str | None = None, region: str | None = None,
    ) -> cloudwatch.Metric:
        """Executions that succeeded (sent, partial, or duplicates ignored); options as for
        :meth:`metric_failed`."""
        return self.state_machine.metric_succeeded(
            period=period, statistic=statistic, label=label, unit=unit, color=color,
            dimensions_map=dimensions_map, account=account, region=region)

    def metric_timed_out(
        self, *, period: cdk.Duration | None = None, statistic: str | None = None, label: str | None = None,
        unit: cloudwatch.Unit | None = None, color: str | None = None,
        dimensions_map: Mapping[str, str] | None = None, account: str | None = None, region: str | None = None,
    ) -> cloudwatch.Metric:
        """Executions that ran past the workflow timeout; options as for :meth:`metric_failed`."""
        return self.state_machine.metric_timed_out(
            period=period, statistic=statistic, label=label, unit=unit, color=color,
            dimensions_map=dimensions_map, account=account, region=region)

    @property
    def channel_integrations(self) -> Mapping[str, str]:
        """Integration resource ARNs per channel, for per-channel metrics."""
        partition = cdk.Stack.of(self).partition
        return {
            "sms": f"arn:{partition}:states:::sns:publish",
            "email": f"arn:{partition}:states:::aws-sdk:sesv2:sendEmail",
        }

    # ---- prop checks --------------------------------------------------------------------------

    @staticmethod
    def _check_props(
        *,
        sender: str,
        email_identities: Sequence[str],
        allowed_senders: Sequence[str],
        default_subject: str,
        configuration_set_name: str | None,
        allowed_configuration_sets: Sequence[str],
        workflow_type: sfn.StateMachineType,
        timeout: cdk.Duration,
        task_timeout: cdk.Duration,
    ) -> None:
        if isinstance(email_identities, str) or not email_identities:
            raise PropError(_NAME, "email_identities", email_identities,
                            "Give a list of SES identities (domains or addresses), e.g. ['example.com'].")
        for identity in email_identities:
            if not isinstance(identity, str) or not identity or (" " in identity):
                raise PropError(_NAME, "email_identities", identity,
                                "Each identity is a domain ('example.com') or an address.")
        if isinstance(allowed_senders, str):
            raise PropError(_NAME, "allowed_senders", allowed_senders, "Give a list of addresses, not a string.")
        require_email(_NAME, "sender", sender)
        for address in allowed_senders:
            if isinstance(address, str) and "*" in address:
                if not address.startswith("*@") or "*" in address[2:] or not _is_domain(address[2:]):
                    raise PropError(_NAME, "allowed_senders", address,
                                    "A wildcard stands for a whole domain only: use '*@example.com'.")
                continue
            require_email(_NAME, "allowed_senders", address)
        for prop, address in [("sender", sender), *(("allowed_senders", a) for a in allowed_senders)]:
            if is_token(address) or any(is_token(i) for i in email_identities):
                continue
            domain = address.rsplit("@", 1)[-1]
            if address.startswith("*@") and domain not in email_identities:
                raise PropError(_NAME, prop, address,
                                f"Its domain is not in email_identities {list(email_identities)}: add '{domain}'.")
            if address not in email_identities and domain not in email_identities:
                raise PropError(_NAME, prop, address,
                                f"It is not covered by email_identities {list(email_identities)}: "
                                f"add '{domain}' or '{address}' to email_identities.")
        if not isinstance(default_subject, str) or not default_subject.strip():
            raise PropError(_NAME, "default_subject", default_subject, "Give a non-empty subject line.")
        if allowed_configuration_sets and not configuration_set_name:
            raise PropError(_NAME, "allowed_configuration_sets", list(allowed_configuration_sets),
                            "Set configuration_set_name too: it is used when a request names no set.")
        longest = cdk.Duration.minutes(5) if workflow_type == sfn.StateMachineType.EXPRESS else cdk.Duration.days(1)
        require_duration_between(_NAME, "timeout", timeout, cdk.Duration.seconds(10), longest)
        require_duration_between(_NAME, "task_timeout", task_timeout, cdk.Duration.seconds(1), cdk.Duration.minutes(15))
        if not timeout.is_unresolved() and not task_timeout.is_unresolved():
            if task_timeout.to_seconds() >= timeout.to_seconds():
                raise PropError(_NAME, "task_timeout", task_timeout.to_human_string(),
                                f"Use a task_timeout shorter than timeout ({timeout.to_human_string()}).")
