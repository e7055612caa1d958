"""A consumer's stack: the notify-cdk constructs with the consumer's own table, alarm topic,
sender and retry policy, on an Express workflow."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from constructs_lib import NotificationMonitoring, NotificationWorkflow, RetryPolicy

SENDER = "orders@shop.example.net"
# An address identity rather than a domain: only this one address may send.
EMAIL_IDENTITIES = [SENDER]
SMS_RETRY = RetryPolicy(interval=cdk.Duration.seconds(1), max_attempts=2, backoff_rate=3.0,
                        max_delay=cdk.Duration.seconds(5))
EMAIL_RETRY = RetryPolicy(interval=cdk.Duration.seconds(5), max_attempts=1, backoff_rate=1.0,
                          max_delay=cdk.Duration.seconds(5), jitter=False)


class ConsumerStack(cdk.Stack):
    """Order notifications for a shop that already owns its table and its on-call topic."""

    def __init__(self, scope: Construct, construct_id: str, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        # The shop's own log of notifications; the workflow only needs the partition key.
        self.table = dynamodb.Table(
            self,
            "OrderNotifications",
            partition_key=dynamodb.Attribute(name="notificationId", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        self.alarm_topic = sns.Topic(self, "OnCallAlarms", enforce_ssl=True)
        # NotificationMonitoring leaves a topic it did not create alone: CloudWatch must be let in here.
        self.alarm_topic.add_to_resource_policy(iam.PolicyStatement(
            principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
            actions=["sns:Publish"],
            resources=[self.alarm_topic.topic_arn],
            conditions={"StringEquals": {"aws:SourceAccount": self.account}},
        ))

        self.workflow = NotificationWorkflow(
            self,
            "OrderMessages",
            sender=SENDER,
            email_identities=EMAIL_IDENTITIES,
            default_subject="News about your order",
            workflow_type=sfn.StateMachineType.EXPRESS,
            timeout=cdk.Duration.minutes(2),
            table=self.table,
            sms_retry=SMS_RETRY,
            email_retry=EMAIL_RETRY,
        )
        self.monitoring = NotificationMonitoring(
            self,
            "OrderMessagesMonitoring",
            workflow=self.workflow,
            alarm_topic=self.alarm_topic,
        )
        cdk.CfnOutput(self, "StateMachineArn", value=self.workflow.state_machine.state_machine_arn)
        cdk.CfnOutput(self, "TableName", value=self.table.table_name)
