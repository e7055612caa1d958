"""A consumer's stack: notify-cdk's NotificationService with its default props, checked by the
three cdk-nag packs (AwsSolutions, NIST 800-53 R5, HIPAA Security) like the consumer's own code."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks, HIPAASecurityChecks, NIST80053R5Checks
from constructs import Construct, IConstruct

from constructs_lib import NotificationService

SENDER = "orders@shop.example.net"
# An address identity rather than a domain: only this one address may send.
EMAIL_IDENTITIES = [SENDER]


class ConsumerStack(cdk.Stack):
    """Order notifications for a shop: the service with nothing but its sender."""

    def __init__(self, scope: Construct, construct_id: str, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.notifications = NotificationService(self, "OrderMessages", sender=SENDER,
                                                 email_identities=EMAIL_IDENTITIES)
        workflow = self.notifications.workflow
        cdk.CfnOutput(self, "StateMachineArn", value=workflow.state_machine.state_machine_arn)
        cdk.CfnOutput(self, "TableName", value=workflow.table.table_name)


def add_security_checks(scope: IConstruct) -> None:
    """The three cdk-nag packs over the whole app: a finding makes ``cdk synth`` fail."""
    cdk.Validations.of(scope).add_plugins(AwsSolutionsChecks(scope), NIST80053R5Checks(scope),
                                          HIPAASecurityChecks(scope))
