"""Property-based: arbitrary JSON requests through the real definition on the local engine.

Every request ends in a named terminal state (never ``States.Runtime``) with exactly one
delivery-log record, and an invalid request sends nothing.
"""

from __future__ import annotations

import os
import re
import uuid
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.behaviour.conftest import Deployment

NAMED_FAILURES = {"ValidationError", "UnsupportedChannel", "DeliveryFailed", "RejectedNotificationIdTaken"}
REJECTIONS = {"ValidationError", "UnsupportedChannel"}
# A notificationId that keys the record (the contract's rule); any other keys it by the execution name.
# fullmatch, not ``^...$``: in Python ``$`` also matches before a final newline, in JSONata it does not.
NOTIFICATION_ID = re.compile(r"[A-Za-z0-9_-]{1,80}")

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(
    max_size=30)
junk = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
    st.text(max_size=8), inner, max_size=3), max_leaves=6)
odd_text = st.text(max_size=60) | st.sampled_from(["", " ", "\n", '"}', "{{}}", "$.message", "States.Array('x')",
                                                  "☃" * 40, "\x00", "<script>", "x" * 20_000])
address = st.emails().map(str) | st.sampled_from(["a@example.org", "b@example.org"])
addresses = address | st.lists(address, min_size=1, max_size=3) | st.lists(odd_text, max_size=2) | junk
phone = st.from_regex(r"\+[1-9][0-9]{6,14}", fullmatch=True) | odd_text | junk


@st.composite
def requests(draw: st.DrawFn) -> dict[str, Any]:
    request: dict[str, Any] = {}
    fields = {
        "channel": st.sampled_from(["sms", "email", "both", "fax", "SMS", ""]) | junk,
        "message": st.text(min_size=1, max_size=200) | odd_text | junk,
        "phoneNumber": phone,
        "email": st.fixed_dictionaries({"to": addresses}, optional={
            "subject": odd_text | junk, "cc": addresses, "bcc": addresses, "replyTo": addresses,
            "htmlBody": odd_text | junk, "from": st.sampled_from(["alerts@example.com", "evil@example.net"]) | junk,
            "configurationSet": odd_text,
        }) | junk,
        "metadata": junk,
        "notificationId": st.just("unique") | st.sampled_from(["", 0, None, [], {}, "has space", "x" * 81]),
    }
    for name, strategy in fields.items():
        if draw(st.booleans()):
            request[name] = draw(strategy)
    if request.get("notificationId") == "unique":
        request["notificationId"] = f"h-{uuid.uuid4().hex}"
    request.update(draw(st.dictionaries(st.text(min_size=1, max_size=8).filter(lambda k: k not in fields), junk,
                                        max_size=2)))
    return request


@st.composite
def near_valid_requests(draw: st.DrawFn) -> dict[str, Any]:
    """A valid request for a random channel, then up to two fields dropped or replaced by junk,
    so most examples get past validation and into the send paths."""
    channel = draw(st.sampled_from(["sms", "email", "both"]))
    request: dict[str, Any] = {"channel": channel, "message": draw(st.text(min_size=1, max_size=300)),
                               "notificationId": f"h-{uuid.uuid4().hex}"}
    if channel != "email":
        request["phoneNumber"] = draw(st.from_regex(r"\+[1-9][0-9]{6,14}", fullmatch=True))
    if channel != "sms" or draw(st.booleans()):
        email: dict[str, Any] = {"to": draw(address | st.lists(address, min_size=1, max_size=3))}
        for key, strategy in {"subject": st.text(max_size=80), "cc": st.lists(address, max_size=2),
                              "bcc": st.lists(address, max_size=2), "replyTo": address,
                              "htmlBody": st.text(min_size=1, max_size=200),
                              "from": st.just("alerts@example.com")}.items():
            if draw(st.booleans()):
                email[key] = draw(strategy)
        request["email"] = email
    if draw(st.booleans()):
        request["metadata"] = draw(junk)
    for target in draw(st.lists(st.sampled_from(["message", "phoneNumber", "email", "channel", "email.to",
                                                 "email.cc", "email.replyTo", "notificationId"]),
                                max_size=2, unique=True)):
        parent, _, key = target.rpartition(".")
        holder = request.get(parent) if parent else request
        if isinstance(holder, dict):
            if draw(st.booleans()):
                holder.pop(key or target, None)
            else:
                holder[key or target] = draw(odd_text | junk)
    return request


# `make test` keeps a short run; `make fuzz` sets HOSTILE_EXAMPLES=1000.
@settings(max_examples=int(os.environ.get("HOSTILE_EXAMPLES", "40")), deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(request=near_valid_requests() | requests())
def test_any_request_ends_named_with_one_record_and_invalid_ones_send_nothing(
    deployment: Deployment, request: dict[str, Any]
) -> None:
    name = f"hyp-{uuid.uuid4().hex}"
    sent_before = deployment.sent_counts()

    result = deployment.run(request, name=name)

    event(f"{result.status} {result.error or ''} via {(result.states_entered + [''])[1]}")
    assert result.status in {"SUCCEEDED", "FAILED"}, result
    if result.status == "FAILED":
        assert result.error in NAMED_FAILURES, (result.error, result.cause, request)
    nid = request.get("notificationId")
    key = nid if isinstance(nid, str) and NOTIFICATION_ID.fullmatch(nid) else name
    record = deployment.record(key)
    assert record["executionArn"] == result.execution_arn
    if result.error in REJECTIONS:
        assert record["status"] == "REJECTED"
        assert deployment.sent_counts() == sent_before
    else:
        assert record["status"] in {"SENT", "PARTIAL", "FAILED"}
        # a channel rejected within a both sends nothing
        rejected = {c for c, r in record.get("results", {}).items() if r["status"] == "REJECTED"}
        sms_now, email_now = deployment.sent_counts()
        sent = {"sms": sms_now - sent_before[0], "email": email_now - sent_before[1]}
        assert all(sent[channel] == 0 for channel in rejected), (record, sent)
