"""Synth-time checks of construct props: each error names the prop, the value and the fix."""

from __future__ import annotations

import re
from typing import Any

import aws_cdk as cdk

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class PropError(ValueError):
    """A construct prop was given a value the construct cannot use."""

    def __init__(self, construct: str, prop: str, value: Any, fix: str) -> None:
        super().__init__(f"{construct}: invalid {prop}={value!r}. {fix}")
        self.prop = prop
        self.value = value


def is_token(value: Any) -> bool:
    """Unresolved tokens (deploy-time values) cannot be checked at synth time."""
    return isinstance(value, str) and cdk.Token.is_unresolved(value)


def is_domain(value: str) -> bool:
    """A plausible DNS domain (what may follow the @ of an address)."""
    return bool(_EMAIL.match(f"x@{value}"))


def require_email(construct: str, prop: str, value: str) -> None:
    if is_token(value):
        return
    if not isinstance(value, str) or not _EMAIL.match(value):
        raise PropError(construct, prop, value, "Give an e-mail address such as 'alerts@example.com'.")


def require_duration_between(
    construct: str, prop: str, value: cdk.Duration, low: cdk.Duration, high: cdk.Duration
) -> None:
    if value.is_unresolved():
        return
    seconds = value.to_seconds()
    if seconds < low.to_seconds() or seconds > high.to_seconds():
        raise PropError(
            construct,
            prop,
            value.to_human_string(),
            f"Use a duration between {low.to_human_string()} and {high.to_human_string()}.",
        )


def require_int_between(construct: str, prop: str, value: int, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise PropError(construct, prop, value, f"Use a whole number from {low} to {high}.")


def require_number_between(construct: str, prop: str, value: float, low: float, high: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise PropError(construct, prop, value, f"Use a number from {low} to {high}.")
