"""End User Messaging SMS delivery events (``local_aws.sms_voice``): the event JSON AWS documents,
and its delivery to a configuration set's SNS and CloudWatch Logs destinations as AWS delivers it
(see that module's docstring), under the access check when ``check_event_deliveries`` is on."""

from __future__ import annotations

import json
import logging
import math
import re
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from unittest import mock

from local_aws.access.calls import requests_for_call
from local_aws.access.check import AccessCheck, AccessDeniedError, AccessRequest, Denial
from local_aws.access.enforce import service_assumes_role

if TYPE_CHECKING:
    from local_aws.sms_voice import ConfigurationSet, SmsVoiceMessage

_LOG = logging.getLogger(__name__)

SERVICE_PRINCIPAL = "sms-voice.amazonaws.com"
_STATUS_DESCRIPTIONS = {
    "SUCCESSFUL": "Message has been accepted by phone carrier",
    "DELIVERED": "Message has been delivered to the handset",
}
_GSM_TEXT = re.compile(r"^[ -~\n\r]*$")  # printable ASCII: GSM-7, as constructs_lib.contract counts parts


class _Deliveries:
    #: The access check deliveries go through (``check_event_deliveries``; None: unchecked).
    check: AccessCheck | None = None


def message_parts(body: str) -> tuple[str, int]:
    """The encoding and the number of parts carriers bill: GSM up to 160 characters, else 153 a
    part; UCS-2 (a character outside printable ASCII) up to 70, else 67 a part."""
    if _GSM_TEXT.match(body):
        return "GSM", 1 if len(body) <= 160 else math.ceil(len(body) / 153)
    return "UCS2", 1 if len(body) <= 70 else math.ceil(len(body) / 67)


def text_event(message: SmsVoiceMessage, event_type: str, *, is_final: bool, requested_ms: int) -> dict[str, Any]:
    """One SMS event in the JSON shape AWS documents (``configuration-sets-event-format``), without
    the carrier fields the emulation cannot know (``mcc``, ``mnc``, ``carrierName``); ``context``
    echoes the send's ``Context`` when it had one."""
    encoding, parts = message_parts(message.message_body)
    status = event_type.removeprefix("TEXT_")
    event: dict[str, Any] = {
        "eventType": event_type,
        "eventVersion": "1.0",
        "eventTimestamp": int(time.time() * 1000),
        "isFinal": is_final,
        "originationPhoneNumber": message.origination_phone_number,
        "destinationPhoneNumber": message.destination_phone_number,
        "isInternationalSend": False,
        "messageId": message.message_id,
        "messageRequestTimestamp": requested_ms,
        "messageEncoding": encoding,
        "messageType": message.message_type,
        "messageStatus": status,
        "messageStatusDescription": _STATUS_DESCRIPTIONS.get(status, f"Message status {status}"),
        "totalMessageParts": parts,
        "totalMessagePrice": 0.0,
        "totalCarrierFee": 0.0,
    }
    if message.destination_phone_number.startswith("+1"):
        event["isoCountryCode"] = "US"
    if message.context:
        event["context"] = dict(message.context)
    return event


def _matches(destination: Mapping[str, Any], event_type: str) -> bool:
    types = set(destination.get("MatchingEventTypes") or [])
    return bool(destination.get("Enabled", True)) and bool(types & {"ALL", "TEXT_ALL", event_type})


def deliver_events(configuration_set: ConfigurationSet, message: SmsVoiceMessage, *, account_id: str) -> None:
    """Each event of ``message``'s outcome to each enabled destination of ``configuration_set``
    that matches its type (``account_id`` owns the configuration set)."""
    requested_ms = int(time.time() * 1000)
    for index, event_type in enumerate(message.event_types):
        event = text_event(message, event_type, is_final=index == len(message.event_types) - 1,
                           requested_ms=requested_ms)
        for destination in configuration_set.destinations.values():
            if not _matches(destination, event_type):
                continue
            if destination.get("SnsDestination"):
                _publish(account_id, configuration_set, destination["SnsDestination"]["TopicArn"], event)
            if destination.get("CloudWatchLogsDestination"):
                _log(configuration_set, destination["CloudWatchLogsDestination"], event)
            if destination.get("KinesisFirehoseDestination"):
                _LOG.warning("configuration set %s: Firehose destinations are not emulated; event dropped",
                             configuration_set.name)


def _publish(owner: str, configuration_set: ConfigurationSet, topic_arn: str, event: dict[str, Any]) -> None:
    from moto.sns.models import sns_backends

    region, account = topic_arn.split(":")[3:5]
    check = _Deliveries.check
    if check is not None:
        requests = requests_for_call(
            principal=SERVICE_PRINCIPAL, iam_prefix="sns", operation="Publish", params={"TopicArn": topic_arn},
            account_id=account, region=region, caller=f"SMS configuration set {configuration_set.name}",
            source={"aws:SourceArn": configuration_set.arn, "aws:SourceAccount": owner})
        denial = _first_denial(check, requests)
        if denial is not None:
            _LOG.warning("End User Messaging did not publish to %s: %s", topic_arn, denial)
            return
    try:
        sns_backends[account][region].publish(message=json.dumps(event), arn=topic_arn)
    except Exception as error:  # a deleted topic: AWS drops the event
        _LOG.warning("End User Messaging could not publish to %s: %s", topic_arn, error)


def _log(configuration_set: ConfigurationSet, destination: Mapping[str, str], event: dict[str, Any]) -> None:
    from moto.logs.models import logs_backends

    group_arn = destination["LogGroupArn"]
    region, account = group_arn.split(":")[3:5]
    group = group_arn.split(":log-group:", 1)[-1].removesuffix(":*")
    stream = f"sms-voice-{configuration_set.name}"
    stream_arn = f"arn:aws:logs:{region}:{account}:log-group:{group}:log-stream:{stream}"
    role = destination["IamRoleArn"]
    check = _Deliveries.check
    caller = f"SMS configuration set {configuration_set.name}"
    if check is not None:
        denial = service_assumes_role(check, service=SERVICE_PRINCIPAL, role_arn=role,
                                      source_arn=configuration_set.arn, caller=caller)
        denial = denial or _first_denial(check, [AccessRequest(role, action, stream_arn, {}, caller)
                                                 for action in ("logs:CreateLogStream", "logs:PutLogEvents")])
        if denial is not None:
            _LOG.warning("End User Messaging did not log to %s: %s", group, denial)
            return
    logs = logs_backends[account][region]
    try:
        if stream not in logs.groups[group].streams:
            logs.create_log_stream(group, stream)
        logs.put_log_events(group, stream, [{"timestamp": event["eventTimestamp"], "message": json.dumps(event)}])
    except Exception as error:  # a missing group: AWS drops the event
        _LOG.warning("End User Messaging could not log to %s: %s", group, error)


def _first_denial(check: AccessCheck, requests: list[AccessRequest]) -> Denial | None:
    try:
        check.require(requests)
    except AccessDeniedError as denied:
        return denied.denial
    return None


@contextmanager
def check_event_deliveries(check: AccessCheck) -> Iterator[None]:
    """Event destinations are written as AWS writes them: to an SNS topic as
    ``sms-voice.amazonaws.com`` for the configuration set, to a log group as the destination's role."""
    with mock.patch.object(_Deliveries, "check", check):
        yield
