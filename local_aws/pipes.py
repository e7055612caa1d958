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
2. Reads a batch of up to ``SourceParameters.SqsQueueParameters.BatchSize`` (default 10) messages
   (``sqs:ReceiveMessage``, and ``kms:Decrypt`` via SQS when the queue has a customer-managed key;
   a batch larger than 10 takes several receives), batch after batch until the queue gives none or
   ``max_batches`` batches were read. ``MaximumBatchingWindowInSeconds`` is accepted and ignored: a
   pass does not wait, a batch is whatever the queue holds up to the batch size.
3. Starts ONE execution per batch (``states:StartExecution`` for ``FIRE_AND_FORGET``,
   ``states:StartSyncExecution`` for ``REQUEST_RESPONSE``, with ``kms:GenerateDataKey`` on the
   machine's key; the machine's own role must use its key as at any StartExecution). moto has no
   StartSyncExecution: REQUEST_RESPONSE starts the execution and waits for it to finish.
4. Deletes the batch's messages (``sqs:DeleteMessage``, as DeleteMessageBatch):
   ``FIRE_AND_FORGET`` (Standard or Express): all of them once the execution started, whatever it
   does next. ``REQUEST_RESPONSE`` (Express): all of them when the execution SUCCEEDED, none
   otherwise; when its output is a partial-failure payload
   ``{"batchItemFailures": [{"itemIdentifier": "<messageId>"}, ...]}`` all but those. A message not
   deleted stays in the queue: it is received again by a later pass, and moto's SQS moves it to
   the queue's dead-letter queue on the receive after ``maxReceiveCount`` receives, as SQS does.

The execution input, as AWS gives a Step Functions target (it has no batch API): a JSON array with
one element per record of the batch, even for a batch of one. Without ``InputTemplate`` an element
is the SQS record::

    {"messageId", "receiptHandle", "body" (the raw string), "attributes" (ApproximateReceiveCount,
     SentTimestamp, SenderId, ApproximateFirstReceiveTimestamp, and for FIFO SequenceNumber,
     MessageGroupId, MessageDeduplicationId), "messageAttributes" ({name: {"stringValue" or
     "binaryValue" (base64), "stringListValues": [], "binaryListValues": [], "dataType"}}),
     "md5OfBody", "eventSource": "aws:sqs", "eventSourceARN", "awsRegion"}

With an ``InputTemplate`` an element is the template applied to that record (AWS applies input
transformers to each record, not to the array). A JSON ``body`` is parsed first (Pipes' implicit
body parsing: ``<$.body>`` is the object, ``<$.body.field>`` reaches into it; a body that is not
JSON stays a string). Emulated templates (``validate_pipe`` refuses others at deploy time):

- exactly one placeholder ``<$.path>``: the value at the path, as JSON;
- a JSON object (nested objects and arrays allowed) whose values are JSON literals, unquoted
  placeholders ``<$.path>`` (the value as JSON) or quoted ones ``"<$.path>"`` (the value as a
  string: a string as is, another value as its JSON text).

A path is ``$`` followed by ``.name`` segments (letters, digits, ``_``, ``-``) and ``[n]`` array
indices; a path that reaches nothing gives ``null``. Not emulated: static or dynamic strings
(``"Hello, <$.body.name>"``), wildcards, reserved variables (``<aws.pipes.pipe-arn>``,
``<aws.pipes.event.json>``, ...).

Partial batch failures: only a ``REQUEST_RESPONSE`` execution that SUCCEEDED can report them (a
FIRE_AND_FORGET start returns no output). Each ``itemIdentifier`` must be the ``messageId`` of a
record of the batch; a payload with an entry that is not (missing, not a string, unknown) fails
the whole batch, as Lambda's SQS event source mapping does (the Pipes docs do not say).

Time is compressed: a message is received at most once per pass, and the visibility timeout of
a message left in the queue has elapsed when the pass ends (it is visible to the next pass).

Not emulated: enrichment, filters (``FilterCriteria``), the batching window and the payload size
limit (262,144 characters for a Step Functions target), the pipe's own retry policy and
dead-letter config (SQS redrive is what moves messages here), FIFO ordering guarantees beyond
SQS's own, logging (``LogConfiguration``), the pipe's ``KmsKeyIdentifier``, other sources and
targets (refused with ``UnsupportedPipe``).
"""

from __future__ import annotations

import base64
import json
import logging
import re
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
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
INVOCATION_TYPES = ("FIRE_AND_FORGET", "REQUEST_RESPONSE")
#: A message is received at most once per pass: held invisible for the pass, released at its end.
_HOLD_SECONDS = 43200
_SYNC_TIMEOUT_SECONDS = 30.0
#: SQS gives at most 10 messages per ReceiveMessage and deletes at most 10 per DeleteMessageBatch.
_SQS_MAX_MESSAGES = 10
#: The record attributes Pipes passes on (Lambda's SQS records carry the same).
_RECORD_ATTRIBUTES = ("ApproximateReceiveCount", "SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp",
                      "AWSTraceHeader", "SequenceNumber", "MessageGroupId", "MessageDeduplicationId",
                      "DeadLetterQueueSourceArn")


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
    if template is not None:
        try:
            InputTemplate.compile(template)
        except ValueError as error:
            raise UnsupportedPipe(f"pipe {name}: InputTemplate {template!r}: {error}") from None
    invocation = _invocation_type(parameters)
    if invocation not in INVOCATION_TYPES:
        raise UnsupportedPipe(f"pipe {name}: InvocationType {invocation!r} is not one of {INVOCATION_TYPES}")


def _invocation_type(target_parameters: dict[str, Any] | None) -> str:
    machine_parameters = (target_parameters or {}).get("StepFunctionStateMachineParameters") or {}
    return str(machine_parameters.get("InvocationType", "FIRE_AND_FORGET"))


def _batch_size(source_parameters: dict[str, Any] | None) -> int:
    queue_parameters = (source_parameters or {}).get("SqsQueueParameters") or {}
    return int(queue_parameters.get("BatchSize", DEFAULT_BATCH_SIZE))


# ---- records and input templates -----------------------------------------------------------------


def sqs_record(message: dict[str, Any], *, source_arn: str, region: str) -> dict[str, Any]:
    """The record Pipes makes of a message from ``ReceiveMessage`` (system and message attributes
    requested with ``All``); ``body`` is the raw string."""
    attributes = message.get("Attributes") or {}
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": {name: attributes[name] for name in _RECORD_ATTRIBUTES if name in attributes},
        "messageAttributes": {name: _message_attribute(value)
                              for name, value in (message.get("MessageAttributes") or {}).items()},
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": source_arn,
        "awsRegion": region,
    }


def _message_attribute(value: dict[str, Any]) -> dict[str, Any]:
    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode("ascii")

    converted: dict[str, Any] = {}
    if "StringValue" in value:
        converted["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        converted["binaryValue"] = b64(value["BinaryValue"])
    converted["stringListValues"] = list(value.get("StringListValues") or [])
    converted["binaryListValues"] = [b64(item) for item in value.get("BinaryListValues") or []]
    converted["dataType"] = value["DataType"]
    return converted


def _with_parsed_body(record: dict[str, Any]) -> dict[str, Any]:
    """Pipes' implicit body parsing: a JSON body is seen as its value by input templates."""
    try:
        body = json.loads(record["body"])
    except ValueError:
        return record
    return {**record, "body": body}


_PATH_TEXT = r"\$(?:\.[A-Za-z0-9_-]+|\[\d+\])*"
_PLACEHOLDER = re.compile(rf"<({_PATH_TEXT})>")
_STEP = re.compile(r"\.([A-Za-z0-9_-]+)|\[(\d+)\]")
#: A JSON string token (quotes included) or a placeholder outside strings.
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|<[^<>]*>')
_ANY_PLACEHOLDER = re.compile(r"<[^<>]*>")
_SENTINEL = "\u0000pipes-placeholder:"


@dataclass(frozen=True)
class _Placeholder:
    steps: tuple[str | int, ...]
    as_text: bool  # quoted in the template: the value as a string

    def render(self, record: dict[str, Any]) -> Any:
        value: Any = record
        for step in self.steps:
            if isinstance(step, int):
                value = value[step] if isinstance(value, list) and step < len(value) else None
            else:
                value = value.get(step) if isinstance(value, dict) else None
            if value is None:
                break
        if not self.as_text:
            return value
        return value if isinstance(value, str) else json.dumps(value)


def _placeholder(path: str, *, as_text: bool) -> _Placeholder:
    steps: list[str | int] = []
    for match in _STEP.finditer(path, 1):
        steps.append(match.group(1) if match.group(1) is not None else int(match.group(2)))
    return _Placeholder(tuple(steps), as_text)


class InputTemplate:
    """A compiled ``InputTemplate`` (see the module docstring for what is emulated)."""

    def __init__(self, shape: Any) -> None:
        self._shape = shape

    @classmethod
    def compile(cls, template: str) -> InputTemplate:
        """Raises ValueError (the reason) for a template this runner does not emulate."""
        text = template.strip()
        whole = _PLACEHOLDER.fullmatch(text)
        if whole is not None:
            return cls(_placeholder(whole.group(1), as_text=False))
        if not text.startswith("{"):
            raise ValueError("only a single <$.path> placeholder or a JSON object of placeholders and "
                             "JSON values is emulated")
        placeholders: list[_Placeholder] = []

        def replace(match: re.Match[str]) -> str:
            token = match.group(0)
            if token.startswith('"'):
                quoted = _PLACEHOLDER.fullmatch(token[1:-1])
                if quoted is not None:
                    placeholders.append(_placeholder(quoted.group(1), as_text=True))
                elif _ANY_PLACEHOLDER.search(token):
                    raise ValueError(f"the string {token} mixes text and placeholders (or names a reserved "
                                     "variable); only whole \"<$.path>\" strings are emulated")
                else:
                    return token
            else:
                bare = _PLACEHOLDER.fullmatch(token)
                if bare is None:
                    raise ValueError(f"placeholder {token}: only <$.path> with .name segments and [n] indices "
                                     "is emulated (no reserved variables, no wildcards)")
                placeholders.append(_placeholder(bare.group(1), as_text=False))
            return json.dumps(f"{_SENTINEL}{len(placeholders) - 1}")

        try:
            parsed = json.loads(_TOKEN.sub(replace, text))
        except json.JSONDecodeError as error:
            raise ValueError(f"not a JSON object once its placeholders are filled in ({error})") from None
        if not isinstance(parsed, dict):
            raise ValueError("not a JSON object")

        def shape(value: Any) -> Any:
            if isinstance(value, str) and value.startswith(_SENTINEL):
                return placeholders[int(value[len(_SENTINEL):])]
            if isinstance(value, dict):
                if any(key.startswith(_SENTINEL) for key in value):
                    raise ValueError("a placeholder as a key is not emulated")
                return {key: shape(item) for key, item in value.items()}
            if isinstance(value, list):
                return [shape(item) for item in value]
            return value

        return cls(shape(parsed))

    def render(self, record: dict[str, Any]) -> Any:
        """The template applied to one record (its body parsed when it is JSON)."""
        view = _with_parsed_body(record)

        def fill(value: Any) -> Any:
            if isinstance(value, _Placeholder):
                return value.render(view)
            if isinstance(value, dict):
                return {key: fill(item) for key, item in value.items()}
            if isinstance(value, list):
                return [fill(item) for item in value]
            return value

        return fill(self._shape)


def batch_input(records: list[dict[str, Any]], template: InputTemplate | None) -> str:
    """The execution input for a batch: a JSON array of its records, or of the template applied to each."""
    return json.dumps([record if template is None else template.render(record) for record in records])


def batch_item_failures(output: str | None, message_ids: set[str]) -> set[str] | None:
    """The message ids a target's output reports as failed (``batchItemFailures``); an empty set when
    it reports none; None when the report is malformed (the whole batch failed)."""
    try:
        value = json.loads(output) if output is not None else None
    except ValueError:
        return set()
    if not isinstance(value, dict) or value.get("batchItemFailures") is None:
        return set()
    entries = value["batchItemFailures"]
    if not isinstance(entries, list):
        return None
    failed: set[str] = set()
    for entry in entries:
        identifier = entry.get("itemIdentifier") if isinstance(entry, dict) else None
        if not isinstance(identifier, str) or identifier not in message_ids:
            return None
        failed.add(identifier)
    return failed


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
    """One pass of every RUNNING pipe (see the module docstring); ``max_batches`` caps the batches
    (executions) per pipe (None: until the queue gives nothing). Returns the messages delivered:
    those of batches whose execution started (FIRE_AND_FORGET) or succeeded (REQUEST_RESPONSE),
    less the ones reported in ``batchItemFailures``."""
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
        template = (pipe.target_parameters or {}).get("InputTemplate")
        self.template = InputTemplate.compile(template) if template is not None else None

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
                messages = self.read_batch(batch_size)
                if not messages:
                    break
                batches += 1
                failed = self.deliver(messages)
                done = [m for m in messages if m["MessageId"] not in failed]
                left.extend(m["ReceiptHandle"] for m in messages if m["MessageId"] in failed)
                delivered += len(done)
                left.extend(self.delete(done))
        finally:
            for receipt in left:  # their visibility timeout has elapsed by the next pass
                self.sqs.change_message_visibility(QueueUrl=self.queue_url, ReceiptHandle=receipt,
                                                   VisibilityTimeout=0)
        return delivered

    def read_batch(self, batch_size: int) -> list[dict[str, Any]]:
        """Up to ``batch_size`` messages, received 10 at most at a time, until a receive gives fewer
        than it asked for (the queue has no more for now)."""
        batch: list[dict[str, Any]] = []
        while len(batch) < batch_size:
            if self.denied("sqs", "ReceiveMessage", {"QueueUrl": self.queue_url}):
                break
            wanted = min(_SQS_MAX_MESSAGES, batch_size - len(batch))
            messages = self.sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=wanted, VisibilityTimeout=_HOLD_SECONDS,
                MessageSystemAttributeNames=["All"], MessageAttributeNames=["All"],
            ).get("Messages", [])
            batch.extend(messages)
            if len(messages) < wanted:
                break
        return batch

    def deliver(self, messages: list[dict[str, Any]]) -> set[str]:
        """Starts the target for one batch; returns the ids of the messages that stay in the queue."""
        every = {m["MessageId"] for m in messages}
        sync = self.invocation == "REQUEST_RESPONSE"
        operation = "StartSyncExecution" if sync else "StartExecution"
        if self.denied("states", operation, {"stateMachineArn": self.machine_arn}):
            return every
        records = [sqs_record(m, source_arn=self.pipe.source, region=self.region) for m in messages]
        try:
            execution_arn: str = self.sfn.start_execution(
                stateMachineArn=self.machine_arn, name=str(uuid.uuid4()), input=batch_input(records, self.template),
            )["executionArn"]
        except ClientError as error:
            _LOG.warning("%s: %s failed: %s", self.caller, operation, error)
            return every
        if not sync:
            return set()
        described = self._wait(execution_arn)
        if described["status"] != "SUCCEEDED":
            _LOG.warning("%s: execution %s ended %s; its %d messages stay in the queue", self.caller,
                         execution_arn, described["status"], len(messages))
            return every
        failed = batch_item_failures(described.get("output"), every)
        if failed is None:
            _LOG.warning("%s: execution %s returned malformed batchItemFailures; its %d messages stay in the "
                         "queue", self.caller, execution_arn, len(messages))
            return every
        return failed

    def delete(self, messages: list[dict[str, Any]]) -> list[str]:
        """Deletes delivered messages; returns the receipt handles of those not deleted."""
        if not messages:
            return []
        if self.denied("sqs", "DeleteMessageBatch", {"QueueUrl": self.queue_url}):
            return [m["ReceiptHandle"] for m in messages]
        kept: list[str] = []
        for start in range(0, len(messages), _SQS_MAX_MESSAGES):
            chunk = messages[start:start + _SQS_MAX_MESSAGES]
            entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)]
            response = self.sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=entries)
            for failure in response.get("Failed", []):
                _LOG.warning("%s: DeleteMessageBatch failed for a message: %s", self.caller, failure)
                kept.append(chunk[int(failure["Id"])]["ReceiptHandle"])
        return kept

    def _wait(self, execution_arn: str) -> dict[str, Any]:
        deadline = time.monotonic() + _SYNC_TIMEOUT_SECONDS
        delay = 0.005
        while True:
            described: dict[str, Any] = self.sfn.describe_execution(executionArn=execution_arn)
            if described["status"] != "RUNNING" or time.monotonic() > deadline:
                return described
            time.sleep(delay)
            delay = min(delay * 2, 0.05)
