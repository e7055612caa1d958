"""Retry policies for the channel tasks: transient errors back off, permanent ones never retry."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import aws_cdk as cdk
from aws_cdk import aws_stepfunctions as sfn

from ._props import PropError, require_duration_between, require_int_between, require_number_between

# Errors that another attempt cannot fix, named as AWS names them: optimized integrations as
# "SNS.<Code>Exception", aws-sdk integrations as "<SdkClient>.<Code>Exception" ("SesV2.").
SMS_PERMANENT_ERRORS: tuple[str, ...] = (
    "SNS.InvalidParameterException",
    "SNS.InvalidParameterValueException",
    "SNS.AuthorizationErrorException",
    "SNS.EndpointDisabledException",
    "SNS.NotFoundException",
    "SNS.ValidationException",
    "SNS.KMSAccessDeniedException",
    "States.Permissions",
)
EMAIL_PERMANENT_ERRORS: tuple[str, ...] = tuple(
    f"SesV2.{name}"
    for name in (
        "BadRequestException",
        "MessageRejectedException",
        "MailFromDomainNotVerifiedException",
        "AccountSuspendedException",
        "SendingPausedException",
        "NotFoundException",
        "AccessDeniedException",
    )
) + ("States.Permissions",)
DELIVERY_LOG_TRANSIENT_ERRORS: tuple[str, ...] = (
    "DynamoDB.ProvisionedThroughputExceededException",
    "DynamoDB.RequestLimitExceeded",
    "DynamoDB.ThrottlingException",
    "DynamoDB.InternalServerErrorException",
    "States.Timeout",
)


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with a delay cap and full jitter, for transient errors only.

    :param interval: wait before the first retry (1 s to 1 h).
    :param max_attempts: retries after the first try, ASL ``MaxAttempts`` (0 to 10).
    :param backoff_rate: multiplier applied to the wait after each retry (1.0 to 10.0).
    :param max_delay: cap on any single wait. Default: 30 seconds.
    :param jitter: full jitter, each wait random in [0, computed wait]. Default: ``True``.
    """

    interval: cdk.Duration
    max_attempts: int
    backoff_rate: float
    max_delay: cdk.Duration = field(default_factory=lambda: cdk.Duration.seconds(30))
    jitter: bool = True

    def validate(self, construct: str, prop: str) -> None:
        """Raises ``PropError`` naming ``prop`` (e.g. ``sms_retry.max_attempts``) when a field is out of range."""
        require_duration_between(
            construct, f"{prop}.interval", self.interval, cdk.Duration.seconds(1), cdk.Duration.hours(1)
        )
        require_int_between(construct, f"{prop}.max_attempts", self.max_attempts, 0, 10)
        require_number_between(construct, f"{prop}.backoff_rate", self.backoff_rate, 1.0, 10.0)
        if not self.max_delay.is_unresolved() and not self.interval.is_unresolved():
            if self.max_delay.to_seconds() < self.interval.to_seconds():
                raise PropError(
                    construct,
                    f"{prop}.max_delay",
                    self.max_delay.to_human_string(),
                    f"Use a max_delay of at least the interval ({self.interval.to_human_string()}).",
                )

    def apply(
        self,
        state: sfn.TaskStateBase | sfn.CustomState,
        *,
        permanent_errors: Sequence[str] = (),
        transient_errors: Sequence[str] = (sfn.Errors.ALL,),
    ) -> None:
        """Adds the retriers in the order ASL evaluates them (first match wins): permanent
        errors with no retry, then the transient ones with backoff."""
        if permanent_errors:
            state.add_retry(errors=list(permanent_errors), max_attempts=0)
        state.add_retry(
            errors=list(transient_errors),
            interval=self.interval,
            max_attempts=self.max_attempts,
            backoff_rate=self.backoff_rate,
            max_delay=self.max_delay,
            jitter_strategy=sfn.JitterType.FULL if self.jitter else sfn.JitterType.NONE,
        )


def default_sms_retry() -> RetryPolicy:
    """SMS: 2 s, 3 retries, backoff 2, waits capped at 20 s."""
    return RetryPolicy(interval=cdk.Duration.seconds(2), max_attempts=3, backoff_rate=2.0,
                       max_delay=cdk.Duration.seconds(20))


def default_email_retry() -> RetryPolicy:
    """Email: 3 s, 4 retries, backoff 1.5, waits capped at 30 s."""
    return RetryPolicy(interval=cdk.Duration.seconds(3), max_attempts=4, backoff_rate=1.5,
                       max_delay=cdk.Duration.seconds(30))


DELIVERY_LOG_RETRY = RetryPolicy(
    interval=cdk.Duration.seconds(1), max_attempts=3, backoff_rate=2.0, max_delay=cdk.Duration.seconds(10)
)
