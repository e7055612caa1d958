"""Capacity past this machine: for a rate of notifications (and a bulk job), the load each path
puts on every quota it meets, which quota binds first, the path and settings to use, and what a
month costs at list prices.

    python -m tools.capacity --rate 1000 --recipients 50000   # or: make capacity RATE=1000 RECIPIENTS=50000
    python -m tools.capacity --per-day 1000000 --ses-rate 200 --sms-mps 100
    python -m tools.capacity                                   # the README's four scenarios

Nothing runs here: the model is arithmetic over the states each path enters (docs/states_entered.json,
which ``make cost`` measures, plus the states the options add), the DynamoDB writes those states
make, and the quota figures of ../shared/DESIGN.md §7. The functions are pure and take frozen
dataclasses, so a test can check the arithmetic by hand; ``main`` only parses and prints.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tools.cost import (
    DEFAULT_MIX,
    EXPRESS_DURATION_MS,
    PATHS,
    _money,
    express_cost,
    load_states_entered,
    parse_mix,
    standard_cost,
)

SECONDS_PER_DAY = 86_400
#: A month is 30 days of the rate, sustained: a peak rate priced as a month is an upper bound.
SECONDS_PER_MONTH = 30 * SECONDS_PER_DAY
REGION_CLASSES: tuple[str, ...] = ("large", "other")
#: The ways a notification reaches the workflow (README "Buffered ingress" and "Bulk sends").
ROUTES: tuple[str, ...] = ("standard", "buffered", "bulk")
ROUTE_NAMES = {
    "standard": "Standard, started directly",
    "buffered": "buffered: SQS -> Pipe -> Express",
    "bulk": "bulk: Distributed Map -> Standard",
}
#: The routes for notifications that are not one message to many (those are bulk jobs).
SINGLE_ROUTES: tuple[str, ...] = ("buffered", "standard")

# ---- quotas: ../shared/DESIGN.md §7 unless a source is named --------------------------------
# Standard StartExecution: a bucket of 1,300 refilled at 300 a second in us-east-1, us-west-2 and
# eu-west-1 ("large"), 800 and 150 elsewhere. A sustained rate meets the refill; the bucket only
# absorbs a burst.
START_EXECUTION_REFILL = {"large": 300.0, "other": 150.0}
START_EXECUTION_BUCKET = {"large": 1_300, "other": 800}
STATE_TRANSITIONS_REFILL = 1_500.0  # Standard, bucket 5,000; new accounts start lower
EXPRESS_STARTS = 6_000.0
MAP_CHILDREN = 10_000.0  # a Distributed Map's child executions at once
DYNAMODB_NEW_TABLE_WRITES = 4_000.0  # on-demand, at once; more after a peak, or pre-warmed
# https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/warm-throughput-scenarios.html:
# a partition serves at most 1,000 write units a second, whatever the table's throughput; an item
# lives in one partition.
DYNAMODB_PARTITION_WRITES = 1_000.0
# https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-quota.html (EventBridge Pipes quotas):
# concurrent pipe executions per account, 3,000 in us-east-1, us-west-2 and eu-west-1, else 1,000.
PIPE_EXECUTIONS = {"large": 3_000.0, "other": 1_000.0}

# ---- provider defaults: read your own (README "Sizing the rates") --------------------------
DEFAULT_SES_RATE = 14.0  # recipients a second, a new production account's (sandbox: 1)
DEFAULT_SES_DAILY = 50_000.0  # recipients in 24 hours, a new production account's (sandbox: 200)
DEFAULT_SMS_MPS = 3.0  # SMS parts a second of one US toll-free number
#: The workflow's send-rate limits are set this far below the quotas (README "Send-rate limits").
RATE_SETTING_SHARE = 0.9

# ---- assumptions (none of these can be measured on the local engine) -----------------------
#: One pipe execution (receive, input template, an asynchronous StartExecution, delete).
PIPE_EXECUTION_SECONDS = 0.1
#: One bulk child (the workflow run with .sync plus its own states): BulkSend's MaxConcurrency
#: assumes about one send a second per child.
BULK_CHILD_SECONDS = 1.0

# ---- what each path enters and writes, beyond docs/states_entered.json ---------------------
#: ``ReadQueuedRequest``, the first state of a ``queued_input`` workflow.
QUEUED_READ_STATES = 1
#: With send-rate limits, each send first takes a slot: one ``UpdateItem`` on the channel's counter
#: for the second (``rate#<channel>#<epoch second>``), in the slot state named here.
SLOT_STATES: dict[str, tuple[str, ...]] = {
    "sms": ("TakeSmsSlot",), "email": ("TakeEmailSlot",),
    "both": ("TakeSmsSlotOfBoth", "TakeEmailSlotOfBoth"), "rejected": (),
}
#: States a limited send enters per slot state: ``Take...SlotCount`` (a Pass that starts the count
#: of throttled attempts, no write) and the slot itself.
STATES_PER_SLOT = 2
#: Not in the model: a send the provider throttles goes back through ``Take...SlotAgain`` (a Choice)
#: to ``Take...Slot`` and the send, so each throttled attempt enters these 3 states more and makes
#: one write more (the slot, on the channel's item). With the limits set below the quotas (see
#: ``RATE_SETTING_SHARE``), throttling is taken to be rare: the README's text says it is left out.
THROTTLED_ATTEMPT_STATES = 3
THROTTLED_ATTEMPT_WRITES = 1
#: DynamoDB writes of the dev stack's paths: the claim (``PutItem``) and the outcome
#: (``UpdateItem``), or the rejection's one ``PutItem``. tests/tools/test_capacity.py counts them
#: in the synthesized definition.
DYNAMODB_WRITES: dict[str, int] = {"sms": 2, "email": 2, "both": 2, "rejected": 1}
#: A bulk recipient's child execution, sent or not (the last is RecipientNotSent when not).
BULK_CHILD_STATES: tuple[str, ...] = (
    "Recipient", "BuildRequest", "SendToRecipient", "ReadOutcome", "CountOutcome", "WasSent", "RecipientDone",
)
BULK_CHILD_WRITES = 1  # CountOutcome, on the bulk's summary item
BULK_CHILD_READS = 1  # ReadOutcome, a consistent GetItem (one read unit up to 4 KB)
#: Step Functions bills a Distributed Map one state transition per child execution it starts
#: (https://docs.aws.amazon.com/step-functions/latest/dg/concepts-transitions.html).
BULK_CHILD_START_TRANSITIONS = 1
SMS_SENDS = {"sms": 1, "email": 0, "both": 1, "rejected": 0}
EMAIL_SENDS = {"sms": 0, "email": 1, "both": 1, "rejected": 0}
#: BulkSend's MaxConcurrency for a channel without a configured rate.
BULK_DEFAULT_MAX_CONCURRENCY = 10
BULK_TIMEOUT_SECONDS = 7 * SECONDS_PER_DAY  # BulkSend's default timeout

# ---- list prices, US East (N. Virginia), free tiers left out; Step Functions from tools.cost --
# https://aws.amazon.com/sqs/pricing/: standard queue, $0.40 per million requests (64 KB each).
SQS_PRICE_PER_REQUEST = 0.40 / 1_000_000
#: SendMessage (the API's SendMessageBatch of one), the pipe's ReceiveMessage and its delete.
SQS_REQUESTS_PER_MESSAGE = 3
# https://aws.amazon.com/eventbridge/pricing/: Pipes, $0.40 per million requests (64 KB each).
PIPES_PRICE_PER_REQUEST = 0.40 / 1_000_000
# https://aws.amazon.com/dynamodb/pricing/on-demand/: $0.625 per million write request units and
# $0.125 per million read request units (records are taken to be under 1 KB: one unit a write).
DYNAMODB_PRICE_PER_WRITE = 0.625 / 1_000_000
DYNAMODB_PRICE_PER_READ = 0.125 / 1_000_000
# https://aws.amazon.com/ses/pricing/: $0.10 per 1,000 emails (each recipient counted).
SES_PRICE_PER_RECIPIENT = 0.10 / 1_000
# SMS prices vary by country and carrier (https://aws.amazon.com/end-user-messaging/pricing/):
# they are left out.

README_SCENARIOS: tuple[tuple[str, float], ...] = (
    ("1 million a day", 1_000_000 / SECONDS_PER_DAY),
    ("100 a second", 100.0),
    ("1,000 a second", 1_000.0),
    ("10,000 a second", 10_000.0),
)


# ---- inputs ---------------------------------------------------------------------------------


def _positive(name: str, value: float) -> None:
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a number above 0, got {value!r}")


@dataclass(frozen=True)
class Account:
    """Where the notifications are sent from: the Region's class (its Step Functions and Pipes
    quotas) and the provider quotas the account holds."""

    region_class: str = "large"
    ses_rate: float = DEFAULT_SES_RATE
    ses_daily: float = DEFAULT_SES_DAILY
    sms_mps: float = DEFAULT_SMS_MPS

    def __post_init__(self) -> None:
        if self.region_class not in REGION_CLASSES:
            raise ValueError(f"region class must be one of {', '.join(REGION_CLASSES)}, got {self.region_class!r}")
        _positive("the SES maximum send rate", self.ses_rate)
        _positive("the SES 24-hour quota", self.ses_daily)
        _positive("the SMS parts per second", self.sms_mps)


@dataclass(frozen=True)
class Workload:
    """Notifications a second (the rate to size for: the peak, not the day's average), how they
    split over the paths, and how big each send is."""

    rate: float
    mix: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_MIX))
    sms_parts: int = 1
    email_recipients: int = 1
    rate_limits: bool = True

    def __post_init__(self) -> None:
        if not (isinstance(self.rate, (int, float)) and math.isfinite(self.rate) and self.rate >= 0):
            raise ValueError(f"the rate must be 0 or more notifications a second, got {self.rate!r}")
        unknown = sorted(set(self.mix) - set(PATHS))
        if unknown or any(share < 0 for share in self.mix.values()) or \
                not math.isclose(sum(self.mix.values()), 1.0, abs_tol=1e-6):
            raise ValueError(f"the mix must give shares of {', '.join(PATHS)} that add up to 1, got {dict(self.mix)}")
        if not 1 <= self.sms_parts <= 10:
            raise ValueError(f"SMS parts per message must be 1 to 10, got {self.sms_parts}")
        if not 1 <= self.email_recipients <= 50:
            raise ValueError(f"email recipients per message must be 1 to 50 (SES's limit), got {self.email_recipients}")

    @classmethod
    def per_day(cls, per_day: float, **options: Any) -> Workload:
        """A day's notifications spread evenly over the day."""
        if not (isinstance(per_day, (int, float)) and math.isfinite(per_day) and per_day >= 0):
            raise ValueError(f"notifications a day must be 0 or more, got {per_day!r}")
        return cls(rate=per_day / SECONDS_PER_DAY, **options)

    def share(self, path: str) -> float:
        return float(self.mix.get(path, 0.0))


# ---- the model ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Quota:
    """A limit a route meets; ``provider`` quotas (SES, SMS) are the same on every route."""

    name: str
    limit: float
    unit: str
    provider: bool = False


@dataclass(frozen=True)
class Load:
    """What a rate asks of one quota."""

    quota: Quota
    amount: float
    note: str = ""

    @property
    def utilisation(self) -> float:
        return self.amount / self.quota.limit

    @property
    def headroom(self) -> float:
        """How many times the load fits in the quota (below 1: over it)."""
        return math.inf if self.amount == 0 else self.quota.limit / self.amount


def quotas(account: Account) -> dict[str, Quota]:
    """Every quota the model knows, by key, for the account's Region class and provider quotas."""
    region = account.region_class
    return {
        "start": Quota("Standard StartExecution", START_EXECUTION_REFILL[region], "starts/s"),
        "transitions": Quota("Standard state transitions", STATE_TRANSITIONS_REFILL, "transitions/s"),
        "express": Quota("Express StartExecution", EXPRESS_STARTS, "starts/s"),
        "pipe": Quota("concurrent pipe executions", PIPE_EXECUTIONS[region], "executions"),
        "map": Quota("Distributed Map children at once", MAP_CHILDREN, "executions"),
        "table": Quota("DynamoDB writes, new on-demand table", DYNAMODB_NEW_TABLE_WRITES, "writes/s"),
        "item": Quota("DynamoDB writes to one item", DYNAMODB_PARTITION_WRITES, "writes/s"),
        "ses_rate": Quota("SES maximum send rate", account.ses_rate, "recipients/s", provider=True),
        "ses_daily": Quota("SES 24-hour quota", account.ses_daily, "recipients/day", provider=True),
        "sms": Quota("SMS throughput", account.sms_mps, "parts/s", provider=True),
    }


@dataclass(frozen=True)
class PerNotification:
    """One notification of the mix on one route, on average."""

    states: float  # states entered: the workflow's, plus a bulk child's
    transitions: float  # billed Standard transitions (none on Express)
    writes: float  # DynamoDB write units
    reads: float  # DynamoDB read units
    sms_sends: float
    email_sends: float
    sms_parts: float
    email_recipients: float


def _states(route: str, path: str, states_entered: Mapping[str, int], rate_limits: bool) -> int:
    count = states_entered[path] + (STATES_PER_SLOT * len(SLOT_STATES[path]) if rate_limits else 0)
    if route == "buffered":
        count += QUEUED_READ_STATES
    if route == "bulk":
        count += len(BULK_CHILD_STATES)
    return count


def _transitions(route: str, path: str, states_entered: Mapping[str, int], rate_limits: bool) -> int:
    if route == "buffered":
        return 0
    return _states(route, path, states_entered, rate_limits) + (BULK_CHILD_START_TRANSITIONS if route == "bulk" else 0)


def _writes(route: str, path: str, rate_limits: bool) -> int:
    return DYNAMODB_WRITES[path] + (len(SLOT_STATES[path]) if rate_limits else 0) + \
        (BULK_CHILD_WRITES if route == "bulk" else 0)


def _check_route(route: str) -> None:
    if route not in ROUTES:
        raise ValueError(f"route must be one of {', '.join(ROUTES)}, got {route!r}")


def per_notification(route: str, workload: Workload, states_entered: Mapping[str, int]) -> PerNotification:
    """The states, transitions, writes and sends of one notification, weighted by the mix."""
    _check_route(route)
    limits = workload.rate_limits

    def average(per_path: Mapping[str, float]) -> float:
        return sum(workload.share(p) * per_path[p] for p in PATHS)

    return PerNotification(
        states=average({p: _states(route, p, states_entered, limits) for p in PATHS}),
        transitions=average({p: _transitions(route, p, states_entered, limits) for p in PATHS}),
        writes=average({p: _writes(route, p, limits) for p in PATHS}),
        reads=BULK_CHILD_READS if route == "bulk" else 0.0,
        sms_sends=average(SMS_SENDS),
        email_sends=average(EMAIL_SENDS),
        sms_parts=average(SMS_SENDS) * workload.sms_parts,
        email_recipients=average(EMAIL_SENDS) * workload.email_recipients,
    )


def route_loads(route: str, workload: Workload, account: Account,
                states_entered: Mapping[str, int]) -> tuple[Load, ...]:
    """The load of ``workload.rate`` notifications a second on every quota the route meets."""
    q = quotas(account)
    one = per_notification(route, workload, states_entered)
    rate = workload.rate
    if route == "buffered":
        loads = [Load(q["express"], rate),
                 Load(q["pipe"], rate * PIPE_EXECUTION_SECONDS, f"{PIPE_EXECUTION_SECONDS:g} s each, batches of one")]
    else:
        loads = [Load(q["start"], rate), Load(q["transitions"], rate * one.transitions,
                                               f"{one.transitions:g} a notification")]
        if route == "bulk":
            loads.append(Load(q["map"], rate * BULK_CHILD_SECONDS, f"{BULK_CHILD_SECONDS:g} s a child"))
    # One item takes every slot of a channel's second, and every outcome of a bulk.
    hot = [(0.0, "")]
    if workload.rate_limits:
        hot += [(rate * one.sms_sends, "rate#sms#<second>"), (rate * one.email_sends, "rate#email#<second>")]
    if route == "bulk":
        hot.append((rate, "bulk#<bulkId>"))
    hottest, item = max(hot, key=lambda pair: pair[0])
    emails = rate * one.email_recipients
    loads += [
        Load(q["table"], rate * one.writes, f"{one.writes:g} a notification"),
        Load(q["item"], hottest, item),
        Load(q["ses_rate"], emails),
        Load(q["ses_daily"], emails * SECONDS_PER_DAY),
        Load(q["sms"], rate * one.sms_parts),
    ]
    return tuple(loads)


@dataclass(frozen=True)
class Cost:
    """Dollars at list prices by service, for one notification or a month (SMS carrier fees left out)."""

    step_functions: float
    queue: float  # SQS and Pipes
    dynamodb: float
    ses: float

    @property
    def total(self) -> float:
        return self.step_functions + self.queue + self.dynamodb + self.ses


def cost_per_notification(route: str, workload: Workload, states_entered: Mapping[str, int]) -> Cost:
    """What one notification of the mix costs on the route."""
    _check_route(route)
    limits = workload.rate_limits
    if route == "buffered":
        step_functions = sum(workload.share(p) * express_cost(EXPRESS_DURATION_MS[p]) for p in PATHS)
        queue = SQS_REQUESTS_PER_MESSAGE * SQS_PRICE_PER_REQUEST + PIPES_PRICE_PER_REQUEST
    else:
        step_functions = sum(workload.share(p) * standard_cost(_transitions(route, p, states_entered, limits))
                             for p in PATHS)
        queue = 0.0
    one = per_notification(route, workload, states_entered)
    return Cost(
        step_functions=step_functions,
        queue=queue,
        dynamodb=one.writes * DYNAMODB_PRICE_PER_WRITE + one.reads * DYNAMODB_PRICE_PER_READ,
        ses=one.email_recipients * SES_PRICE_PER_RECIPIENT,
    )


def monthly_cost(route: str, workload: Workload, states_entered: Mapping[str, int]) -> Cost:
    each = cost_per_notification(route, workload, states_entered)
    volume = workload.rate * SECONDS_PER_MONTH
    return Cost(each.step_functions * volume, each.queue * volume, each.dynamodb * volume, each.ses * volume)


@dataclass(frozen=True)
class RouteReport:
    route: str
    loads: tuple[Load, ...]
    cost: Cost

    @property
    def binding(self) -> Load:
        """The quota the rate meets first (the highest utilisation; the first listed on a tie)."""
        return max(self.loads, key=lambda load: load.utilisation)

    @property
    def binding_aws(self) -> Load:
        """The first of the route's own quotas (Step Functions, Pipes, DynamoDB) to bind."""
        return max((load for load in self.loads if not load.quota.provider), key=lambda load: load.utilisation)

    @property
    def fits_aws(self) -> bool:
        return self.binding_aws.utilisation <= 1

    def load(self, quota_name: str) -> Load | None:
        return next((load for load in self.loads if load.quota.name == quota_name), None)


def rate_setting(quota: float) -> int:
    """``sesMaxSendRate``/``smsMaxPartsPerSecond``: a little below the quota, at least 1."""
    return max(1, math.floor(quota * RATE_SETTING_SHARE + 1e-9))


def quota_for(load: float) -> int:
    """The provider quota whose :func:`rate_setting` carries ``load`` a second."""
    return math.ceil(math.ceil(load - 1e-9) / RATE_SETTING_SHARE - 1e-9)


def bulk_max_concurrency(sms_setting: int | None, ses_setting: int | None) -> dict[str, int]:
    """MaxConcurrency per bulk channel, as BulkSend derives it from the workflow's rates."""
    sms = sms_setting or BULK_DEFAULT_MAX_CONCURRENCY
    email = ses_setting or BULK_DEFAULT_MAX_CONCURRENCY
    return {"sms": max(1, sms), "email": max(1, email), "both": max(1, min(sms, email))}


@dataclass(frozen=True)
class Capacity:
    """Every route at one rate, and the one to use."""

    workload: Workload
    account: Account
    routes: dict[str, RouteReport]

    @property
    def recommended(self) -> str:
        """The cheapest single-send route whose own quotas fit; when none fits, the one with
        the most headroom (bulk is for one message to many, see :func:`bulk_job`)."""
        candidates = [self.routes[r] for r in SINGLE_ROUTES]
        fitting = sorted((c for c in candidates if c.fits_aws), key=lambda c: c.cost.total)
        if fitting:
            return fitting[0].route
        return min(candidates, key=lambda c: c.binding_aws.utilisation).route

    def rate_settings(self) -> dict[str, int]:
        """The cdk.json send-rate keys for the provider quotas held, or for those the rate needs
        once raised (none when the workload runs without limits)."""
        if not self.workload.rate_limits:
            return {}
        report = self.routes[self.recommended]

        def held_or_needed(quota: Quota) -> float:
            load = report.load(quota.name)
            return max(quota.limit, quota_for(load.amount) if load else 0)

        q = quotas(self.account)
        return {"sesMaxSendRate": rate_setting(held_or_needed(q["ses_rate"])),
                "smsMaxPartsPerSecond": rate_setting(held_or_needed(q["sms"]))}

    def raise_first(self, route: str | None = None) -> list[str]:
        """What to raise before the rate fits on the route (default: the recommended one), the
        furthest over first."""
        report = self.routes[route or self.recommended]
        over = sorted((load for load in report.loads if load.utilisation > 1), key=lambda load: -load.utilisation)
        return [_raise_advice(load) for load in over]


def evaluate(workload: Workload, account: Account, states_entered: Mapping[str, int]) -> Capacity:
    return Capacity(workload, account, {
        route: RouteReport(route, route_loads(route, workload, account, states_entered),
                           monthly_cost(route, workload, states_entered))
        for route in ROUTES
    })


def _raise_advice(load: Load) -> str:
    """What to ask for (or change) when a load is over its quota."""
    need = _number(load.amount)
    name = load.quota.name
    if name == "SES maximum send rate":
        return f"SES maximum send rate to {_number(quota_for(load.amount))}/s"
    if name == "SES 24-hour quota":
        return f"SES 24-hour quota to {need}"
    if name == "SMS throughput":
        parts = quota_for(load.amount)
        codes = math.ceil(parts / 100)
        return f"SMS throughput to {_number(parts)} parts/s ({codes} short code{'s' if codes > 1 else ''} at 100)"
    if name == "DynamoDB writes, new on-demand table":
        return f"pre-warm the table to {need} writes/s"
    if name == "DynamoDB writes to one item":
        return (f"one item takes {need} writes/s ({load.note}), past a partition's 1,000: split the counter or "
                "run without that limit")
    if name == "concurrent pipe executions":
        return f"concurrent pipe executions to {need} (a support case)"
    return f"{name} to {need} {load.quota.unit}"


# ---- bulk jobs ------------------------------------------------------------------------------


_OWN_CONCURRENCY = "its MaxConcurrency"


@dataclass(frozen=True)
class BulkJob:
    """One message to ``recipients`` through BulkSend: how fast it goes, what holds it there,
    how long it takes and what it costs."""

    recipients: int
    channel: str
    max_concurrency: int
    rate: float  # recipients a second
    held_by: str
    cost: float

    @property
    def seconds(self) -> float:
        return math.inf if self.rate == 0 else self.recipients / self.rate

    @property
    def within_timeout(self) -> bool:
        return self.seconds <= BULK_TIMEOUT_SECONDS


def bulk_job(recipients: int, channel: str, account: Account, states_entered: Mapping[str, int], *,
             sms_parts: int = 1, email_recipients: int = 1, rate_limits: bool = True) -> BulkJob:
    """A bulk runs MaxConcurrency children at about one send a second each, so its rate is
    MaxConcurrency (from the send-rate settings, as BulkSend derives it), unless one of the bulk
    route's own quotas (or the provider's, without limits) holds it lower."""
    if not isinstance(recipients, int) or recipients < 0:
        raise ValueError(f"recipients must be a whole number, 0 or more, got {recipients!r}")
    if channel not in ("sms", "email", "both"):
        raise ValueError(f"a bulk's channel is sms, email or both, got {channel!r}")
    unit = Workload(rate=1.0, mix={channel: 1.0}, sms_parts=sms_parts, email_recipients=email_recipients,
                    rate_limits=rate_limits)
    sms_setting, ses_setting = (rate_setting(account.sms_mps), rate_setting(account.ses_rate)) if rate_limits \
        else (None, None)
    concurrency = bulk_max_concurrency(sms_setting, ses_setting)[channel]
    limits = [(concurrency / BULK_CHILD_SECONDS, _OWN_CONCURRENCY)]
    if sms_setting is not None and channel != "email":
        limits.append((sms_setting / sms_parts, "the SMS send-rate limit"))
    if ses_setting is not None and channel != "sms":
        limits.append((ses_setting / email_recipients, "the email send-rate limit"))
    # Each load grows with the rate: at one recipient a second it is the cost of one.
    for load in route_loads("bulk", unit, account, states_entered):
        if load.amount > 0 and (not load.quota.provider or not rate_limits):
            limits.append((load.quota.limit / load.amount, load.quota.name))
    rate, held_by = min(limits, key=lambda pair: pair[0])  # the first listed on a tie
    each = cost_per_notification("bulk", unit, states_entered).total
    return BulkJob(recipients, channel, concurrency, rate, held_by, each * recipients)


# ---- text -----------------------------------------------------------------------------------


def _number(value: float) -> str:
    if value == 0:
        return "0"
    if value < 10:
        return f"{value:.1f}".rstrip("0").rstrip(".")
    return f"{value:,.0f}"


def _duration(seconds: float) -> str:
    if math.isinf(seconds):
        return "never"
    for size, unit in ((SECONDS_PER_DAY, "days"), (3_600, "hours"), (60, "minutes")):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.0f} seconds"


def _fit(load: Load) -> str:
    if load.amount == 0:
        return "unused"
    if load.utilisation <= 1:
        return f"{load.headroom:.1f}x headroom"
    return f"{load.utilisation:.1f}x over"


def _cell(load: Load | None) -> str:
    return "-" if load is None else f"{_number(load.amount)} / {_number(load.quota.limit)}"


def _settings(capacity: Capacity) -> str:
    route = capacity.recommended
    rate = capacity.workload.rate
    if route == "buffered":
        pipes = math.ceil(rate * PIPE_EXECUTION_SECONDS)
        where = f'`"bufferedIngress": true` (Express; the pipe runs about {_number(pipes)} executions at once)'
    else:
        where = '`"workflowType": "STANDARD"`, started by the API'
    rates = ", ".join(f'`"{key}": {value}`' for key, value in capacity.rate_settings().items())
    return where + (f"; {rates}" if rates else "")


_COLUMNS = ("Standard StartExecution", "Express StartExecution", "Standard state transitions",
            "concurrent pipe executions", "Distributed Map children at once",
            "DynamoDB writes, new on-demand table", "DynamoDB writes to one item")


def scenario_table(scenarios: Sequence[tuple[str, Capacity]]) -> str:
    """Markdown: every route's load on every quota of its own, scenario by scenario."""
    header = ["volume", "route", "starts/s", "state transitions/s", "pipe or Map concurrency",
              "DynamoDB writes/s", "writes/s to one item", "first own quota to bind", "a month"]
    lines = ["| " + " | ".join(header) + " |", "|---|---|---:|---:|---:|---:|---:|---|---:|"]
    for label, capacity in scenarios:
        for route in ROUTES:
            report = capacity.routes[route]
            starts = report.load(_COLUMNS[0]) or report.load(_COLUMNS[1])
            concurrency = report.load(_COLUMNS[3]) or report.load(_COLUMNS[4])
            binding = report.binding_aws
            lines.append("| " + " | ".join([
                label, ROUTE_NAMES[route], _cell(starts), _cell(report.load(_COLUMNS[2])), _cell(concurrency),
                _cell(report.load(_COLUMNS[5])), _cell(report.load(_COLUMNS[6])),
                f"{binding.quota.name}: {_fit(binding)}", _money(report.cost.total),
            ]) + " |")
    return "\n".join(lines) + "\n"


def advice_table(scenarios: Sequence[tuple[str, Capacity]]) -> str:
    """Markdown: per scenario, the provider quotas it needs, the route and settings, what to raise."""
    header = ["volume", "a second", "SES recipients/s", "SES recipients a day", "SMS parts/s",
              "binds first", "use", "settings", "raise first"]
    lines = ["| " + " | ".join(header) + " |", "|---|---:|---:|---:|---:|---|---|---|---|"]
    for label, capacity in scenarios:
        report = capacity.routes[capacity.recommended]
        binding = report.binding
        raise_first = capacity.raise_first()
        lines.append("| " + " | ".join([
            label, _number(capacity.workload.rate),
            _cell(report.load("SES maximum send rate")), _cell(report.load("SES 24-hour quota")),
            _cell(report.load("SMS throughput")),
            f"{binding.quota.name}: {_fit(binding)}", ROUTE_NAMES[capacity.recommended], _settings(capacity),
            "; ".join(raise_first) if raise_first else "nothing",
        ]) + " |")
    return "\n".join(lines) + "\n"


def per_million(workload: Workload, states_entered: Mapping[str, int]) -> str:
    parts = []
    for route in ROUTES:
        each = cost_per_notification(route, workload, states_entered)
        detail = [("Step Functions", each.step_functions), ("SQS and Pipes", each.queue),
                  ("DynamoDB", each.dynamodb), ("SES", each.ses)]
        parts.append(f"{ROUTE_NAMES[route]} {_money(each.total * 1_000_000, cents=True)} ("
                     + ", ".join(f"{name} {_money(value * 1_000_000, cents=True)}" for name, value in detail if value)
                     + ")")
    return "; ".join(parts)


def readme_section(states_entered: Mapping[str, int], account: Account | None = None,
                   workload: Workload | None = None) -> str:
    """The README's capacity tables (the four scenarios of issue 13) and their assumptions."""
    account = account or Account()
    template = workload or Workload(rate=0.0)
    scenarios = [(label, evaluate(Workload(rate, template.mix, template.sms_parts, template.email_recipients,
                                           template.rate_limits), account, states_entered))
                 for label, rate in README_SCENARIOS]
    mix = ", ".join(f"{p} {template.share(p):.0%}" for p in PATHS if template.share(p))
    bulk = bulk_job(50_000, "sms", account, states_entered, sms_parts=template.sms_parts,
                    email_recipients=template.email_recipients, rate_limits=template.rate_limits)
    lines = [
        f"Generated by `make docs` from `tools/capacity.py` (`make capacity RATE=... RECIPIENTS=...` for "
        f"other figures). Assumed: a {account.region_class} Region (us-east-1, us-west-2, eu-west-1), the mix "
        f"{mix}, SES at {_number(account.ses_rate)} recipients/s and {_number(account.ses_daily)} a day "
        f"(a new production account), SMS at {_number(account.sms_mps)} parts/s (one US toll-free number), "
        f"send-rate limits at {RATE_SETTING_SHARE:.0%} of those.",
        "",
        "Load on each route's own quotas (load / quota):",
        "",
        scenario_table(scenarios).rstrip("\n"),
        "",
        "Provider quotas (the same on every route), the route to use and its settings:",
        "",
        advice_table(scenarios).rstrip("\n"),
        "",
        f"- Per million notifications of this mix: {per_million(template, states_entered)}. SMS carrier fees "
        "are left out (they vary by country); so are CloudWatch Logs (the executions log at level ALL), "
        "X-Ray, KMS requests and the API's own requests.",
        f"- \"A month\" is 30 days of the rate, sustained. A burst above a Standard refill is absorbed by "
        f"its bucket ({START_EXECUTION_BUCKET[account.region_class]:,} starts, 5,000 transitions) only for "
        "seconds; the buffered route's queue absorbs any burst and drains at what the quotas allow.",
        f"- States a notification enters: docs/states_entered.json plus {STATES_PER_SLOT} per limited send "
        f"(`Take*SlotCount`, then `Take*Slot`), `ReadQueuedRequest` on the buffered route and the bulk child's "
        f"{len(BULK_CHILD_STATES)} (one more transition billed for starting it). DynamoDB writes: the claim and "
        "the outcome (a rejection: one), each slot, a bulk child's count on its summary; records taken to be "
        "under 1 KB.",
        f"- Left out: sends the providers throttle. With a limit, each throttled attempt takes a slot again "
        f"(`Take*SlotAgain`, `Take*Slot`, the send): {THROTTLED_ATTEMPT_STATES} more states (on Standard, "
        f"billed transitions) and {THROTTLED_ATTEMPT_WRITES} more write on the channel's item, and it counts "
        "against the limit; with the limits below the quotas, throttling should be rare.",
        f"- Assumed, not measured: a pipe execution takes {PIPE_EXECUTION_SECONDS:g} s, a bulk child "
        f"{BULK_CHILD_SECONDS:g} s; Distributed Map children do not count against StartExecution, but each "
        "child's start of the workflow does; the Express durations of the cost table.",
        "- One item takes every slot of a channel's second (`rate#sms#<second>`) and every outcome of a bulk "
        "(`bulk#<bulkId>`): past 1,000 writes a second a partition throttles, so the send-rate limits "
        "hold to about 1,000 sends a second per channel. When a provider quota binds, sends beyond it wait "
        "in `Take*Slot`, retrying twice a second on that item, and fail `SendRateLimited` after half the "
        "timeout: raise the quota before the traffic comes.",
        f"- With the quotas held (no raise), {_bulk_line(bulk)}.",
    ]
    return "\n".join(lines) + "\n"


def _bulk_line(bulk: BulkJob) -> str:
    held = f"its MaxConcurrency, {bulk.max_concurrency}" if bulk.held_by == _OWN_CONCURRENCY else \
        f"{bulk.held_by} (MaxConcurrency {bulk.max_concurrency})"
    return (f"a bulk of {bulk.recipients:,} {bulk.channel} recipients runs at {_number(bulk.rate)} a second, held "
            f"by {held}: {_duration(bulk.seconds)}, "
            f"{_money(bulk.cost)}" + ("" if bulk.within_timeout else
                                      "; longer than BulkSend's 7-day timeout: raise `timeout` or split the list"))


def render(capacity: Capacity, states_entered: Mapping[str, int], bulk: BulkJob | None = None) -> str:
    """The command's report: every route's loads, the route to use, a bulk job."""
    workload, account = capacity.workload, capacity.account
    lines = [f"{_number(workload.rate)} notifications a second ({_number(workload.rate * SECONDS_PER_DAY)} a day), "
             f"{account.region_class} Region, SES {_number(account.ses_rate)}/s and {_number(account.ses_daily)} "
             f"a day, SMS {_number(account.sms_mps)} parts/s, send-rate limits "
             f"{'on' if workload.rate_limits else 'off'}", ""]
    for route in ROUTES:
        report = capacity.routes[route]
        lines.append(f"{ROUTE_NAMES[route]}: {_money(report.cost.total)} a month; binds first on "
                     f"{report.binding.quota.name} ({_fit(report.binding)})")
        for load in sorted(report.loads, key=lambda item: -item.utilisation):
            note = f" ({load.note})" if load.note and load.amount else ""
            lines.append(f"  {load.quota.name:<38} {_number(load.amount):>12} / {_number(load.quota.limit):<10} "
                         f"{load.quota.unit:<15} {_fit(load)}{note}")
        lines.append("")
    lines.append(f"use: {ROUTE_NAMES[capacity.recommended]}; {_settings(capacity)}")
    raise_first = capacity.raise_first()
    lines.append("raise first: " + ("; ".join(raise_first) if raise_first else "nothing"))
    lines.append(f"per million: {per_million(workload, states_entered)}")
    if bulk is not None:
        lines += ["", _bulk_line(bulk)]
    lines.append("SMS carrier fees are left out (they vary by country).")
    return "\n".join(lines) + "\n"


# ---- command --------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Which quota a notification rate meets first on each route, the route and settings to use, "
                    "and the monthly cost. Without --rate or --per-day: the README's four scenarios.")
    volume = parser.add_mutually_exclusive_group()
    volume.add_argument("--rate", type=float, help="notifications a second (the peak to size for)")
    volume.add_argument("--per-day", type=float, help="notifications a day, spread evenly")
    parser.add_argument("--recipients", type=int, default=0, help="also a bulk job of this many recipients")
    parser.add_argument("--bulk-channel", choices=("sms", "email", "both"), default="sms",
                        help="the bulk job's channel (default: sms)")
    parser.add_argument("--mix", default=",".join(f"{k}={v}" for k, v in DEFAULT_MIX.items()),
                        help="share of each path, e.g. sms=0.5,email=0.3,both=0.2 (default)")
    parser.add_argument("--region-class", choices=REGION_CLASSES, default="large",
                        help="large: us-east-1, us-west-2, eu-west-1 (default); other: any other Region")
    parser.add_argument("--ses-rate", type=float, default=DEFAULT_SES_RATE,
                        help=f"SES maximum send rate, recipients a second (default {DEFAULT_SES_RATE:g}, a new "
                             "production account; 1 in the sandbox)")
    parser.add_argument("--ses-daily", type=float, default=DEFAULT_SES_DAILY,
                        help=f"SES 24-hour quota (default {DEFAULT_SES_DAILY:,.0f}; 200 in the sandbox)")
    parser.add_argument("--sms-mps", type=float, default=DEFAULT_SMS_MPS,
                        help=f"SMS parts a second of your origination identities (default {DEFAULT_SMS_MPS:g}: one "
                             "US toll-free number; 10DLC 1 to 75, a short code 100)")
    parser.add_argument("--sms-parts", type=int, default=1,
                        help="parts per SMS (default 1: up to 160 GSM-7 characters)")
    parser.add_argument("--email-recipients", type=int, default=1, help="recipients per email (default 1)")
    parser.add_argument("--no-rate-limits", action="store_true",
                        help="price the workflow without send-rate limits (no Take*SlotCount/Take*Slot states)")
    args = parser.parse_args(argv)
    try:
        account = Account(args.region_class, args.ses_rate, args.ses_daily, args.sms_mps)
        options: dict[str, Any] = {"mix": parse_mix(args.mix), "sms_parts": args.sms_parts,
                                   "email_recipients": args.email_recipients, "rate_limits": not args.no_rate_limits}
        if args.rate is None and args.per_day is None:
            template = Workload(rate=0.0, **options)
            workloads = None
        else:
            template = Workload(rate=args.rate, **options) if args.rate is not None else \
                Workload.per_day(args.per_day, **options)
            workloads = template
        states_entered = load_states_entered()
        bulk = bulk_job(args.recipients, args.bulk_channel, account, states_entered, sms_parts=args.sms_parts,
                        email_recipients=args.email_recipients, rate_limits=not args.no_rate_limits) \
            if args.recipients else None
    except ValueError as error:
        parser.error(str(error))
    if workloads is None:
        print(readme_section(states_entered, account, template), end="")
        if bulk is not None:
            print("\n" + _bulk_line(bulk))
    else:
        print(render(evaluate(workloads, account, states_entered), states_entered, bulk), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
