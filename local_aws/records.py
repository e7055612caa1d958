"""Plain records returned by the ``LocalAws`` helpers."""

from __future__ import annotations

import email
from dataclasses import dataclass, field
from decimal import Decimal
from email.message import Message
from typing import Any, NamedTuple


class StackDeployError(RuntimeError):
    """A CloudFormation stack did not reach CREATE_COMPLETE; carries the stack events."""

    def __init__(self, stack_name: str, reason: str, events: list[dict[str, Any]]) -> None:
        lines = [
            f"{e.get('LogicalResourceId')} {e.get('ResourceType')} {e.get('ResourceStatus')}"
            f" {e.get('ResourceStatusReason') or ''}".rstrip()
            for e in events
        ]
        super().__init__(f"stack {stack_name!r} failed: {reason}\n" + "\n".join(lines))
        self.stack_name = stack_name
        self.events = events


@dataclass(frozen=True)
class StackResource:
    logical_id: str
    physical_id: str
    resource_type: str


@dataclass(frozen=True)
class DeployedStack:
    """A created stack: its resources by logical id, and its Outputs."""

    stack_name: str
    stack_id: str
    resources: dict[str, StackResource]
    outputs: dict[str, str] = field(default_factory=dict)

    def physical_id(self, logical_id: str) -> str:
        """Physical id (name or ARN) of the resource with this logical id."""
        try:
            return self.resources[logical_id].physical_id
        except KeyError:
            raise KeyError(
                f"no resource {logical_id!r} in stack {self.stack_name!r}; logical ids: {sorted(self.resources)}"
            ) from None

    def of_type(self, resource_type: str) -> list[StackResource]:
        """All resources of a CloudFormation type, e.g. ``AWS::DynamoDB::Table``."""
        return [r for r in self.resources.values() if r.resource_type == resource_type]

    def one_of_type(self, resource_type: str) -> StackResource:
        """The single resource of a type; raises if there are none or several."""
        found = self.of_type(resource_type)
        if len(found) != 1:
            raise LookupError(
                f"expected one {resource_type} in stack {self.stack_name!r}, found {[r.logical_id for r in found]}"
            )
        return found[0]

    @property
    def state_machine_arn(self) -> str:
        """ARN of the one ``AWS::StepFunctions::StateMachine``."""
        return self.one_of_type("AWS::StepFunctions::StateMachine").physical_id

    @property
    def table_name(self) -> str:
        """Name of the delivery-log table: the one ``AWS::DynamoDB::Table``, or, beside others (a
        preferences table), the one whose logical id names the delivery log."""
        tables = self.of_type("AWS::DynamoDB::Table")
        logs = [t for t in tables if "DeliveryLog" in t.logical_id]
        return (logs[0] if len(tables) > 1 and len(logs) == 1 else self.one_of_type("AWS::DynamoDB::Table")).physical_id


@dataclass(frozen=True)
class ExecutionResult:
    """The end state of a Step Functions execution and its history."""

    execution_arn: str
    status: str
    output: Any
    error: str | None
    cause: str | None
    events: list[dict[str, Any]]

    @property
    def states_entered(self) -> list[str]:
        """Names of the states entered, in order."""
        return states_entered_from_events(self.events)


def states_entered_from_events(events: list[dict[str, Any]]) -> list[str]:
    """Names from ``*StateEntered`` history events, in order."""
    return [e["stateEnteredEventDetails"]["name"] for e in events if str(e["type"]).endswith("StateEntered")]


class SmsMessage(NamedTuple):
    """An SMS published straight to a phone number."""

    phone_number: str
    message: str
    message_id: str


@dataclass(frozen=True)
class SentEmail:
    """An email accepted by moto's SES (v1 or v2).

    ``body`` is what moto stores: the HTML body when one was sent, else the text body.
    ``reply_to``, ``text_body``, ``html_body`` and ``configuration_set`` come from the
    ``capture_email_requests`` bridge (empty/None for mail sent while it was off).

    From ``local_aws.ses_v2``: a v2 templated send has ``kind="template"``, the rendered subject and
    bodies, ``template`` and ``template_data``; ``headers`` are those SES adds (List-Unsubscribe),
    ``contact_list``/``topic`` the ``ListManagementOptions``. SES accepts some messages without
    delivering them: ``undelivered`` maps each such recipient to why (``OnAccountSuppressionList``,
    ``UnsubscribedRecipient``, ``RenderingFailure``) and ``events`` holds the events SES publishes
    for it (``Bounce``, ``Rendering Failure``), in its event publishing shape.
    """

    message_id: str
    source: str
    to: list[str]
    cc: list[str]
    bcc: list[str]
    subject: str | None
    body: str | None
    reply_to: list[str] = field(default_factory=list)
    text_body: str | None = None
    html_body: str | None = None
    configuration_set: str | None = None
    kind: str = "simple"  # simple | raw | template
    raw_data: str | None = None
    template: str | None = None
    template_data: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    contact_list: str | None = None
    topic: str | None = None
    undelivered: dict[str, str] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def from_address(self) -> str:
        return self.source

    @property
    def delivered_to(self) -> list[str]:
        """The recipients SES delivered to (to, cc and bcc less ``undelivered``)."""
        return [a for a in (*self.to, *self.cc, *self.bcc) if a not in self.undelivered]


def sent_email_from_moto(message: Any, details: dict[str, Any]) -> SentEmail:
    """Convert one item of ``ses_backends[...].sent_messages`` to a ``SentEmail``."""
    if hasattr(message, "raw_data"):
        return _raw_email(message)
    destinations: dict[str, list[str]] = dict(message.destinations or {})
    common: dict[str, Any] = {
        "message_id": message.id,
        "source": message.source,
        "to": list(destinations.get("ToAddresses", [])),
        "cc": list(destinations.get("CcAddresses", [])),
        "bcc": list(destinations.get("BccAddresses", [])),
    }
    if hasattr(message, "template"):
        return SentEmail(
            **common,
            subject=None,
            body=None,
            kind="template",
            template=message.template,
            template_data=message.template_data,
        )
    rendered = "rendering_error" not in details  # a template SES could not render has no content
    return SentEmail(
        **common,
        subject=message.subject if rendered else None,
        body=message.body if rendered else None,
        reply_to=list(details.get("reply_to") or []),
        text_body=details.get("text_body") if rendered else None,
        html_body=details.get("html_body") if rendered else None,
        configuration_set=details.get("configuration_set"),
        kind=details.get("kind", "simple"),
        template=details.get("template"),
        template_data=details.get("template_data"),
        headers=dict(details.get("headers") or {}),
        contact_list=details.get("contact_list"),
        topic=details.get("topic"),
        undelivered=dict(details.get("undelivered") or {}),
        events=list(details.get("events") or []),
    )


def _raw_email(message: Any) -> SentEmail:
    parsed: Message = email.message_from_string(message.raw_data)
    text_body: str | None = None
    html_body: str | None = None
    for part in parsed.walk():
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes):
            continue
        content = payload.decode(part.get_content_charset() or "utf-8", errors="replace")
        if part.get_content_type() == "text/plain" and text_body is None:
            text_body = content
        elif part.get_content_type() == "text/html" and html_body is None:
            html_body = content

    def addresses(header: str) -> list[str]:
        value = parsed.get(header)
        return [a.strip() for a in str(value).split(",")] if value else []

    return SentEmail(
        message_id=message.id,
        source=message.source,
        to=addresses("To") or list(message.destinations),
        cc=addresses("Cc"),
        bcc=addresses("Bcc"),
        subject=parsed.get("Subject"),
        body=html_body or text_body,
        reply_to=addresses("Reply-To"),
        text_body=text_body,
        html_body=html_body,
        kind="raw",
        raw_data=message.raw_data,
    )


def plain(value: Any) -> Any:
    """Decimal -> int when integral (else float), recursively through lists, dicts and sets."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, set):
        return {plain(v) for v in value}
    return value
