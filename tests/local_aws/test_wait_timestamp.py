"""The Wait bridge: a Wait ``Timestamp`` with a fraction of a second ends at or after that time
(moto alone truncates twice and reads the local clock, so it ended up to two seconds early)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from local_aws import LocalAws
from tests.local_aws.test_jsonata import jsonata, run

WAIT_UNTIL = jsonata({
    "Wait": {"Type": "Wait", "Timestamp": "{% $states.input.until %}", "Next": "Done"},
    "Done": {"Type": "Pass", "Output": {"at": "{% $now() %}"}, "End": True},
})


def test_a_wait_with_a_fraction_of_a_second_never_ends_early(local: LocalAws) -> None:
    until = datetime.now(UTC) + timedelta(seconds=1, milliseconds=900)

    result = run(local, WAIT_UNTIL, {"until": until.isoformat(timespec="milliseconds").replace("+00:00", "Z")})

    assert result.status == "SUCCEEDED", result.cause
    assert datetime.fromisoformat(result.output["at"]) >= until
    assert datetime.fromisoformat(result.output["at"]) < until + timedelta(seconds=2)


def test_a_time_already_past_does_not_wait(local: LocalAws) -> None:
    before = datetime.now(UTC)

    result = run(local, WAIT_UNTIL, {"until": "2020-01-01T00:00:00Z"})

    assert result.status == "SUCCEEDED", result.cause
    assert datetime.fromisoformat(result.output["at"]) - before < timedelta(seconds=1)
