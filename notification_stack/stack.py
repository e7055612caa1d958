"""NotificationStack: the notification service and the cdk-nag gate."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks, HIPAASecurityChecks, NIST80053R5Checks
from constructs import Construct

from constructs_lib import NotificationService

from .config import EnvironmentSettings


class NotificationStack(cdk.Stack):
    """One environment's notification service. cdk-nag (AwsSolutions, NIST 800-53 R5, HIPAA
    Security) runs on synth; the constructs fix or acknowledge every finding themselves."""

    def __init__(self, scope: Construct, construct_id: str, *, settings: EnvironmentSettings,
                 **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        # The id "Default" is left out of logical ids: the parts keep the ids they had as direct
        # children of the stack (Workflow, Monitoring, Api, DeliveryFeedback, EmailConfigurationSet),
        # so the retained table and the other stateful resources are not replaced.
        self.service = NotificationService(
            self,
            "Default",
            sender=settings.sender,
            email_identities=list(settings.email_identities),
            allowed_senders=list(settings.allowed_senders),
            workflow_type=settings.workflow_type,
            log_retention=settings.log_retention,
            alarm_email=settings.alarm_email,
            api=settings.api,
            feedback=settings.delivery_feedback,
            buffered_ingress=settings.buffered_ingress,
            workflow_options=_workflow_options(settings),
            **_recipient_options(settings),
        )
        self.configuration_set = self.service.configuration_set
        self.workflow = self.service.workflow
        self.api = self.service.api
        self.feedback = self.service.feedback
        self.buffered_ingress = self.service.buffered_ingress
        assert self.service.monitoring is not None  # on by default
        self.monitoring = self.service.monitoring

        cdk.CfnOutput(self, "StateMachineArn", value=self.workflow.state_machine.state_machine_arn)
        cdk.CfnOutput(self, "DeliveryLogTableName", value=self.workflow.table.table_name)
        cdk.CfnOutput(self, "ExecutionLogGroupName", value=self.workflow.log_group.log_group_name)
        cdk.CfnOutput(self, "AlarmTopicArn", value=self.monitoring.alarm_topic.topic_arn)
        if self.api is not None:
            cdk.CfnOutput(self, "ApiUrl", value=self.api.url)
        if self.feedback is not None:
            cdk.CfnOutput(self, "SmsDeliveryStatusRoleArn", value=self.feedback.sms_delivery_status_role.role_arn)
            cdk.CfnOutput(self, "FeedbackDeadLetterQueueUrl", value=self.feedback.dead_letter_queue.queue_url)
        if self.buffered_ingress is not None:
            cdk.CfnOutput(self, "IngressQueueUrl", value=self.buffered_ingress.queue.queue_url)
        if self.workflow.failed_executions is not None:
            cdk.CfnOutput(self, "FailedExecutionsQueueUrl", value=self.workflow.failed_executions.queue_url)

        cdk.Validations.of(self).add_plugins(
            AwsSolutionsChecks(self), NIST80053R5Checks(self), HIPAASecurityChecks(self)
        )


def _recipient_options(settings: EnvironmentSettings) -> dict[str, Any]:
    """The recipient-aware parts the environment turns on (none by default)."""
    options: dict[str, Any] = {
        "templates_directory": settings.templates_directory,
        "recipient_preferences": settings.recipient_preferences or None,
        "preference_time_zones": list(settings.preference_time_zones) if settings.recipient_preferences else None,
        "email_unsubscribe_topics": list(settings.email_unsubscribe_topics)
        if settings.email_unsubscribe_topics is not None else None,
        "check_suppression_list": settings.check_suppression_list or None,
        "sms_origination_identity": settings.sms_origination_identity,
        "sms_opt_out_list_name": settings.sms_opt_out_list_name if settings.sms_origination_identity else None,
    }
    return {key: value for key, value in options.items() if value is not None}


def _workflow_options(settings: EnvironmentSettings) -> dict[str, object]:
    """The optional workflow features the environment turns on."""
    options: dict[str, object] = {
        "sms_max_parts_per_second": settings.sms_max_parts_per_second,
        "ses_max_send_rate": settings.ses_max_send_rate,
    }
    if settings.max_send_delay_days is not None:
        options["max_send_delay"] = cdk.Duration.days(settings.max_send_delay_days)
    return {key: value for key, value in options.items() if value is not None}
