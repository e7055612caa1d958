"""Every way a request can break the contract: a named error, nothing sent, a REJECTED record."""

from __future__ import annotations

from typing import Any

import pytest

from tests.behaviour.conftest import Deployment, new_id

SMS = {"channel": "sms", "message": "hi", "phoneNumber": "+15555550100"}
EMAIL = {"channel": "email", "message": "hi", "email": {"to": "a@example.org"}}


def _with(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    request = {**base, **changes}
    return {k: v for k, v in request.items() if v is not _DROP}


def _email(**changes: Any) -> dict[str, Any]:
    return _with(EMAIL, email={**EMAIL["email"], **changes})  # type: ignore[dict-item]


_DROP = object()

CASES = [
    ("message missing", _with(SMS, message=_DROP), "ValidationError", "message must be a non-empty string"),
    ("message empty", _with(SMS, message=""), "ValidationError", "message must be a non-empty string"),
    ("message not a string", _with(SMS, message=42), "ValidationError", "message must be a non-empty string"),
    ("channel missing", _with(SMS, channel=_DROP), "ValidationError", "channel is required"),
    ("channel not a string", _with(SMS, channel=["sms"]), "ValidationError", "channel is required"),
    ("channel unsupported", _with(SMS, channel="fax"), "UnsupportedChannel", "channel must be one of"),
    ("phone missing", _with(SMS, phoneNumber=_DROP), "ValidationError", "phoneNumber must be"),
    ("phone without +", _with(SMS, phoneNumber="15555550100"), "ValidationError", "phoneNumber must be"),
    ("both without phone", _with(EMAIL, channel="both"), "ValidationError", "phoneNumber must be"),
    ("email missing", _with(EMAIL, email=_DROP), "ValidationError", "email.to must be"),
    ("email.to empty", _email(to=""), "ValidationError", "email.to must be"),
    ("email.to a number", _email(to=7), "ValidationError", "email.to must be"),
    ("subject not a string", _email(subject=["x"]), "ValidationError", "email.subject must be a string"),
    ("htmlBody empty", _email(htmlBody=""), "ValidationError", "email.htmlBody must be"),
    ("cc a string", _email(cc="c@example.org"), "ValidationError", "email.cc must be a list"),
    ("bcc null", _email(bcc=None), "ValidationError", "email.bcc must be a list"),
    ("replyTo a number", _email(replyTo=5), "ValidationError", "email.replyTo must be"),
    ("from not allowed", _email(**{"from": "ceo@example.com"}), "ValidationError", "allowed senders"),
    ("configurationSet not allowed", _email(configurationSet="x"), "ValidationError", "configuration sets"),
]


@pytest.mark.parametrize(("case", "request_body", "error", "reason"), CASES, ids=[c[0] for c in CASES])
def test_invalid_request_is_rejected_recorded_and_sends_nothing(
    deployment: Deployment, case: str, request_body: dict[str, Any], error: str, reason: str
) -> None:
    nid = new_id("bad")
    sent_before = deployment.sent_counts()

    result = deployment.run({**request_body, "notificationId": nid})

    assert (result.status, result.error) == ("FAILED", error)
    assert reason in (result.cause or "")
    assert len(result.states_entered) == 3
    assert result.states_entered[0] == "ValidateRequest" and result.states_entered[1].startswith("Reject")
    assert result.states_entered[2] == error
    assert deployment.sent_counts() == sent_before
    record = deployment.record(nid)
    assert record["status"] == "REJECTED" and record["error"] == error and reason in record["reason"]
    assert record["executionArn"] == result.execution_arn


def test_invalid_notification_id_is_recorded_under_the_execution_name(deployment: Deployment) -> None:
    name = new_id("exec")
    result = deployment.run({**SMS, "notificationId": 12345}, name=name)

    assert (result.status, result.error) == ("FAILED", "ValidationError")
    assert result.states_entered == ["ValidateRequest", "RejectNotificationIdByExecutionName", "ValidationError"]
    assert deployment.record(name)["reason"] == "notificationId must be a non-empty string"


def test_rejection_never_overwrites_another_requests_record(deployment: Deployment) -> None:
    nid = new_id("taken")
    assert deployment.run({**SMS, "notificationId": nid}).status == "SUCCEEDED"

    result = deployment.run({**SMS, "notificationId": nid, "channel": "pigeon"})

    assert (result.status, result.error) == ("FAILED", "RejectedNotificationIdTaken")
    assert deployment.record(nid)["status"] == "SENT"
