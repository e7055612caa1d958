"""A consumer's stack with every part of notify-cdk's NotificationService on: an Express workflow
writing into the consumer's own table, SMS through the consumer's own topic, the API, the
delivery-status feedback loop and the buffered ingress, checked by the three cdk-nag packs like the
consumer's own code."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from cdk_nag import AwsSolutionsChecks, HIPAASecurityChecks, NIST80053R5Checks
from constructs import Construct, IConstruct

from constructs_lib import REQUIRED_INDEXES, NotificationApiOptions, NotificationService

SENDER = "alerts@clinic.example.org"
EMAIL_IDENTITIES = ["clinic.example.org"]


class ConsumerStack(cdk.Stack):
    """Appointment reminders for a clinic that owns its table and its SMS topic."""

    def __init__(self, scope: Construct, construct_id: str, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.key = kms.Key(self, "ClinicKey", enable_key_rotation=True,
                           description="Clinic notifications: table, SMS topic, workflow")
        # The clinic's own log of reminders: the workflow needs the partition key; the delivery
        # feedback needs the message-id indexes too.
        self.table = dynamodb.Table(
            self,
            "Reminders",
            partition_key=dynamodb.Attribute(name="notificationId", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
            encryption_key=self.key,
            time_to_live_attribute="expiresAt",
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        for index, attribute in REQUIRED_INDEXES.items():
            self.table.add_global_secondary_index(
                index_name=index,
                partition_key=dynamodb.Attribute(name=attribute, type=dynamodb.AttributeType.STRING),
                projection_type=dynamodb.ProjectionType.KEYS_ONLY,
            )
        # SMS goes to the clinic's topic (its SMS gateway subscribes), not straight to phones.
        self.sms_topic = sns.Topic(self, "ReminderSms", master_key=self.key, enforce_ssl=True)

        self.notifications = NotificationService(
            self,
            "ReminderService",
            sender=SENDER,
            email_identities=EMAIL_IDENTITIES,
            default_subject="Your appointment",
            workflow_type=sfn.StateMachineType.EXPRESS,
            timeout=cdk.Duration.minutes(2),
            table=self.table,
            sms_topic=self.sms_topic,
            encryption_key=self.key,
            # The clinic's table is in an AWS Backup plan made by the service.
            backup_plan=True,
            api=NotificationApiOptions(throttling_rate_limit=20, throttling_burst_limit=40),
            feedback=True,
            # Reminders are queued in bursts: an SQS queue and a pipe in front of the workflow.
            buffered_ingress=True,
            alarm_email="oncall@clinic.example.org",
        )
        workflow = self.notifications.workflow
        assert self.notifications.api is not None
        cdk.CfnOutput(self, "StateMachineArn", value=workflow.state_machine.state_machine_arn)
        cdk.CfnOutput(self, "TableName", value=self.table.table_name)
        cdk.CfnOutput(self, "ApiUrl", value=self.notifications.api.url)


def add_security_checks(scope: IConstruct) -> None:
    """The three cdk-nag packs over the whole app: a finding makes ``cdk synth`` fail."""
    cdk.Validations.of(scope).add_plugins(AwsSolutionsChecks(scope), NIST80053R5Checks(scope),
                                          HIPAASecurityChecks(scope))
