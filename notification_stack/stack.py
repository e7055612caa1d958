"""NotificationStack: the workflow, its monitoring and the cdk-nag gate."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_ses as ses
from cdk_nag import AwsSolutionsChecks, HIPAASecurityChecks, NIST80053R5Checks
from constructs import Construct

from constructs_lib import DeliveryFeedback, NotificationApi, NotificationMonitoring, NotificationWorkflow

from .config import EnvironmentSettings


class NotificationStack(cdk.Stack):
    """One environment's notification service. cdk-nag (AwsSolutions) runs on synth; every
    finding is fixed or acknowledged below with its reason."""

    def __init__(self, scope: Construct, construct_id: str, *, settings: EnvironmentSettings,
                 **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        # Delivery-status feedback reads SES events through this set, so every email uses it.
        self.configuration_set = ses.ConfigurationSet(self, "EmailConfigurationSet") \
            if settings.delivery_feedback else None
        self.workflow = NotificationWorkflow(
            self,
            "Workflow",
            sender=settings.sender,
            email_identities=list(settings.email_identities),
            allowed_senders=list(settings.allowed_senders),
            workflow_type=settings.workflow_type,
            log_retention=settings.log_retention,
            configuration_set_name=(
                self.configuration_set.configuration_set_name if self.configuration_set else None
            ),
        )
        self.api = NotificationApi(
            self, "Api", workflow=self.workflow, encryption_key=self.workflow.encryption_key,
        ) if settings.api else None
        self.feedback = DeliveryFeedback(
            self, "DeliveryFeedback", workflow=self.workflow,
            configuration_set_name=self.configuration_set.configuration_set_name,
            encryption_key=self.workflow.encryption_key,
        ) if self.configuration_set else None
        self.monitoring = NotificationMonitoring(
            self,
            "Monitoring",
            workflow=self.workflow,
            alarm_email=settings.alarm_email,
            encryption_key=self.workflow.encryption_key,
        )
        cdk.CfnOutput(self, "StateMachineArn", value=self.workflow.state_machine.state_machine_arn)
        cdk.CfnOutput(self, "DeliveryLogTableName", value=self.workflow.table.table_name)
        cdk.CfnOutput(self, "ExecutionLogGroupName", value=self.workflow.log_group.log_group_name)
        cdk.CfnOutput(self, "AlarmTopicArn", value=self.monitoring.alarm_topic.topic_arn)
        if self.api is not None:
            cdk.CfnOutput(self, "ApiUrl", value=self.api.url)
        if self.feedback is not None:
            cdk.CfnOutput(self, "SmsDeliveryStatusRoleArn", value=self.feedback.sms_delivery_status_role.role_arn)
            cdk.CfnOutput(self, "FeedbackDeadLetterQueueUrl", value=self.feedback.dead_letter_queue.queue_url)
        if self.workflow.failed_executions is not None:
            cdk.CfnOutput(self, "FailedExecutionsQueueUrl", value=self.workflow.failed_executions.queue_url)

        cdk.Validations.of(self).add_plugins(
            AwsSolutionsChecks(self), NIST80053R5Checks(self), HIPAASecurityChecks(self)
        )
        self._acknowledge_findings()

    def _acknowledge_findings(self) -> None:
        role_policy = self.workflow.state_machine.role.node.find_child("DefaultPolicy")
        for pack in ("NIST.800.53.R5", "HIPAA.Security"):
            cdk.Validations.of(role_policy).acknowledge(cdk.Acknowledgment(
                id=f"{pack}-IAMNoInlinePolicy",
                reason="CDK attaches the state machine's grants as a policy owned by its one role; "
                       "a managed policy would only make that least-privilege set shareable.",
            ))
            cdk.Validations.of(self.workflow.table).acknowledge(cdk.Acknowledgment(
                id=f"{pack}-DynamoDBInBackupPlan",
                reason="Point-in-time recovery (35 days of continuous backups) is on and the table is "
                       "retained on delete; AWS Backup plans are an account-level choice left to the operator.",
            ))
        acknowledge = cdk.Validations.of(self.workflow.state_machine).acknowledge
        acknowledge(cdk.Acknowledgment(
            id="AwsSolutions-IAM5[Resource::*]",
            reason="Three action groups have no resource-level permissions and need '*': sns:Publish "
                   "straight to a phone number (give the workflow an sms_topic to scope it), the "
                   "CloudWatch Logs delivery actions Step Functions logging uses, and X-Ray tracing.",
        ))
