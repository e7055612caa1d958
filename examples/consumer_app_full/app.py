#!/usr/bin/env python3
"""A separate CDK app that uses every part of notify-cdk as an installed library."""

from __future__ import annotations

import aws_cdk as cdk
from consumer_stack import ConsumerStack, add_security_checks

if __name__ == "__main__":
    app = cdk.App(analytics_reporting=False)
    ConsumerStack(app, "ClinicReminders")
    add_security_checks(app)
    app.synth()
