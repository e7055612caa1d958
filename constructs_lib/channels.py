"""The send states: SMS through SNS, email through SES v2, both as native integrations."""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from .retry import EMAIL_PERMANENT_ERRORS, SMS_PERMANENT_ERRORS, RetryPolicy

JsonPath = sfn.JsonPath


# Every channel leaves its outcome at ``$.<channel>Result`` in one shape, so the record
# states and the ``both`` summary read it the same way whatever happened.
SENT_OUTCOME: dict[str, object] = {
    "status": "SENT", "ok": 1, "messageId.$": "$.MessageId", "error": "", "cause": ""
}


def result_path(channel: str) -> str:
    return f"$.{channel}Result"


def sms_send_state(
    scope: Construct,
    state_id: str,
    *,
    topic: sns.ITopic | None,
    retry: RetryPolicy,
    timeout: cdk.Duration,
) -> sfn.CustomState:
    """``sns:Publish`` straight to ``request.phoneNumber``, or to ``topic`` when one is given.

    The optimized integration is written by hand because ``SnsPublish`` needs a topic, and
    publishing to a phone number has no topic.
    """
    if topic is None:
        target: dict[str, object] = {"PhoneNumber.$": "$.request.phoneNumber"}
    else:
        target = {
            "TopicArn": topic.topic_arn,
            "MessageAttributes": {
                "phoneNumber": {"DataType": "String", "StringValue.$": "$.request.phoneNumber"}
            },
        }
    state = sfn.CustomState(
        scope,
        state_id,
        state_json={
            "Type": "Task",
            "Resource": f"arn:{cdk.Aws.PARTITION}:states:::sns:publish",
            "Parameters": {**target, "Message.$": "$.request.message"},
            "TimeoutSeconds": int(timeout.to_seconds()),
            "ResultSelector": SENT_OUTCOME,
            "ResultPath": result_path("sms"),
        },
    )
    retry.apply(state, permanent_errors=SMS_PERMANENT_ERRORS)
    return state


def email_send_state(
    scope: Construct,
    state_id: str,
    *,
    iam_resources: Sequence[str],
    configuration_set_name: str | None,
    retry: RetryPolicy,
    timeout: cdk.Duration,
) -> tasks.CallAwsService:
    """SES v2 ``SendEmail`` built from the normalised ``$.email`` and ``$.body``."""
    parameters: dict[str, object] = {
        "FromEmailAddress": JsonPath.string_at("$.email.from"),
        "Destination": {
            "ToAddresses": JsonPath.list_at("$.email.to"),
            "CcAddresses": JsonPath.list_at("$.email.cc"),
            "BccAddresses": JsonPath.list_at("$.email.bcc"),
        },
        "ReplyToAddresses": JsonPath.list_at("$.email.replyTo"),
        "Content": {
            "Simple": {
                "Subject": {"Data": JsonPath.string_at("$.email.subject")},
                "Body": JsonPath.object_at("$.body"),
            }
        },
    }
    if configuration_set_name is not None:
        parameters["ConfigurationSetName"] = JsonPath.string_at("$.email.configurationSet")
    state = tasks.CallAwsService(
        scope,
        state_id,
        service="sesv2",
        action="sendEmail",
        # The derived action would be the invalid "sesv2:sendEmail".
        iam_action="ses:SendEmail",
        iam_resources=list(iam_resources),
        parameters=parameters,
        result_selector=SENT_OUTCOME,
        result_path=result_path("email"),
        task_timeout=sfn.Timeout.duration(timeout),
    )
    retry.apply(state, permanent_errors=EMAIL_PERMANENT_ERRORS)
    return state


def channel_failed(scope: Construct, state_id: str, channel: str) -> sfn.Pass:
    """Turns a caught error at ``$.failure`` into the channel's outcome, inside ``both``."""
    return sfn.Pass(
        scope,
        state_id,
        parameters={
            "status": "FAILED",
            "ok": 0,
            "messageId": "",
            "error": JsonPath.string_at("$.failure.Error"),
            "cause": JsonPath.string_at("$.failure.Cause"),
        },
        result_path=result_path(channel),
    )
