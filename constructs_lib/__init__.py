"""notify-cdk constructs: a Step Functions notification workflow and its monitoring."""

from .contract import UNSUPPORTED_CHANNEL, VALIDATION_ERROR
from .delivery_log import REQUIRED_INDEXES, DeliveryLog
from .feedback import DeliveryFeedback
from .ingress import NotificationApi
from .monitoring import NotificationMonitoring
from .retry import RetryPolicy, default_email_retry, default_sms_retry
from .workflow import NotificationWorkflow

__all__ = [
    "DeliveryFeedback",
    "DeliveryLog",
    "NotificationApi",
    "REQUIRED_INDEXES",
    "NotificationMonitoring",
    "NotificationWorkflow",
    "RetryPolicy",
    "UNSUPPORTED_CHANNEL",
    "VALIDATION_ERROR",
    "default_email_retry",
    "default_sms_retry",
]
