#!/usr/bin/env python3
"""The deployable app: the only place that reads configuration (cdk.json context)."""

from __future__ import annotations

import aws_cdk as cdk

from notification_stack import NotificationStack, settings_from_context


def build(app: cdk.App) -> list[NotificationStack]:
    """One NotificationStack per configured environment (or just ``-c environment=NAME``)."""
    only = app.node.try_get_context("environment")
    stacks = []
    for settings in settings_from_context(app.node.try_get_context("notify-cdk"), only):
        env = cdk.Environment(account=settings.account, region=settings.region) \
            if settings.account or settings.region else None
        stacks.append(NotificationStack(app, f"NotifyCdk-{settings.name}", settings=settings, env=env))
    return stacks


if __name__ == "__main__":
    application = cdk.App(analytics_reporting=False)
    build(application)
    application.synth()
