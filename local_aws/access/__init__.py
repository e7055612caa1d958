"""The access check: IAM and KMS evaluated on the embedded AWS, as AWS evaluates them.

``LocalAws`` turns it on by default (``access_check=True``); ``LocalAws.access`` is the
``AccessCheck`` whose ``report()`` lists each denial with its principal, action, resource,
context and what was missing.
"""

from local_aws.access.calls import ResourceKeys, UnmodelledCall, requests_for_call
from local_aws.access.check import AccessCheck, AccessDeniedError, AccessRequest, Denial
from local_aws.access.cloudformation import keep_state_machine_encryption, model_resource_policies_in_cloudformation
from local_aws.access.enforce import (
    check_event_deliveries,
    check_log_group_keys,
    check_state_machine_key,
    check_state_machine_tasks,
    check_topic_deliveries,
    denial_error,
    enforce_access,
    guard_client,
    run_alarm_actions,
)
from local_aws.access.simulator import IamSimulator, SimulatorUnavailable

__all__ = [
    "AccessCheck",
    "AccessDeniedError",
    "AccessRequest",
    "Denial",
    "IamSimulator",
    "ResourceKeys",
    "SimulatorUnavailable",
    "UnmodelledCall",
    "check_event_deliveries",
    "check_log_group_keys",
    "check_state_machine_key",
    "check_state_machine_tasks",
    "check_topic_deliveries",
    "denial_error",
    "enforce_access",
    "guard_client",
    "keep_state_machine_encryption",
    "model_resource_policies_in_cloudformation",
    "requests_for_call",
    "run_alarm_actions",
]
