"""RecipientPreferences (issue 14 item 2): the table (keys, the CMK, point-in-time recovery,
deletion protection), its grants, prop checks, the compiled UTC offsets, and the quiet-hours JSONata
checked against a plain ``zoneinfo`` implementation on the local engine, and on a smaller sample
with npm jsonata, around the DST changes of zones with one-hour and half-hour summer time."""

from __future__ import annotations

import bisect
import json
import random
from datetime import datetime, timedelta
from datetime import time as clock
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aws_cdk as cdk
import pytest
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk.assertions import Template

from constructs_lib import PropError, RecipientPreferences
from constructs_lib.preferences import offsets_literal, offsets_table, quiet_hours_expression
from local_aws.jsonata import evaluate
from tests.support.nag import REPORT_WITHOUT_FAILING, add_all_packs, add_nag_canary, beyond_the_canary
from tools import jsonata_conformance as conformance

ZONES = ("UTC", "Europe/Paris", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata", "Asia/Tokyo")
START_YEAR, YEARS = 2026, 10
#: The 2026 DST changes, UTC (what the tz database says; the offsets table must find them).
CHANGES = {
    "Europe/Paris": ("2026-03-29T01:00", "2026-10-25T01:00"),
    "America/New_York": ("2026-03-08T07:00", "2026-11-01T06:00"),
    "Australia/Lord_Howe": ("2026-04-04T15:00", "2026-10-03T15:30"),
}


def _stack() -> cdk.Stack:
    return cdk.Stack(cdk.App(analytics_reporting=False), "Preferences",
                     synthesizer=cdk.DefaultStackSynthesizer(generate_bootstrap_version_rule=False))


def _ms(utc: str) -> int:
    return int(datetime.fromisoformat(utc + "+00:00").timestamp() * 1000)


@pytest.fixture(scope="module")
def built() -> tuple[RecipientPreferences, dict[str, Any], iam.Role, iam.Role]:
    stack = _stack()
    key = kms.Key(stack, "Key", enable_key_rotation=True)
    preferences = RecipientPreferences(stack, "Preferences", encryption_key=key, time_zones=ZONES,
                                       offsets_start_year=START_YEAR)
    reader = iam.Role(stack, "Reader", assumed_by=iam.ServicePrincipal("states.amazonaws.com"))
    writer = iam.Role(stack, "Writer", assumed_by=iam.ServicePrincipal("apigateway.amazonaws.com"))
    preferences.grant_read(reader)
    preferences.grant_write(writer)
    return preferences, dict(Template.from_stack(stack).to_json()), reader, writer


# ---- the table and its grants ------------------------------------------------------------------


def _resources(template: dict[str, Any], cfn_type: str) -> list[dict[str, Any]]:
    return [r for r in template["Resources"].values() if r["Type"] == cfn_type]


def test_the_table_is_keyed_by_recipient_on_demand_encrypted_with_the_cmk_and_recoverable(
        built: tuple[RecipientPreferences, dict[str, Any], iam.Role, iam.Role]) -> None:
    _, template, _, _ = built
    [table] = _resources(template, "AWS::DynamoDB::Table")
    [key_id] = [name for name, r in template["Resources"].items() if r["Type"] == "AWS::KMS::Key"]
    properties = table["Properties"]
    assert properties["KeySchema"] == [{"AttributeName": "recipientId", "KeyType": "HASH"}]
    assert properties["AttributeDefinitions"] == [{"AttributeName": "recipientId", "AttributeType": "S"}]
    assert properties["BillingMode"] == "PAY_PER_REQUEST"
    assert properties["SSESpecification"] == {"KMSMasterKeyId": {"Fn::GetAtt": [key_id, "Arn"]}, "SSEEnabled": True,
                                              "SSEType": "KMS"}
    assert properties["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert properties["DeletionProtectionEnabled"] is True
    assert (table["DeletionPolicy"], table["UpdateReplacePolicy"]) == ("Retain", "Retain")


def test_a_destroyed_table_has_no_deletion_protection_and_a_given_table_is_used_as_is() -> None:
    stack = _stack()
    key = kms.Key(stack, "Key")
    RecipientPreferences(stack, "Destroyed", encryption_key=key, removal_policy=cdk.RemovalPolicy.DESTROY)
    given = dynamodb.Table.from_table_name(stack, "Given", "recipients")
    assert RecipientPreferences(stack, "Existing", encryption_key=key, table=given).table is given
    [table] = _resources(dict(Template.from_stack(stack).to_json()), "AWS::DynamoDB::Table")
    assert table["Properties"].get("DeletionProtectionEnabled") in (None, False)
    assert table["DeletionPolicy"] == "Delete"


def _statements(template: dict[str, Any], role: iam.Role) -> list[dict[str, Any]]:
    role_id = cdk.Stack.of(role).get_logical_id(role.node.default_child)  # type: ignore[arg-type]
    [policy] = [p for p in _resources(template, "AWS::IAM::Policy") if p["Properties"]["Roles"] == [{"Ref": role_id}]]
    statements: list[dict[str, Any]] = policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


def _actions(statement: dict[str, Any]) -> set[str]:
    action = statement["Action"]
    return {action} if isinstance(action, str) else set(action)


def test_grant_read_allows_get_item_only_and_the_key_use_a_read_needs(
        built: tuple[RecipientPreferences, dict[str, Any], iam.Role, iam.Role]) -> None:
    _, template, reader, _ = built
    table, key = _statements(template, reader)
    assert _actions(table) == {"dynamodb:GetItem"}
    assert "Table" in json.dumps(table["Resource"]) and "Key" in json.dumps(key["Resource"])
    assert _actions(key) == {"kms:Decrypt", "kms:DescribeKey"}


def test_grant_write_allows_put_update_delete_and_the_key_use_a_write_needs(
        built: tuple[RecipientPreferences, dict[str, Any], iam.Role, iam.Role]) -> None:
    _, template, _, writer = built
    table, key = _statements(template, writer)
    assert _actions(table) == {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"}
    assert _actions(key) == {"kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:ReEncrypt*",
                             "kms:GenerateDataKey*"}


def test_the_three_packs_find_nothing_in_the_preferences_table(tmp_path: Path) -> None:
    app = cdk.App(context=REPORT_WITHOUT_FAILING, outdir=str(tmp_path), analytics_reporting=False)
    stack = cdk.Stack(app, "Preferences")
    RecipientPreferences(stack, "Preferences", encryption_key=kms.Key(stack, "Key", enable_key_rotation=True))
    add_all_packs(app)
    add_nag_canary(app)
    app.synth()
    assert beyond_the_canary(tmp_path) == {}


@pytest.mark.parametrize(("props", "prop", "value", "fix"), [
    ({"time_zones": "Europe/Paris"}, "time_zones", "Europe/Paris", "a list, not one string"),
    ({"time_zones": []}, "time_zones", (), "at least one"),
    ({"time_zones": ["UTC", "Europe/Pariss"]}, "time_zones", "Europe/Pariss", "available_timezones()"),
    ({"time_zones": ["UTC", "+01:00"]}, "time_zones", "+01:00", "IANA time zone names"),
    ({"time_zones": ["Asia/Tokyo", "UTC", "Asia/Tokyo"]}, "time_zones", ["Asia/Tokyo"], "each time zone once"),
    ({"offsets_years": 0}, "offsets_years", 0, "from 1 to 100"),
    ({"offsets_start_year": 1900}, "offsets_start_year", 1900, "from 1970"),
])
def test_fails_when_a_prop_is_invalid(props: dict[str, Any], prop: str, value: Any, fix: str) -> None:
    stack = _stack()
    with pytest.raises(PropError) as error:
        RecipientPreferences(stack, "Preferences", encryption_key=kms.Key(stack, "Key"), **props)
    assert (error.value.prop, error.value.value) == (prop, value)
    assert fix in error.value.fix
    assert stack.node.try_find_child("Preferences") is None  # nothing was created


# ---- the offsets -------------------------------------------------------------------------------

TABLE = offsets_table(ZONES, START_YEAR, YEARS)


def test_the_offsets_hold_each_change_of_the_period_in_minutes() -> None:
    start, end = _ms("2026-01-01T00:00"), _ms("2036-01-01T00:00")
    assert TABLE["UTC"] == [[start, 0]]
    assert TABLE["Asia/Kolkata"] == [[start, 330]]
    assert TABLE["Asia/Tokyo"] == [[start, 540]]
    assert TABLE["Europe/Paris"][:3] == [[start, 60], [_ms(CHANGES["Europe/Paris"][0]), 120],
                                         [_ms(CHANGES["Europe/Paris"][1]), 60]]
    assert TABLE["America/New_York"][:3] == [[start, -300], [_ms(CHANGES["America/New_York"][0]), -240],
                                             [_ms(CHANGES["America/New_York"][1]), -300]]
    assert TABLE["Australia/Lord_Howe"][:3] == [[start, 660], [_ms(CHANGES["Australia/Lord_Howe"][0]), 630],
                                                [_ms(CHANGES["Australia/Lord_Howe"][1]), 660]]
    for zone in CHANGES:
        assert len(TABLE[zone]) == 21  # the first offset and two changes a year
        assert all(a[0] < b[0] < end and a[1] != b[1] for a, b in zip(TABLE[zone], TABLE[zone][1:], strict=False))
    assert json.loads(offsets_literal(ZONES, START_YEAR, YEARS)) == TABLE


def test_the_offsets_agree_with_zoneinfo_at_random_instants() -> None:
    rng = random.Random(14)
    for zone in ZONES:
        starts = [entry[0] for entry in TABLE[zone]]
        for _ in range(500):
            at = rng.randrange(starts[0], _ms("2036-01-01T00:00"))
            offset = datetime.fromtimestamp(at / 1000, ZoneInfo(zone)).utcoffset()
            assert offset is not None
            assert TABLE[zone][bisect.bisect_right(starts, at) - 1][1] * 60 == offset.total_seconds()


def test_what_the_offsets_add_to_a_definition() -> None:
    """About 430 characters per zone with summer time over ten years, about 35 without."""
    sizes = {zone: len(offsets_literal([zone], START_YEAR, YEARS)) for zone in ZONES}
    assert all(400 <= sizes[zone] <= 480 for zone in CHANGES)
    assert all(sizes[zone] <= 40 for zone in ("UTC", "Asia/Kolkata", "Asia/Tokyo"))


# ---- quiet hours -------------------------------------------------------------------------------


def _minutes(hhmm: str) -> int:
    return int(hhmm[:2]) * 60 + int(hhmm[3:])


def expected(quiet: dict[str, str], now_ms: int) -> int | None:
    """The reference, with ``zoneinfo``: when the local clock at ``now_ms`` is inside the window,
    the first instant after it at which the local clock reads the window's end or later."""
    zone = ZoneInfo(quiet["timeZone"])
    local = datetime.fromtimestamp(now_ms / 1000, zone)
    minute, start, end = local.hour * 60 + local.minute, _minutes(quiet["start"]), _minutes(quiet["end"])
    inside = start <= minute < end if start < end else (start > end and (minute >= start or minute < end))
    if not inside:
        return None
    day = local.date() + timedelta(days=1 if start > end and minute >= start else 0)
    until = datetime.combine(day, clock(end // 60, end % 60))
    candidates = sorted(int(until.replace(tzinfo=zone, fold=fold).timestamp()) for fold in (0, 1))
    for at in candidates:  # the end as the clock reads it (twice when the clock goes back)
        if at * 1000 > now_ms and datetime.fromtimestamp(at, zone).replace(tzinfo=None) == until:
            return at * 1000
    at = candidates[0]  # the end is skipped (clocks go forward): the minute the clock jumps past it
    while datetime.fromtimestamp(at, zone).replace(tzinfo=None) < until:
        at += 60
    return at * 1000


EXPRESSION = quiet_hours_expression("$T", "$q", "$n")


def _evaluate(quiet: Any, now_ms: int) -> Any:
    return evaluate(EXPRESSION, {"T": TABLE, "q": quiet, "n": now_ms})


def _local_ms(zone: str, local: str, fold: int = 0) -> int:
    return int(datetime.fromisoformat(local).replace(tzinfo=ZoneInfo(zone), fold=fold).timestamp() * 1000)


@pytest.mark.parametrize(("zone", "window", "now", "fold", "until"), [
    # the night clocks go forward: the morning end is an hour closer in UTC
    ("Europe/Paris", ("22:00", "07:00"), "2026-03-28T23:30", 0, "2026-03-29T05:00"),
    # an end in the skipped hour: the moment the clock jumps from 02:00 to 03:00
    ("Europe/Paris", ("22:00", "02:30"), "2026-03-29T01:45", 0, "2026-03-29T01:00"),
    # clocks go back: 02:10 the second time (CET) ends at 02:30 CET
    ("Europe/Paris", ("22:00", "02:30"), "2026-10-25T02:10", 1, "2026-10-25T01:30"),
    # ... and 02:10 the first time (CEST) at 02:30 CEST
    ("Europe/Paris", ("22:00", "02:30"), "2026-10-25T02:10", 0, "2026-10-25T00:30"),
    ("America/New_York", ("21:00", "08:00"), "2026-11-01T00:30", 0, "2026-11-01T13:00"),
    # half-hour summer time: Lord Howe goes from 02:00 to 01:30 (+11:00 to +10:30)
    ("Australia/Lord_Howe", ("23:00", "01:45"), "2026-04-05T01:40", 1, "2026-04-04T15:15"),
    ("Asia/Kolkata", ("12:00", "14:00"), "2026-06-01T12:59", 0, "2026-06-01T08:30"),
    ("Asia/Tokyo", ("00:00", "23:59"), "2026-06-01T23:58", 0, "2026-06-01T14:59"),
    ("UTC", ("23:00", "00:00"), "2026-12-31T23:59", 0, "2027-01-01T00:00"),
])
def test_inside_quiet_hours_the_next_allowed_time_is_the_local_end_in_utc(
        zone: str, window: tuple[str, str], now: str, fold: int, until: str) -> None:
    quiet = {"start": window[0], "end": window[1], "timeZone": zone}
    now_ms = _local_ms(zone, now, fold)
    assert _evaluate(quiet, now_ms) == _ms(until) == expected(quiet, now_ms)


@pytest.mark.parametrize("quiet", [
    None, "22:00-07:00", {}, {"start": "22:00", "end": "07:00"},
    {"start": "22:00", "end": "07:00", "timeZone": "Europe/London"},  # not a listed zone
    {"start": "22:00", "end": "07:00", "timeZone": "constructor"},
    {"start": "22:00", "end": "22:00", "timeZone": "UTC"},  # start = end: none
    {"start": "7:00", "end": "22:00", "timeZone": "UTC"}, {"start": "24:00", "end": "07:00", "timeZone": "UTC"},
    {"start": "22:00\n", "end": "07:00", "timeZone": "UTC"}, {"start": 22, "end": 7, "timeZone": "UTC"},
    {"start": "22:00", "end": "07:00", "timeZone": ["UTC"]},
])
def test_absent_invalid_or_unknown_quiet_hours_never_delay(quiet: Any) -> None:
    assert _evaluate(quiet, _ms("2026-06-01T23:30")) is None


def test_outside_quiet_hours_nothing_is_delayed() -> None:
    quiet = {"start": "22:00", "end": "07:00", "timeZone": "Europe/Paris"}
    assert _evaluate(quiet, _local_ms("Europe/Paris", "2026-07-01T07:00")) is None
    assert _evaluate(quiet, _local_ms("Europe/Paris", "2026-07-01T21:59:59")) is None
    assert _evaluate(quiet, _local_ms("Europe/Paris", "2026-07-01T22:00")) == _ms("2026-07-02T05:00")


def test_after_the_period_the_last_offset_in_force_applies() -> None:
    one_year = offsets_table(["Europe/Paris"], 2026, 1)
    quiet = {"start": "22:00", "end": "07:00", "timeZone": "Europe/Paris"}
    # July 2027 is summer time (UTC+2), but the table ends in winter time (UTC+1).
    assert evaluate(EXPRESSION, {"T": one_year, "q": quiet, "n": _ms("2027-07-01T21:30")}) == _ms(
        "2027-07-02T06:00")


WINDOWS = (("22:00", "02:15"), ("02:15", "06:00"), ("01:00", "03:00"), ("12:00", "14:00"))


def _samples() -> list[tuple[dict[str, str], int]]:
    """Every 20 minutes from 4 hours before to 4 hours after each 2026 change (local night, where
    the windows start or end in the skipped or repeated time); random instants of the period in
    every zone with random windows."""
    rng = random.Random(2026)
    samples = []
    for zone, changes in CHANGES.items():
        for index, change in enumerate(changes):
            for step in range(-12, 13):
                now = _ms(change) + step * 20 * 60_000 + rng.randrange(60_000)
                quiet = dict(zip(("start", "end"), WINDOWS[(step + index) % 3], strict=True), timeZone=zone)
                samples.append((quiet, now))
    for _ in range(180):
        window = [f"{rng.randrange(24):02d}:{rng.choice((0, 15, 30, 45, rng.randrange(60))):02d}" for _ in "se"]
        end = window[0] if rng.random() < 0.03 else window[1]  # now and then none (start = end)
        quiet = {"start": window[0], "end": end, "timeZone": rng.choice(ZONES)}
        samples.append((quiet, rng.randrange(_ms("2026-01-01T00:00"), _ms("2035-12-30T00:00"))))
    return samples


SAMPLES = _samples()


def test_quiet_hours_agree_with_zoneinfo_around_every_change_and_across_the_period() -> None:
    got = [(quiet, now, _evaluate(quiet, now), expected(quiet, now)) for quiet, now in SAMPLES]
    assert [case for case in got if case[2] != case[3]] == []
    delayed = [case for case in got if case[3] is not None]
    assert len(delayed) > len(SAMPLES) // 4  # the sample exercises the delay, not only "not quiet"
    changes = {_ms(change) for pair in CHANGES.values() for change in pair}
    assert any(case[3] in changes for case in delayed)  # some ends are skipped: the clock jumps past them


def test_npm_jsonata_agrees_with_the_literal_the_construct_embeds(
        built: tuple[RecipientPreferences, dict[str, Any], iam.Role, iam.Role]) -> None:
    preferences, _, _, _ = built
    embedded = preferences.quiet_hours_expression("$q", "$n")
    sample = SAMPLES[::8] + [({"start": "22:00", "end": "07:00", "timeZone": "constructor"}, _ms("2026-06-01T23:00"))]
    reference = conformance.evaluate_reference([(embedded, {"q": quiet, "n": now}) for quiet, now in sample])
    want = [{"kind": "undefined"} if e is None else {"kind": "value", "value": e}
            for e in (expected(quiet, now) if quiet["timeZone"] in ZONES else None for quiet, now in sample)]
    assert reference == want
    assert [evaluate(embedded, {"q": quiet, "n": now}) for quiet, now in sample[:10]] == [
        w.get("value") for w in want[:10]]
