"""Bulk sends (issue 13 part 2) on the embedded AWS: a BulkSend beside its workflow; each recipient
is one child execution of the workflow (``startExecution.sync:2``), one record, one send; the
summary record ``bulk#<bulkId>`` counts the outcomes; a bulk run again sends nothing twice; a bulk
failing beyond its tolerance ends FAILED and its summary says so."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from itertools import count
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_s3 as s3

from constructs_lib import BulkSend, NotificationWorkflow
from constructs_lib.bulk import BULK_FAILED, bulk_record_key
from local_aws import ExecutionResult, LocalAws
from tests.behaviour.conftest import SENDER, new_id

TOLERATED_PERCENT = 25
BAD_PHONE = "0123"
_numbers = count(1)


def phone() -> str:
    """A number no other test of the session texts (moto's SMS log is shared)."""
    return f"+1555777{next(_numbers):04d}"


@dataclass
class Bulk:
    aws: LocalAws
    bulk_arn: str
    workflow_arn: str
    table: str
    bucket: str

    def run(self, request: dict[str, Any]) -> ExecutionResult:
        return self.aws.start_and_wait(self.bulk_arn, request, name=new_id("bulk"), timeout_s=120)

    def record(self, key: str) -> dict[str, Any] | None:
        return self.aws.table_item(self.table, {"notificationId": key})

    def texts_to(self, numbers: list[str]) -> Counter[str]:
        return Counter(m.phone_number for m in self.aws.sms_messages() if m.phone_number in numbers)


@pytest.fixture(scope="module")
def bulk(local_aws: LocalAws, tmp_path_factory: pytest.TempPathFactory) -> Bulk:
    app = cdk.App(outdir=str(tmp_path_factory.mktemp("bulk")), analytics_reporting=False)
    stack = cdk.Stack(app, "NotifyBulk")
    workflow = NotificationWorkflow(stack, "Workflow", sender=SENDER, email_identities=["example.com"])
    lists = s3.Bucket(stack, "Lists", enforce_ssl=True, removal_policy=cdk.RemovalPolicy.DESTROY)
    BulkSend(stack, "Bulk", workflow=workflow, recipients_bucket=lists, recipients_prefix="bulk/",
             tolerated_failure_percentage=TOLERATED_PERCENT)
    deployed = local_aws.deploy_template("NotifyBulk", app.synth().get_stack_by_name("NotifyBulk").template)
    machines = {r.logical_id: r.physical_id for r in deployed.of_type("AWS::StepFunctions::StateMachine")}
    [bulk_arn] = [arn for logical_id, arn in machines.items() if logical_id.startswith("Bulk")]
    [workflow_arn] = [arn for logical_id, arn in machines.items() if logical_id.startswith("Workflow")]
    return Bulk(aws=local_aws, bulk_arn=bulk_arn, workflow_arn=workflow_arn,
                table=deployed.table_name, bucket=deployed.one_of_type("AWS::S3::Bucket").physical_id)


def _sms_bulk(bulk_id: str, recipients: list[dict[str, Any]]) -> dict[str, Any]:
    return {"bulkId": bulk_id, "channel": "sms", "message": "Spring sale", "metadata": {"campaign": "spring"},
            "recipients": recipients}


def test_an_inline_bulk_sends_each_recipient_once_with_one_record_each(bulk: Bulk) -> None:
    bulk_id = new_id("b")
    numbers = [phone() for _ in range(4)]
    recipients: list[dict[str, Any]] = [{"phoneNumber": n} for n in numbers[:3]]
    recipients.append({"phoneNumber": numbers[3], "notificationId": f"own-{bulk_id}"})
    recipients.insert(2, {"phoneNumber": BAD_PHONE})

    result = bulk.run(_sms_bulk(bulk_id, recipients))

    assert result.status == "SUCCEEDED", (result.error, result.cause)
    keys = [f"{bulk_id}-0", f"{bulk_id}-1", f"{bulk_id}-2", f"{bulk_id}-3", f"own-{bulk_id}"]
    records = {key: bulk.record(key) for key in keys}
    assert {k: r["status"] if r else None for k, r in records.items()} == {
        keys[0]: "SENT", keys[1]: "SENT", keys[2]: "REJECTED", keys[3]: "SENT", keys[4]: "SENT"}
    assert json.loads(records[keys[0]]["metadata"]) == {"campaign": "spring", "bulkId": bulk_id}  # type: ignore[index]
    assert bulk.texts_to(numbers) == Counter({n: 1 for n in numbers})
    summary = bulk.record(bulk_record_key(bulk_id))
    assert summary is not None
    assert (summary["status"], summary["total"], summary["counts"]) == (
        "COMPLETED", 5, {"SENT": 4, "REJECTED": 1})
    assert result.output == {"bulkId": bulk_id, "summaryKey": f"bulk#{bulk_id}", "status": "COMPLETED",
                             "total": 5, "counts": {"SENT": 4, "REJECTED": 1}}


def test_a_bulk_run_again_sends_nothing_twice(bulk: Bulk) -> None:
    bulk_id = new_id("b")
    numbers = [phone() for _ in range(3)]
    request = _sms_bulk(bulk_id, [{"phoneNumber": n} for n in numbers])
    assert bulk.run(request).status == "SUCCEEDED"

    again = bulk.run(request)

    assert again.status == "SUCCEEDED", (again.error, again.cause)
    assert bulk.texts_to(numbers) == Counter({n: 1 for n in numbers})
    summary = bulk.record(bulk_record_key(bulk_id))
    assert summary is not None
    assert (summary["status"], summary["runs"], summary["counts"]) == ("COMPLETED", 2, {"DUPLICATE": 3})


def test_a_jsonl_list_in_s3_is_sent_to_every_line(bulk: Bulk) -> None:
    bulk_id = new_id("b")
    numbers = [phone() for _ in range(20)]
    body = "".join(json.dumps({"phoneNumber": n}) + "\n" for n in numbers)
    bulk.aws.client("s3").put_object(Bucket=bulk.bucket, Key=f"bulk/{bulk_id}.jsonl", Body=body.encode())

    result = bulk.run({"bulkId": bulk_id, "channel": "sms", "message": "From S3",
                       "recipientsObject": {"bucket": bulk.bucket, "key": f"bulk/{bulk_id}.jsonl", "format": "jsonl"}})

    assert result.status == "SUCCEEDED", (result.error, result.cause)
    assert bulk.texts_to(numbers) == Counter({n: 1 for n in numbers})
    assert all(bulk.record(f"{bulk_id}-{i}")["status"] == "SENT" for i in range(20))  # type: ignore[index]
    summary = bulk.record(bulk_record_key(bulk_id))
    assert summary is not None and (summary["status"], summary["total"], summary["counts"]) == (
        "COMPLETED", 20, {"SENT": 20})


def test_a_bulk_failing_beyond_its_tolerance_ends_failed_and_says_so(bulk: Bulk) -> None:
    bulk_id = new_id("b")
    recipients = [{"phoneNumber": BAD_PHONE} for _ in range(4)]

    result = bulk.run(_sms_bulk(bulk_id, recipients))

    assert (result.status, result.error) == ("FAILED", BULK_FAILED)
    summary = bulk.record(bulk_record_key(bulk_id))
    assert summary is not None
    assert (summary["status"], summary["error"]) == ("FAILED", "States.ExceedToleratedFailureThreshold")
    # The Map stopped starting children once the threshold was exceeded: each one counted ran.
    assert set(summary["counts"]) == {"REJECTED"} and 2 <= summary["counts"]["REJECTED"] <= 4


def test_a_bulk_request_it_cannot_send_is_rejected_with_its_reason(bulk: Bulk) -> None:
    bulk_id = new_id("b")

    result = bulk.run({"bulkId": bulk_id, "channel": "sms", "message": "x",
                       "recipients": [{"phoneNumber": phone()}] * 501})

    assert (result.status, result.error) == ("FAILED", "ValidationError")
    summary = bulk.record(bulk_record_key(bulk_id))
    assert summary is not None and summary["status"] == "REJECTED"
    assert summary["reason"].startswith("recipients must be a list of 1 to 500 recipients")
