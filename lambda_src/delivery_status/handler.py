"""Delivery-status feedback: provider delivery events update the notification's delivery-log record.

One entry point, ``handler``, takes two event sources:

* The SQS queue behind the feedback topic (SNS topic -> SQS queue -> this function), which gets
  two kinds of event:

  - Email: SES event publishing (an SES configuration set's event destination).
  - SMS sent through AWS End User Messaging SMS (``pinpoint-sms-voice-v2`` SendTextMessage): the
    ``TEXT_*`` events of its configuration set's SNS event destination (``eventType``,
    ``messageId``, ``isFinal``, ``messageStatusDescription``, ``messageRequestTimestamp``...).
    ``TEXT_DELIVERED`` is DELIVERED. ``TEXT_SUCCESSFUL`` (the carrier accepted the message) is
    DELIVERED only when it is final: in some countries it is the last event AWS gets, elsewhere
    ``TEXT_DELIVERED`` follows. A failure type (``SMS_VOICE_FAILURES``; ``TEXT_UNKNOWN`` is what
    AWS sends when no final event came from the carrier within 72 hours) is FAILED when final and
    ignored while AWS still tries (``isFinal`` false; a final event follows). Queued, pending and
    sent events, and the voice, MMS and RCS events a configuration set matching ``ALL`` publishes,
    carry no outcome and are ignored.

  Each SQS record holds an SNS notification whose ``Message`` is the event; raw message delivery
  (the event as the body) is accepted too. The response names the records to retry in
  ``batchItemFailures``, so one bad record never re-runs the others.
* SMS sent through SNS: its delivery-status logs (CloudWatch Logs subscription on
  ``sns/<region>/<account>/DirectPublishToPhoneNumber`` and ``.../Failure``; ``awslogs.data`` is
  base64-encoded gzip JSON). Lambda invokes these asynchronously.

The record is found by the provider's message id through the table's GSIs (``smsMessageId`` /
``emailMessageId``, projected KEYS_ONLY) and updated with ``results.<channel>.deliveryStatus``,
``deliveryUpdatedAt`` and ``deliveryDetail``. The update is conditional: it never creates an item,
only touches a record whose ``results.<channel>.messageId`` is the event's id, and never replaces
a status with one of lower rank (``STATUS_RANK``), so out-of-order and repeated events are safe.

An event that is not applied is either dropped or kept, decided the same way for both sources:

* Dropped (logged as ``malformed delivery event`` with the reason, counted in ``MalformedEvents``):
  input that would fail the same way on every retry. Not JSON, JSON nested too deeply to parse,
  a CloudWatch Logs payload that inflates past ``MAX_AWSLOGS_BYTES``, missing fields, a message
  id no DynamoDB key can hold, or an update DynamoDB refuses as invalid (``ValidationException``).
* Kept (counted in ``RetriedEvents``): DynamoDB throttling, 5xx and every other DynamoDB error,
  a recent unmatched event from the queue (email or End User Messaging SMS: it may have overtaken
  the workflow's write), and any exception this handler does not expect (logged with its type and
  place, counted in ``ProcessingErrors``): one bad record never fails the others.
  An SQS record is named in ``batchItemFailures``; SQS offers it again and, after the queue's
  receive limit, moves it to the dead-letter queue. A CloudWatch Logs payload is applied entry by
  entry and then raised (``RetryLater``) for Lambda's asynchronous retries, after which it goes to
  the same queue. What the handler does not understand waits there, unchanged, for a redrive.

Every invocation prints one CloudWatch Embedded Metric Format line counting each outcome
(``METRICS``) and one structured JSON line per event that was not applied. Log lines carry
provider message ids, never addresses, phone numbers or message text.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import time
import traceback
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

TABLE_ENV = "DELIVERY_LOG_TABLE"
SMS_INDEX_ENV = "SMS_MESSAGE_ID_INDEX"
EMAIL_INDEX_ENV = "EMAIL_MESSAGE_ID_INDEX"
NAMESPACE_ENV = "METRICS_NAMESPACE"
RETRY_WINDOW_ENV = "UNMATCHED_RETRY_SECONDS"

PARTITION_KEY = "notificationId"
MESSAGE_ID_ATTRIBUTES = {"sms": "smsMessageId", "email": "emailMessageId"}
DEFAULT_INDEXES = {"sms": "BySmsMessageId", "email": "ByEmailMessageId"}
DEFAULT_NAMESPACE = "NotifyCdk/DeliveryFeedback"
DEFAULT_RETRY_WINDOW_SECONDS = 600

# A status only replaces one of lower rank. Negative outcomes outrank delivery: a bounce can
# arrive after the delivery event and a complaint always does, and they are what a sender must
# act on; a complaint ranks highest because the recipient then has to be suppressed.
STATUS_RANK = {"DELIVERED": 1, "FAILED": 2, "BOUNCED": 3, "COMPLAINED": 4}

SES_STATUS = {"Delivery": "DELIVERED", "Bounce": "BOUNCED", "Complaint": "COMPLAINED", "Reject": "FAILED"}
# Real SES event types that carry no delivery outcome; a shared configuration set may publish them.
SES_IGNORED = frozenset({"Send", "Open", "Click", "DeliveryDelay", "Rendering Failure", "Subscription"})
SMS_STATUS = {"SUCCESS": "DELIVERED", "FAILURE": "FAILED"}

# AWS End User Messaging SMS event types (configuration-set event destinations).
SMS_VOICE_DELIVERED = "TEXT_DELIVERED"
# The carrier accepted the message: the outcome only when it is the final event.
SMS_VOICE_ACCEPTED = "TEXT_SUCCESSFUL"
SMS_VOICE_FAILURES = frozenset({
    "TEXT_INVALID", "TEXT_INVALID_MESSAGE", "TEXT_UNREACHABLE", "TEXT_CARRIER_UNREACHABLE", "TEXT_BLOCKED",
    "TEXT_CARRIER_BLOCKED", "TEXT_SPAM", "TEXT_UNKNOWN", "TEXT_TTL_EXPIRED", "TEXT_PROTECT_BLOCKED",
})
# Steps on the way, without an outcome.
SMS_VOICE_IGNORED = frozenset({"TEXT_SENT", "TEXT_QUEUED", "TEXT_PENDING"})
# An event whose type starts with one of these is an End User Messaging event. Voice, MMS and RCS
# events reach the topic only from a destination matching ALL; the workflow sends none of them.
SMS_VOICE_PREFIX = "TEXT_"
SMS_VOICE_OTHER_PREFIXES = ("VOICE_", "MEDIA_", "RCS_")
SMS_TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S.%f"

METRICS = (
    "DeliveryUpdates",   # a record got a new delivery status
    "StaleEvents",       # duplicate, lower rank, or the record no longer matches
    "UnmatchedEvents",   # no record has this provider message id
    "IgnoredEvents",     # event types (or non-final events) without a delivery outcome
    "MalformedEvents",   # cannot be parsed; never retried, never touches a record
    "RetriedEvents",     # handed back to SQS or to Lambda's async retry
    "ProcessingErrors",  # DynamoDB failed
)
_DETAIL_LIMIT = 256
_QUOTE_LIMIT = 40
# DynamoDB refuses a partition key over 2048 bytes, so a longer message id matches no GSI entry
# and its query would only fail with a ValidationException.
_KEY_BYTES_LIMIT = 2048
# Lambda receives at most one PutLogEvents batch (1 MiB of log messages) per subscription payload;
# the JSON envelope and escaping keep a real payload well below 4 MiB. Anything larger is a gzip
# bomb, refused before it fills the function's 256 MB.
MAX_AWSLOGS_BYTES = 4 * 1024 * 1024

UPDATED, STALE, UNMATCHED, ERROR = "updated", "stale", "unmatched", "error"


class Malformed(Exception):
    """The event or record cannot be understood; the message says which part and why.
    ``source`` names the kind of event when it was recognised before the fault."""

    def __init__(self, reason: str, *, source: str | None = None) -> None:
        super().__init__(reason)
        self.source = source


class RetryLater(Exception):
    """Raised after a CloudWatch Logs batch so Lambda's asynchronous retry delivers it again
    (updates are idempotent, so the entries that did apply are harmless to repeat)."""


@dataclass(frozen=True)
class Settings:
    table: str
    indexes: Mapping[str, str]
    namespace: str
    retry_window_seconds: float
    function_name: str

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        table = env.get(TABLE_ENV, "")
        if not table:
            # A deployment fault, not a bad event: fail loudly so the events stay queued.
            raise RuntimeError(f"{TABLE_ENV} is not set; the function cannot find the delivery log")
        return cls(
            table=table,
            indexes={
                "sms": env.get(SMS_INDEX_ENV) or DEFAULT_INDEXES["sms"],
                "email": env.get(EMAIL_INDEX_ENV) or DEFAULT_INDEXES["email"],
            },
            namespace=env.get(NAMESPACE_ENV) or DEFAULT_NAMESPACE,
            retry_window_seconds=float(env.get(RETRY_WINDOW_ENV) or DEFAULT_RETRY_WINDOW_SECONDS),
            function_name=env.get("AWS_LAMBDA_FUNCTION_NAME") or "local",
        )


@dataclass(frozen=True)
class DeliveryEvent:
    channel: str  # "sms" | "email"
    message_id: str
    status: str  # a key of STATUS_RANK
    detail: str
    sent_at: datetime | None  # when the provider accepted the message, if the event says


# ---- entry point ----------------------------------------------------------------------------


def handler(event: Any, context: Any) -> dict[str, Any]:
    run = _Run(Settings.from_env(), getattr(context, "aws_request_id", ""))
    try:
        if isinstance(event, dict) and "awslogs" in event:
            run.cloudwatch_logs(event)
            return {}
        if isinstance(event, dict) and isinstance(event.get("Records"), list):
            return {"batchItemFailures": run.sqs_batch(event["Records"])}
        run.malformed("the event is neither an SQS batch nor a CloudWatch Logs subscription event",
                      source="unknown")
        return {"batchItemFailures": []}
    finally:
        run.emit_metrics()


# ---- parsing --------------------------------------------------------------------------------


def parse_sqs_record(record: Mapping[str, Any]) -> DeliveryEvent | None:
    """The delivery event in one SQS record (an SES or an End User Messaging SMS event), or None
    for an event type without a delivery outcome."""
    body = _json(record.get("body"), "the SQS body is not JSON")
    if isinstance(body, dict) and body.get("Type") == "Notification":
        message = _json(body.get("Message"), "the SNS Message is not JSON")
    else:
        message = body  # raw message delivery
    if _is_sms_voice_event(message):
        return parse_sms_voice_event(message)
    return parse_ses_event(message)


def _is_sms_voice_event(message: Any) -> bool:
    event_type = message.get("eventType") if isinstance(message, dict) else None
    return isinstance(event_type, str) and event_type.startswith((SMS_VOICE_PREFIX, *SMS_VOICE_OTHER_PREFIXES))


def parse_sms_voice_event(message: Mapping[str, Any]) -> DeliveryEvent | None:
    """One End User Messaging SMS event (``TEXT_*``), or None when it carries no outcome (yet)."""
    try:
        return _sms_voice_event(message)
    except Malformed as exc:
        raise Malformed(str(exc), source="sms-voice") from None


def _sms_voice_event(message: Mapping[str, Any]) -> DeliveryEvent | None:
    event_type = message.get("eventType")
    if not isinstance(event_type, str):
        raise Malformed("the End User Messaging event has no eventType")
    if not event_type.startswith(SMS_VOICE_PREFIX) or event_type in SMS_VOICE_IGNORED:
        return None
    if event_type == SMS_VOICE_DELIVERED:
        status = "DELIVERED"
    elif event_type == SMS_VOICE_ACCEPTED or event_type in SMS_VOICE_FAILURES:
        is_final = message.get("isFinal")
        if not isinstance(is_final, bool):
            raise Malformed(f"the {event_type} event has no isFinal true or false")
        if not is_final:
            return None  # AWS still tries: a final event follows
        status = "DELIVERED" if event_type == SMS_VOICE_ACCEPTED else "FAILED"
    else:
        raise Malformed(f"unknown End User Messaging eventType {_quote(event_type)}")
    message_id = _message_id(message.get("messageId"), "messageId")
    description = message.get("messageStatusDescription")
    detail = f"{event_type}: {description}" if isinstance(description, str) and description else event_type
    return DeliveryEvent("sms", message_id, status, detail, _epoch_millis(message.get("messageRequestTimestamp")))


def parse_ses_event(message: Any) -> DeliveryEvent | None:
    if not isinstance(message, dict):
        raise Malformed("the SES event is not a JSON object")
    # Configuration-set event publishing says eventType; identity notifications say notificationType.
    event_type = message.get("eventType", message.get("notificationType"))
    if not isinstance(event_type, str):
        raise Malformed("the SES event has no eventType")
    status = SES_STATUS.get(event_type)
    if status is None:
        if event_type in SES_IGNORED:
            return None
        raise Malformed(f"unknown SES eventType {_quote(event_type)}")
    mail = message.get("mail")
    mail = mail if isinstance(mail, dict) else {}
    message_id = _message_id(mail.get("messageId"), "mail.messageId")
    return DeliveryEvent("email", message_id, status, _ses_detail(event_type, message),
                         _parse_time(mail.get("timestamp")))


def _ses_detail(event_type: str, message: Mapping[str, Any]) -> str:
    part = message.get(event_type.lower())
    part = part if isinstance(part, dict) else {}
    if event_type == "Bounce":
        return "/".join(str(part.get(k) or "") for k in ("bounceType", "bounceSubType"))
    if event_type == "Complaint":
        return str(part.get("complaintFeedbackType") or "complaint")
    if event_type == "Reject":
        return str(part.get("reason") or "")
    return str(part.get("smtpResponse") or "")


def decode_awslogs(event: Mapping[str, Any]) -> dict[str, Any]:
    awslogs = event.get("awslogs")
    data = awslogs.get("data") if isinstance(awslogs, dict) else None
    if not isinstance(data, str):
        raise Malformed("awslogs.data is missing")
    try:
        compressed = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise Malformed("awslogs.data is not base64") from None
    payload = _json(_gunzip(compressed, MAX_AWSLOGS_BYTES), "awslogs.data is not JSON")
    if not isinstance(payload, dict):
        raise Malformed("awslogs.data is not a JSON object")
    return payload


def _gunzip(compressed: bytes, limit: int) -> bytes:
    """One gzip stream, inflated no further than ``limit`` bytes (so a bomb never is)."""
    inflater = zlib.decompressobj(wbits=zlib.MAX_WBITS | 16)  # | 16: gzip header and trailer
    try:
        text = inflater.decompress(compressed, limit + 1)
    except zlib.error:
        raise Malformed("awslogs.data is not gzip") from None
    if len(text) > limit:
        raise Malformed(f"awslogs.data inflates to more than {limit} bytes")
    if not inflater.eof or inflater.unused_data:
        raise Malformed("awslogs.data is not one complete gzip stream")
    return text


def parse_sms_log_event(entry: Any) -> DeliveryEvent:
    """One SNS SMS delivery-status log line (``{"notification": {...}, "delivery": {...}, "status": ...}``)."""
    if not isinstance(entry, dict):
        raise Malformed("the log event is not an object")
    record = _json(entry.get("message"), "the log message is not JSON")
    if not isinstance(record, dict):
        raise Malformed("the log message is not a JSON object")
    notification = record.get("notification")
    notification = notification if isinstance(notification, dict) else {}
    message_id = _message_id(notification.get("messageId"), "notification.messageId")
    raw_status = record.get("status")
    status = SMS_STATUS.get(raw_status) if isinstance(raw_status, str) else None
    if status is None:
        raise Malformed(f"unknown SMS status {_quote(raw_status)}")
    delivery = record.get("delivery")
    detail = delivery.get("providerResponse") if isinstance(delivery, dict) else None
    return DeliveryEvent("sms", message_id, status, str(detail or ""),
                         _parse_time(notification.get("timestamp"), SMS_TIMESTAMP_FORMAT))


def _message_id(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise Malformed(f"the event has no {where}")
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError:  # a lone surrogate, from a \ud800 escape
        raise Malformed(f"{where} is not valid Unicode") from None
    if size > _KEY_BYTES_LIMIT:
        raise Malformed(f"{where} is longer than a DynamoDB key ({size} bytes)")
    return value


def _json(value: Any, reason: str) -> Any:
    if not isinstance(value, (str, bytes, bytearray)):
        raise Malformed(reason)
    try:
        return json.loads(value)
    except (ValueError, UnicodeDecodeError):
        raise Malformed(reason) from None
    except RecursionError:  # the parser recurses once per nesting level
        raise Malformed(f"{reason}: nested too deeply") from None


def _parse_time(value: Any, fmt: str | None = None) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.strptime(value, fmt) if fmt else datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _epoch_millis(value: Any) -> datetime | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        return datetime.fromtimestamp(value / 1000, UTC)
    except (OverflowError, OSError, ValueError):  # out of datetime's range, or NaN
        return None


def _quote(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _QUOTE_LIMIT else text[:_QUOTE_LIMIT] + "..."


# ---- applying -------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _dynamodb() -> Any:
    return boto3.client("dynamodb")


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _timestamp(moment: datetime) -> str:
    """The format Step Functions writes (``$$.State.EnteredTime``): ISO 8601, milliseconds, Z."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class _Run:
    """One invocation: applies events, counts outcomes, writes the log and metric lines."""

    def __init__(self, settings: Settings, request_id: str) -> None:
        self.settings = settings
        self.request_id = request_id
        self.counts = dict.fromkeys(METRICS, 0)

    # -- sources

    def sqs_batch(self, records: list[Any]) -> list[dict[str, str]]:
        failures: list[dict[str, str]] = []
        for record in records:
            item_id = record.get("messageId") if isinstance(record, dict) else None
            if not isinstance(item_id, str) or not item_id:
                self.malformed("the SQS record has no messageId", source="ses")
                continue
            if self._isolated(self._sqs_record, record, source="ses", sqsMessageId=item_id):
                failures.append({"itemIdentifier": item_id})
                self.counts["RetriedEvents"] += 1
        return failures

    def _sqs_record(self, record: Mapping[str, Any]) -> bool:
        """Applies one SQS record; True when SQS should offer it again."""
        event = parse_sqs_record(record)
        if event is None:
            self.counts["IgnoredEvents"] += 1
            return False
        outcome = self.apply(event)
        # An unmatched recent event may have overtaken the workflow's outcome write (or the
        # GSI's replication): SQS offers it again after the visibility timeout. An old one
        # belongs to a message this workflow did not send, and is dropped.
        return outcome == ERROR or (outcome == UNMATCHED and self._recent(event))

    def cloudwatch_logs(self, event: Mapping[str, Any]) -> None:
        try:
            payload = decode_awslogs(event)
        except Malformed as exc:
            self.malformed(str(exc), source="sms")
            return
        message_type = payload.get("messageType")
        if message_type == "CONTROL_MESSAGE":
            return  # CloudWatch Logs checking that the destination is reachable
        log_events = payload.get("logEvents")
        if message_type != "DATA_MESSAGE" or not isinstance(log_events, list):
            self.malformed("the CloudWatch Logs payload is not a DATA_MESSAGE with logEvents", source="sms")
            return
        errors = 0
        for entry in log_events:
            log_event_id = entry.get("id") if isinstance(entry, dict) else None
            if self._isolated(self._log_entry, entry, source="sms", logEventId=log_event_id):
                errors += 1
        if errors:
            self.counts["RetriedEvents"] += errors
            raise RetryLater(f"{errors} delivery-status update(s) failed; the batch is retried")

    def _log_entry(self, entry: Any) -> bool:
        """Applies one SMS delivery-status log entry; True when the payload must be retried.
        Unmatched SMS events are not retried: the log groups are account-wide, so SMS sent by
        other applications in the account are expected here."""
        return self.apply(parse_sms_log_event(entry)) == ERROR

    def _isolated(self, apply_one: Callable[[Any], bool], item: Any, *, source: str, **ids: Any) -> bool:
        """``apply_one(item)`` for one SQS record or log entry, so that nothing it raises reaches
        the others: malformed input is dropped, anything unexpected is kept. True: retry it."""
        try:
            return apply_one(item)
        except Malformed as exc:
            self.malformed(str(exc), source=exc.source or source, **ids)
            return False
        except Exception as exc:
            self.counts["ProcessingErrors"] += 1
            # The type and the place only: an unexpected exception's message may quote the event.
            frame = traceback.extract_tb(exc.__traceback__)[-1]
            self.log("ERROR", "unexpected failure; the event is kept for a retry", source=source,
                     error=type(exc).__name__, at=f"{os.path.basename(frame.filename)}:{frame.lineno}", **ids)
            return True

    # -- the record

    def apply(self, event: DeliveryEvent) -> str:
        try:
            keys = self._find(event)
            if not keys:
                self.counts["UnmatchedEvents"] += 1
                self.log("INFO", "no delivery-log record has this message id",
                         channel=event.channel, messageId=event.message_id, deliveryStatus=event.status)
                return UNMATCHED
            outcomes = [self._update(key, event) for key in keys]
        except (ClientError, BotoCoreError) as exc:
            self.counts["ProcessingErrors"] += 1
            self.log("ERROR", "the delivery log could not be updated", channel=event.channel,
                     messageId=event.message_id, error=type(exc).__name__, cause=str(exc)[:_DETAIL_LIMIT])
            return ERROR
        if UPDATED in outcomes:
            self.counts["DeliveryUpdates"] += 1
            return UPDATED
        self.counts["StaleEvents"] += 1
        self.log("INFO", "the record already has this status or a higher-ranked one",
                 channel=event.channel, messageId=event.message_id, deliveryStatus=event.status,
                 notificationIds=keys)
        return STALE

    def _find(self, event: DeliveryEvent) -> list[str]:
        keys: list[str] = []
        request: dict[str, Any] = {
            "TableName": self.settings.table,
            "IndexName": self.settings.indexes[event.channel],
            "KeyConditionExpression": "#messageId = :messageId",
            "ExpressionAttributeNames": {"#messageId": MESSAGE_ID_ATTRIBUTES[event.channel]},
            "ExpressionAttributeValues": {":messageId": {"S": event.message_id}},
        }
        while True:
            page = _dynamodb().query(**request)
            keys += [item[PARTITION_KEY]["S"] for item in page.get("Items", []) if PARTITION_KEY in item]
            if "LastEvaluatedKey" not in page:
                return keys
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _update(self, notification_id: str, event: DeliveryEvent) -> str:
        names = {
            "#pk": PARTITION_KEY, "#results": "results", "#channel": event.channel, "#messageId": "messageId",
            "#status": "deliveryStatus", "#updatedAt": "deliveryUpdatedAt", "#detail": "deliveryDetail",
        }
        values: dict[str, Any] = {
            ":messageId": {"S": event.message_id},
            ":status": {"S": event.status},
            ":updatedAt": {"S": _timestamp(_utcnow())},
            ":detail": {"S": event.detail[:_DETAIL_LIMIT]},
        }
        upgrade = "attribute_not_exists(#results.#channel.#status)"
        lower = [status for status, rank in STATUS_RANK.items() if rank < STATUS_RANK[event.status]]
        if lower:
            values.update({f":lower{i}": {"S": status} for i, status in enumerate(lower)})
            placeholders = ", ".join(f":lower{i}" for i in range(len(lower)))
            upgrade = f"({upgrade} OR #results.#channel.#status IN ({placeholders}))"
        try:
            _dynamodb().update_item(
                TableName=self.settings.table,
                Key={PARTITION_KEY: {"S": notification_id}},
                UpdateExpression="SET #results.#channel.#status = :status, "
                                 "#results.#channel.#updatedAt = :updatedAt, #results.#channel.#detail = :detail",
                ConditionExpression=f"attribute_exists(#pk) AND #results.#channel.#messageId = :messageId "
                                    f"AND {upgrade}",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if code == "ConditionalCheckFailedException":
                return STALE
            if code == "ValidationException":  # this event's values: the same on every retry
                raise Malformed(f"DynamoDB refused the update as invalid: {str(exc)[:_DETAIL_LIMIT]}") from None
            raise
        return UPDATED

    def _recent(self, event: DeliveryEvent) -> bool:
        if event.sent_at is None:
            return False
        return (_utcnow() - event.sent_at).total_seconds() < self.settings.retry_window_seconds

    # -- output

    def malformed(self, reason: str, *, source: str, **fields: Any) -> None:
        self.counts["MalformedEvents"] += 1
        self.log("WARN", "malformed delivery event", reason=reason, source=source, **fields)

    def log(self, level: str, message: str, **fields: Any) -> None:
        line = {"level": level, "message": message, "requestId": self.request_id, **fields}
        print(json.dumps(line, separators=(",", ":"), default=str), flush=True)

    def emit_metrics(self) -> None:
        """One Embedded Metric Format line: CloudWatch turns it into metrics, no API call needed."""
        document = {
            "_aws": {
                "Timestamp": int(time.time() * 1000),
                "CloudWatchMetrics": [{
                    "Namespace": self.settings.namespace,
                    "Dimensions": [["FunctionName"]],
                    "Metrics": [{"Name": name, "Unit": "Count"} for name in METRICS],
                }],
            },
            "FunctionName": self.settings.function_name,
            **self.counts,
        }
        print(json.dumps(document, separators=(",", ":")), flush=True)
