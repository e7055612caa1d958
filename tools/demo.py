"""``make demo``: synthesize, deploy with the CDK CLI to an embedded local AWS, send the examples.

    python -m tools.demo                        # every examples/*.json
    python -m tools.demo --only examples/email.json
    python -m tools.demo --direct               # skip the CDK CLI: CloudFormation CreateStack

After the examples, one request goes through the API over HTTP (the deployed REST API served on
127.0.0.1 by ``LocalAws.start_api_server``), signed with SigV4 by a local IAM user granted
``execute-api:Invoke``; the demo prints the URL and the curl commands that work against it.

Last, a recipient-aware send: a second, small stack (``NotificationService`` with templates,
recipient preferences and email unsubscribe topics) is synthesized in process and deployed
directly into the same local AWS with CloudFormation CreateStack (not through the CDK CLI; the dev
stack in cdk.json stays as it is). Over its API, a local IAM user granted with the API's own
``grant_write_preferences`` and ``grant_invoke`` PUTs a recipient's preferences (French, SMS
opted out of marketing, quiet hours away from now) and POSTs two requests that name only the
recipient: a templated ``orders`` one (SMS and email in French) and a ``marketing`` one (the SMS
SKIPPED_PREFERENCE, the email sent).

Nothing here reaches real AWS: the CLI gets dummy credentials and a 127.0.0.1 endpoint, with
profiles, credential files and instance metadata switched off. CLI output goes to ``.demo/``.
A failed ``cdk bootstrap`` or ``cdk deploy`` ends the demo with exit status 1 and the tail of the
CLI's log; there is no fallback (``--direct`` is the explicit way to skip the CLI).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
import uuid
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any
from zoneinfo import ZoneInfo

from tools._common import (
    CDK_BIN,
    ENVIRONMENT,
    EXAMPLES,
    ROOT,
    STACK_NAME,
    cdk_json_context,
    environment_settings,
    isolated_env,
    jsii_env,
    ses_identities,
    tail,
)

WIDTH = 100
LABEL_WIDTH = 12
SMS_SHOWN = 160  # one SMS segment: a rendered text is shown whole, wrapped
STEPS = 11
LOG_DIR = ROOT / ".demo"
CDK_OUT = ROOT / "cdk.out"
CLI_TIMEOUT_S = 600
EXECUTION_TIMEOUT_S = 120  # retries really wait in the local engine (seconds, not minutes)

# Step Functions execution names: 1-80 characters, none of these (nor whitespace or controls).
_NAME_FORBIDDEN = re.compile(r"[\s<>{}\[\]?*\"#%\\^|~`$&,;:/\x00-\x1f\x7f-\x9f]")
_NAME_MAX = 80


class DemoError(RuntimeError):
    """A step failed; the message says which and why (already user-facing)."""


# ---- what each example should do --------------------------------------------------------------


@dataclass(frozen=True)
class Expectation:
    """The execution's status (and error); optionally the record's status and each channel's."""

    status: str
    error: str | None = None
    record: str | None = None
    channels: tuple[tuple[str, str], ...] = ()  # (channel, status in the record's results)

    def __str__(self) -> str:
        text = f"{self.status} {self.error}" if self.error else self.status
        return text + record_outcome(self, None)

    def met_by(self, status: str, error: str | None, record: Mapping[str, Any] | None = None) -> bool:
        if status != self.status or (self.error is not None and error != self.error):
            return False
        return record_outcome(self, record or {}) == record_outcome(self, None)


def record_outcome(expected: Expectation, record: Mapping[str, Any] | None) -> str:
    """``, record SENT, email SENT, sms SKIPPED_PREFERENCE``: what ``expected`` looks at, from
    ``record`` (from ``expected`` itself when ``record`` is None); empty when it looks at none."""
    if record is None:
        wanted = dict(expected.channels)
        record_status = expected.record
    else:
        found = record.get("results")
        results: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
        wanted = {name: str(results[name].get("status")) if isinstance(results.get(name), Mapping) else "-"
                  for name, _ in expected.channels}
        record_status = str(record.get("status") or "-") if expected.record else None
    parts = [f"record {record_status}"] if record_status else []
    return "".join(f", {part}" for part in parts + [f"{name} {wanted[name]}" for name, _ in expected.channels])


def expected_outcome(path: Path) -> Expectation:
    """``invalid*.json`` must be rejected with ValidationError; every other example must succeed."""
    if path.stem.startswith("invalid"):
        return Expectation("FAILED", "ValidationError")
    return Expectation("SUCCEEDED")


# ---- execution names ---------------------------------------------------------------------------


def is_valid_execution_name(name: str) -> bool:
    return 0 < len(name) <= _NAME_MAX and not _NAME_FORBIDDEN.search(name)


def execution_name(request: Mapping[str, Any], stem: str, taken: set[str], run_id: str) -> str:
    """The request's notificationId when it is a usable, unused name; else a name with a run suffix.

    Standard workflows refuse a second execution with the same name, so the suffix is only
    added when the id is missing, already used in this run, or not a valid execution name.
    """
    notification_id = request.get("notificationId")
    if isinstance(notification_id, str) and is_valid_execution_name(notification_id) \
            and notification_id not in taken:
        return notification_id
    base = notification_id if isinstance(notification_id, str) and notification_id else f"demo-{stem}"
    base = _NAME_FORBIDDEN.sub("-", base)[: _NAME_MAX - len(run_id) - 1]
    name = f"{base}-{run_id}"
    counter = 2
    while name in taken:  # two suffixless requests from files with the same stem
        name = f"{base}-{run_id}{counter}"
        counter += 1
    return name


def record_key(request: Mapping[str, Any], name: str) -> str:
    """The delivery-log key the workflow uses: a non-empty notificationId, else the execution name."""
    notification_id = request.get("notificationId")
    return notification_id if isinstance(notification_id, str) and notification_id else name


# ---- formatting (pure) ---------------------------------------------------------------------------


def format_path(states: Sequence[str]) -> str:
    """``A -> B -> C``."""
    return " -> ".join(states) if states else "(no state entered)"


def addresses(values: Sequence[str]) -> str:
    return ", ".join(values) if values else "-"


def shorten(text: str, width: int) -> str:
    """One line, at most ``width`` characters (``...`` marks a cut)."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= width else flat[: max(width - 3, 0)] + "..."


def field_lines(label: str, values: Sequence[str], width: int = WIDTH) -> list[str]:
    """A two-column row: the label once, each value wrapped under the value column."""
    indent = " " * (2 + LABEL_WIDTH)
    first = "  " + label.ljust(LABEL_WIDTH)
    lines: list[str] = []
    for value in values or ["-"]:
        wrapped = textwrap.wrap(value, width=width - len(indent), break_on_hyphens=False,
                                break_long_words=True) or [""]
        lines.extend(wrapped)
    return [(first if i == 0 else indent) + line for i, line in enumerate(lines)]


def path_values(states: Sequence[str], width: int = WIDTH) -> list[str]:
    """The path broken before an arrow so that no state name is split across lines."""
    room = width - 2 - LABEL_WIDTH
    lines: list[str] = []
    current = ""
    for i, state in enumerate(states):
        piece = state if i == 0 else f" -> {state}"
        if current and len(current) + len(piece) > room:
            lines.append(current)
            current = f"-> {state}"
        else:
            current += piece
    lines.append(current or format_path(states))
    return lines


def sms_values(messages: Sequence[Any]) -> list[str]:
    """``+1555... "text"`` per SMS (SmsMessage: phone_number, message)."""
    return [f'to {m.phone_number}: "{shorten(m.message, SMS_SHOWN)}"' for m in messages]


def email_values(emails: Sequence[Any]) -> list[str]:
    """From, recipients, reply-to and subject of each email (SentEmail); the SES template and the
    List-Unsubscribe header when it has them."""
    lines: list[str] = []
    for mail in emails:
        lines.append(f"from {mail.source}; subject \"{shorten(mail.subject or '', 60)}\"")
        lines.append(f"to {addresses(mail.to)}; cc {addresses(mail.cc)}; bcc {addresses(mail.bcc)}")
        lines.append(f"reply-to {addresses(mail.reply_to)}")
        if getattr(mail, "template", None):
            lines.append(f"SES template {mail.template}")
        headers = getattr(mail, "headers", None) or {}
        if headers.get("List-Unsubscribe"):
            lines.append(f"List-Unsubscribe: {shorten(headers['List-Unsubscribe'], 300)}")
    return lines


def channel_result(name: str, result: Any) -> str:
    """``sms SENT id 1234abcd`` or ``email FAILED SesV2.MessageRejectedException: cause``."""
    if not isinstance(result, Mapping):
        return f"{name} {result!r}"
    text = f"{name} {result.get('status') or '?'}"
    if result.get("messageId"):
        text += f" id {shorten(str(result['messageId']), 64)}"
    if result.get("error"):
        text += f" {result['error']}"
        if result.get("cause"):
            text += f": {shorten(str(result['cause']), 60)}"
    return text


def record_values(record: Mapping[str, Any] | None) -> list[str]:
    """Key fields of a delivery-log record: status, channel, per-channel results, rejection."""
    if record is None:
        return ["(no record)"]
    head = f"{record.get('notificationId')}: {record.get('status')}"
    if record.get("channel"):
        head += f", channel {record['channel']}"
    if record.get("duplicateCount"):
        head += f", duplicates {record['duplicateCount']}"
    lines = [head]
    if record.get("error") or record.get("reason"):
        lines.append(f"{record.get('error')}: {shorten(str(record.get('reason') or ''), 300)}")
    results = record.get("results")
    if isinstance(results, Mapping):
        lines.extend(channel_result(name, results[name]) for name in sorted(results))
    return lines


@dataclass
class RequestReport:
    """What one example did: outcome, path, side effects and its delivery-log record."""

    file: str
    execution: str
    expected: Expectation
    status: str
    error: str | None = None
    cause: str | None = None
    states: list[str] = field(default_factory=list)
    sms: list[Any] = field(default_factory=list)
    emails: list[Any] = field(default_factory=list)
    record: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return self.expected.met_by(self.status, self.error, self.record)

    @property
    def outcome(self) -> str:
        text = f"{self.status} {self.error}" if self.error else self.status
        return text + record_outcome(self.expected, self.record or {})


def render_report(report: RequestReport, width: int = WIDTH) -> list[str]:
    """The per-request table, ``width`` columns at most."""
    title = f"-- {report.file} "
    lines = [title + "-" * max(width - len(title), 0)]
    lines += field_lines("execution", [report.execution], width)
    verdict = "as expected" if report.ok else f"NOT AS EXPECTED (wanted {report.expected})"
    outcome = [f"{report.outcome}, {verdict}"]
    if report.cause and report.status != "SUCCEEDED":
        outcome.append(f"cause: {shorten(report.cause, 200)}")
    lines += field_lines("outcome", outcome, width)
    lines += field_lines(f"path ({len(report.states)})", path_values(report.states, width), width)
    lines += field_lines("sms", sms_values(report.sms) or ["(none sent)"], width)
    lines += field_lines("email", email_values(report.emails) or ["(none sent)"], width)
    lines += field_lines("record", record_values(report.record), width)
    return [line[:width] for line in lines]


def render_summary(reports: Sequence[RequestReport], width: int = WIDTH) -> list[str]:
    """One line per request: file, expected, got, verdict."""
    rows = [("file", "expected", "got", "")] + [
        (r.file, str(r.expected), r.outcome, "ok" if r.ok else "MISMATCH") for r in reports
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row[:3], widths, strict=True)) + "  " + row[3]
             for row in rows]
    return [line.rstrip()[:width] for line in lines]


# ---- steps -------------------------------------------------------------------------------------


class Steps:
    """Announces each step on one line and closes it with ``ok (1.2 s)`` or ``FAILED``."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.number = 0
        self._line_open = False

    def announce(self, text: str) -> None:
        """A step with nothing to time (the report)."""
        self._close_line()
        self.number += 1
        print(f"[{self.number}/{self.total}] {text}", flush=True)

    @contextmanager
    def step(self, text: str) -> Iterator[None]:
        self._close_line()
        self.number += 1
        print(f"[{self.number}/{self.total}] {text} ...", end="", flush=True)
        self._line_open = True
        start = time.perf_counter()
        try:
            yield
        except BaseException:
            self._finish("FAILED")
            raise
        self._finish(f"ok ({time.perf_counter() - start:.1f} s)")

    def note(self, text: str) -> None:
        """An indented remark under the current step (e.g. an error), never hidden."""
        self._close_line()
        for line in text.splitlines():
            for part in textwrap.wrap(line, WIDTH - 6, break_on_hyphens=False) or [""]:
                print(f"      {part}", flush=True)

    def _finish(self, verdict: str) -> None:
        print(f" {verdict}" if self._line_open else f"      {verdict}", flush=True)
        self._line_open = False

    def _close_line(self) -> None:
        if self._line_open:
            print(flush=True)
            self._line_open = False


def run_cli(args: list[str], log_name: str, env: Mapping[str, str]) -> None:
    """Run the CDK CLI quietly into ``.demo/<log_name>``; on failure raise with the log's tail."""
    log_path = LOG_DIR / log_name
    with log_path.open("w") as log:
        log.write(f"$ cdk {' '.join(args)}\n")
        log.flush()
        try:
            completed = subprocess.run([str(CDK_BIN), *args], cwd=ROOT, env=dict(env), stdout=log,
                                       stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                       timeout=CLI_TIMEOUT_S, check=False)
        except subprocess.TimeoutExpired:
            raise DemoError(f"cdk {args[0]} timed out after {CLI_TIMEOUT_S} s; "
                            f"log tail ({_relative(log_path)}):\n{tail(log_path.read_text())}") from None
    if completed.returncode in (-signal.SIGINT, -signal.SIGTERM):
        raise KeyboardInterrupt  # the CLI was stopped with us (Ctrl-C): stop like Ctrl-C
    if completed.returncode != 0:
        raise DemoError(f"cdk {args[0]} exited {completed.returncode}; "
                        f"log tail ({_relative(log_path)}):\n{tail(log_path.read_text())}")


def _relative(path: Path) -> str:
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


def synthesize() -> None:
    if not CDK_BIN.exists():
        raise DemoError(f"{_relative(CDK_BIN)} is missing: run `make setup` (npm ci)")
    run_cli(["synth", "--quiet"], "cdk-synth.log", isolated_env())
    template_path = CDK_OUT / f"{STACK_NAME}.template.json"
    if not template_path.exists():
        raise DemoError(f"cdk synth wrote no {_relative(template_path)}")


@dataclass
class Deployment:
    stack: Any  # DeployedStack
    how: str


def deploy(aws: Any, *, direct: bool) -> Deployment:
    """Bootstrap and deploy with the CDK CLI; a CLI failure raises DemoError with its log's tail.
    ``direct`` (asked for with --direct, never a fallback): CloudFormation CreateStack instead."""
    from local_aws import seed_bootstrap_version

    if direct:
        seed_bootstrap_version(aws.client("ssm"))  # the template's BootstrapVersion parameter reads it
        return Deployment(aws.deploy_assembly(CDK_OUT, STACK_NAME), "CloudFormation CreateStack (--direct)")
    env = isolated_env(aws.cli_env())
    run_cli(["bootstrap", f"aws://{aws.account_id}/{aws.region}", "--app", str(CDK_OUT)],
            "cdk-bootstrap.log", env)
    run_cli(["deploy", STACK_NAME, "--app", str(CDK_OUT), "--require-approval", "never"],
            "cdk-deploy.log", env)
    return Deployment(aws.describe_stack(STACK_NAME), "cdk bootstrap + cdk deploy (CDK CLI)")


def send_one(aws: Any, path: Path, state_machine_arn: str, table_name: str, taken: set[str],
             run_id: str) -> RequestReport:
    """Start one execution for a request file, wait for it, and gather what it did."""
    request = json.loads(path.read_text())
    if not isinstance(request, dict):
        raise DemoError(f"{_relative(path)} does not hold a JSON object")
    name = execution_name(request, path.stem, taken, run_id)
    taken.add(name)
    sms_before, emails_before = len(aws.sms_messages()), len(aws.sent_emails())
    result = aws.start_and_wait(state_machine_arn, request, name=name, timeout_s=EXECUTION_TIMEOUT_S)
    record = read_record(aws, table_name, record_key(request, name))
    return RequestReport(
        file=_relative(path),
        execution=name,
        expected=expected_outcome(path),
        status=result.status,
        error=result.error,
        cause=result.cause,
        states=result.states_entered,
        # Executions run one at a time, so what appeared during this one is this one's.
        sms=aws.sms_messages()[sms_before:],
        emails=aws.sent_emails()[emails_before:],
        record=record,
    )


def read_record(aws: Any, table_name: str, notification_id: str) -> dict[str, Any] | None:
    """A delivery-log record as plain Python (read consistently), None when there is none."""
    from boto3.dynamodb.types import TypeDeserializer

    from local_aws.records import plain

    item = aws.client("dynamodb").get_item(
        TableName=table_name, Key={"notificationId": {"S": notification_id}}, ConsistentRead=True,
    ).get("Item")
    deserializer = TypeDeserializer()
    return plain({k: deserializer.deserialize(v) for k, v in item.items()}) if item else None


API_EXAMPLE = EXAMPLES / "sms.json"
API_CALLER = "demo-api-caller"


@dataclass
class ApiExchange:
    """What the API answered to the demo's POST and GET, and how to repeat them with curl."""

    url: str
    post: Any  # ApiAnswer
    get: Any  # ApiAnswer
    curl: list[str]


def api_caller(aws: Any, method_arns: Sequence[str]) -> Any:
    """A local IAM user allowed to invoke the given methods, and its keys (botocore Credentials)."""
    from botocore.credentials import Credentials

    iam = aws.client("iam")
    iam.create_user(UserName=API_CALLER)
    iam.put_user_policy(UserName=API_CALLER, PolicyName="invoke-notification-api", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": list(method_arns)}]}))
    key = iam.create_access_key(UserName=API_CALLER)["AccessKey"]
    return Credentials(key["AccessKeyId"], key["SecretAccessKey"])


def call_the_api(aws: Any, run_id: str) -> ApiExchange:
    """POST one example to the served API as a granted caller, then GET its record once the
    workflow has finished with it."""
    from local_aws.apigateway.client import call_api

    server = aws.start_api_server(STACK_NAME)  # stopped with the embedded AWS
    gateway = server.gateway
    caller = api_caller(aws, [gateway.method_arn("POST", "/notifications"),
                              gateway.method_arn("GET", "/notifications/*")])
    request = {**json.loads(API_EXAMPLE.read_text()), "notificationId": f"demo-api-{run_id}"}
    post = call_api(server.url + "notifications", "POST", body=request, signed_by=caller, region=aws.region)
    if post.status != 202:
        raise DemoError(f"POST /notifications answered {post.status} {post.body}, not 202")
    deadline = time.monotonic() + EXECUTION_TIMEOUT_S
    while True:
        get = call_api(server.url + f"notifications/{request['notificationId']}", signed_by=caller,
                       region=aws.region)
        if get.status == 200 and get.body.get("status") not in (None, "PROCESSING"):
            break
        if time.monotonic() > deadline or get.status not in (200, 404):
            raise DemoError(f"GET /notifications/{request['notificationId']} answered {get.status} {get.body}")
        time.sleep(0.1)
    # A fresh id, since the example's own was taken by the StartExecution step above.
    curl_request = LOG_DIR / "api-request.json"
    curl_request.write_text(json.dumps({**json.loads((EXAMPLES / "email.json").read_text()),
                                        "notificationId": f"demo-curl-{run_id}"}, indent=2))
    sigv4 = f'--aws-sigv4 "aws:amz:{aws.region}:execute-api" --user "{caller.access_key}:{caller.secret_key}"'
    curl = [
        f"curl {sigv4} -H 'Content-Type: application/json' --data @{_relative(curl_request)} "
        f"{server.url}notifications",
        f"curl {sigv4} {server.url}notifications/demo-curl-{run_id}",
    ]
    return ApiExchange(server.url, post, get, curl)


def render_api_exchange(exchange: ApiExchange) -> list[str]:
    return [
        f"API over HTTP: {exchange.url} (served locally; SigV4 as user {API_CALLER})",
        f"  POST notifications -> {exchange.post.status} {json.dumps(exchange.post.body)}",
        f"  GET  notifications/{exchange.post.body['notificationId']} -> {exchange.get.status} "
        f"{json.dumps(exchange.get.body)}",
        "  the same with curl (python -m tools.demo --keep-api keeps the API up):",
        *(f"    {command}" for command in exchange.curl),
    ]


# ---- the recipient-aware send ---------------------------------------------------------------------

RECIPIENT_STACK = f"{STACK_NAME}-recipients"
TEMPLATES_DIRECTORY = ROOT / "notification_stack" / "templates"
PREFERENCE_ZONES = ("UTC", "Europe/Paris")
UNSUBSCRIBE_TOPICS = ("orders", "marketing")
RECIPIENT_CALLER = "RecipientsCaller"  # the IAM user's construct id in that stack
RECIPIENT_GRANTS = ("grant_write_preferences", "grant_invoke")
ORDER_DATA = {"firstName": "Camille", "orderId": "A-1742", "trackingUrl": "https://track.example.com/A-1742"}


@dataclass
class RecipientStack:
    """The recipient-aware stack as synthesized in process, and the logical ids the demo reads."""

    template: dict[str, Any]
    caller_id: str  # the IAM user granted with the API's grant methods
    delivery_log_id: str


def build_recipient_stack() -> RecipientStack:
    """``NotificationService`` with templates, recipient preferences and unsubscribe topics, its
    API's caller granted with the API's own grant methods; synthesized in process (with cdk.json's
    feature flags and the dev environment's sender) into ``.demo/recipients.out/``."""
    for name, value in jsii_env().items():  # as `make` exports them, for `python -m tools.demo` too
        os.environ.setdefault(name, value)
    import aws_cdk as cdk
    from aws_cdk import aws_iam as iam

    from constructs_lib import NotificationApiOptions, NotificationService
    from notification_stack import settings_from_context

    context = cdk_json_context()
    [settings] = settings_from_context(context.get("notify-cdk"), ENVIRONMENT)
    app = cdk.App(outdir=str(LOG_DIR / "recipients.out"), analytics_reporting=False, context=context)
    stack = cdk.Stack(app, RECIPIENT_STACK)
    service = NotificationService(
        stack, "Default", sender=settings.sender, email_identities=settings.email_identities,
        allowed_senders=settings.allowed_senders,
        # The dev stack already sets the account's API Gateway CloudWatch role (one per account).
        api=NotificationApiOptions(cloud_watch_role=False),
        templates_directory=TEMPLATES_DIRECTORY, recipient_preferences=True,
        preference_time_zones=list(PREFERENCE_ZONES), email_unsubscribe_topics=list(UNSUBSCRIBE_TOPICS),
        monitoring=False,
    )
    assert service.api is not None and service.workflow.table is not None
    caller = iam.User(stack, RECIPIENT_CALLER)
    for grant in RECIPIENT_GRANTS:
        getattr(service.api, grant)(caller)
    try:
        template = app.synth().get_stack_by_name(RECIPIENT_STACK).template
    except Exception as error:  # jsii surfaces synthesis errors as RuntimeError
        raise DemoError(f"synthesizing {RECIPIENT_STACK} in process failed: {error}") from error

    def logical_id(construct: Any) -> str:
        return str(stack.resolve(stack.get_logical_id(construct.node.default_child)))

    return RecipientStack(template, logical_id(caller), logical_id(service.workflow.table))


def grant_as_on_aws(aws: Any, template: Mapping[str, Any], deployed: Any, user_id: str) -> None:
    """Put the user's policies as the grants synthesized them, with the API's stage resolved as on
    AWS: moto's CloudFormation does not model AWS::ApiGateway::Stage, so the method ARNs it
    deployed name no stage. The actions and the rest of each ARN are the grants'."""
    from local_aws.apigateway import resolve_intrinsic

    resources = template["Resources"]
    stages = {json.dumps({"Ref": k}): json.dumps(r["Properties"]["StageName"])
              for k, r in resources.items() if r["Type"] == "AWS::ApiGateway::Stage"}
    iam_client, user_name = aws.client("iam"), deployed.physical_id(user_id)
    for resource in resources.values():
        properties = resource.get("Properties", {})
        if resource["Type"] != "AWS::IAM::Policy" or {"Ref": user_id} not in properties.get("Users", []):
            continue
        text = json.dumps(properties["PolicyDocument"])
        for reference, stage_name in stages.items():
            text = text.replace(reference, stage_name)
        document = json.loads(text)
        for statement in document["Statement"]:
            arns = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            statement["Resource"] = [resolve_intrinsic(arn, aws, deployed) for arn in arns]
        iam_client.put_user_policy(UserName=user_name, PolicyName=properties["PolicyName"],
                                   PolicyDocument=json.dumps(document))


def quiet_hours_away_from(now: datetime, zone: str, *, hours_ahead: int = 6, length: int = 2) -> dict[str, str]:
    """Quiet hours (``HH:MM`` in ``zone``) that start on the hour some ``hours_ahead`` from
    ``now`` and last ``length`` hours: ``now`` is well outside them, so a send goes out at once."""
    start = (now.astimezone(ZoneInfo(zone)) + timedelta(hours=hours_ahead)).replace(minute=0, second=0,
                                                                                     microsecond=0)
    return {"start": start.strftime("%H:%M"), "end": (start + timedelta(hours=length)).strftime("%H:%M"),
            "timeZone": zone}


def recipient_preferences(now: datetime, run_id: str) -> dict[str, Any]:
    """The body of the demo's PUT: contact points, French, SMS opted out of marketing, quiet hours."""
    return {
        "phoneNumber": "+33639980042", "email": f"camille-{run_id}@example.org", "locale": "fr",
        "optOut": {"marketing": ["sms"]},
        "quietHours": quiet_hours_away_from(now, "Europe/Paris"),
    }


def recipient_requests(recipient_id: str, run_id: str) -> list[tuple[str, dict[str, Any], Expectation]]:
    """(label, body, expectation) of the two POSTs: they name the recipient, not its contact points."""
    return [
        ("POST /notifications (category orders)",
         {"notificationId": f"demo-order-{run_id}", "channel": "both", "recipientId": recipient_id,
          "category": "orders", "template": {"name": "order-shipped", "data": ORDER_DATA}},
         Expectation("SUCCEEDED", record="SENT", channels=(("sms", "SENT"), ("email", "SENT")))),
        ("POST /notifications (category marketing)",
         {"notificationId": f"demo-news-{run_id}", "channel": "both", "recipientId": recipient_id,
          "category": "marketing", "message": "Les soldes d'hiver commencent demain : -20 % sur tout le site.",
          "email": {"subject": "Les soldes d'hiver commencent demain"}},
         Expectation("SUCCEEDED", record="SENT", channels=(("sms", "SKIPPED_PREFERENCE"), ("email", "SENT")))),
    ]


@dataclass
class RecipientExchange:
    """What the recipient-aware send did: the PUT, the quiet hours against the local time, each POST."""

    url: str
    caller: str  # the IAM user's name
    recipient_id: str
    put: Any  # ApiAnswer
    local_time: str  # now, in the quiet hours' zone
    reports: list[RequestReport]


def deploy_recipient_stack(aws: Any, built: RecipientStack) -> Any:
    """CloudFormation CreateStack of the in-process template, straight into the local AWS (no CLI)."""
    return aws.deploy_template(RECIPIENT_STACK, built.template)


def finished_execution(aws: Any, execution_arn: str) -> dict[str, Any]:
    """Wait for an execution the API started; DescribeExecution's answer once it has ended."""
    deadline = time.monotonic() + EXECUTION_TIMEOUT_S
    while True:
        described: dict[str, Any] = aws.client("stepfunctions").describe_execution(executionArn=execution_arn)
        if described["status"] != "RUNNING":
            return described
        if time.monotonic() > deadline:
            raise DemoError(f"execution {execution_arn} still RUNNING after {EXECUTION_TIMEOUT_S} s")
        time.sleep(0.05)


def send_to_recipient(aws: Any, built: RecipientStack, deployed: Any, run_id: str) -> RecipientExchange:
    """As the granted user, over HTTP with SigV4: PUT the recipient's preferences, then POST each
    request, wait for its execution and gather what it did."""
    from botocore.credentials import Credentials

    from local_aws.apigateway.client import call_api

    grant_as_on_aws(aws, built.template, deployed, built.caller_id)
    user = deployed.physical_id(built.caller_id)
    key = aws.client("iam").create_access_key(UserName=user)["AccessKey"]
    caller = Credentials(key["AccessKeyId"], key["SecretAccessKey"])
    server = aws.start_api_server(RECIPIENT_STACK)  # stopped with the embedded AWS
    table = deployed.physical_id(built.delivery_log_id)
    now = datetime.now(UTC)
    recipient_id = f"camille-{run_id}"
    preferences = recipient_preferences(now, run_id)
    put = call_api(server.url + f"recipients/{recipient_id}/preferences", "PUT", body=preferences,
                   signed_by=caller, region=aws.region)
    if put.status != 200:
        raise DemoError(f"PUT /recipients/{recipient_id}/preferences answered {put.status} {put.body}, not 200")
    reports: list[RequestReport] = []
    for label, request, expected in recipient_requests(recipient_id, run_id):
        sms_before, emails_before = len(aws.sms_messages()), len(aws.sent_emails())
        post = call_api(server.url + "notifications", "POST", body=request, signed_by=caller, region=aws.region)
        if post.status != 202 or not isinstance(post.body, Mapping) or not post.body.get("executionArn"):
            raise DemoError(f"{label} answered {post.status} {post.body}, not 202 with an executionArn")
        execution_arn = post.body["executionArn"]
        result = finished_execution(aws, execution_arn)
        reports.append(RequestReport(
            file=label, execution=execution_arn.rsplit(":", 1)[-1], expected=expected,
            status=result["status"], error=result.get("error"), cause=result.get("cause"),
            states=aws.states_entered(execution_arn),
            sms=aws.sms_messages()[sms_before:], emails=aws.sent_emails()[emails_before:],
            record=read_record(aws, table, request["notificationId"]),
        ))
    local_time = now.astimezone(ZoneInfo(preferences["quietHours"]["timeZone"])).strftime("%H:%M")
    return RecipientExchange(server.url, user, recipient_id, put, local_time, reports)


def render_recipient_exchange(exchange: RecipientExchange, width: int = WIDTH) -> list[str]:
    """The stack and how it was deployed, the caller, the PUT and the quiet hours; then one
    ``render_report`` per POST."""
    quiet = exchange.put.body.get("quietHours") if isinstance(exchange.put.body, Mapping) else None
    head = [
        f"Recipient-aware send: {RECIPIENT_STACK}, synthesized in process and deployed directly with "
        "CloudFormation CreateStack (not through the CDK CLI)",
        f"NotificationService(api, templates_directory=notification_stack/templates, recipient_preferences, "
        f"preference_time_zones={list(PREFERENCE_ZONES)}, email_unsubscribe_topics={list(UNSUBSCRIBE_TOPICS)})",
        f"API over HTTP: {exchange.url} (SigV4 as IAM user {exchange.caller}, granted with "
        f"{' and '.join(f'api.{grant}' for grant in RECIPIENT_GRANTS)})",
        f"PUT recipients/{exchange.recipient_id}/preferences -> {exchange.put.status} "
        f"{json.dumps(exchange.put.body, ensure_ascii=False)}",
    ]
    if isinstance(quiet, Mapping):
        head.append(f"quiet hours {quiet.get('start')}-{quiet.get('end')} {quiet.get('timeZone')}; it is "
                    f"{exchange.local_time} there, so each send goes out now")
    lines: list[str] = []
    for i, text in enumerate(head):
        lines += textwrap.wrap(text, width=width, initial_indent="" if i == 0 else "  ",
                               subsequent_indent="    ", break_on_hyphens=False)
    for report in exchange.reports:
        lines += render_report(report, width)
    return lines


def request_files(only: str | None) -> list[Path]:
    if only is None:
        files = sorted(EXAMPLES.glob("*.json"))
        if not files:
            raise DemoError(f"no request files in {_relative(EXAMPLES)}")
        return files
    for candidate in (Path(only), ROOT / only):
        if candidate.is_file():
            return [candidate.resolve()]
    raise DemoError(f"--only {only}: no such file")


@contextmanager
def server_logs_to(path: Path) -> Iterator[None]:
    """Send the embedded server's warnings (moto's 'No CloudFormation support ...') to a file."""
    handler = logging.FileHandler(path, mode="w")
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    previous_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    logging.captureWarnings(True)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("default")
            yield
    finally:
        logging.captureWarnings(False)
        root.removeHandler(handler)
        root.setLevel(previous_level)
        handler.close()


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # unwinds like Ctrl-C, so the server is stopped


def run(args: argparse.Namespace, steps: Steps) -> tuple[list[RequestReport], str]:
    """Steps 1-10; the embedded AWS is stopped whatever happens once it has started."""
    files = request_files(args.only)
    with steps.step("synthesize: cdk synth --quiet -> cdk.out/"):
        synthesize()
    from local_aws import LocalAws

    with steps.step("start the embedded AWS (moto server on 127.0.0.1)"):
        aws = LocalAws.start_server(seed_bootstrap=False)
    try:
        how = "CloudFormation CreateStack" if args.direct else "cdk bootstrap, cdk deploy (logs in .demo/)"
        with steps.step(f"deploy {STACK_NAME}: {how}"):
            deployment = deploy(aws, direct=args.direct)
        stack = deployment.stack
        steps.note(f"deployed by {deployment.how}")
        arn, table = stack.outputs.get("StateMachineArn"), stack.outputs.get("DeliveryLogTableName")
        if not arn or not table:
            steps.note(f"WARNING: the stack's Outputs are incomplete ({sorted(stack.outputs)}); "
                       "taking the ARN and table name from its resources")
            arn, table = stack.state_machine_arn, stack.table_name
        identities = ses_identities(environment_settings(cdk_json_context()))
        with steps.step(f"verify SES identities: {', '.join(identities)}"):
            aws.verify_email_identities(identities)
        run_id, taken = uuid.uuid4().hex[:6], set[str]()
        reports: list[RequestReport] = []
        with steps.step(f"send {len(files)} request(s) with StartExecution, wait for each"):
            for path in files:
                reports.append(send_one(aws, path, arn, table, taken, run_id))
        with steps.step("call the API over HTTP: POST /notifications, GET /notifications/{id} (SigV4)"):
            exchange = call_the_api(aws, run_id)
        with steps.step(f"recipient-aware send: synthesize {RECIPIENT_STACK} in process"):
            built = build_recipient_stack()
        with steps.step(f"recipient-aware send: deploy {RECIPIENT_STACK} with CloudFormation CreateStack"):
            recipient_stack = deploy_recipient_stack(aws, built)
        steps.note("deployed directly (LocalAws.deploy_template), not through the CDK CLI")
        with steps.step("recipient-aware send: PUT preferences, POST orders + marketing over HTTP (SigV4)"):
            recipients = send_to_recipient(aws, built, recipient_stack, run_id)
        steps.announce("report")
        for report in reports:
            print("\n".join(render_report(report)))
        print()
        print("\n".join(render_summary(reports)))
        print()
        print("\n".join(render_api_exchange(exchange)))
        print()
        print("\n".join(render_recipient_exchange(recipients)))
        print()
        if args.keep_api:
            input(f"the API is served at {exchange.url}; press Enter to stop ")
        if aws.access is not None:  # IAM and KMS as AWS would evaluate them (local_aws.access)
            print(aws.access.report())
            if aws.access.denials:
                raise DemoError(f"the access check refused {len(aws.access.denials)} request(s); see above")
        return reports + recipients.reports, deployment.how
    finally:
        steps.number = steps.total - 1  # stopping is always the last step, even after an early exit
        with steps.step("stop the embedded AWS"):
            aws.stop()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--only", metavar="FILE", help="send only this request file")
    parser.add_argument("--direct", action="store_true",
                        help="deploy with CloudFormation CreateStack instead of the CDK CLI")
    parser.add_argument("--keep-api", action="store_true",
                        help="keep serving the API (and the embedded AWS) until Enter, for curl")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    started = time.perf_counter()
    LOG_DIR.mkdir(exist_ok=True)
    steps = Steps(STEPS)
    try:
        with server_logs_to(LOG_DIR / "server.log"):
            reports, how_deployed = run(args, steps)
    except KeyboardInterrupt:
        print("\ndemo: interrupted", file=sys.stderr)
        return 130
    except DemoError as error:
        steps.note(f"error: {error}")
        return 1
    except Exception as error:  # e.g. StackDeployError: its message lists the stack events
        steps.note(f"error: {type(error).__name__}: {error}")
        return 1
    elapsed = time.perf_counter() - started
    failed = [r for r in reports if not r.ok]
    if failed:
        print(f"demo: {len(failed)} of {len(reports)} request(s) not as expected ({elapsed:.1f} s)")
        return 1
    print(f"demo: {len(reports)} request(s) as expected, deployed by {how_deployed} ({elapsed:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
