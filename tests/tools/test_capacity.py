"""tools/capacity.py against hand-computed cases, its constants against the definitions they
describe, and the README's capacity section against what the model renders now.

The arithmetic uses the states entered measured for the dev stack (docs/states_entered.json):
sms 4, email 4, both 6, rejected 3. With send-rate limits each send adds two states
(``Take...SlotCount``, a Pass, then ``Take...Slot``) and one write (the slot): sms 6, email 6,
both 10. The default mix is sms 50%, email 30%, both 20%.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from constructs_lib import BulkSend, NotificationWorkflow
from tools import capacity
from tools._asl import all_states, definition, pick_stack, state_machines
from tools.capacity import Account, Workload, bulk_job, evaluate
from tools.cost import PATHS, STATES_ENTERED_PATH
from tools.docs import README_PATH, read_section, render_capacity

STATES = {"sms": 4, "email": 4, "both": 6, "rejected": 3}


def ample(region_class: str = "large") -> Account:
    """Provider quotas no case below comes near, so only the routes' own quotas can bind."""
    return Account(region_class, ses_rate=1e6, ses_daily=1e12, sms_mps=1e6)

WRITE_TASKS = ("dynamodb:putItem", "dynamodb:updateItem")


def _load(report: capacity.RouteReport, name: str) -> capacity.Load:
    load = report.load(name)
    assert load is not None, name
    return load


# ---- which quota binds first --------------------------------------------------------------


def test_1000_a_second_on_standard_in_a_large_region_binds_on_the_start_execution_refill() -> None:
    # Without send-rate limits (the dev stack): 1,000 starts/s against a refill of 300 -> 3.33x over;
    # transitions 0.5*4 + 0.3*4 + 0.2*6 = 4.4 a notification -> 4,400/s against 1,500 -> 2.93x;
    # DynamoDB 2 writes each -> 2,000/s against 4,000 -> 0.5.
    result = evaluate(Workload(rate=1_000, rate_limits=False), ample(), STATES).routes["standard"]

    assert result.binding.quota.name == "Standard StartExecution"
    assert result.binding.amount == 1_000 and result.binding.quota.limit == 300
    assert result.binding.headroom == pytest.approx(0.3)
    transitions = _load(result, "Standard state transitions")
    assert transitions.amount == pytest.approx(4_400)
    assert transitions.utilisation == pytest.approx(4_400 / 1_500)
    assert _load(result, "DynamoDB writes, new on-demand table").amount == pytest.approx(2_000)
    assert not result.fits_aws


def test_with_send_rate_limits_standard_at_1000_a_second_meets_state_transitions_first() -> None:
    # Each limited send adds two states (count, slot): 0.5*6 + 0.3*6 + 0.2*10 = 3 + 1.8 + 2 = 6.8 a
    # notification -> 6,800/s, 4.53x over 1,500, ahead of StartExecution's 3.33x; DynamoDB 3.2
    # writes each (unchanged: the count is a Pass) -> 3,200/s of 4,000.
    result = evaluate(Workload(rate=1_000), ample(), STATES).routes["standard"]

    assert result.binding_aws.quota.name == "Standard state transitions"
    assert result.binding_aws.amount == pytest.approx(6_800)
    assert result.binding_aws.utilisation == pytest.approx(6_800 / 1_500)
    assert _load(result, "Standard StartExecution").utilisation == pytest.approx(1_000 / 300)
    assert _load(result, "DynamoDB writes, new on-demand table").amount == pytest.approx(3_200)


def test_other_regions_refill_standard_starts_at_half_the_rate() -> None:
    # 200 starts/s: 200/300 fits a large Region, 200/150 = 1.33x over elsewhere.
    large = evaluate(Workload(rate=200, rate_limits=False), ample(), STATES).routes["standard"]
    other = evaluate(Workload(rate=200, rate_limits=False), ample("other"), STATES).routes["standard"]

    assert _load(large, "Standard StartExecution").utilisation == pytest.approx(200 / 300)
    assert _load(other, "Standard StartExecution").utilisation == pytest.approx(200 / 150)
    assert large.fits_aws and not other.fits_aws


def test_10000_a_second_buffered_binds_on_dynamodb_writes_before_express_starts() -> None:
    # Writes with limits: sms 2+1, email 2+1, both 2+2 -> 0.5*3 + 0.3*3 + 0.2*4 = 3.2 a notification
    # -> 32,000/s against a new table's 4,000: 8x over. SMS slots: 10,000 * (0.5 + 0.2) = 7,000
    # writes/s on one item (7x over 1,000). Express: 10,000/6,000 = 1.67x. Pipe: 10,000 * 0.1 s =
    # 1,000 executions against 3,000.
    result = evaluate(Workload(rate=10_000), ample(), STATES).routes["buffered"]

    assert result.binding.quota.name == "DynamoDB writes, new on-demand table"
    assert result.binding.amount == pytest.approx(32_000)
    assert result.binding.utilisation == pytest.approx(8.0)
    item = _load(result, "DynamoDB writes to one item")
    assert item.amount == pytest.approx(7_000)
    assert item.note == "rate#sms#<second>"
    assert _load(result, "Express StartExecution").utilisation == pytest.approx(10_000 / 6_000)
    assert _load(result, "concurrent pipe executions").amount == pytest.approx(1_000)
    assert [load.quota.name for load in result.loads if load.utilisation > 1] == [
        "Express StartExecution", "DynamoDB writes, new on-demand table", "DynamoDB writes to one item"]


def test_the_pipe_meets_its_account_quota_at_10000_a_second_outside_the_large_regions() -> None:
    # 1,000 executions at once against 1,000: exactly full, which still fits.
    result = evaluate(Workload(rate=10_000), ample("other"), STATES).routes["buffered"]
    assert _load(result, "concurrent pipe executions").utilisation == pytest.approx(1.0)
    result = evaluate(Workload(rate=10_001), ample("other"), STATES).routes["buffered"]
    assert _load(result, "concurrent pipe executions").utilisation > 1


def test_the_ses_rate_binds_when_every_notification_is_an_email() -> None:
    # 20 emails/s of 3 recipients each = 60 recipients/s against a rate of 14: 4.29x over. The own
    # quotas: 20*6 = 120 transitions/s of 1,500 (0.08) bind ahead of 20 starts/s of 300 (1/15,
    # 0.067); 20*3 = 60 writes/s of 4,000.
    account = Account(ses_rate=14, ses_daily=1e12, sms_mps=1e6)
    result = evaluate(Workload(rate=20, mix={"email": 1.0}, email_recipients=3), account, STATES)
    standard = result.routes["standard"]

    assert standard.binding.quota.name == "SES maximum send rate"
    assert standard.binding.amount == pytest.approx(60)
    assert standard.binding.utilisation == pytest.approx(60 / 14)
    assert standard.binding_aws.quota.name == "Standard state transitions"
    assert standard.binding_aws.utilisation == pytest.approx(120 / 1_500)
    assert _load(standard, "Standard StartExecution").utilisation == pytest.approx(1 / 15)
    assert _load(standard, "DynamoDB writes, new on-demand table").amount == pytest.approx(60)
    # Carrying 60/s takes sesMaxSendRate 60, so a quota of ceil(60 / 0.9) = 67.
    assert result.raise_first("standard") == ["SES maximum send rate to 67/s"]
    assert result.rate_settings()["sesMaxSendRate"] == 60


def test_sms_sends_count_their_parts_and_both_sends_count_on_each_channel() -> None:
    # 10/s of 2-part SMS, mix sms 50% and both 50%: every notification sends an SMS -> 20 parts/s;
    # half send an email -> 5 recipients/s, 432,000 in a day.
    result = evaluate(Workload(rate=10, mix={"sms": 0.5, "both": 0.5}, sms_parts=2), Account(), STATES)
    report = result.routes["buffered"]
    assert _load(report, "SMS throughput").amount == pytest.approx(20)
    assert _load(report, "SES maximum send rate").amount == pytest.approx(5)
    assert _load(report, "SES 24-hour quota").amount == pytest.approx(432_000)


# ---- route and settings -----------------------------------------------------------------


def test_a_million_a_day_goes_buffered_as_the_cheaper_route_that_fits() -> None:
    result = evaluate(Workload.per_day(1_000_000), ample(), STATES)

    assert result.workload.rate == pytest.approx(1_000_000 / 86_400)
    assert result.routes["standard"].fits_aws and result.routes["buffered"].fits_aws
    assert result.recommended == "buffered"


def test_when_no_route_fits_the_one_with_most_headroom_is_recommended_with_what_to_raise() -> None:
    # 10,000/s: Standard is 68,000/1,500 = 45.3x over on transitions, buffered 8x over on writes.
    result = evaluate(Workload(rate=10_000), ample(), STATES)

    assert result.recommended == "buffered"
    assert result.raise_first() == [
        "pre-warm the table to 32,000 writes/s",
        "one item takes 7,000 writes/s (rate#sms#<second>), past a partition's 1,000: split the counter or run "
        "without that limit",
        "Express StartExecution to 10,000 starts/s",
    ]


def test_rate_settings_stay_a_little_below_the_quotas() -> None:
    assert capacity.rate_setting(14) == 12  # floor(12.6)
    assert capacity.rate_setting(3) == 2  # floor(2.7)
    assert capacity.rate_setting(1) == 1  # floor(0.9) is 0, but a limit is at least 1
    assert capacity.rate_setting(100) == 90
    assert capacity.quota_for(500) == 556  # ceil(500 / 0.9), and floor(556 * 0.9) = 500
    assert capacity.quota_for(8.1) == 10  # a setting of 9 needs ceil(9 / 0.9) = 10
    # With the quotas held (14 and 3) at 1 notification/s of the default mix (0.5 emails/s, 0.7 parts/s):
    result = evaluate(Workload(rate=1), Account(), STATES)
    assert result.rate_settings() == {"sesMaxSendRate": 12, "smsMaxPartsPerSecond": 2}
    assert evaluate(Workload(rate=1, rate_limits=False), Account(), STATES).rate_settings() == {}


# ---- cost -------------------------------------------------------------------------------


def test_cost_of_a_million_a_day_on_each_route() -> None:
    # A month is 30 days: 30,000,000 notifications. Per notification, with send-rate limits:
    # - Standard: 6.8 transitions * $0.000025 = $0.00017 -> $5,100; DynamoDB 3.2 writes * $0.625/M
    #   -> $60; SES 0.5 recipients * $0.0001 -> $1,500. Total $6,660.
    # - buffered: Express $1/M + 64 MB * (300 ms for sms and email, 400 ms for both) at
    #   $0.00001667/GB-s: 0.8 * 1.3125625e-6 + 0.2 * 1.41675e-6 = 1.3334e-6 -> $40.002; SQS 3 requests
    #   and Pipes 1 at $0.40/M -> $48; DynamoDB $60; SES $1,500. Total $1,648.002.
    #   (Express is priced by duration: the count states change nothing here.)
    # - bulk: transitions sms 6+7+1 = 14, email 14, both 10+7+1 = 18 (the child's 7 and its start):
    #   0.5*14 + 0.3*14 + 0.2*18 = 7 + 4.2 + 3.6 = 14.8 * $0.000025 = $0.00037 -> $11,100; DynamoDB
    #   4.2 writes and 1 read (4.2 * $0.625 + $0.125 = $2.75 per million) -> $82.50; SES $1,500.
    #   Total $12,682.50.
    result = evaluate(Workload.per_day(1_000_000), Account(), STATES).routes

    standard, buffered, bulk = result["standard"].cost, result["buffered"].cost, result["bulk"].cost
    assert standard.step_functions == pytest.approx(5_100)
    assert standard.queue == 0
    assert standard.dynamodb == pytest.approx(60)
    assert standard.ses == pytest.approx(1_500)
    assert standard.total == pytest.approx(6_660)
    assert buffered.step_functions == pytest.approx(40.002)
    assert buffered.queue == pytest.approx(48)
    assert buffered.total == pytest.approx(1_648.002)
    assert bulk.step_functions == pytest.approx(11_100)
    assert bulk.dynamodb == pytest.approx(82.5)
    assert bulk.ses == pytest.approx(1_500)
    assert bulk.total == pytest.approx(12_682.5)


# ---- bulk jobs --------------------------------------------------------------------------


def test_a_bulk_sms_job_at_the_default_quotas_goes_at_its_max_concurrency() -> None:
    # SMS at 3 parts/s -> smsMaxPartsPerSecond 2 -> MaxConcurrency 2, about 2 recipients/s:
    # 50,000 take 25,000 s. Each costs 6+7+1 = 14 transitions ($0.00035), 4 writes (claim, slot,
    # outcome, count: $2.5e-6) and a read ($0.125e-6): $0.000352625 -> $17.63 for 50,000.
    job = bulk_job(50_000, "sms", Account(), STATES)

    assert (job.max_concurrency, job.rate, job.held_by) == (2, 2, "its MaxConcurrency")
    assert job.seconds == pytest.approx(25_000)
    assert job.cost == pytest.approx(17.63125)
    assert job.within_timeout


def test_a_bulk_with_ample_providers_is_held_by_state_transitions() -> None:
    # SMS 1,000 parts/s -> setting 900 -> MaxConcurrency 900. A recipient costs 14 transitions:
    # 1,500 / 14 = 107.1 recipients/s, below StartExecution's 300, the 1,000 writes/s of one item and
    # a new table's 4,000 (4 writes a recipient: 1,000/s).
    job = bulk_job(50_000, "sms", Account(sms_mps=1_000), STATES)

    assert job.max_concurrency == 900
    assert job.held_by == "Standard state transitions"
    assert job.rate == pytest.approx(1_500 / 14)
    assert job.seconds == pytest.approx(50_000 * 14 / 1_500)


def test_a_bulk_of_two_part_sms_is_held_by_the_send_rate_limit_not_its_concurrency() -> None:
    # smsMaxPartsPerSecond 90 (quota 100) -> MaxConcurrency 90, but 2 parts a send -> 45 sends/s.
    job = bulk_job(4_500, "sms", Account(sms_mps=100), STATES, sms_parts=2)
    assert (job.max_concurrency, job.rate, job.held_by) == (90, 45, "the SMS send-rate limit")
    assert job.seconds == pytest.approx(100)


def test_a_bulk_longer_than_its_timeout_says_so() -> None:
    # 2 recipients/s: 7 days hold 1,209,600 of them.
    assert bulk_job(1_209_600, "sms", Account(), STATES).within_timeout
    assert not bulk_job(1_209_601, "sms", Account(), STATES).within_timeout


# ---- refused input ------------------------------------------------------------------------


@pytest.mark.parametrize(("build", "message"), [
    (lambda: Workload(rate=-1), "the rate must be 0 or more notifications a second, got -1"),
    (lambda: Workload(rate=math.inf), "the rate must be 0 or more"),
    (lambda: Workload.per_day(-5), "notifications a day must be 0 or more, got -5"),
    (lambda: Workload(rate=1, mix={"sms": 0.5}), "add up to 1"),
    (lambda: Workload(rate=1, mix={"fax": 1.0}), "add up to 1"),
    (lambda: Workload(rate=1, email_recipients=51), "1 to 50"),
    (lambda: Account(region_class="huge"), "large, other"),
    (lambda: Account(ses_rate=0), "the SES maximum send rate must be a number above 0, got 0"),
    (lambda: bulk_job(-1, "sms", Account(), STATES), "recipients must be a whole number, 0 or more"),
    (lambda: bulk_job(10, "fax", Account(), STATES), "sms, email or both"),
])
def test_bad_input_is_refused_with_what_was_wrong(build: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build()


def test_the_command_refuses_a_negative_rate(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        capacity.main(["--rate", "-5"])
    assert exit_info.value.code == 2
    assert "the rate must be 0 or more notifications a second, got -5.0" in capsys.readouterr().err


def test_the_command_reports_the_route_to_use_and_the_bulk_job(capsys: pytest.CaptureFixture[str]) -> None:
    assert capacity.main(["--per-day", "1000000", "--recipients", "50000"]) == 0
    out = capsys.readouterr().out
    assert "use: buffered: SQS -> Pipe -> Express" in out
    assert "binds first on SES 24-hour quota (10.0x over)" in out  # 500,000 recipients a day of 50,000
    assert "a bulk of 50,000 sms recipients runs at 2 a second" in out


# ---- the constants against the definitions -----------------------------------------------


def _writes(states: dict[str, Any], names: list[str]) -> int:
    return sum(str(states[name].get("Resource", "")).endswith(WRITE_TASKS) for name in names)


def test_dynamodb_writes_per_path_are_the_write_tasks_each_path_enters(synthesized: Any) -> None:
    """docs/states_entered.json names the states each path enters; the dev stack's definition
    says which of them write to DynamoDB."""
    recorded = json.loads(STATES_ENTERED_PATH.read_text())["paths"]
    _, template = pick_stack(synthesized.templates)
    states = dict(all_states(definition(template)))

    counted = {path: _writes(states, recorded[path]["states"]) for path in PATHS}

    assert counted == capacity.DYNAMODB_WRITES


@dataclass(frozen=True)
class Limited:
    workflow: dict[str, Any]  # the ASL of a workflow with both send-rate limits
    bulk: dict[str, Any]  # the ASL of a BulkSend over it
    concurrency: dict[str, int]  # the BulkSend's MaxConcurrency by channel


@pytest.fixture(scope="module")
def limited() -> Limited:
    """A workflow with both send-rate limits (sms 20, email 14) and a BulkSend over it."""
    stack = cdk.Stack(cdk.App(), "CapacityProbe")
    workflow = NotificationWorkflow(stack, "Workflow", sender="notifications@example.com",
                                    email_identities=["example.com"], sms_max_parts_per_second=20,
                                    ses_max_send_rate=14)
    bulk = BulkSend(stack, "Bulk", workflow=workflow)
    machines = list(state_machines(dict(Template.from_stack(stack).to_json())).values())
    bulk_asl = next(asl for asl in machines if "ReadBulk" in asl["States"])
    workflow_asl = next(asl for asl in machines if "ValidateRequest" in asl["States"])
    return Limited(workflow_asl, bulk_asl, bulk.max_concurrency_by_channel)


def test_each_limited_send_enters_a_count_then_a_slot_that_writes_before_it_sends(limited: Limited) -> None:
    states = dict(all_states(limited.workflow))
    sends = {"TakeSmsSlot": "SendSms", "TakeEmailSlot": "SendEmail",
             "TakeSmsSlotOfBoth": "SendSmsOfBoth", "TakeEmailSlotOfBoth": "SendEmailOfBoth"}

    slots = [name for names in capacity.SLOT_STATES.values() for name in names]

    assert sorted(slots) == sorted(sends)
    for slot in slots:
        assert states[slot]["Resource"].endswith("dynamodb:updateItem"), slot
        assert states[slot]["Next"] == sends[slot], slot
        # Entered first: the Pass that starts the count of throttled attempts.
        assert (states[f"{slot}Count"]["Type"], states[f"{slot}Count"]["Next"]) == ("Pass", slot)
        assert _writes(states, [f"{slot}Count", slot]) == 1
    assert capacity.STATES_PER_SLOT == 2


def test_a_throttled_attempt_enters_the_states_the_readme_says_are_left_out(limited: Limited) -> None:
    """Not modelled, but said in the README: a throttled send goes back through
    ``Take...SlotAgain`` to its slot and sends again."""
    states = dict(all_states(limited.workflow))
    sends = {"TakeSmsSlot": "SendSms", "TakeEmailSlot": "SendEmail",
             "TakeSmsSlotOfBoth": "SendSmsOfBoth", "TakeEmailSlotOfBoth": "SendEmailOfBoth"}
    for slot, send in sends.items():
        throttled = [c for c in states[send]["Catch"] if any("Thrott" in e or "TooMany" in e for e in c["ErrorEquals"])]
        assert [c["Next"] for c in throttled] == [f"{slot}Again"], send
        again = states[f"{slot}Again"]
        assert (again["Type"], again["Default"]) == ("Choice", slot)
        attempt = [f"{slot}Again", slot, send]
        assert len(attempt) == capacity.THROTTLED_ATTEMPT_STATES
        assert _writes(states, attempt) == capacity.THROTTLED_ATTEMPT_WRITES


def test_a_bulk_recipient_enters_the_child_states_the_model_counts(limited: Limited) -> None:
    maps = [state for _, state in all_states(limited.bulk) if "ItemProcessor" in state]
    assert len(maps) == 1  # no recipients_bucket: inline recipients only (S3 lists run the same child)
    child = maps[0]["ItemProcessor"]
    # The sent recipient's way through: each state's Next, a Choice's Default.
    walked, name = [], child["StartAt"]
    while name is not None:
        walked.append(name)
        state = child["States"][name]
        name = state.get("Next", state.get("Default"))

    assert tuple(walked) == capacity.BULK_CHILD_STATES
    assert _writes(child["States"], walked) == capacity.BULK_CHILD_WRITES
    assert sum(child["States"][n].get("Resource", "").endswith("dynamodb:getItem") for n in walked) == \
        capacity.BULK_CHILD_READS


def test_bulk_max_concurrency_is_what_bulk_send_derives_from_the_rates(limited: Limited) -> None:
    assert capacity.bulk_max_concurrency(20, 14) == limited.concurrency == \
        {"sms": 20, "email": 14, "both": 14}
    assert capacity.bulk_max_concurrency(None, None) == {"sms": 10, "email": 10, "both": 10}


# ---- README -------------------------------------------------------------------------------


def test_readme_capacity_section_is_current() -> None:
    section = read_section(README_PATH.read_text(), "capacity")
    assert section == render_capacity().strip("\n") + "\n", "README capacity section is stale: run `make docs`"
    for label, _ in capacity.README_SCENARIOS:
        assert f"| {label} |" in section
