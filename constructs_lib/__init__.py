"""notify-cdk constructs: NotificationService, and its parts (a Step Functions notification
workflow, its monitoring, its API and its delivery-status feedback)."""

from ._props import PropError
from .buffered_ingress import BufferedIngress
from .bulk import BulkSend, bulk_record_key
from .contract import UNSUPPORTED_CHANNEL, VALIDATION_ERROR
from .delivery_log import REQUIRED_INDEXES, DeliveryLog
from .feedback import DeliveryFeedback
from .ingress import NotificationApi
from .monitoring import NotificationMonitoring
from .preferences import RecipientPreferences
from .retry import RetryPolicy, default_email_retry, default_sms_retry
from .service import NotificationApiOptions, NotificationService
from .templates import NotificationTemplates
from .workflow import (
    DELIVERY_FAILED,
    DELIVERY_LOG_UNAVAILABLE,
    REJECTED_NOTIFICATION_ID_TAKEN,
    NotificationWorkflow,
)

__all__ = [
    "NotificationService",
    "NotificationApiOptions",
    "BufferedIngress",
    "BulkSend",
    "DELIVERY_FAILED",
    "DELIVERY_LOG_UNAVAILABLE",
    "DeliveryFeedback",
    "DeliveryLog",
    "NotificationApi",
    "REJECTED_NOTIFICATION_ID_TAKEN",
    "REQUIRED_INDEXES",
    "NotificationMonitoring",
    "NotificationTemplates",
    "NotificationWorkflow",
    "PropError",
    "RecipientPreferences",
    "RetryPolicy",
    "UNSUPPORTED_CHANNEL",
    "VALIDATION_ERROR",
    "default_email_retry",
    "bulk_record_key",
    "default_sms_retry",
]
