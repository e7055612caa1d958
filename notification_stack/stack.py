"""NotificationStack: the workflow, its monitoring and the cdk-nag gate."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks
from constructs import Construct

from constructs_lib import NotificationMonitoring, NotificationWorkflow

from .config import EnvironmentSettings


class NotificationStack(cdk.Stack):
    """One environment's notification service. cdk-nag (AwsSolutions) runs on synth; every
    finding is fixed or acknowledged below with its reason."""

    def __init__(self, scope: Construct, construct_id: str, *, settings: EnvironmentSettings,
                 **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.workflow = NotificationWorkflow(
            self,
            "Workflow",
            sender=settings.sender,
            email_identities=list(settings.email_identities),
            allowed_senders=list(settings.allowed_senders),
            workflow_type=settings.workflow_type,
            log_retention=settings.log_retention,
        )
        self.monitoring = NotificationMonitoring(
            self,
            "Monitoring",
            state_machine=self.workflow.state_machine,
            alarm_email=settings.alarm_email,
            channel_integrations=self.workflow.channel_integrations,
        )
        cdk.CfnOutput(self, "StateMachineArn", value=self.workflow.state_machine.state_machine_arn)
        cdk.CfnOutput(self, "DeliveryLogTableName", value=self.workflow.table.table_name)
        cdk.CfnOutput(self, "ExecutionLogGroupName", value=self.workflow.log_group.log_group_name)
        cdk.CfnOutput(self, "AlarmTopicArn", value=self.monitoring.alarm_topic.topic_arn)

        cdk.Validations.of(self).add_plugins(AwsSolutionsChecks(self))
        self._acknowledge_findings()

    def _acknowledge_findings(self) -> None:
        acknowledge = cdk.Validations.of(self.workflow.state_machine).acknowledge
        acknowledge(cdk.Acknowledgment(
            id="AwsSolutions-IAM5[Resource::*]",
            reason="Three action groups have no resource-level permissions and need '*': sns:Publish "
                   "straight to a phone number (give the workflow an sms_topic to scope it), the "
                   "CloudWatch Logs delivery actions Step Functions logging uses, and X-Ray tracing.",
        ))
