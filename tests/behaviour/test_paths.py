"""States entered per path: every state entered is a billed transition on Standard workflows."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.behaviour.conftest import Deployment, new_id

# The JSONata definition's targets (issue 11), the idempotency claim included.
TARGETS = {"sms": 4, "email": 4, "both": 6, "rejected": 3, "duplicate": 3}
# The exact states entered; a set where the order is not defined (the branches of SendBoth run side by side).
PATHS: dict[str, list[str | set[str]]] = {
    "sms": ["ValidateRequest", "ClaimSms", "SendSms", "RecordOutcome"],
    "email": ["ValidateRequest", "ClaimEmail", "SendEmail", "RecordOutcome"],
    "both": ["ValidateRequest", "ClaimBoth", "SendBoth", {"SendSmsOfBoth", "SendEmailOfBoth"}, "RecordOutcome"],
    "rejected": ["ValidateRequest", "RecordRejection", "Rejected"],
    "duplicate": ["ValidateRequest", "ClaimSms", "RecordDuplicate"],
}
REQUESTS: dict[str, dict[str, Any]] = {
    "sms": {"channel": "sms", "message": "hi", "phoneNumber": "+15555550100"},
    "email": {"channel": "email", "message": "hi", "email": {"to": "a@example.org"}},
    "both": {"channel": "both", "message": "hi", "phoneNumber": "+15555550100", "email": {"to": "a@example.org"}},
    "rejected": {"channel": "sms", "message": "hi"},
    "duplicate": {"channel": "sms", "message": "hi", "phoneNumber": "+15555550100"},
}


def _in_order(entered: list[str], path: list[str | set[str]]) -> list[str | set[str]]:
    """``entered`` with each unordered group of ``path`` taken as a set, to compare with ``path``."""
    grouped: list[str | set[str]] = []
    index = 0
    for step in path:
        width = len(step) if isinstance(step, set) else 1
        taken = entered[index:index + width]
        grouped.append(set(taken) if isinstance(step, set) else (taken[0] if taken else ""))
        index += width
    return grouped + list(entered[index:])


@pytest.mark.parametrize("path", list(TARGETS))
def test_states_entered_stay_within_target(deployment: Deployment, path: str) -> None:
    request = {**REQUESTS[path], "notificationId": new_id(path)}
    if path == "duplicate":
        assert deployment.run(request).status == "SUCCEEDED"
    sent_before = deployment.sent_counts()

    result = deployment.run(request)

    assert len(result.states_entered) <= TARGETS[path], result.states_entered
    assert _in_order(result.states_entered, PATHS[path]) == PATHS[path], result.states_entered
    assert result.status == ("FAILED" if path == "rejected" else "SUCCEEDED")
    assert not [e for e in result.events if e["type"].startswith("Lambda")]  # no Lambda on the send path
    if path in ("rejected", "duplicate"):
        assert deployment.sent_counts() == sent_before


def test_the_deployed_definition_stays_small(deployment: Deployment) -> None:
    """Issue 11's targets: at most 20 states (branch states counted) and 20 KB as deployed, CDK
    tokens resolved, read strictly (20,000 bytes, which is also under 20 KiB)."""
    text = deployment.aws.client("stepfunctions").describe_state_machine(
        stateMachineArn=deployment.stack.state_machine_arn)["definition"]

    def count(states: dict[str, Any]) -> int:
        return sum(1 + sum(count(b["States"]) for b in s.get("Branches", [])) for s in states.values())

    assert count(json.loads(text)["States"]) <= 20
    assert len(text.encode()) <= 20_000, len(text.encode())
