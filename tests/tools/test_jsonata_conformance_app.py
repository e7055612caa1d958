"""The conformance check over the app's own workflow: every JSONata expression of the synthesized
definition, on representative requests (valid, invalid, every channel, hostile shapes), gives the
same result with the local engine's evaluator and with npm jsonata, the reference AWS implements."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.support.asl import DEPLOYED_VALUES, definition
from tools import jsonata_conformance as conformance

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.json"))
EXTRA_INPUTS: list[Any] = [
    {"notificationId": "n-1", "channel": "both", "message": "hi", "phoneNumber": "+15555550100",
     "email": {"to": ["a@example.org", "b@example.org"], "cc": ["c@example.org"], "replyTo": "r@example.org",
               "subject": "S", "htmlBody": "<p>x</p>", "from": "alerts@example.com"},
     "metadata": {"priority": "high", "n": 3}},
    {"channel": "email", "message": "hi", "email": {"to": 7, "cc": "c@example.org", "bcc": None}},
    {"notificationId": "bad id with spaces", "channel": "fax", "message": ""},
    {"notificationId": "abc\n", "channel": "sms", "message": "hi", "phoneNumber": "+15555550100"},
    {"notificationId": "x" * 81, "channel": "sms", "message": "hi", "phoneNumber": "15555550100"},
    {"channel": ["sms"], "message": 42, "metadata": [1, 2]},
    [],
    "not an object",
]
RESULTS = {
    "SendSms": {"MessageId": "sms-1"},
    "SendSmsOfBoth": {"MessageId": "sms-2"},
    "SendEmail": {"MessageId": "email-1"},
    "SendEmailOfBoth": {"MessageId": "email-2"},
    "SendFallbackEmail": {"MessageId": "email-3"},
    "SendBoth": [{"status": "SENT", "messageId": "sms-2", "error": "", "cause": ""},
                 {"status": "FAILED", "messageId": "", "error": "SesV2.MessageRejectedException", "cause": "no"}],
}
OUTCOMES = {"sms": {"status": "SENT", "messageId": "sms-1", "error": "", "cause": ""},
            "email": {"status": "FAILED", "messageId": "", "error": "SesV2.MessageRejectedException", "cause": "c"}}


def test_every_expression_of_the_workflow_agrees_with_the_reference(synthesized: Any) -> None:
    asl = definition(synthesized.template(), DEPLOYED_VALUES)
    inputs = [json.loads(path.read_text()) for path in EXAMPLES] + EXTRA_INPUTS
    sites = conformance.expressions(asl)

    mismatches = conformance.check(asl, inputs, results=RESULTS, variables=OUTCOMES)

    assert len(sites) >= 30  # the check saw the workflow's expressions, not an empty definition
    assert mismatches == [], "\n".join(str(m) for m in mismatches[:10])
