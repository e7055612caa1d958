"""Retry waits are recorded instead of slept; injected faults surface under the expected names."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError
from moto.sns.models import SNSBackend

from local_aws import (
    LocalAws,
    inject_fault,
    record_retry_sleeps,
    ses_message_rejected,
    ses_send_email_fault,
    ses_too_many_requests,
    sesv2_send_email_fault,
    sns_internal_error,
    sns_invalid_parameter,
    sns_publish_fault,
    sns_throttled,
)
from local_aws.faults import ErrorFactory
from tests.support.jitter import assert_full_jitter

ROLE = "arn:aws:iam::123456789012:role/workflow"


def _machine(local: LocalAws, task: dict[str, Any], name: str) -> str:
    definition = {"StartAt": "Send", "States": {"Send": {**task, "Type": "Task", "End": True}}}
    arn: str = local.client("stepfunctions").create_state_machine(
        name=name, definition=json.dumps(definition), roleArn=ROLE
    )["stateMachineArn"]
    return arn


def _sms_task(retry: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    task: dict[str, Any] = {
        "Resource": "arn:aws:states:::sns:publish",
        "Parameters": {"PhoneNumber": "+15555550100", "Message": "hi"},
    }
    if retry is not None:
        task["Retry"] = retry
    return task


SESV2_TASK: dict[str, Any] = {
    "Resource": "arn:aws:states:::aws-sdk:sesv2:sendEmail",
    "Parameters": {
        "FromEmailAddress": "noreply@example.com",
        "Destination": {"ToAddresses": ["ana@example.org"]},
        "Content": {"Simple": {"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "b"}}}},
    },
}

SES_V1_TASK: dict[str, Any] = {
    "Resource": "arn:aws:states:::aws-sdk:ses:sendEmail",
    "Parameters": {
        "Source": "noreply@example.com",
        "Destination": {"ToAddresses": ["ana@example.org"]},
        "Message": {"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "b"}}},
    },
}

BACKOFF = {"ErrorEquals": ["States.ALL"], "IntervalSeconds": 2, "BackoffRate": 2, "MaxAttempts": 3}


def test_retry_intervals_are_recorded_without_waiting(local: LocalAws) -> None:
    arn = _machine(local, _sms_task([BACKOFF]), "retry")
    started = time.monotonic()

    with record_retry_sleeps() as sleeps, sns_publish_fault(sns_throttled, times=10) as fault:
        result = local.start_and_wait(arn, {})

    assert sleeps.intervals == [2.0, 4.0, 8.0]
    assert fault.calls == 4  # first attempt + MaxAttempts retries
    assert result.error == "SNS.ThrottledException"
    assert time.monotonic() - started < 2.0


def test_full_jitter_draws_each_wait_at_random_below_its_backoff(local: LocalAws) -> None:
    """FULL jitter waits a uniform random time in [0, backoff]; a fixed 2/4/8 s schedule fails here.
    Over 4 executions of 3 retries each (12 waits), every wait lies in [0, its backoff], no two
    waits of the same attempt are equal, some wait is below 3/4 of its backoff and some above 1/4.
    A correct engine fails the last check only if all 12 land in one outer quarter: probability
    2 * (1/4)**12, about 1.2e-7; equal random floats are rarer still."""
    runs, backoffs = 4, [2.0, 4.0, 8.0]
    arn = _machine(local, _sms_task([{**BACKOFF, "JitterStrategy": "FULL"}]), "jitter")

    with record_retry_sleeps() as sleeps, sns_publish_fault(sns_throttled, times=4 * runs) as fault:
        results = [local.start_and_wait(arn, {}) for _ in range(runs)]

    assert [r.error for r in results] == ["SNS.ThrottledException"] * runs
    assert fault.calls == 4 * runs and len(sleeps.intervals) == 3 * runs
    assert_full_jitter(sleeps.intervals, backoffs, runs)


def test_transient_fault_then_success_is_retried(local: LocalAws) -> None:
    arn = _machine(local, _sms_task([BACKOFF]), "recovers")

    with record_retry_sleeps() as sleeps, sns_publish_fault(sns_internal_error, times=2) as fault:
        result = local.start_and_wait(arn, {})

    assert result.status == "SUCCEEDED"
    assert (fault.calls, fault.raised) == (3, 2)
    assert sleeps.intervals == [2.0, 4.0]
    assert len(local.sms_messages()) == 1


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (sns_throttled, "SNS.ThrottledException"),
        (sns_internal_error, "SNS.InternalErrorException"),
        (sns_invalid_parameter, "SNS.InvalidParameterException"),
    ],
)
def test_sns_fault_names_in_step_functions(local: LocalAws, error: ErrorFactory, expected: str) -> None:
    arn = _machine(local, _sms_task(), "sms")

    with sns_publish_fault(error) as fault:
        failed = local.start_and_wait(arn, {})
    recovered = local.start_and_wait(arn, {})

    assert (failed.status, failed.error) == ("FAILED", expected)
    assert fault.raised == 1
    assert recovered.status == "SUCCEEDED"


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (ses_too_many_requests, "SesV2.TooManyRequestsException"),
        (ses_message_rejected, "SesV2.MessageRejectedException"),
    ],
)
def test_sesv2_fault_names_in_step_functions(local: LocalAws, error: ErrorFactory, expected: str) -> None:
    local.verify_email_identities(["example.com"])
    arn = _machine(local, SESV2_TASK, "email")

    with sesv2_send_email_fault(error):
        via_v2_backend = local.start_and_wait(arn, {})
    with ses_send_email_fault(error):
        via_v1_backend = local.start_and_wait(arn, {})

    assert via_v2_backend.error == expected
    assert via_v1_backend.error == expected
    assert local.sent_emails() == []


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (ses_too_many_requests, "Ses.SesException"),  # not in SES v1's error model
        (ses_message_rejected, "Ses.MessageRejectedException"),
    ],
)
@pytest.mark.filterwarnings("ignore:Exception\\(SesError\\) with code TooManyRequestsException")
def test_ses_v1_fault_names_in_step_functions(local: LocalAws, error: ErrorFactory, expected: str) -> None:
    local.verify_email_identities(["example.com"])
    arn = _machine(local, SES_V1_TASK, "email-v1")

    with ses_send_email_fault(error):
        result = local.start_and_wait(arn, {})

    assert result.error == expected


def test_inject_fault_on_any_backend_method_reaches_boto3_callers(local: LocalAws) -> None:
    sns = local.client("sns")

    with inject_fault(SNSBackend, "publish", sns_throttled, times=1) as fault:
        with pytest.raises(ClientError) as raised:
            sns.publish(PhoneNumber="+15555550100", Message="x")
        sns.publish(PhoneNumber="+15555550100", Message="y")

    assert raised.value.response["Error"]["Code"] == "Throttled"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert (fault.calls, fault.raised) == (2, 1)
    assert [m.message for m in local.sms_messages()] == ["y"]
