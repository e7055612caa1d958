#!/usr/bin/env python3
"""A separate CDK app that uses notify-cdk as an installed library."""

from __future__ import annotations

import aws_cdk as cdk
from consumer_stack import ConsumerStack

if __name__ == "__main__":
    app = cdk.App(analytics_reporting=False)
    ConsumerStack(app, "ShopNotifications")
    app.synth()
