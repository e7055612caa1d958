"""The deployable stack: composes the notify-cdk constructs and gates them with cdk-nag."""

from .config import ConfigError, EnvironmentSettings, settings_from_context
from .stack import NotificationStack

__all__ = ["ConfigError", "EnvironmentSettings", "NotificationStack", "settings_from_context"]
