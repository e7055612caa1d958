"""Synth-time checks of construct props: each error names the prop, the value and the fix."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import aws_cdk as cdk

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class PropError(ValueError):
    """A construct prop was given a value the construct cannot use; raised at synth time, before the
    construct creates anything. The message reads ``<construct>: invalid <prop>=<value>. <fix>``.

    :param construct: the construct's class name, e.g. ``"NotificationMonitoring"``.
    :param prop: the prop (or the part of it) that is wrong, e.g. ``"period"``.
    :param value: the value given.
    :param fix: what to give instead.
    """

    def __init__(self, construct: str, prop: str, value: Any, fix: str) -> None:
        super().__init__(f"{construct}: invalid {prop}={value!r}. {fix}")
        #: The construct's class name.
        self.construct = construct
        #: The prop that is wrong.
        self.prop = prop
        #: The value given.
        self.value = value
        #: What to give instead.
        self.fix = fix


def is_token(value: Any) -> bool:
    """Unresolved tokens (deploy-time values) cannot be checked at synth time."""
    return isinstance(value, str) and cdk.Token.is_unresolved(value)


def is_email(value: Any) -> bool:
    """A plausible e-mail address. Deliberately loose: catches a missing ``@`` or domain, nothing more."""
    return isinstance(value, str) and bool(_EMAIL.match(value))


def is_domain(value: str) -> bool:
    """A plausible DNS domain (what may follow the @ of an address)."""
    return bool(_EMAIL.match(f"x@{value}"))


def require_email(construct: str, prop: str, value: str) -> None:
    if is_token(value):
        return
    if not is_email(value):
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


def require_workflow_or(construct: str, workflow: object | None, derived: Mapping[str, object],
                        required: tuple[str, ...] = ()) -> None:
    """``workflow=`` stands for the props derived from it: giving both is ambiguous, and without a
    workflow the ``required`` derived props must be given."""
    if workflow is not None:
        for prop, value in derived.items():
            if value is not None:
                raise PropError(construct, prop, value,
                                f"Give workflow= or {prop}=, not both: with workflow= it is taken from the workflow.")
        return
    for prop in required:
        if derived.get(prop) is None:
            raise PropError(construct, "workflow", None,
                            f"Give workflow= (a NotificationWorkflow), or {'= and '.join(required)}= without it.")
