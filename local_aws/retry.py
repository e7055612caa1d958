"""Record the Step Functions retrier's waits instead of sleeping through them."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from unittest import mock

from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl


class RetrySleepRecorder:
    """Stands in for the ``time`` module inside moto's retrier; records each interval."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._intervals: list[float] = []

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self._intervals.append(float(seconds))
        time.sleep(0)  # still yield to other threads, as a real wait would

    @property
    def intervals(self) -> list[float]:
        """Retry intervals in seconds, in the order the engine asked for them."""
        with self._lock:
            return list(self._intervals)


@contextmanager
def record_retry_sleeps() -> Iterator[RetrySleepRecorder]:
    """Replace the retrier's ``time.sleep(interval)`` with a recorder that does not wait."""
    # Patch the module's `time` name, not time.sleep itself, so pollers still really sleep.
    recorder = RetrySleepRecorder()
    with mock.patch.object(retrier_decl, "time", recorder):
        yield recorder
