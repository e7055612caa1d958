"""``make load``: the volume features under load on the embedded AWS -> docs/benchmarks.md.

What runs (``LOAD_REQUESTS``, ``LOAD_SCHEDULED``, ``LOAD_BULK`` and ``LOAD_THROTTLE`` change the
sizes; ``LOAD_SMS_RATE`` and ``LOAD_EMAIL_RATE`` the limits, and with ``LOAD_LABEL`` the figures go
to a section of their own, so a small run that presses low limits keeps the full run's figures):

- 2,000 single notifications through the buffered path: SQS queue -> EventBridge Pipe -> Express
  workflow with send-rate limits (sms 20 parts a second, email 20 recipients a second); 1 in 50 is
  queued twice (a client's retry) and 1 in 100 is invalid;
- 50 scheduled sends (``delaySeconds`` 5 to 60) on a Standard workflow with scheduled sends;
- a bulk job (``LOAD_BULK``, 2,000 recipients from a JSON Lines object in S3) on that workflow, its
  Distributed Map's concurrency derived from the send rates;
- provider throttling injected at random on 5% of SNS Publish and SES SendEmail calls.

It checks, from the emulator's own records: every request has exactly one final record, nothing is
sent twice, and the calls each second stay within the limits (every call: a throttled call's
retry takes a slot of its own). Exit status 1 when a check fails.
"""

from __future__ import annotations

import json
import os
import random
import re
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest import mock

import aws_cdk as cdk
from aws_cdk import aws_s3 as s3
from moto.sesv2.models import SESV2Backend
from moto.sns.models import SNSBackend

from constructs_lib import BulkSend, NotificationService, NotificationWorkflow
from constructs_lib.bulk import bulk_record_key
from local_aws import LocalAws
from local_aws.faults import ses_too_many_requests, sns_throttled

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "benchmarks.md"
LABEL = os.environ.get("LOAD_LABEL", "")
BEGIN, END = (f"<!-- load{'-' + LABEL if LABEL else ''}:begin -->", f"<!-- load{'-' + LABEL if LABEL else ''}:end -->")
SENDER = "notifications@example.com"
PHONE = "+15555550100"
SMS_RATE, EMAIL_RATE = int(os.environ.get("LOAD_SMS_RATE", "20")), int(os.environ.get("LOAD_EMAIL_RATE", "20"))
FINAL = {"SENT", "PARTIAL", "FAILED", "REJECTED"}


@dataclass
class ProviderCalls:
    """Every provider call the engine made (emulator clock), and the throttling injected."""

    throttle: float
    seed: int = 7
    calls: list[tuple[float, str, str, bool]] = field(default_factory=list)  # (time, channel, text, throttled)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)

    def record(self, channel: str, text: str) -> bool:
        with self._lock:
            throttled = self._random.random() < self.throttle
            self.calls.append((time.time(), channel, text, throttled))
            return throttled


@contextmanager
def recorded_provider_calls(calls: ProviderCalls) -> Iterator[None]:
    """Wraps moto's SNS Publish and SES v2 SendEmail: records each call, throttles some."""
    publish, send_email = SNSBackend.publish, SESV2Backend.send_email

    def faulty_publish(self: Any, *args: Any, **kwargs: Any) -> Any:
        if calls.record("sms", str(kwargs.get("message", args[0] if args else ""))):
            raise sns_throttled()
        return publish(self, *args, **kwargs)

    def faulty_send_email(self: Any, *args: Any, **kwargs: Any) -> Any:
        # moto's signature: (source, destinations, subject, body)
        body = kwargs.get("body", args[3] if len(args) > 3 else "")
        if calls.record("email", str(body)):
            raise ses_too_many_requests()
        return send_email(self, *args, **kwargs)

    with mock.patch.object(SNSBackend, "publish", faulty_publish), \
            mock.patch.object(SESV2Backend, "send_email", faulty_send_email):
        yield


def _templates(outdir: Path) -> dict[str, dict[str, Any]]:
    app = cdk.App(outdir=str(outdir), analytics_reporting=False)
    buffered = cdk.Stack(app, "NotifyLoad")
    NotificationService(buffered, "Default", sender=SENDER, email_identities=["example.com"], buffered_ingress=True,
                        monitoring=False, workflow_options={"sms_max_parts_per_second": SMS_RATE,
                                                            "ses_max_send_rate": EMAIL_RATE})
    scheduled = cdk.Stack(app, "NotifyLoadScheduled")
    timed = NotificationWorkflow(scheduled, "Workflow", sender=SENDER, email_identities=["example.com"],
                                 max_send_delay=cdk.Duration.days(1), sms_max_parts_per_second=SMS_RATE,
                                 ses_max_send_rate=EMAIL_RATE)
    lists = s3.Bucket(scheduled, "Lists")
    BulkSend(scheduled, "Bulk", workflow=timed, recipients_bucket=lists, recipients_prefix="bulk/",
             timeout=cdk.Duration.hours(2))
    assembly = app.synth()
    return {name: assembly.get_stack_by_name(name).template for name in ("NotifyLoad", "NotifyLoadScheduled")}


def _request(i: int) -> dict[str, Any]:
    kind = ("sms", "sms", "sms", "sms", "sms", "sms", "sms", "email", "email", "both")[i % 10]
    request: dict[str, Any] = {"notificationId": f"load-{i}", "channel": kind, "message": f"load message {i}",
                               "phoneNumber": PHONE}
    if kind != "sms":
        request["email"] = {"to": f"user{i}@example.org", "subject": f"load {i}"}
    if i % 100 == 99:
        request["phoneNumber"] = "not a number"  # invalid: rejected and recorded
        request["channel"] = "sms"
    return request


def _wait_idle(aws: LocalAws, machines: list[str], deadline: float) -> None:
    sfn = aws.client("stepfunctions")
    while any(sfn.list_executions(stateMachineArn=m, statusFilter="RUNNING")["executions"] for m in machines):
        if time.monotonic() > deadline:
            raise TimeoutError("executions still running at the deadline")
        time.sleep(0.5)


def _running(aws: LocalAws, machine: str) -> int:
    paginator = aws.client("stepfunctions").get_paginator("list_executions")
    return sum(len(p["executions"]) for p in paginator.paginate(stateMachineArn=machine, statusFilter="RUNNING"))


def _per_second(moments: list[float]) -> Counter[int]:
    return Counter(int(moment) for moment in moments)


def run(requests: int, scheduled: int, throttle: float, bulk: int) -> dict[str, Any]:
    started = time.monotonic()
    templates = _templates(ROOT / "cdk.out.load")
    calls = ProviderCalls(throttle=throttle)
    figures: dict[str, Any] = {"requests": requests, "scheduled": scheduled, "bulk": bulk, "throttle": throttle}
    with LocalAws.in_process() as aws, recorded_provider_calls(calls):
        aws.verify_email_identities(["example.com"])
        buffered = aws.deploy_template("NotifyLoad", templates["NotifyLoad"])
        timed = aws.deploy_template("NotifyLoadScheduled", templates["NotifyLoadScheduled"])
        sqs = aws.client("sqs")
        [queue_id] = [k for k, r in templates["NotifyLoad"]["Resources"].items()
                      if r["Type"] == "AWS::SQS::Queue" and k.startswith("BufferedIngressQueue")]
        queue = buffered.physical_id(queue_id)
        bodies = [json.dumps(_request(i)) for i in range(requests)]
        bodies += [json.dumps(_request(i)) for i in range(0, requests, 50)]  # queued twice
        random.Random(3).shuffle(bodies)

        load_started = time.monotonic()
        for i in range(0, len(bodies), 10):
            sqs.send_message_batch(QueueUrl=queue, Entries=[
                {"Id": str(n), "MessageBody": body} for n, body in enumerate(bodies[i:i + 10])])
        sfn = aws.client("stepfunctions")
        [timed_machine] = [k for k, r in templates["NotifyLoadScheduled"]["Resources"].items()
                           if r["Type"] == "AWS::StepFunctions::StateMachine" and k.startswith("Workflow")]
        timed_arn = timed.physical_id(timed_machine)
        scheduled_ids = []
        for n in range(scheduled):
            request = {**_request(n), "notificationId": f"timed-{n}", "delaySeconds": 5 + (n * 55) // max(1, scheduled)}
            request["message"] = f"timed message {n}"
            sfn.start_execution(stateMachineArn=timed_arn, name=f"timed-{n}", input=json.dumps(request))
            scheduled_ids.append(request)
        bulk_arn = _start_bulk(aws, timed, templates["NotifyLoadScheduled"], bulk)
        # Drain the queue at the pace the engine keeps up with (a pipe polls as fast as it can; the
        # embedded engine runs executions in threads of this one process).
        while True:
            if _running(aws, buffered.state_machine_arn) > 40:
                time.sleep(0.2)
                continue
            if aws.run_pipes(max_batches=20) == 0:
                attributes = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["All"])["Attributes"]
                waiting = ("ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible")
                if sum(int(attributes[name]) for name in waiting) == 0:
                    break
        _wait_idle(aws, [buffered.state_machine_arn, timed_arn, bulk_arn], time.monotonic() + 1800)
        elapsed = time.monotonic() - load_started

        figures.update(_checks(aws, buffered, timed, requests, scheduled_ids, calls))
        figures.update(_bulk_checks(aws, timed.table_name, bulk, calls))
        executions = [e for m in (buffered.state_machine_arn, timed_arn, bulk_arn)
                      for p in sfn.get_paginator("list_executions").paginate(stateMachineArn=m)
                      for e in p["executions"]]
        figures["executions"] = len(executions)
        figures["executions_per_second"] = len(executions) / elapsed
        figures["load_seconds"] = elapsed
        figures["states_entered"] = _states_entered(aws, buffered.table_name, timed.table_name)
        assert aws.access is not None
        figures["denials"] = len(aws.access.denials)
    figures["wall_seconds"] = time.monotonic() - started
    return figures


BULK_ID, BULK_TEXT = "loadbulk", "bulk load message"


def _start_bulk(aws: LocalAws, timed: Any, template: dict[str, Any], recipients: int) -> str:
    """Uploads the recipients as JSON Lines and starts the bulk job; returns its state machine."""
    [bucket_id] = [k for k, r in template["Resources"].items() if r["Type"] == "AWS::S3::Bucket"]
    [bulk_id] = [k for k, r in template["Resources"].items()
                 if r["Type"] == "AWS::StepFunctions::StateMachine" and k.startswith("Bulk")]
    bucket, bulk_arn = timed.physical_id(bucket_id), timed.physical_id(bulk_id)
    lines = "".join(json.dumps({"phoneNumber": f"+1555{n:07d}"}) + "\n" for n in range(recipients))
    aws.client("s3").put_object(Bucket=bucket, Key="bulk/load.jsonl", Body=lines.encode())
    if recipients:
        aws.client("stepfunctions").start_execution(stateMachineArn=bulk_arn, name=BULK_ID, input=json.dumps({
            "bulkId": BULK_ID, "channel": "sms", "message": BULK_TEXT,
            "recipientsObject": {"bucket": bucket, "key": "bulk/load.jsonl", "format": "jsonl"}}))
    return bulk_arn


def _bulk_checks(aws: LocalAws, table: str, recipients: int, calls: ProviderCalls) -> dict[str, Any]:
    if not recipients:
        return {}
    records = {r["notificationId"]: r for r in aws.table_items(table)}
    ids = [f"{BULK_ID}-{n}" for n in range(recipients)]
    summary = records.get(bulk_record_key(BULK_ID), {})
    sent = sum(1 for i in ids if records.get(i, {}).get("status") == "SENT")
    accepted = sum(1 for c in calls.calls if not c[3] and BULK_TEXT in c[2])
    return {
        "bulk_lost": [i for i in ids if records.get(i, {}).get("status") not in FINAL],
        "bulk_summary": {k: summary.get(k) for k in ("status", "total", "counts")},
        # Every recipient has its own number: more accepted calls than SENT records is a second send.
        "bulk_sent_twice": max(0, accepted - sent),
    }


def _checks(aws: LocalAws, buffered: Any, timed: Any, requests: int, scheduled: list[dict[str, Any]],
            calls: ProviderCalls) -> dict[str, Any]:
    records = {r["notificationId"]: r for r in aws.table_items(buffered.table_name)}
    timed_records = {r["notificationId"]: r for r in aws.table_items(timed.table_name)}
    expected = {f"load-{i}": _request(i) for i in range(requests)}
    missing = [i for i in expected if i not in records or records[i]["status"] not in FINAL]
    missing += [r["notificationId"] for r in scheduled if r["notificationId"] not in timed_records
                or timed_records[r["notificationId"]]["status"] not in FINAL]
    accepted = [c for c in calls.calls if not c[3] and BULK_TEXT not in c[2]]  # the bulk is checked apart
    sent_texts = Counter((c[1], _text_key(c)) for c in accepted)
    twice = [key for key, n in sent_texts.items() if n > 1]
    statuses = Counter(r["status"] for r in list(records.values()) + list(timed_records.values())
                       if not r["notificationId"].startswith(("rate#", "bulk#")))
    first_call: dict[tuple[str, str], float] = {}
    for call in calls.calls:
        first_call.setdefault((call[1], _text_key(call)), call[0])
    late = [r["notificationId"] for r in scheduled if r["notificationId"] in timed_records
            and first_call.get(("sms", r["message"]), float("inf"))
            < datetime.fromisoformat(timed_records[r["notificationId"]]["sendAt"]).timestamp()]
    counters = [r for table in (records, timed_records) for k, r in table.items() if k.startswith("rate#")]
    over_slots = [c["notificationId"] for c in counters
                  if c["used"] > (SMS_RATE if c["notificationId"].startswith("rate#sms#") else EMAIL_RATE)]
    by_channel: dict[str, list[float]] = defaultdict(list)
    first_attempts: dict[str, list[float]] = defaultdict(list)
    seen: set[tuple[str, str]] = set()
    for moment, channel, _, _ in calls.calls:
        by_channel[channel].append(moment)
    for call in calls.calls:
        key = (call[1], _text_key(call))
        if key not in seen:
            seen.add(key)
            first_attempts[call[1]].append(call[0])
    limits = {"sms": SMS_RATE, "email": EMAIL_RATE}
    # Each workflow counts its own slots (its delivery log): its limit holds for its own calls.
    by_workflow: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for call in calls.calls:
        by_workflow["buffered" if _text_key(call).startswith("load message") else "standard"][call[1]].append(call[0])
    return {
        "lost": missing,
        "sent_twice": twice,
        "statuses": dict(statuses),
        "scheduled_sent_early": late,
        "slot_seconds_over_limit": over_slots,
        "provider_calls": {ch: len(m) for ch, m in by_channel.items()},
        "throttled": sum(1 for c in calls.calls if c[3]),
        "max_first_calls_per_second": {ch: max(_per_second(m).values(), default=0) for ch, m in first_attempts.items()},
        "max_calls_per_second": {ch: max(_per_second(m).values(), default=0) for ch, m in by_channel.items()},
        "seconds_over_limit_all_calls": {ch: sum(1 for n in _per_second(m).values() if n > limits[ch])
                                         for ch, m in by_channel.items()},
        "limits": limits,
        "max_calls_per_second_by_workflow": {
            name: {ch: max(_per_second(m).values(), default=0) for ch, m in channels.items()}
            for name, channels in sorted(by_workflow.items())},
        "seconds_over_limit_by_workflow": {
            name: {ch: sum(1 for n in _per_second(m).values() if n > limits[ch]) for ch, m in channels.items()}
            for name, channels in sorted(by_workflow.items())},
    }


_REQUEST_TEXT = re.compile(r"(?:load|timed) message \d+")


def _text_key(call: tuple[float, str, str, bool]) -> str:
    """The request a call belongs to: its unique message text."""
    found = _REQUEST_TEXT.search(call[2])
    return found.group(0) if found else call[2]


def _states_entered(aws: LocalAws, *tables: str) -> dict[str, float]:
    """States entered per notification, averaged by path, over the executions that wrote records."""
    per_path: dict[str, list[int]] = defaultdict(list)
    for table in tables:
        for record in aws.table_items(table):
            arn = record.get("executionArn")
            if not arn or record["notificationId"].startswith(("rate#", "bulk#")) \
                    or sum(len(n) for n in per_path.values()) > 600:
                continue
            entered = aws.states_entered(arn)
            kind = "scheduled " if "WaitUntilSendAt" in entered else \
                "bulk " if record["notificationId"].startswith(BULK_ID) else ""
            path = kind + str(record.get("channel", "rejected"))
            if record["status"] == "REJECTED":
                path = "rejected"
            per_path[path].append(len(entered))
    return {path: sum(n) / len(n) for path, n in sorted(per_path.items())}


def write_doc(figures: dict[str, Any], ok: bool) -> None:
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [BEGIN, f"## Load (`make load`{', ' + LABEL if LABEL else ''})", "",
             f"Written by `make load` (`python -m tools.load`) on {now}; nproc {os.cpu_count()}.",
             f"Result: **{'PASS' if ok else 'FAIL'}**.", "",
             "| figure | value |", "|---|---|"]
    for key in ("requests", "scheduled", "bulk", "throttle", "executions", "load_seconds", "executions_per_second",
                "wall_seconds", "statuses", "lost", "sent_twice", "scheduled_sent_early", "provider_calls", "throttled",
                "limits", "max_first_calls_per_second", "slot_seconds_over_limit", "max_calls_per_second",
                "seconds_over_limit_all_calls", "max_calls_per_second_by_workflow", "seconds_over_limit_by_workflow",
                "bulk_lost", "bulk_sent_twice", "bulk_summary", "states_entered",
                "denials"):
        value = figures.get(key)
        if isinstance(value, float):
            value = f"{value:.2f}"
        elif isinstance(value, list):
            value = f"{len(value)}" + (f" ({', '.join(map(str, value[:5]))}...)" if value else "")
        lines.append(f"| {key.replace('_', ' ')} | {value} |")
    lines += ["", "Every call takes a slot of its second first, a throttled call's retry too (it goes back to "
              "`Take...Slot`), so no second's slots pass the limit (`slot seconds over limit`). A call follows "
              "its slot by the engine's time between two states: on AWS tens of milliseconds, here seconds when "
              "the engine is busy, so on the emulator's clock calls of several seconds' slots can fall into one "
              "second (`seconds over limit ...`, counted per workflow: each workflow's delivery log holds its own "
              "budget).", END]
    text = DOC.read_text() if DOC.exists() else "# Benchmarks\n"
    if BEGIN in text:
        text = text[:text.index(BEGIN)] + "\n".join(lines) + text[text.index(END) + len(END):]
    else:
        text = text.rstrip("\n") + "\n\n" + "\n".join(lines) + "\n"
    DOC.write_text(text)


def main() -> int:
    figures = run(int(os.environ.get("LOAD_REQUESTS", "2000")), int(os.environ.get("LOAD_SCHEDULED", "50")),
                  float(os.environ.get("LOAD_THROTTLE", "0.05")), int(os.environ.get("LOAD_BULK", "2000")))
    ok = not figures["lost"] and not figures["sent_twice"] and not figures["slot_seconds_over_limit"] \
        and not figures["scheduled_sent_early"] and figures["denials"] == 0 \
        and not any(figures["seconds_over_limit_all_calls"].values()) \
        and not figures.get("bulk_lost") and not figures.get("bulk_sent_twice")
    print(json.dumps(figures, indent=2, default=str))
    write_doc(figures, ok)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
