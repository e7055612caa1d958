"""Send-rate limits (issue 13 part 3): with ``sms_max_parts_per_second`` and ``ses_max_send_rate``
every send first takes its units of the second's budget, so concurrent executions hand the
providers no more than configured; a send that cannot get a slot in time is FAILED, not lost."""

from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

import aws_cdk as cdk
import pytest

from constructs_lib import NotificationWorkflow
from local_aws import ExecutionResult, LocalAws
from tests.behaviour.conftest import SENDER, Deployment, new_id

PHONE = "+15555550100"
SMS_PER_SECOND = 2
EMAILS_PER_SECOND = 3


def _deploy(local_aws: LocalAws, tmp_path_factory: pytest.TempPathFactory, name: str, **props: Any) -> Deployment:
    app = cdk.App(outdir=str(tmp_path_factory.mktemp(name)), analytics_reporting=False)
    stack = cdk.Stack(app, name)
    NotificationWorkflow(stack, "Workflow", sender=SENDER, email_identities=["example.com"], **props)
    template = app.synth().get_stack_by_name(name).template
    return Deployment(aws=local_aws, stack=local_aws.deploy_template(name, template))


@pytest.fixture(scope="module")
def limited(local_aws: LocalAws, tmp_path_factory: pytest.TempPathFactory) -> Deployment:
    return _deploy(local_aws, tmp_path_factory, "NotifyLimited", sms_max_parts_per_second=SMS_PER_SECOND,
                   ses_max_send_rate=EMAILS_PER_SECOND)


def _run_all(deployment: Deployment, requests: list[dict[str, Any]]) -> list[ExecutionResult]:
    with ThreadPoolExecutor(max_workers=len(requests)) as pool:
        return list(pool.map(lambda r: deployment.aws.start_and_wait(
            deployment.stack.state_machine_arn, r, name=new_id(), timeout_s=120), requests))


def _calls(results: list[ExecutionResult], state: str) -> list[datetime]:
    """When each execution's ``state`` called its provider (TaskScheduled of that state)."""
    moments = []
    for result in results:
        entered = False
        for event in result.events:
            if event["type"].endswith("StateEntered"):
                entered = event["stateEnteredEventDetails"]["name"] == state
            elif entered and event["type"] == "TaskScheduled":
                moments.append(event["timestamp"])
                entered = False
    return sorted(moments)


def test_concurrent_sms_are_spread_over_seconds_at_the_configured_rate(limited: Deployment) -> None:
    requests = [{"notificationId": new_id("r"), "channel": "sms", "message": f"rate {i}", "phoneNumber": PHONE}
                for i in range(8)]

    before = {i["notificationId"] for i in limited.records()}
    results = _run_all(limited, requests)

    assert [r.status for r in results] == ["SUCCEEDED"] * 8
    assert all(r.states_entered == ["ValidateRequest", "ClaimSms", "TakeSmsSlotCount", "TakeSmsSlot", "SendSms",
                                    "RecordOutcome"] for r in results)
    calls = _calls(results, "SendSms")
    assert len(calls) == 8
    # Each second's budget was taken, never more: 8 sends at 2 a second took 4 seconds' budgets.
    counters = [i for i in limited.records()
                if i["notificationId"].startswith("rate#sms#") and i["notificationId"] not in before]
    assert all(c["used"] <= SMS_PER_SECOND for c in counters)
    assert sum(c["used"] for c in counters) == 8 and len(counters) >= 8 / SMS_PER_SECOND
    assert (calls[-1] - calls[0]).total_seconds() >= 8 / SMS_PER_SECOND - 2
    busiest = Counter(int(c.timestamp()) for c in calls).most_common(1)[0][1]
    print(f"\nSMS calls per calendar second at most {busiest} (limit {SMS_PER_SECOND} a second by slot)")


def test_a_long_sms_takes_its_parts_and_an_email_its_recipients(limited: Deployment) -> None:
    long_sms = {"notificationId": new_id("r"), "channel": "sms", "message": "x" * 400, "phoneNumber": PHONE}
    email = {"notificationId": new_id("r"), "channel": "email", "message": "hi",
             "email": {"to": ["a@example.org", "b@example.org"], "cc": ["c@example.org"]}}

    before = {i["notificationId"] for i in limited.records()}
    sms_result, email_result = _run_all(limited, [long_sms, email])

    assert sms_result.status == email_result.status == "SUCCEEDED"
    assert "TakeEmailSlot" in email_result.states_entered
    counters = {i["notificationId"]: i["used"] for i in limited.records()
                if i["notificationId"].startswith("rate#") and i["notificationId"] not in before}
    # 400 GSM characters are 3 parts, capped at the 2 a second; 3 recipients take 3.
    assert [v for k, v in counters.items() if k.startswith("rate#sms#")] == [SMS_PER_SECOND]
    assert [v for k, v in counters.items() if k.startswith("rate#email#")] == [EMAILS_PER_SECOND]


def test_a_send_that_cannot_get_a_slot_in_time_is_recorded_failed(
    local_aws: LocalAws, tmp_path_factory: pytest.TempPathFactory
) -> None:
    deployment = _deploy(local_aws, tmp_path_factory, "NotifyStarved", sms_max_parts_per_second=1,
                         timeout=cdk.Duration.seconds(10), task_timeout=cdk.Duration.seconds(2))
    now = int(time.time())
    table = local_aws.client("dynamodb")
    for second in range(now, now + 30):  # every slot of the next 30 seconds is taken
        table.put_item(TableName=deployment.stack.table_name, Item={
            "notificationId": {"S": f"rate#sms#{second}"}, "used": {"N": "1"}})
    request = {"notificationId": new_id("r"), "channel": "sms", "message": "starved", "phoneNumber": PHONE}

    result = deployment.run(request)

    assert (result.status, result.error) == ("FAILED", "DeliveryFailed")
    assert result.states_entered[-3:] == ["TakeSmsSlot", "RecordFailed", "DeliveryFailed"]
    record = deployment.record(request["notificationId"])
    assert (record["status"], record["results"]["sms"]["error"]) == ("FAILED", "SendRateLimited")
    assert not [m for m in local_aws.sms_messages() if m.message == "starved"]


def test_a_throttled_send_takes_a_slot_again_before_it_is_sent(limited: Deployment) -> None:
    """Provider throttling is not retried in place, past the rate: each new attempt takes a slot of
    its second first, so retries count against the configured rate too."""
    from moto.sns.models import SNSBackend

    from local_aws import inject_fault
    from local_aws.faults import sns_throttled

    request = {"notificationId": new_id("r"), "channel": "sms", "message": "throttled once", "phoneNumber": PHONE}
    before = {i["notificationId"] for i in limited.records()}

    with inject_fault(SNSBackend, "publish", sns_throttled, times=2):
        result = limited.run(request)

    assert result.status == "SUCCEEDED", result.cause
    assert result.states_entered == ["ValidateRequest", "ClaimSms", "TakeSmsSlotCount",
                                     *["TakeSmsSlot", "SendSms", "TakeSmsSlotAgain"] * 2,
                                     "TakeSmsSlot", "SendSms", "RecordOutcome"]
    slots = sum(i["used"] for i in limited.records()
                if i["notificationId"].startswith("rate#sms#") and i["notificationId"] not in before)
    assert slots == 3  # one slot per attempt: the two throttled ones and the one that went out
    assert limited.record(request["notificationId"])["status"] == "SENT"


def test_a_send_throttled_past_its_retries_is_recorded_failed_with_the_throttling(limited: Deployment) -> None:
    from moto.sns.models import SNSBackend

    from local_aws import inject_fault
    from local_aws.faults import sns_throttled

    request = {"notificationId": new_id("r"), "channel": "sms", "message": "always throttled", "phoneNumber": PHONE}

    with inject_fault(SNSBackend, "publish", sns_throttled, times=20):
        result = limited.run(request)

    assert (result.status, result.error) == ("FAILED", "DeliveryFailed")
    assert result.states_entered.count("SendSms") == 4  # the first attempt and the policy's 3 retries
    assert result.states_entered[-4:] == ["TakeSmsSlotAgain", "TakeSmsSlotGaveUp", "RecordFailed", "DeliveryFailed"]
    record = limited.record(request["notificationId"])
    assert (record["status"], record["results"]["sms"]["error"]) == ("FAILED", "SNS.ThrottledException")
