"""Recipient preferences: the table the workflow reads contact points, opt-outs and quiet hours
from, and quiet hours as pure JSONata (no Lambda runs in the workflow).

JSONata knows no IANA time zones (``$fromMillis`` takes only ``±HHMM`` offsets), so the UTC
offsets of the zones an app allows are compiled at synth time with Python's ``zoneinfo``
(``offsets_literal``) and the expression looks them up (``quiet_hours_expression``). Limits:

* only the listed zones are known: quiet hours in any other zone are ignored (the send goes out);
* the offsets are those of the tz database on the machine that synthesizes (the system's, or the
  ``tzdata`` package's), for ``years`` years from 1 January of ``start_year`` (UTC): a rules
  change after synth needs a new synth and deploy;
* before the period the first offset applies, after it the last offset in force (standard or
  summer time, whichever it was) applies forever: deploy at least once within the period.
"""

from __future__ import annotations

import calendar
import json
import time
from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo, available_timezones

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from ._props import PropError, require_int_between
from .contract import compact
from .delivery_log import recoverable_table

PARTITION_KEY = "recipientId"
#: The channels a recipient can opt out of, per category; ``ALL_CATEGORIES`` stands for every one.
OPT_OUT_CHANNELS = ("sms", "email")
ALL_CATEGORIES = "*"
DEFAULT_OFFSET_YEARS = 10

# How far apart the offsets are sampled before the change between two samples is narrowed down to
# the second: the tz database has no zone that changes twice within a day.
_SAMPLE_SECONDS = 86_400
_MINUTE_MS = 60_000
_DAY_MS = 86_400_000

#: What DynamoDB asks of the key for a read, and for a write (as CDK's own table grants).
_KEY_READ_ACTIONS = ("kms:Decrypt", "kms:DescribeKey")
_KEY_WRITE_ACTIONS = (*_KEY_READ_ACTIONS, "kms:Encrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*")
_WRITE_ACTIONS = ("dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem")


def _offset_minutes(zone: ZoneInfo, epoch_seconds: int) -> int:
    offset = datetime.fromtimestamp(epoch_seconds, zone).utcoffset()
    seconds = int(offset.total_seconds()) if offset is not None else 0
    if seconds % 60:
        raise PropError("RecipientPreferences", "time_zones", zone.key,
                        f"It is {seconds} s from UTC at {epoch_seconds}, not a whole number of minutes, "
                        "which the offsets table cannot hold: leave this zone out.")
    return seconds // 60


def offsets_table(time_zones: Sequence[str], start_year: int, years: int) -> dict[str, list[list[int]]]:
    """Each zone's ``[[epochMs, offsetMinutes], ...]``: the offset in force from 1 January of
    ``start_year`` (UTC), then each change until 1 January of ``start_year + years``, in time
    order. An offset applies from its instant (inclusive) to the next one's."""
    start = calendar.timegm((start_year, 1, 1, 0, 0, 0))
    end = calendar.timegm((start_year + years, 1, 1, 0, 0, 0))
    table: dict[str, list[list[int]]] = {}
    for name in time_zones:
        zone = ZoneInfo(name)
        before = _offset_minutes(zone, start)
        entries = [[start * 1000, before]]
        for sample in range(start, end, _SAMPLE_SECONDS):
            following = min(sample + _SAMPLE_SECONDS, end)
            after = _offset_minutes(zone, following)
            if after != before:
                low, high = sample, following  # the change is in (low, high]
                while high - low > 1:
                    middle = (low + high) // 2
                    low, high = (middle, high) if _offset_minutes(zone, middle) == before else (low, middle)
                if high < end:
                    entries.append([high * 1000, after])
                before = after
        table[name] = entries
    return table


def offsets_literal(time_zones: Sequence[str], start_year: int, years: int) -> str:
    """``offsets_table`` as a compact JSON object, which is also a JSONata literal."""
    return json.dumps(offsets_table(time_zones, start_year, years), separators=(",", ":"))


def quiet_hours_expression(table_expr: str, quiet_expr: str, now_ms_expr: str) -> str:
    """JSONata: when the instant ``now_ms_expr`` (epoch ms) is inside the quiet hours
    ``quiet_expr`` (``{"start": "HH:MM", "end": "HH:MM", "timeZone": "<IANA name>"}``, read on the
    local clock of that zone), the next allowed send time in epoch ms; else undefined. Undefined too
    when the quiet hours are absent or invalid, start equals end, or the zone is not in the offsets
    ``table_expr`` (``offsets_literal``, or a variable holding it).

    The window runs from ``start`` (inclusive) to ``end`` (exclusive), over midnight when ``end``
    is earlier (22:00-07:00). The next allowed time is the first instant at which the local clock
    reads the window's ``end`` or later: the end converted back to UTC, the moment the clock jumps
    past it when the end falls into a spring-forward gap, and, when the clock reads it twice (fall
    back), the reading after ``now``.

    The three arguments are evaluated before anything is defined, so they can name any variable.
    """
    body = """
    $hm := function($v){$type($v) = "string" and $length($v) = 5 and $contains($v, /^([01][0-9]|2[0-3]):[0-5][0-9]$/)
        ? $number($substring($v, 0, 2)) * 60 + $number($substring($v, 3, 2))};
    $start := $hm($q.start);
    $end := $hm($q.end);
    $zone := $type($q) = "object" and $type($q.timeZone) = "string" and $q.timeZone in $keys($T)
        ? $lookup($T, $q.timeZone);
    $exists($start) and $exists($end) and $start != $end and $exists($zone) and $type($n) = "number" ? (
        $now := $reduce($zone, function($found, $x){$x[0] <= $n ? $x : $found});
        $local := $n + $now[1] * MINUTE;
        $minute := $floor($local / MINUTE) % 1440;
        $inside := $start < $end ? ($minute >= $start and $minute < $end) : ($minute >= $start or $minute < $end);
        $inside ? (
            $until := $local - $local % DAY + ($start > $end and $minute >= $start ? DAY : 0) + $end * MINUTE;
            $from := $map($zone, function($x){$x[0]});
            $min($map($zone, function($x, $i){(
                $at := $max([$n, $i = 0 ? $n : $x[0], $until - $x[1] * MINUTE]);
                $i + 1 = $count($zone) or $at < $from[$i + 1] ? $at
            )}))
        )
    )
    """
    # Each offset applies from its instant to the next one's: on that stretch the local clock is
    # the instant plus the offset, so it first reads ``$until`` or later at ``$at`` (when ``$at``
    # is still on the stretch); the earliest such instant is the answer.
    body = " ".join(body.replace("MINUTE", str(_MINUTE_MS)).replace("DAY", str(_DAY_MS)).split())
    return compact(f"(function($T, $q, $n){{({body})}})({table_expr}, {quiet_expr}, {now_ms_expr})")


def _check_time_zones(time_zones: Sequence[str]) -> tuple[str, ...]:
    construct = "RecipientPreferences"
    example = "Give IANA time zone names, e.g. ['Europe/Paris', 'America/New_York']"
    if isinstance(time_zones, str):
        raise PropError(construct, "time_zones", time_zones, f"{example}: a list, not one string.")
    names = tuple(time_zones)
    if not names:
        raise PropError(construct, "time_zones", names, f"{example}: at least one.")
    known = available_timezones()
    for name in names:
        if name not in known:
            fix = (f"{example}; zoneinfo.available_timezones() lists them." if known else
                   "No IANA time zone database was found: install the tzdata package (pip install tzdata).")
            raise PropError(construct, "time_zones", name, fix)
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise PropError(construct, "time_zones", duplicates, "List each time zone once.")
    return names


class RecipientPreferences(Construct):
    """Per-recipient preferences in DynamoDB, one item per recipient (the API writes them, the
    workflow reads them):

    * ``recipientId`` (string, the partition key);
    * ``phoneNumber``: E.164 (``+`` then 7 to 15 digits); ``email``: an address; ``locale``: a
      language tag such as ``fr-FR``;
    * ``optOut``: a map from category to the channels (``sms``, ``email``) the recipient opted out
      of in it; the category ``*`` stands for every category;
    * ``quietHours``: ``{"start": "HH:MM", "end": "HH:MM", "timeZone": "<IANA name>"}``, local
      times in that zone; ``end`` earlier than ``start`` runs over midnight; start = end means none;
    * ``updatedAt``: when the item was last written (ISO 8601, UTC).

    :param encryption_key: the customer-managed key the table is encrypted with.
    :param time_zones: the IANA zones quiet hours may use; their UTC offsets are compiled into
        :attr:`offsets` at synth time. Default: ``("UTC",)``.
    :param removal_policy: what happens to a new table when it leaves the stack. Default:
        ``RETAIN`` (the table holds legal opt-outs), which also turns on DynamoDB deletion
        protection.
    :param table: an existing table whose partition key is the string ``recipientId``, encrypted
        with ``encryption_key``. Default: a new on-demand table with point-in-time recovery.
    :param offsets_start_year: the first year (UTC) :attr:`offsets` covers. Default: the year of
        synth (give one to keep templates the same from year to year).
    :param offsets_years: how many years :attr:`offsets` covers; after them the last offset in
        force applies. Default: 10.

    Attributes: :attr:`table`, :attr:`encryption_key`, :attr:`time_zones`, :attr:`offsets`.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        encryption_key: kms.IKey,
        time_zones: Sequence[str] = ("UTC",),
        removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.RETAIN,
        table: dynamodb.ITable | None = None,
        offsets_start_year: int | None = None,
        offsets_years: int = DEFAULT_OFFSET_YEARS,
    ) -> None:
        names = _check_time_zones(time_zones)
        start_year = time.gmtime().tm_year if offsets_start_year is None else offsets_start_year
        require_int_between("RecipientPreferences", "offsets_start_year", start_year, 1970, 9000)
        require_int_between("RecipientPreferences", "offsets_years", offsets_years, 1, 100)
        super().__init__(scope, construct_id)
        #: The key the table is encrypted with.
        self.encryption_key = encryption_key
        #: The IANA zones quiet hours may use.
        self.time_zones: tuple[str, ...] = names
        #: The UTC offsets of :attr:`time_zones` as a JSONata literal (``offsets_literal``).
        self.offsets = offsets_literal(names, start_year, offsets_years)
        if table is not None:
            #: The preferences table (the one given, or the new one).
            self.table: dynamodb.ITable = table
            return
        created = recoverable_table(self, "Table", partition_key=PARTITION_KEY, encryption_key=encryption_key,
                                    removal_policy=removal_policy,
                                    deletion_protection=removal_policy == cdk.RemovalPolicy.RETAIN)
        for pack in ("NIST.800.53.R5", "HIPAA.Security"):
            cdk.Validations.of(created).acknowledge(cdk.Acknowledgment(
                id=f"{pack}-DynamoDBInBackupPlan",
                reason="Point-in-time recovery (35 days of continuous backups) is on, and deletion protection "
                       "with the default removal policy; an AWS Backup plan is the app's to add.",
            ))
        #: The preferences table (the new one).
        self.table = created

    def quiet_hours_expression(self, quiet_expr: str, now_ms_expr: str) -> str:
        """``quiet_hours_expression`` over this construct's :attr:`offsets`."""
        return quiet_hours_expression(self.offsets, quiet_expr, now_ms_expr)

    def grant_read(self, grantee: iam.IGrantable) -> iam.Grant:
        """``dynamodb:GetItem`` on the table (one recipient at a time, never a scan), and the key
        use a read needs."""
        return self.table.grant(grantee, "dynamodb:GetItem").combine(
            self.encryption_key.grant(grantee, *_KEY_READ_ACTIONS))

    def grant_write(self, grantee: iam.IGrantable) -> iam.Grant:
        """Put, update and delete one recipient's item, and the key use a write needs."""
        return self.table.grant(grantee, *_WRITE_ACTIONS).combine(
            self.encryption_key.grant(grantee, *_KEY_WRITE_ACTIONS))
