"""The judgement of a FULL-jitter retry schedule, shared by the engine and the deployed-stack tests."""

from __future__ import annotations

from collections.abc import Sequence


def assert_full_jitter(intervals: Sequence[float], backoffs: Sequence[float], runs: int) -> None:
    """``runs`` executions each waited once per backoff: every wait lies in [0, its backoff], no two
    waits of the same attempt are equal, some wait is below 3/4 of its backoff and some above 1/4.
    A fixed schedule fails; a correct engine fails the last check only if all waits land in one
    outer quarter: probability 2 * (1/4)**(runs * len(backoffs)), about 1.2e-7 for 12 waits."""
    attempts = len(backoffs)
    assert len(intervals) == attempts * runs, intervals
    ratios = [wait / backoff for wait, backoff in zip(intervals, list(backoffs) * runs, strict=True)]
    assert all(0.0 <= r <= 1.0 for r in ratios), ratios
    for attempt in range(attempts):
        assert len(set(intervals[attempt::attempts])) == runs, intervals[attempt::attempts]
    assert any(r < 0.75 for r in ratios) and any(r > 0.25 for r in ratios), ratios
