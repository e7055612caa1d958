"""The send states (JSONata): SMS through SNS, email through SES v2, as native integrations.

Each leaves its channel's outcome in a workflow variable (``$sms``, ``$email``) of one shape,
``{status, messageId, error}``, so the record states read every path the same way.
"""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from .retry import EMAIL_PERMANENT_ERRORS, SMS_PERMANENT_ERRORS, RetryPolicy
from .sms_voice import EndUserMessagingSms

#: Provider throttling: with a send rate configured, a throttled send takes a new slot of the rate
#: (``requeued_errors``) instead of being retried in place, so retries count against the rate too.
THROTTLING_ERRORS: dict[str, tuple[str, ...]] = {
    "sms": ("SNS.ThrottledException", "PinpointSmsVoiceV2.ThrottlingException"),
    "email": ("SesV2.TooManyRequestsException", "SesV2.LimitExceededException"),
}
# Errors are kept as codes only: SES and SNS causes can quote the recipient.
SENT = '{% {"status":"SENT","messageId":$states.result.MessageId,"error":""} %}'
FAILED = '{% {"status":"FAILED","messageId":"","error":$states.errorOutput.Error} %}'
#: Error of a channel that waited longer than it may for a slot of its send rate.
SEND_RATE_LIMITED = "SendRateLimited"
RATE_LIMITED_OUTCOME = f'{{% {{"status":"FAILED","messageId":"","error":"{SEND_RATE_LIMITED}"}} %}}'


def sms_send_state(
    scope: Construct,
    state_id: str,
    *,
    topic: sns.ITopic | None,
    retry: RetryPolicy,
    timeout: cdk.Duration,
    outcome: str = "assign",
    requeued_errors: Sequence[str] = (),
) -> sfn.CustomState:
    """``sns:Publish`` straight to ``$request.phoneNumber``, or to ``topic`` when one is given
    (the number then travels as the ``phoneNumber`` message attribute). Written by hand because
    ``SnsPublish`` needs a topic. ``outcome``: ``assign`` sets ``$sms``; ``output`` makes the
    outcome the state's output (a Parallel branch)."""
    if topic is None:
        target: dict[str, object] = {"PhoneNumber": "{% $request.phoneNumber %}"}
    else:
        target = {
            "TopicArn": topic.topic_arn,
            "MessageAttributes": {
                "phoneNumber": {"DataType": "String", "StringValue": "{% $request.phoneNumber %}"}
            },
        }
    return _send_state(scope, state_id, "sns:publish", {**target, "Message": "{% $request.message %}"},
                       channel="sms", retry=retry, timeout=timeout, outcome=outcome,
                       permanent_errors=[*SMS_PERMANENT_ERRORS, *requeued_errors])


def _send_state(scope: Construct, state_id: str, integration: str, arguments: object, *, channel: str,
                retry: RetryPolicy, timeout: cdk.Duration, outcome: str,
                permanent_errors: Sequence[str]) -> sfn.CustomState:
    """A provider call whose result is the channel's SENT outcome (assigned, or the output)."""
    state_json: dict[str, object] = {
        "Type": "Task",
        "Resource": f"arn:{cdk.Aws.PARTITION}:states:::{integration}",
        "Arguments": arguments,
        "TimeoutSeconds": int(timeout.to_seconds()),
    }
    state_json.update({"Assign": {channel: SENT}} if outcome == "assign" else {"Output": SENT})
    state = sfn.CustomState(scope, state_id, state_json=state_json)
    retry.apply(state, permanent_errors=permanent_errors)
    return state


def email_send_state(
    scope: Construct,
    state_id: str,
    *,
    retry: RetryPolicy,
    timeout: cdk.Duration,
    outcome: str = "assign",
    requeued_errors: Sequence[str] = (),
) -> sfn.CustomState:
    """SES v2 ``SendEmail`` of ``$request.sendEmail``, the request built once from the normalised
    email (``outcome`` as for SMS). The caller grants ``ses:SendEmail``: the integration's derived
    action would be the invalid ``sesv2:sendEmail``."""
    return _send_state(scope, state_id, "aws-sdk:sesv2:sendEmail", "{% $request.sendEmail %}", channel="email",
                       retry=retry, timeout=timeout, outcome=outcome,
                       permanent_errors=[*EMAIL_PERMANENT_ERRORS, *requeued_errors])


def channel_not_sent(scope: Construct, state_id: str) -> sfn.Pass:
    """Ends a ``both`` branch whose send failed: its input is the caught error, its output the
    channel's FAILED outcome."""
    return sfn.Pass.jsonata(scope, state_id, outputs=(
        '{% {"status":"FAILED","messageId":"","error":$states.input.Error} %}'
    ))


def rate_limited(scope: Construct, state_id: str) -> sfn.Pass:
    """Ends a ``both`` branch whose channel waited too long for a send-rate slot."""
    return sfn.Pass.jsonata(scope, state_id, outputs=RATE_LIMITED_OUTCOME)


#: End User Messaging errors another attempt cannot fix.
SMS_VOICE_PERMANENT_ERRORS: tuple[str, ...] = tuple(
    f"PinpointSmsVoiceV2.{name}"
    for name in ("ValidationException", "ConflictException", "AccessDeniedException", "ResourceNotFoundException",
                 "ServiceQuotaExceededException")
) + ("States.Permissions",)


def sms_voice_send_state(
    scope: Construct,
    state_id: str,
    *,
    provider: EndUserMessagingSms,
    retry: RetryPolicy,
    timeout: cdk.Duration,
    outcome: str = "assign",
    requeued_errors: Sequence[str] = (),
) -> sfn.CustomState:
    """AWS End User Messaging SMS ``SendTextMessage`` of ``$request.message`` to
    ``$request.phoneNumber``, from the provider's origination identity with its configuration set
    and message type; ``Context`` carries the notificationId into the delivery events. The
    provider grants the action (``outcome`` as for ``sms_send_state``)."""
    arguments = {
        **provider.send_text_message_arguments(),
        "DestinationPhoneNumber": "{% $request.phoneNumber %}",
        "MessageBody": "{% $request.message %}",
        "Context": {"notificationId": "{% $request.notificationId %}"},
    }
    return _send_state(scope, state_id, "aws-sdk:pinpointsmsvoicev2:sendTextMessage", arguments, channel="sms",
                       retry=retry, timeout=timeout, outcome=outcome,
                       permanent_errors=[*SMS_VOICE_PERMANENT_ERRORS, *requeued_errors])
