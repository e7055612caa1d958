"""States entered per path: every state entered is a billed transition on Standard workflows."""

from __future__ import annotations

import pytest

from tests.behaviour.conftest import Deployment, new_id

# The targets were 5/5/7/4 before the idempotency claim, which may cost one transition more.
TARGETS = {"sms": 6, "email": 6, "both": 8, "rejected": 4}
REQUESTS = {
    "sms": {"channel": "sms", "message": "hi", "phoneNumber": "+15555550100"},
    "email": {"channel": "email", "message": "hi", "email": {"to": "a@example.org"}},
    "both": {"channel": "both", "message": "hi", "phoneNumber": "+15555550100", "email": {"to": "a@example.org"}},
    "rejected": {"channel": "sms", "message": "hi"},
}


@pytest.mark.parametrize("path", list(TARGETS))
def test_states_entered_stay_within_target(deployment: Deployment, path: str) -> None:
    result = deployment.run({**REQUESTS[path], "notificationId": new_id(path)})

    assert len(result.states_entered) <= TARGETS[path], result.states_entered
    assert result.status == ("FAILED" if path == "rejected" else "SUCCEEDED")
    assert not [e for e in result.events if e["type"].startswith("Lambda")]  # no Lambda on the send path
