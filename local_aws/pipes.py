"""EventBridge Pipes from an SQS queue to a Step Functions state machine, run on demand.

moto 5.2.5 keeps pipes (``moto/pipes``) as records only: nothing polls a pipe's source, and its
CloudFormation does not know ``AWS::Pipes::Pipe``. Two parts fill the gap:

- ``model_pipes_in_cloudformation`` (a bridge): ``AWS::Pipes::Pipe`` is created, updated and
  deleted in moto's pipes backend; ``Ref`` is the pipe's name, ``Fn::GetAtt`` gives ``Arn``,
  ``CurrentState``, ``CreationTime``, ``LastModifiedTime`` and ``StateReason``.
- ``run_pipes`` (``LocalAws.run_pipes``): one pass of every pipe whose ``DesiredState`` is
  ``RUNNING`` (moto moves every pipe to RUNNING, stopped ones too, so the desired state decides).

What a pass does, per pipe, as the pipe's ``RoleArn`` under the access check (when it is on):

1. ``pipes.amazonaws.com`` assumes the role (its trust policy, ``aws:SourceArn`` = the pipe's ARN);
   ``sqs:GetQueueAttributes`` on the queue. A denial stops the pipe: nothing is received.
2. Receives up to ``SourceParameters.SqsQueueParameters.BatchSize`` (default 10) messages
   (``sqs:ReceiveMessage``, and ``kms:Decrypt`` via SQS when the queue has a customer-managed key),
   again and again until the queue gives none or ``max_batches`` receives were made.
   ``MaximumBatchingWindowInSeconds`` is accepted and ignored: a pass does not wait.
3. Starts one execution per message (``states:StartExecution`` for ``FIRE_AND_FORGET``,
   ``states:StartSyncExecution`` for ``REQUEST_RESPONSE``, with ``kms:GenerateDataKey`` on the
   machine's key; the machine's own role must use its key as at any StartExecution). moto has no
   StartSyncExecution: REQUEST_RESPONSE starts the execution and waits for it to finish.
4. Deletes the message (``sqs:DeleteMessage``) when the start succeeded, and for
   REQUEST_RESPONSE only when the execution SUCCEEDED. Any other message stays in the queue: it
   is received again by a later pass, and moto's SQS moves it to the queue's dead-letter queue
   on the receive after ``maxReceiveCount`` receives, as SQS does.

The execution input: the message body parsed as JSON (a body that is not JSON is passed as a JSON
string); an ``InputTemplate`` of exactly ``<$.body>`` gives the same. Other templates are refused.
AWS differs here: a Step Functions target gets one execution per *batch*, whose input is a JSON
array of the SQS records (``messageId``, ``receiptHandle``, ``body``, ``attributes``, ...; with
``<$.body>`` an array of bodies), even for a batch of one. This runner keeps one execution per
message so that a machine written for one request runs unchanged; a machine deployed behind a real
pipe must read ``$[0].body`` (or iterate the array).

Time is compressed: a message is received at most once per pass, and the visibility timeout of
a message left in the queue has elapsed when the pass ends (it is visible to the next pass).

Not emulated: enrichment, filters (``FilterCriteria``), partial batch failures
(``batchItemFailures``), the pipe's own retry policy and dead-letter config (SQS redrive is what
moves messages here), FIFO ordering guarantees beyond SQS's own, logging (``LogConfiguration``),
the pipe's ``KmsKeyIdentifier``, other sources and targets (refused with ``UnsupportedPipe``).
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from unittest import mock

import moto.cloudformation.parsing as cfn_parsing
from botocore.exceptions import ClientError

from local_aws.access.enforce import call_denial, service_assumes_role
from local_aws.bridges import CloudFormationModelStub

if TYPE_CHECKING:
    from local_aws.local import LocalAws

_LOG = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 10
BODY_TEMPLATE = "<$.body>"
INVOCATION_TYPES = ("FIRE_AND_FORGET", "REQUEST_RESPONSE")
#: A message is received at most once per pass: held invisible for the pass, released at its end.
_HOLD_SECONDS = 43200
_SYNC_TIMEOUT_SECONDS = 30.0


class UnsupportedPipe(ValueError):
    """The pipe uses a source, target or parameter this runner does not emulate."""


def validate_pipe(name: str, source: str, target: str, target_parameters: dict[str, Any] | None) -> None:
    """Raises ``UnsupportedPipe`` unless this is an SQS -> Step Functions pipe the runner can run."""
    if not source.startswith("arn:aws:sqs:"):
        raise UnsupportedPipe(f"pipe {name}: source {source} is not an SQS queue; only SQS sources run locally")
    if ":states:" not in target or ":stateMachine:" not in target:
        raise UnsupportedPipe(f"pipe {name}: target {target} is not a state machine; only Step Functions runs")
    parameters = target_parameters or {}
    template = parameters.get("InputTemplate")
    if template is not None and template.strip() != BODY_TEMPLATE:
        raise UnsupportedPipe(f"pipe {name}: InputTemplate {template!r}: only {BODY_TEMPLATE!r} is emulated")
    invocation = _invocation_type(parameters)
    if invocation not in INVOCATION_TYPES:
        raise UnsupportedPipe(f"pipe {name}: InvocationType {invocation!r} is not one of {INVOCATION_TYPES}")


def _invocation_type(target_parameters: dict[str, Any] | None) -> str:
    machine_parameters = (target_parameters or {}).get("StepFunctionStateMachineParameters") or {}
    return str(machine_parameters.get("InvocationType", "FIRE_AND_FORGET"))


def _batch_size(source_parameters: dict[str, Any] | None) -> int:
    queue_parameters = (source_parameters or {}).get("SqsQueueParameters") or {}
    return int(queue_parameters.get("BatchSize", DEFAULT_BATCH_SIZE))


def execution_input(body: str) -> str:
    """The execution input for a message body: the body when it is JSON, else the body as a JSON string."""
    try:
        json.loads(body)
    except ValueError:
        return json.dumps(body)
    return body


# ---- CloudFormation ------------------------------------------------------------------------------


class _CloudFormationPipe(CloudFormationModelStub):
    """``AWS::Pipes::Pipe`` in moto's pipes backend."""

    def __init__(self, pipe: Any) -> None:
        self.pipe = pipe
        self.physical_resource_id: str = pipe.name

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::Pipes::Pipe"

    @staticmethod
    def cloudformation_name_type() -> str:
        return "Name"

    _ATTRIBUTES = ("Arn", "CurrentState", "CreationTime", "LastModifiedTime", "StateReason")

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in cls._ATTRIBUTES

    def get_cfn_attribute(self, attr: str) -> Any:
        values = {"Arn": self.pipe.arn, "CurrentState": self.pipe.current_state,
                  "CreationTime": self.pipe.creation_time.isoformat(),
                  "LastModifiedTime": self.pipe.last_modified_time.isoformat(), "StateReason": self.pipe.state_reason}
        if attr not in values:
            raise KeyError(attr)
        return values[attr]

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str,
        **kwargs: Any,
    ) -> _CloudFormationPipe:
        from moto.pipes.models import pipes_backends

        props = cloudformation_json.get("Properties", {})
        name = str(props.get("Name") or resource_name)[:64]
        validate_pipe(name, props["Source"], props["Target"], props.get("TargetParameters"))
        pipe = pipes_backends[account_id][region_name].create_pipe(
            name=name, description=props.get("Description"), desired_state=props.get("DesiredState"),
            source=props["Source"], source_parameters=props.get("SourceParameters"),
            enrichment=props.get("Enrichment"), enrichment_parameters=props.get("EnrichmentParameters"),
            target=props["Target"], target_parameters=props.get("TargetParameters"), role_arn=props["RoleArn"],
            tags=props.get("Tags"), log_configuration=props.get("LogConfiguration"),
            kms_key_identifier=props.get("KmsKeyIdentifier"),
        )
        return cls(pipe)

    @classmethod
    def update_from_cloudformation_json(
        cls, original_resource: Any, new_resource_name: str, cloudformation_json: dict[str, Any],
        account_id: str, region_name: str,
    ) -> _CloudFormationPipe:
        from moto.pipes.models import pipes_backends

        props = cloudformation_json.get("Properties", {})
        original = original_resource.pipe
        name = str(props.get("Name") or original.name)
        if name != original.name or props["Source"] != original.source:
            # Name and Source are create-only: CloudFormation replaces the pipe.
            created = cls.create_from_cloudformation_json(name, cloudformation_json, account_id, region_name)
            original_resource.delete(account_id, region_name)
            return created
        validate_pipe(name, props["Source"], props["Target"], props.get("TargetParameters"))
        pipe = pipes_backends[account_id][region_name].update_pipe(
            name=name, role_arn=props["RoleArn"], description=props.get("Description"),
            desired_state=props.get("DesiredState", "RUNNING"), source_parameters=props.get("SourceParameters", {}),
            enrichment=props.get("Enrichment"), enrichment_parameters=props.get("EnrichmentParameters"),
            target=props["Target"], target_parameters=props.get("TargetParameters", {}),
            log_configuration=props.get("LogConfiguration"), kms_key_identifier=props.get("KmsKeyIdentifier"),
        )
        return cls(pipe)

    def delete(self, account_id: str, region_name: str) -> None:
        from moto.pipes.models import pipes_backends

        pipes_backends[account_id][region_name].pipes.pop(self.pipe.name, None)


@contextmanager
def model_pipes_in_cloudformation() -> Iterator[None]:
    """moto 5.2.5's CloudFormation skips ``AWS::Pipes::Pipe`` (with a warning), so a template's
    pipe never exists; this creates, updates and deletes it in moto's pipes backend."""
    original = cfn_parsing.resource_class_from_type

    def resource_class_from_type(resource_type: str) -> Any:
        if resource_type == _CloudFormationPipe.cloudformation_type():
            return _CloudFormationPipe
        return original(resource_type)

    with mock.patch.object(cfn_parsing, "resource_class_from_type", resource_class_from_type):
        yield


# ---- the runner ----------------------------------------------------------------------------------


def run_pipes(aws: LocalAws, *, max_batches: int | None = None) -> int:
    """One pass of every RUNNING pipe (see the module docstring); ``max_batches`` caps the receives
    per pipe (None: until the queue gives nothing). Returns the messages delivered: executions
    started (FIRE_AND_FORGET) or succeeded (REQUEST_RESPONSE)."""
    from moto.pipes.models import pipes_backends

    backend = pipes_backends[aws.account_id][aws.region]
    pipes = [p for p in list(backend.pipes.values()) if p.desired_state == "RUNNING"]
    for pipe in pipes:
        validate_pipe(pipe.name, pipe.source, pipe.target, pipe.target_parameters)
    return sum(_PipeRun(aws, pipe).run(max_batches) for pipe in pipes)


class _PipeRun:
    """One pass of one pipe."""

    def __init__(self, aws: LocalAws, pipe: Any) -> None:
        self.aws = aws
        self.pipe = pipe
        self.caller = f"pipe {pipe.name}"
        self.sqs = aws.client("sqs")
        self.sfn = aws.client("stepfunctions")
        _, _, _, region, account, queue_name = pipe.source.split(":", 5)
        self.region = region
        self.queue_url: str = self.sqs.get_queue_url(QueueName=queue_name, QueueOwnerAWSAccountId=account)["QueueUrl"]
        self.machine_arn: str = pipe.target
        self.invocation = _invocation_type(pipe.target_parameters)

    def denied(self, iam_prefix: str, operation: str, params: dict[str, Any]) -> bool:
        """True (and logged, and in the report) when the pipe's role may not make this call."""
        check = self.aws.access
        if check is None:
            return False
        denial = call_denial(check, principal=self.pipe.role_arn, iam_prefix=iam_prefix, operation=operation,
                             params=params, region=self.region, caller=self.caller)
        if denial is not None:
            _LOG.warning("%s: %s", self.caller, denial)
        return denial is not None

    def run(self, max_batches: int | None) -> int:
        check = self.aws.access
        if check is not None:
            denial = service_assumes_role(check, service="pipes.amazonaws.com", role_arn=self.pipe.role_arn,
                                          source_arn=self.pipe.arn, caller=self.caller)
            if denial is not None:
                _LOG.warning("%s: cannot assume its role: %s", self.caller, denial)
                return 0
        if self.denied("sqs", "GetQueueAttributes", {"QueueUrl": self.queue_url}):
            return 0
        batch_size = _batch_size(self.pipe.source_parameters)
        delivered = 0
        left: list[str] = []  # receipt handles of messages left in the queue
        batches = 0
        try:
            while max_batches is None or batches < max_batches:
                if self.denied("sqs", "ReceiveMessage", {"QueueUrl": self.queue_url}):
                    break
                messages = self.sqs.receive_message(
                    QueueUrl=self.queue_url, MaxNumberOfMessages=batch_size, VisibilityTimeout=_HOLD_SECONDS,
                ).get("Messages", [])
                if not messages:
                    break
                batches += 1
                for message in messages:
                    if not self.deliver(message["Body"]):
                        left.append(message["ReceiptHandle"])
                        continue
                    delivered += 1
                    if self.denied("sqs", "DeleteMessage", {"QueueUrl": self.queue_url}):
                        left.append(message["ReceiptHandle"])
                        continue
                    self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        finally:
            for receipt in left:  # their visibility timeout has elapsed by the next pass
                self.sqs.change_message_visibility(QueueUrl=self.queue_url, ReceiptHandle=receipt,
                                                   VisibilityTimeout=0)
        return delivered

    def deliver(self, body: str) -> bool:
        """Starts the target for one message; True when the message may be deleted."""
        sync = self.invocation == "REQUEST_RESPONSE"
        operation = "StartSyncExecution" if sync else "StartExecution"
        if self.denied("states", operation, {"stateMachineArn": self.machine_arn}):
            return False
        try:
            execution_arn: str = self.sfn.start_execution(
                stateMachineArn=self.machine_arn, name=str(uuid.uuid4()), input=execution_input(body),
            )["executionArn"]
        except ClientError as error:
            _LOG.warning("%s: %s failed: %s", self.caller, operation, error)
            return False
        if not sync:
            return True
        status = self._wait(execution_arn)
        if status != "SUCCEEDED":
            _LOG.warning("%s: execution %s ended %s; the message stays in the queue", self.caller,
                         execution_arn, status)
        return status == "SUCCEEDED"

    def _wait(self, execution_arn: str) -> str:
        deadline = time.monotonic() + _SYNC_TIMEOUT_SECONDS
        delay = 0.005
        while True:
            status: str = self.sfn.describe_execution(executionArn=execution_arn)["status"]
            if status != "RUNNING" or time.monotonic() > deadline:
                return status
            time.sleep(delay)
            delay = min(delay * 2, 0.05)
