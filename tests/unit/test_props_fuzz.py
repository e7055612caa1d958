"""Property-based: whatever props a caller passes, the construct is built or raises a PropError
that names the prop, never another error (and never a failure at deploy time instead)."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from constructs_lib import NotificationWorkflow, RetryPolicy
from constructs_lib._props import PropError

words = st.text(max_size=20) | st.sampled_from(["example.com", "n@example.com", "a@b.c", ""])
numbers = st.integers(-5, 100) | st.floats(-5, 50, allow_nan=False)
seconds = st.integers(-10, 100_000)


@st.composite
def props(draw: st.DrawFn) -> dict[str, Any]:
    if draw(st.booleans()):  # a valid base, so the optional props get exercised too
        chosen: dict[str, Any] = {"sender": "n@example.com", "email_identities": ["example.com"]}
    else:
        chosen = {"sender": draw(words | st.emails()), "email_identities": draw(st.lists(words, max_size=3) | words)}
    optional = {
        "allowed_senders": st.lists(words | st.emails(), max_size=2),
        "default_subject": words,
        "timeout": seconds.map(cdk.Duration.seconds),
        "task_timeout": seconds.filter(lambda s: s >= 0).map(cdk.Duration.seconds),
        "sms_retry": st.builds(RetryPolicy, st.integers(0, 5000).map(cdk.Duration.seconds), st.integers(-2, 20),
                               numbers, st.integers(0, 100).map(cdk.Duration.seconds)),
        "allowed_configuration_sets": st.lists(words, max_size=2),
    }
    for name, strategy in optional.items():
        if draw(st.booleans()):
            chosen[name] = draw(strategy)
    return chosen


@settings(max_examples=30, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(chosen=props())
def test_props_build_or_raise_a_prop_error(chosen: dict[str, Any]) -> None:
    stack = cdk.Stack(cdk.App(), "Fuzz")
    try:
        workflow = NotificationWorkflow(stack, "Workflow", **chosen)
    except PropError as error:
        event(f"PropError {error.prop}")
        assert f"invalid {error.prop}=" in str(error)
        assert error.prop.split(".")[0] in chosen or error.prop in {"sender", "email_identities"}
        return
    event("built")
    assert workflow.state_machine is not None
