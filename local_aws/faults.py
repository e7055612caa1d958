"""Fault injection: make a moto backend method fail the first N calls, then behave normally.

Errors are moto ``ServiceException``s of the target service (``SNSException``, ``SesError``):
moto serialises them with the service's protocol, so callers (boto3 or the Step Functions engine)
see a real ClientError. (A bare ``ServiceException`` breaks moto's serialiser for codes the
operation's model lacks: it looks the code up in a service named after the class's module.)
The error names the Step Functions engine reports for these are listed in ``local_aws``'s
module docstring.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

from moto.core.exceptions import ServiceException
from moto.ses.exceptions import SesError
from moto.ses.models import SESBackend
from moto.sesv2.models import SESV2Backend
from moto.sns.exceptions import SNSException
from moto.sns.models import SNSBackend

ErrorFactory = Callable[[], Exception]


def sns_throttled() -> ServiceException:
    """Transient SNS error (AWS: ThrottledException, code Throttled)."""
    return SNSException("Throttled", "Rate exceeded")


def sns_internal_error() -> ServiceException:
    """Transient SNS error (AWS: InternalErrorException, code InternalError)."""
    return SNSException("InternalError", "Internal service error")


def sns_invalid_parameter() -> ServiceException:
    """Permanent SNS error (AWS: InvalidParameterException, code InvalidParameter)."""
    return SNSException("InvalidParameter", "Invalid parameter: PhoneNumber")


def ses_too_many_requests() -> ServiceException:
    """Transient SES v2 error (AWS: TooManyRequestsException)."""
    return SesError("TooManyRequestsException", "Too many requests")


def ses_message_rejected() -> ServiceException:
    """Permanent SES error (AWS: MessageRejected)."""
    return SesError("MessageRejected", "Email address is not verified")


@dataclass
class FaultInjection:
    """Counts calls to the patched method; the first ``times`` calls raised."""

    times: int
    calls: int = 0
    raised: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def _should_raise(self) -> bool:
        with self._lock:
            self.calls += 1
            if self.raised < self.times:
                self.raised += 1
                return True
            return False


@contextmanager
def inject_fault(target: type, method_name: str, error: ErrorFactory, *, times: int = 1) -> Iterator[FaultInjection]:
    """Make ``target.method_name`` raise ``error()`` for its first ``times`` calls."""
    original: Callable[..., Any] = getattr(target, method_name)
    state = FaultInjection(times=times)

    @functools.wraps(original)
    def faulty(self: Any, *args: Any, **kwargs: Any) -> Any:
        if state._should_raise():
            raise error()
        return original(self, *args, **kwargs)

    with mock.patch.object(target, method_name, faulty):
        yield state


def sns_publish_fault(error: ErrorFactory = sns_throttled, *, times: int = 1) -> AbstractContextManager[FaultInjection]:
    """Fault on SNS Publish (also the Step Functions ``sns:publish`` integration)."""
    return inject_fault(SNSBackend, "publish", error, times=times)


def sesv2_send_email_fault(
    error: ErrorFactory = ses_too_many_requests, *, times: int = 1
) -> AbstractContextManager[FaultInjection]:
    """Fault on SES v2 SendEmail only (``aws-sdk:sesv2:sendEmail``)."""
    return inject_fault(SESV2Backend, "send_email", error, times=times)


def ses_send_email_fault(
    error: ErrorFactory = ses_too_many_requests, *, times: int = 1
) -> AbstractContextManager[FaultInjection]:
    """Fault on SES v1 SendEmail, which SES v2 SendEmail (Simple content) also calls."""
    return inject_fault(SESBackend, "send_email", error, times=times)
