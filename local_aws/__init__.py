"""Embedded local AWS (moto 5.2.5) for tests and the demo.

``LocalAws.in_process()`` (mock_aws) for tests, ``LocalAws.server()`` (an HTTP server in this
process) for the demo and CLIs; both execute state machines for real and apply the bridges in
``local_aws.bridges``. Do not nest the two modes.

Error names moto's Step Functions engine reports (observed; tests/local_aws pin them):

- ``arn:aws:states:::sns:publish`` (optimized): ``SNS.<Code>Exception``.
  Transient: ``SNS.ThrottledException`` (code Throttled, HTTP 429),
  ``SNS.InternalErrorException`` (InternalError, 500).
  Permanent: ``SNS.InvalidParameterException`` (injected, or a non-E.164 PhoneNumber).
- ``arn:aws:states:::aws-sdk:sesv2:sendEmail``: ``SesV2.<Code>Exception`` as on AWS (moto itself says
  ``sesv2.``; the ``name_sdk_errors_as_aws`` bridge gives AWS's spelling).
  Transient: ``SesV2.TooManyRequestsException`` (429).
  Permanent: ``SesV2.MessageRejectedException`` (injected, or an unverified sender).
  The same names whether the fault is on SESV2Backend.send_email or SESBackend.send_email.
- ``arn:aws:states:::aws-sdk:ses:sendEmail``: ``Ses.MessageRejectedException``; a code absent
  from SES v1's model (e.g. TooManyRequestsException, Throttling) comes out as ``Ses.SesException``.
- aws-sdk integrations: a code missing from the service model becomes ``<Service>.<Service>Exception``.
"""

from local_aws.bridges import (
    EmailRequestLog,
    atomic_dynamodb_item_writes,
    aws_sdk_error_prefix,
    bootstrap_version_parameter_name,
    capture_email_requests,
    create_change_sets_in_dependency_order,
    emit_execution_status_events,
    execution_status_change_event,
    model_cloudwatch_alarms_in_cloudformation,
    name_sdk_errors_as_aws,
    point_sfn_sdk_calls_at_server,
    recompute_outputs_after_change_set,
    reuse_parsed_definitions,
    route_cfn_state_machines_to_executing_backend,
    seed_bootstrap_version,
)
from local_aws.faults import (
    ErrorFactory,
    FaultInjection,
    inject_fault,
    ses_message_rejected,
    ses_send_email_fault,
    ses_too_many_requests,
    sesv2_send_email_fault,
    sns_internal_error,
    sns_invalid_parameter,
    sns_publish_fault,
    sns_throttled,
)
from local_aws.jsonata import bind_jsonata_evaluator
from local_aws.local import LocalAws, free_port
from local_aws.records import (
    DeployedStack,
    ExecutionResult,
    SentEmail,
    SmsMessage,
    StackDeployError,
    StackResource,
)
from local_aws.retry import RetrySleepRecorder, record_retry_sleeps

__all__ = [
    "DeployedStack",
    "EmailRequestLog",
    "ErrorFactory",
    "ExecutionResult",
    "FaultInjection",
    "LocalAws",
    "RetrySleepRecorder",
    "SentEmail",
    "SmsMessage",
    "StackDeployError",
    "StackResource",
    "atomic_dynamodb_item_writes",
    "aws_sdk_error_prefix",
    "bind_jsonata_evaluator",
    "bootstrap_version_parameter_name",
    "capture_email_requests",
    "create_change_sets_in_dependency_order",
    "emit_execution_status_events",
    "execution_status_change_event",
    "free_port",
    "model_cloudwatch_alarms_in_cloudformation",
    "name_sdk_errors_as_aws",
    "inject_fault",
    "point_sfn_sdk_calls_at_server",
    "recompute_outputs_after_change_set",
    "record_retry_sleeps",
    "reuse_parsed_definitions",
    "route_cfn_state_machines_to_executing_backend",
    "seed_bootstrap_version",
    "ses_message_rejected",
    "ses_send_email_fault",
    "ses_too_many_requests",
    "sesv2_send_email_fault",
    "sns_internal_error",
    "sns_invalid_parameter",
    "sns_publish_fault",
    "sns_throttled",
]
