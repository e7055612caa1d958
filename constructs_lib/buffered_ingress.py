"""BufferedIngress: an encrypted SQS queue in front of the workflow, drained by an EventBridge Pipe,
so a burst of requests waits in the queue instead of meeting Step Functions' start quotas."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_pipes as pipes
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from ._nag import acknowledge_own_role_policy
from ._props import PropError, require_duration_between, require_int_between
from .feedback import ALARM_ACTION_FINDINGS
from .workflow import NotificationWorkflow

__all__ = ["BufferedIngress"]

_NAME = "BufferedIngress"
DEFAULT_VISIBILITY_TIMEOUT = cdk.Duration.minutes(1)
DEFAULT_BACKLOG_ALARM_AGE = cdk.Duration.minutes(5)
#: What the pipe hands the workflow for each message: the request (Pipes parses a JSON body) and
#: the SQS message id, which keys the record of a request without a notificationId.
PIPE_INPUT_TEMPLATE = '{"request": <$.body>, "messageId": "<$.messageId>"}'


class BufferedIngress(Construct):
    """Requests sent to :attr:`queue` (an SQS queue encrypted with the workflow's key, with a
    dead-letter queue) are started as workflow executions by an EventBridge Pipe, one execution
    per message (a batch of one).

    Delivery is at least once: a message may start two executions, and the workflow's claim on
    the ``notificationId`` (or, without one, the SQS message id) makes the second send nothing.
    The pipe starts executions asynchronously (``FIRE_AND_FORGET``); a start that fails (a
    throttled ``StartExecution``, a refused key) leaves the message in the queue, to be received
    again and, after ``max_receive_count`` receives, moved to :attr:`dead_letter_queue`.

    :param workflow: the ``NotificationWorkflow`` to start; built with ``queued_input=True``
        (``NotificationService`` does this with ``buffered_ingress=True``). Express workflows
        suit this path (6,000 starts per second; at-least-once is covered by the claim).
    :param encryption_key: key for both queues. Default: the workflow's ``encryption_key``.
    :param max_receive_count: receives before a message moves to the dead-letter queue.
        Default: 5.
    :param visibility_timeout: how long a received message stays hidden before it is received
        again, if the pipe did not delete it. Default: 1 minute.
    :param backlog_alarm_age: :attr:`backlog_alarm` fires when the oldest message has waited this
        long (three minutes in a row). Default: 5 minutes.
    :param alarm_topic: topic both alarms notify (``NotificationService`` passes its
        monitoring's). Default: none: the alarms have no action until you add one, and the NIST
        800-53 and HIPAA packs report them (see :attr:`unacknowledged_findings`).

    Attributes: :attr:`queue`, :attr:`dead_letter_queue`, :attr:`pipe`, :attr:`pipe_role`,
    :attr:`backlog_alarm`, :attr:`dead_letter_alarm`, :attr:`unacknowledged_findings`.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        workflow: NotificationWorkflow,
        encryption_key: kms.IKey | None = None,
        max_receive_count: int = 5,
        visibility_timeout: cdk.Duration = DEFAULT_VISIBILITY_TIMEOUT,
        backlog_alarm_age: cdk.Duration = DEFAULT_BACKLOG_ALARM_AGE,
        alarm_topic: sns.ITopic | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        if not isinstance(workflow, NotificationWorkflow):
            raise PropError(_NAME, "workflow", workflow, "Give the NotificationWorkflow the pipe starts.")
        if not workflow.queued_input:
            raise PropError(_NAME, "workflow", workflow.node.path,
                            "The pipe hands the workflow a batch of one: build it with "
                            "NotificationWorkflow(..., queued_input=True).")
        require_int_between(_NAME, "max_receive_count", max_receive_count, 1, 1000)
        require_duration_between(_NAME, "visibility_timeout", visibility_timeout, cdk.Duration.seconds(10),
                                 cdk.Duration.hours(12))
        require_duration_between(_NAME, "backlog_alarm_age", backlog_alarm_age, cdk.Duration.minutes(1),
                                 cdk.Duration.days(1))
        stack = cdk.Stack.of(self)
        key = encryption_key or workflow.encryption_key

        #: Messages the pipe could not start after ``max_receive_count`` receives (14 days).
        self.dead_letter_queue = sqs.Queue(
            self, "DeadLetterQueue", encryption=sqs.QueueEncryption.KMS, encryption_master_key=key,
            enforce_ssl=True, retention_period=cdk.Duration.days(14),
            removal_policy=cdk.RemovalPolicy.RETAIN,  # requests not yet sent
        )
        #: Send requests here (``sqs:SendMessage``, see :meth:`grant_send`): the body is the request JSON.
        self.queue = sqs.Queue(
            self, "Queue", encryption=sqs.QueueEncryption.KMS, encryption_master_key=key, enforce_ssl=True,
            visibility_timeout=visibility_timeout, retention_period=cdk.Duration.days(4),
            dead_letter_queue=sqs.DeadLetterQueue(queue=self.dead_letter_queue, max_receive_count=max_receive_count),
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )

        #: The role the pipe acts as: it reads the queue and starts the workflow, nothing else.
        self.pipe_role = iam.Role(
            self, "PipeRole",
            assumed_by=iam.ServicePrincipal("pipes.amazonaws.com", conditions={
                "StringEquals": {"aws:SourceAccount": stack.account},
                # The pipe's own ARN would be a cycle (the pipe names the role): any pipe of this account.
                "ArnLike": {"aws:SourceArn": stack.format_arn(service="pipes", resource="pipe", resource_name="*")},
            }),
            description="EventBridge Pipe: reads the notification queue and starts the workflow",
        )
        self.queue.grant_consume_messages(self.pipe_role)
        workflow.grant_start_execution(self.pipe_role)
        # Step Functions encrypts the execution input with the workflow's key for the caller.
        workflow.encryption_key.grant(self.pipe_role, "kms:GenerateDataKey")

        #: The pipe: queue -> workflow, one message per execution.
        self.pipe = pipes.CfnPipe(
            self, "Pipe",
            role_arn=self.pipe_role.role_arn,
            source=self.queue.queue_arn,
            source_parameters=pipes.CfnPipe.PipeSourceParametersProperty(
                sqs_queue_parameters=pipes.CfnPipe.PipeSourceSqsQueueParametersProperty(batch_size=1)),
            target=workflow.state_machine.state_machine_arn,
            target_parameters=pipes.CfnPipe.PipeTargetParametersProperty(
                input_template=PIPE_INPUT_TEMPLATE,
                step_function_state_machine_parameters=pipes.CfnPipe.PipeTargetStateMachineParametersProperty(
                    invocation_type="FIRE_AND_FORGET")),
            description="notify-cdk: queued notification requests to the workflow",
        )
        # The role's policy must exist before the pipe validates its access to the queue.
        self.pipe.node.add_dependency(self.pipe_role)

        #: In alarm when the oldest request has waited ``backlog_alarm_age``: the pipe is not
        #: keeping up (throttled starts, a stopped pipe, a refused key).
        self.backlog_alarm = cloudwatch.Alarm(
            self, "BacklogAlarm",
            metric=self.queue.metric_approximate_age_of_oldest_message(period=cdk.Duration.minutes(1),
                                                                        statistic="Maximum"),
            threshold=backlog_alarm_age.to_seconds(),
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            evaluation_periods=3,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description="Notification queue backs up: requests wait longer than "
                              f"{backlog_alarm_age.to_human_string()}; check the pipe and the workflow's starts.",
        )
        #: In alarm while any request waits in the dead-letter queue (never started).
        self.dead_letter_alarm = cloudwatch.Alarm(
            self, "DeadLetterAlarm",
            metric=self.dead_letter_queue.metric_approximate_number_of_messages_visible(
                period=cdk.Duration.minutes(1), statistic="Maximum"),
            threshold=0,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description="Queued notification requests were never started; inspect, fix, then redrive.",
        )
        if alarm_topic is not None:
            for alarm in (self.backlog_alarm, self.dead_letter_alarm):
                alarm.add_alarm_action(cloudwatch_actions.SnsAction(alarm_topic))
        acknowledge_own_role_policy(self.pipe_role, "the pipe's")
        #: cdk-nag findings a stack must acknowledge itself (choices this construct cannot own).
        self.unacknowledged_findings: list[str] = [] if alarm_topic else list(ALARM_ACTION_FINDINGS)

    def grant_send(self, grantee: iam.IGrantable) -> iam.Grant:
        """Lets ``grantee`` queue requests (``sqs:SendMessage`` and the key's data-key use)."""
        return self.queue.grant_send_messages(grantee)
