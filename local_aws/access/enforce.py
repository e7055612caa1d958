"""Where the access check sits in the embedded AWS: each place where AWS would authorize a request
made on behalf of a principal. Each is a context manager undone on exit.

- ``check_state_machine_tasks``: every service call a task makes, as the state machine's role
  (including the KMS calls a customer-managed key implies); a denial fails the task with the
  service's own error, which the workflow's retriers and catchers see.
- ``check_state_machine_key``: at StartExecution, the role must be able to use the state
  machine's own key under the encryption context ``aws:states:stateMachineArn``; else
  StartExecution fails with ``KmsAccessDeniedException``.
- ``check_event_deliveries``: an EventBridge rule delivering to an SQS queue, as
  ``events.amazonaws.com`` (queue policy and key policy); a denied event is dropped, as AWS
  counts it in FailedInvocations.
- ``check_log_group_keys``: creating a log group under a key needs the key policy to let
  ``logs.<region>.amazonaws.com`` use it for that group.
- ``check_topic_deliveries``: SNS delivering to an SQS subscription, as ``sns.amazonaws.com``.
- ``run_alarm_actions``: an alarm notifying its SNS topic, as ``cloudwatch.amazonaws.com``.
- ``check_distributed_map_runs``: a Distributed Map's role starting its child executions
  (``states:StartExecution`` on its own state machine, ``states:DescribeExecution`` and
  ``states:StopExecution`` on their executions); a denial fails the Map with ``States.Runtime``.
- ``guard_client``: any boto3 client used as a role (e.g. a Lambda handler run in process).
- ``service_assumes_role``: a service (EventBridge Pipes, EventBridge Scheduler) taking a role
  under its trust policy before it acts as that role (``local_aws.pipes``, ``local_aws.scheduler``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any
from unittest import mock

from botocore.exceptions import ClientError

from local_aws.access.calls import ResourceKeys, UnmodelledCall, requests_for_call
from local_aws.access.check import AccessCheck, AccessDeniedError, AccessRequest, Denial

_LOG = logging.getLogger(__name__)

# The error code and HTTP status each service answers an IAM denial with, and a KMS denial with.
_DENIAL_ERRORS: dict[str, tuple[tuple[str, int], tuple[str, int]]] = {
    "sns": (("AuthorizationError", 403), ("KMSAccessDenied", 400)),
    "dynamodb": (("AccessDeniedException", 400), ("AccessDeniedException", 400)),
    "ses": (("AccessDeniedException", 403), ("AccessDeniedException", 403)),
    "sqs": (("AccessDenied", 403), ("KmsAccessDenied", 400)),
    "states": (("AccessDeniedException", 400), ("KmsAccessDeniedException", 400)),
    "s3": (("AccessDenied", 403), ("AccessDenied", 403)),
}


def denial_error(iam_prefix: str, operation: str, denial: Denial) -> ClientError:
    """The ClientError the service would return, as a class named after its code (the Step
    Functions engine names aws-sdk errors after the exception class)."""
    iam_denial, kms_denial = _DENIAL_ERRORS.get(iam_prefix, (("AccessDeniedException", 403),) * 2)
    code, status = kms_denial if denial.request.action.startswith("kms:") else iam_denial
    request = denial.request
    message = (f"User: {request.principal} is not authorized to perform: {request.action} on resource: "
               f"{request.resource} because {denial.reason}")
    error_class = type(code, (ClientError,), {})
    response: Any = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status, "RequestId": "local-access-check"},
    }
    error: ClientError = error_class(response, operation)
    return error


def _unmodelled(principal: str, action: str, caller: str, error: UnmodelledCall) -> Denial:
    return Denial(AccessRequest(principal, action, "*", {}, caller), "Unmodelled", str(error))


def guard_client(client: Any, check: AccessCheck, *, principal: str, caller: str) -> Callable[[], None]:
    """Checks each call ``client`` makes as ``principal``; returns a function that undoes it."""
    model = client.meta.service_model
    iam_prefix = model.signing_name
    region = client.meta.region_name

    def before_parameter_build(params: dict[str, Any], model: Any, **_: Any) -> None:
        operation = model.name
        try:
            requests = requests_for_call(
                principal=principal, iam_prefix=iam_prefix, operation=operation, params=params,
                account_id=check.account_id, region=region, caller=caller,
            )
        except UnmodelledCall as error:
            denial = _unmodelled(principal, f"{iam_prefix}:{operation}", caller, error)
            check.record(denial)
            raise denial_error(iam_prefix, operation, denial) from None
        try:
            check.require(requests)
        except AccessDeniedError as denied:
            raise denial_error(iam_prefix, operation, denied.denial) from None

    event = f"before-parameter-build.{model.service_id.hyphenize()}"
    client.meta.events.register(event, before_parameter_build)
    return lambda: client.meta.events.unregister(event, before_parameter_build)


def call_denial(check: AccessCheck, *, principal: str, iam_prefix: str, operation: str, params: dict[str, Any],
                region: str, caller: str) -> Denial | None:
    """The first denial AWS would give ``principal`` calling ``iam_prefix:operation`` with
    ``params`` (KMS calls included, see ``requests_for_call``); None when all is allowed. For a
    service acting as a role without a boto3 client to guard."""
    try:
        requests = requests_for_call(principal=principal, iam_prefix=iam_prefix, operation=operation,
                                     params=params, account_id=check.account_id, region=region, caller=caller)
    except UnmodelledCall as error:
        denial = _unmodelled(principal, f"{iam_prefix}:{operation}", caller, error)
        check.record(denial)
        return denial
    try:
        check.require(requests)
    except AccessDeniedError as denied:
        return denied.denial
    return None


def service_assumes_role(check: AccessCheck, *, service: str, role_arn: str, source_arn: str,
                         caller: str) -> Denial | None:
    """``sts:AssumeRole`` on ``role_arn`` by the service principal ``service`` (e.g.
    ``pipes.amazonaws.com``) for ``source_arn``, decided by the role's trust policy; None when
    allowed, else the denial (also in the report)."""
    return check.evaluate(AccessRequest(
        principal=service, action="sts:AssumeRole", resource=role_arn,
        context={"aws:SourceArn": source_arn, "aws:SourceAccount": check.account_id}, caller=caller))


@contextmanager
def check_state_machine_tasks(check: AccessCheck) -> Iterator[None]:
    """Task service calls are made with the state machine's role (or the task's Credentials)."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.item_reader.eval import (
        resource_eval_s3 as item_reader_s3,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.result_writer.resource_eval import (
        resource_eval_s3 as result_writer_s3,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_aws_sdk,
        state_task_service_dynamodb,
        state_task_service_events,
        state_task_service_sfn,
        state_task_service_sns,
        state_task_service_sqs,
    )
    from moto.stepfunctions.parser.asl.utils import boto_client

    original = boto_client.boto_client_for

    def boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        client = original(region=region, service=service, state_credentials=state_credentials)
        role_arn = getattr(state_credentials, "role_arn", None)
        if role_arn:
            guard_client(client, check, principal=role_arn, caller="state machine task")
        return client

    modules = (state_task_service_aws_sdk, state_task_service_dynamodb, state_task_service_events,
               state_task_service_sfn, state_task_service_sns, state_task_service_sqs, lambda_eval_utils,
               item_reader_s3, result_writer_s3)
    with ExitStack() as stack:
        for module in modules:
            stack.enter_context(mock.patch.object(module, "boto_client_for", boto_client_for))
        yield


@contextmanager
def check_distributed_map_runs(check: AccessCheck) -> Iterator[None]:
    """A Distributed Map starts its children as executions of its own state machine, so AWS asks
    its role for ``states:StartExecution`` on that state machine (with the machine key's
    ``kms:GenerateDataKey`` when it has one) and ``states:DescribeExecution``/``StopExecution`` on
    the child executions (AWS documents the grant as ``execution:<name>:*``; the check asks on
    ``execution:<name>:<map run id>``). A denial fails the Map Run, and the Map state with
    ``States.Runtime`` (catchable), before any child runs."""
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
        StatesErrorNameType,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.distributed_iteration_component import (  # noqa: E501
        DistributedIterationComponent,
    )

    from local_aws.distributed_map import map_run_failure

    original = DistributedIterationComponent._map_run

    def map_run(self: Any, env: Any, eval_input: Any) -> None:
        role = env.aws_execution_details.role_arn
        machine_arn = str(env.states.context_object.context_object_data["StateMachine"]["Id"])
        run_id = eval_input.map_run_record.map_run_arn.rsplit(":", 1)[-1]
        children = f"{machine_arn.replace(':stateMachine:', ':execution:', 1)}:{run_id}"
        region, account = env.aws_execution_details.region, env.aws_execution_details.account
        caller = f"Distributed Map {eval_input.state_name}"
        requests = requests_for_call(principal=role, iam_prefix="states", operation="StartExecution",
                                     params={"stateMachineArn": machine_arn}, account_id=account, region=region,
                                     caller=caller)
        for operation in ("DescribeExecution", "StopExecution"):
            requests += requests_for_call(principal=role, iam_prefix="states", operation=operation,
                                          params={"executionArn": children}, account_id=account, region=region,
                                          caller=caller)
        try:
            check.require(requests)
        except AccessDeniedError as denied:
            request = denied.denial.request
            raise map_run_failure(env, StatesErrorNameType.StatesRuntime, (
                f"User: {request.principal} is not authorized to perform: {request.action} on resource: "
                f"{request.resource} because {denied.denial.reason}")) from None
        original(self, env, eval_input)

    with mock.patch.object(DistributedIterationComponent, "_map_run", map_run):
        yield


@contextmanager
def check_state_machine_key(check: AccessCheck) -> Iterator[None]:
    """The execution role must use the machine's customer-managed key for this machine's ARN."""
    from moto.core.exceptions import AWSError
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend


    class KmsAccessDeniedException(AWSError):
        TYPE = "KmsAccessDeniedException"
        STATUS = 400

    original = StepFunctionsParserBackend.start_execution

    def start_execution(self: StepFunctionsParserBackend, state_machine_arn: str, *args: Any, **kwargs: Any) -> Any:
        machine = self.describe_state_machine(state_machine_arn)
        resources = ResourceKeys(self.account_id, self.region_name)
        key = resources.state_machine_key(machine.arn)
        if key is not None:
            def ask(action: str, resource: str, extra: Any = None) -> AccessRequest:
                return AccessRequest(machine.roleArn, action, resource, dict(extra or {}),
                                     f"execution of {machine.name}")

            requests = resources.kms(ask, key, ("kms:GenerateDataKey", "kms:Decrypt"), "states",
                                     {"aws:states:stateMachineArn": machine.arn})
            try:
                check.require(requests)
            except AccessDeniedError as denied:
                raise KmsAccessDeniedException(str(denied.denial)) from None
        return original(self, state_machine_arn, *args, **kwargs)

    with mock.patch.object(StepFunctionsParserBackend, "start_execution", start_execution):
        yield


@contextmanager
def check_event_deliveries(check: AccessCheck) -> Iterator[None]:
    """EventBridge delivers to SQS as ``events.amazonaws.com``, with the rule as the source."""
    from moto.events.models import Rule

    original = Rule._send_to_sqs_queue

    def send_to_sqs_queue(self: Rule, resource_id: str, event: dict[str, Any], group_id: str | None = None) -> None:
        try:
            requests = requests_for_call(
                principal="events.amazonaws.com", iam_prefix="sqs", operation="SendMessage",
                params={"QueueUrl": resource_id}, account_id=self.account_id, region=self.region_name,
                caller=f"EventBridge rule {self.name}",
                source={"aws:SourceArn": self.arn, "aws:SourceAccount": self.account_id},
            )
            check.require(requests)
        except AccessDeniedError as denied:
            _LOG.warning("EventBridge dropped an event (FailedInvocations): %s", denied.denial)
            return
        original(self, resource_id, event, group_id)

    with mock.patch.object(Rule, "_send_to_sqs_queue", send_to_sqs_queue):
        yield


@contextmanager
def check_topic_deliveries(check: AccessCheck) -> Iterator[None]:
    """SNS delivers to an SQS subscription as ``sns.amazonaws.com``, with the topic as the source;
    a refused delivery is dropped (AWS retries, then gives up), never raised into the publisher."""
    from moto.sns.models import Subscription

    original = Subscription.publish

    def publish(self: Subscription, message: str, message_id: str, *args: Any, **kwargs: Any) -> None:
        if self.protocol == "sqs":
            _, _, _, region, account, queue_name = self.endpoint.split(":", 5)
            try:
                check.require(requests_for_call(
                    principal="sns.amazonaws.com", iam_prefix="sqs", operation="SendMessage",
                    params={"QueueUrl": queue_name}, account_id=account, region=region,
                    caller=f"SNS topic {self.topic.arn}",
                    source={"aws:SourceArn": self.topic.arn, "aws:SourceAccount": account},
                ))
            except AccessDeniedError as denied:
                _LOG.warning("SNS did not deliver to %s: %s", self.endpoint, denied.denial)
                return
        original(self, message, message_id, *args, **kwargs)

    with mock.patch.object(Subscription, "publish", publish):
        yield


@contextmanager
def run_alarm_actions(check: AccessCheck) -> Iterator[None]:
    """moto's CloudWatch changes an alarm's state but runs none of its actions. This publishes the
    alarm notification to each SNS topic action, as ``cloudwatch.amazonaws.com`` with the alarm as
    the source (topic policy and topic key checked); a refused one is dropped, as AWS drops it."""
    from moto.cloudwatch.models import Alarm
    from moto.sns.models import sns_backends

    original = Alarm.update_state

    def update_state(self: Alarm, reason: str, reason_data: str, state_value: str) -> None:
        previous = self.state_value
        original(self, reason, reason_data, state_value)
        actions = {"ALARM": self.alarm_actions, "OK": self.ok_actions,
                   "INSUFFICIENT_DATA": self.insufficient_data_actions}.get(state_value, [])
        if previous == state_value or not self.actions_enabled:
            return
        for topic_arn in (a for a in actions if a.startswith("arn:aws:sns:")):
            region, account = topic_arn.split(":")[3:5]
            requests = requests_for_call(
                principal="cloudwatch.amazonaws.com", iam_prefix="sns", operation="Publish",
                params={"TopicArn": topic_arn}, account_id=account, region=region, caller=f"alarm {self.name}",
                source={"aws:SourceArn": self.alarm_arn, "aws:SourceAccount": account},
            )
            try:
                check.require(requests)
            except AccessDeniedError as denied:
                _LOG.warning("CloudWatch did not notify %s: %s", topic_arn, denied.denial)
                continue
            message = {"AlarmName": self.name, "AlarmArn": self.alarm_arn, "NewStateValue": state_value,
                       "OldStateValue": previous, "NewStateReason": reason}
            sns_backends[account][region].publish(
                message=json.dumps(message), arn=topic_arn, subject=f'{state_value}: "{self.name}"')

    with mock.patch.object(Alarm, "update_state", update_state):
        yield


@contextmanager
def check_log_group_keys(check: AccessCheck) -> Iterator[None]:
    """CloudWatch Logs refuses a log group whose key policy does not let it use the key."""
    from moto.logs.exceptions import LogsClientError
    from moto.logs.models import LogsBackend


    original = LogsBackend.create_log_group

    def create_log_group(self: LogsBackend, log_group_name: str, tags: dict[str, str], **kwargs: Any) -> Any:
        key_reference = kwargs.get("kmsKeyId") or kwargs.get("KmsKeyId")
        key = ResourceKeys(self.account_id, self.region_name).key_arn(key_reference)
        if key is not None:
            group_arn = f"arn:aws:logs:{self.region_name}:{self.account_id}:log-group:{log_group_name}"
            context = {"kms:EncryptionContext:aws:logs:arn": group_arn,
                       "kms:EncryptionContextKeys": ["aws:logs:arn"]}
            principal = f"logs.{self.region_name}.amazonaws.com"
            caller = f"log group {log_group_name}"
            try:
                check.require([AccessRequest(principal, action, key, context, caller)
                               for action in ("kms:GenerateDataKey", "kms:Decrypt")])
            except AccessDeniedError as denied:
                raise LogsClientError(
                    "AccessDeniedException",
                    f"The specified KMS key does not exist or is not allowed to be used with Arn "
                    f"'{group_arn}': {denied.denial.reason}",
                ) from None
        return original(self, log_group_name, tags, **kwargs)

    with mock.patch.object(LogsBackend, "create_log_group", create_log_group):
        yield


@contextmanager
def enforce_access(check: AccessCheck) -> Iterator[AccessCheck]:
    """All the checks above."""
    with ExitStack() as stack:
        stack.enter_context(check_state_machine_tasks(check))
        stack.enter_context(check_state_machine_key(check))
        stack.enter_context(check_distributed_map_runs(check))
        stack.enter_context(check_event_deliveries(check))
        stack.enter_context(check_log_group_keys(check))
        stack.enter_context(check_topic_deliveries(check))
        stack.enter_context(run_alarm_actions(check))
        # End User Messaging SMS event destinations (imported here: local_aws.sms_voice_events imports this module).
        from local_aws.sms_voice_events import check_event_deliveries as check_sms_voice_event_deliveries

        stack.enter_context(check_sms_voice_event_deliveries(check))
        yield check
