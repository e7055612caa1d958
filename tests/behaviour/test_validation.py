"""Every way a request can break the contract: a named error, nothing sent, a REJECTED record."""

from __future__ import annotations

from collections.abc import Callable
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

# One Fail state for every rejection: its Error is the rejection's error, asserted on the result.
REJECTED_PATH = ["ValidateRequest", "RecordRejection", "Rejected"]
NOTIFICATION_ID_REASON = "notificationId must be 1 to 80 characters of A-Z, a-z, 0-9, _ and -"

CASES = [
    ("message missing", _with(SMS, message=_DROP), "ValidationError", "message must be a non-empty string"),
    ("message empty", _with(SMS, message=""), "ValidationError", "message must be a non-empty string"),
    ("message not a string", _with(SMS, message=42), "ValidationError", "message must be a non-empty string"),
    ("channel missing", _with(SMS, channel=_DROP), "ValidationError", "channel is required"),
    ("channel not a string", _with(SMS, channel=["sms"]), "ValidationError", "channel is required"),
    ("channel unsupported", _with(SMS, channel="fax"), "UnsupportedChannel", "channel must be one of"),
    ("phone missing", _with(SMS, phoneNumber=_DROP), "ValidationError", "phoneNumber must be"),
    ("phone without +", _with(SMS, phoneNumber="15555550100"), "ValidationError", "phoneNumber must be"),
    ("phone too short", _with(SMS, phoneNumber="+12345"), "ValidationError", "phoneNumber must be"),
    ("phone starting +0", _with(SMS, phoneNumber="+05555550100"), "ValidationError", "phoneNumber must be"),
    ("both with neither channel valid", _with(EMAIL, channel="both", email={"to": []}), "ValidationError",
     "phoneNumber must be"),
    ("email missing", _with(EMAIL, email=_DROP), "ValidationError", "email.to must be"),
    ("email.to empty", _email(to=""), "ValidationError", "email.to must be"),
    ("email.to a number", _email(to=7), "ValidationError", "email.to must be"),
    ("subject not a string", _email(subject=["x"]), "ValidationError", "email.subject must be a string"),
    ("htmlBody empty", _email(htmlBody=""), "ValidationError", "email.htmlBody must be"),
    ("cc a string", _email(cc="c@example.org"), "ValidationError", "email.cc must be a list"),
    ("bcc null", _email(bcc=None), "ValidationError", "email.bcc must be a list"),
    ("51 recipients", _email(to=[f"to{i}@example.org" for i in range(40)],
                             cc=[f"cc{i}@example.org" for i in range(11)]), "ValidationError", "at most 50 addresses"),
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
    assert result.states_entered == REJECTED_PATH
    assert deployment.sent_counts() == sent_before
    record = deployment.record(nid)
    assert record["status"] == "REJECTED" and record["error"] == error and reason in record["reason"]
    assert record["executionArn"] == result.execution_arn


BAD_NOTIFICATION_IDS = [
    pytest.param(12345, id="a number"),
    pytest.param("", id="empty"),
    pytest.param(None, id="null"),
    pytest.param("has space", id="a space"),
    pytest.param("a.b", id="a dot"),
    pytest.param("x" * 81, id="81 characters"),
    pytest.param("caf\u00e9", id="non-ASCII"),
    # An anchored regex would disagree here: jsonata-python's "$" matches before a final newline, npm
    # jsonata's does not. The rule uses none (contract.notification_id_valid).
    pytest.param("abc\n", id="a trailing newline"),
]


@pytest.mark.parametrize("notification_id", BAD_NOTIFICATION_IDS)
def test_invalid_notification_id_is_recorded_under_the_execution_name(
    deployment: Deployment, notification_id: Any
) -> None:
    name = new_id("exec")
    sent_before = deployment.sent_counts()

    result = deployment.run({**SMS, "notificationId": notification_id}, name=name)

    assert (result.status, result.error) == ("FAILED", "ValidationError")
    assert result.cause == NOTIFICATION_ID_REASON
    assert result.states_entered == REJECTED_PATH
    assert deployment.sent_counts() == sent_before
    record = deployment.record(name)
    assert (record["status"], record["error"], record["reason"]) == ("REJECTED", "ValidationError",
                                                                     NOTIFICATION_ID_REASON)
    assert record["executionArn"] == result.execution_arn


EDGE_NOTIFICATION_IDS = {
    "1 character": lambda: "Z",
    "80 characters": lambda: new_id("edge-").ljust(80, "_"),
    "every kind of character": lambda: new_id("Az09_-"),
}


@pytest.mark.parametrize("make_id", list(EDGE_NOTIFICATION_IDS.values()), ids=list(EDGE_NOTIFICATION_IDS))
def test_notification_id_at_the_edges_of_the_rule_keys_the_record(
    deployment: Deployment, make_id: Callable[[], str]
) -> None:
    nid = make_id()
    result = deployment.run({**SMS, "notificationId": nid})

    assert result.status == "SUCCEEDED", result.cause
    record = deployment.record(nid)
    assert record["status"] == "SENT" and record["executionArn"] == result.execution_arn


def test_rejection_never_overwrites_another_requests_record(deployment: Deployment) -> None:
    nid = new_id("taken")
    assert deployment.run({**SMS, "notificationId": nid}).status == "SUCCEEDED"

    result = deployment.run({**SMS, "notificationId": nid, "channel": "pigeon"})

    assert (result.status, result.error) == ("FAILED", "RejectedNotificationIdTaken")
    assert result.states_entered == REJECTED_PATH
    assert deployment.record(nid)["status"] == "SENT"
