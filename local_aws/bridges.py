"""Bridges over gaps in moto 5.2.5, each a small context manager undone on exit.

Each bridge states the gap it covers; ``tests/local_aws/test_bridges.py`` shows the gap
without the bridge and the fix with it.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import os
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast
from unittest import mock

import moto.cloudformation.models as cfn_models
import moto.cloudformation.parsing as cfn_parsing
import moto.stepfunctions.models as sfn_models
from moto.ses.responses import EmailResponse
from moto.sesv2.responses import SESV2Response
from moto.stepfunctions.parser.models import stepfunctions_parser_backends

_LOG = logging.getLogger(__name__)

BOOTSTRAP_QUALIFIER = "hnb659fds"
BOOTSTRAP_VERSION = "30"


def bootstrap_version_parameter_name(qualifier: str = BOOTSTRAP_QUALIFIER) -> str:
    """The SSM parameter that CDK's CheckBootstrapVersion rule reads."""
    return f"/cdk-bootstrap/{qualifier}/version"


def seed_bootstrap_version(
    ssm_client: Any,
    *,
    qualifier: str = BOOTSTRAP_QUALIFIER,
    version: str = BOOTSTRAP_VERSION,
) -> None:
    """Create the CDK bootstrap version parameter (idempotent)."""
    # moto resolves SSM-typed Parameters at create_stack; a missing one fails with AttributeError.
    ssm_client.put_parameter(
        Name=bootstrap_version_parameter_name(qualifier),
        Value=version,
        Type="String",
        Overwrite=True,
    )


@contextmanager
def route_cfn_state_machines_to_executing_backend() -> Iterator[None]:
    """Make CloudFormation create state machines in moto's executing (parser) backend."""
    # moto's CFN model looks up the module global `stepfunctions_backends`, the non-executing
    # backend, so StartExecution (served by the parser backend) cannot find CFN-made machines.
    with mock.patch.object(sfn_models, "stepfunctions_backends", stepfunctions_parser_backends):
        yield


@contextmanager
def recompute_outputs_after_change_set() -> Iterator[None]:
    """Rebuild stack Outputs after ExecuteChangeSet (what `cdk deploy` uses)."""
    # moto's execute_change_set stores the new template but keeps the Outputs computed from the
    # empty template the change set started with, so describe_stacks shows no Outputs.
    original = cfn_models.CloudFormationBackend.execute_change_set

    def execute_change_set(
        self: cfn_models.CloudFormationBackend,
        change_set_name: str,
        stack_name: str | None = None,
    ) -> None:
        original(self, change_set_name, stack_name)
        for arn, change_set in self.change_sets.items():
            if change_set_name not in (arn, change_set.change_set_name):
                continue
            stack = self.stacks.get(change_set.stack_id)
            if stack is None or stack_name not in (None, stack.name, stack.stack_id):
                continue
            if change_set.execution_status == "EXECUTE_COMPLETE":
                stack._parse_template()
                stack.output_map = stack._create_output_map()

    with mock.patch.object(cfn_models.CloudFormationBackend, "execute_change_set", execute_change_set):
        yield


@contextmanager
def point_sfn_sdk_calls_at_server(port: int) -> Iterator[None]:
    """Send the Step Functions engine's service calls to this server's port."""
    # Outside mock_aws the engine's boto3 clients call http://localhost:$MOTO_PORT (default 5000).
    with mock.patch.dict(os.environ, {"MOTO_PORT": str(port)}):
        yield


@dataclass
class EmailRequestLog:
    """SES request details moto drops (reply-to, both bodies), keyed by message id."""

    by_message_id: dict[str, dict[str, Any]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, message_id: str, details: dict[str, Any]) -> None:
        with self._lock:
            self.by_message_id[message_id] = details

    def get(self, message_id: str) -> dict[str, Any]:
        with self._lock:
            return dict(self.by_message_id.get(message_id, {}))


@contextmanager
def capture_email_requests() -> Iterator[EmailRequestLog]:
    """Record reply-to, text and html bodies of SES v1/v2 SendEmail requests."""
    # moto stores only one body (Html if present, else Text) and no ReplyTo for SendEmail.
    log = EmailRequestLog()
    v2_original: Callable[[SESV2Response], str] = SESV2Response.send_email
    v1_original: Callable[[EmailResponse], Any] = EmailResponse.send_email

    def v2_send_email(self: SESV2Response) -> str:
        result = v2_original(self)
        params: dict[str, Any] = json.loads(self.body)
        simple = params.get("Content", {}).get("Simple", {})
        body = simple.get("Body", {})
        log.add(
            json.loads(result)["MessageId"],
            {
                "reply_to": list(params.get("ReplyToAddresses", [])),
                "text_body": body.get("Text", {}).get("Data"),
                "html_body": body.get("Html", {}).get("Data"),
                "configuration_set": params.get("ConfigurationSetName"),
            },
        )
        return result

    def v1_send_email(self: EmailResponse) -> Any:
        result = v1_original(self)
        log.add(
            cast(dict[str, str], result.result)["MessageId"],
            {
                "reply_to": list(self._get_param("ReplyToAddresses", []) or []),
                "text_body": self._get_param("Message.Body.Text.Data"),
                "html_body": self._get_param("Message.Body.Html.Data"),
                "configuration_set": self._get_param("ConfigurationSetName"),
            },
        )
        return result

    with ExitStack() as stack:
        stack.enter_context(mock.patch.object(SESV2Response, "send_email", v2_send_email))
        stack.enter_context(mock.patch.object(EmailResponse, "send_email", v1_send_email))
        yield log


class CloudFormationModelStub:
    """The parts of a moto CloudFormation model a resource moto skips needs: created at once,
    updated by creating again, nothing to undo on delete. Subclasses give the type and
    ``create_from_cloudformation_json``."""

    physical_resource_id: str

    def is_created(self) -> bool:
        return True

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return False

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str,
        **kwargs: Any,
    ) -> Any:
        raise NotImplementedError

    @classmethod
    def update_from_cloudformation_json(
        cls, original_resource: Any, new_resource_name: str, cloudformation_json: dict[str, Any],
        account_id: str, region_name: str,
    ) -> Any:
        return cls.create_from_cloudformation_json(new_resource_name, cloudformation_json, account_id, region_name)

    @classmethod
    def delete_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str
    ) -> None:
        return None


class _CloudFormationAlarm(CloudFormationModelStub):
    """Stands in for the CloudFormation model moto lacks: the alarm is created in moto's
    CloudWatch backend, and ``Fn::GetAtt Alarm.Arn`` (used by dashboard alarm widgets) resolves."""

    def __init__(self, alarm: Any) -> None:
        self.alarm = alarm
        self.physical_resource_id: str = alarm.name

    @staticmethod
    def cloudformation_name_type() -> str:
        return "AlarmName"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::CloudWatch::Alarm"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr == "Arn"

    def get_cfn_attribute(self, attr: str) -> str:
        if attr != "Arn":
            raise KeyError(attr)
        return cast(str, self.alarm.alarm_arn)

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str,
        **kwargs: Any,
    ) -> _CloudFormationAlarm:
        from moto.cloudwatch.models import cloudwatch_backends

        props = cloudformation_json.get("Properties", {})
        alarm = cloudwatch_backends[account_id][region_name].put_metric_alarm(
            name=props.get("AlarmName", resource_name),
            namespace=props.get("Namespace"),
            metric_name=props.get("MetricName"),
            comparison_operator=props["ComparisonOperator"],
            evaluation_periods=int(props["EvaluationPeriods"]),
            period=int(props.get("Period", 60)),
            threshold=float(props.get("Threshold", 0)),
            statistic=props.get("Statistic"),
            description=props.get("AlarmDescription", ""),
            dimensions=list(props.get("Dimensions", [])),
            alarm_actions=props.get("AlarmActions", []),
            treat_missing_data=props.get("TreatMissingData"),
        )
        return cls(alarm)


@contextmanager
def model_cloudwatch_alarms_in_cloudformation() -> Iterator[None]:
    """moto 5.2.5 skips ``AWS::CloudWatch::Alarm`` in templates, so a dashboard's alarm widget
    (``Fn::GetAtt Alarm.Arn``) fails the whole stack; this gives alarms a CloudFormation model."""
    original = cfn_parsing.resource_class_from_type

    def resource_class_from_type(resource_type: str) -> Any:
        if resource_type == "AWS::CloudWatch::Alarm":
            return _CloudFormationAlarm
        return original(resource_type)

    with mock.patch.object(cfn_parsing, "resource_class_from_type", resource_class_from_type):
        yield


@contextmanager
def reuse_parsed_definitions() -> Iterator[None]:
    """moto parses a state machine's definition again for every execution, which takes about 1.5 s
    for this project's definition; the parsed program holds no per-execution state, so each
    distinct definition is parsed once (a speed bridge: behaviour is unchanged)."""
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    original = AmazonStateLanguageParser.parse
    parsed: dict[str, Any] = {}
    lock = threading.Lock()

    def parse(definition: str) -> Any:
        with lock:
            if definition not in parsed:
                parsed[definition] = original(definition)
            return parsed[definition]

    with mock.patch.object(AmazonStateLanguageParser, "parse", staticmethod(parse)):
        yield


@contextmanager
def wait_until_timestamps() -> Iterator[None]:
    """moto's Wait ``Timestamp`` compares the (UTC) time with the machine's local clock and drops
    fractions of a second twice, so a wait ends up to two seconds (or the UTC offset) early. AWS
    waits until the time: wait whole seconds, rounded up, by the UTC clock."""
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import FailureEventException
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function.timestamp import Timestamp

    def wait_seconds(self: Timestamp, env: Any) -> int:
        self.string.eval(env=env)
        text = env.stack.pop()
        if self._from_timestamp_string(text) is None:
            raise FailureEventException(self._create_failure_event(env, text))
        until = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return max(0, math.ceil((until - datetime.now(UTC)).total_seconds()))

    with mock.patch.object(Timestamp, "_get_wait_seconds", wait_seconds):
        yield


EXECUTION_STATUS_CHANGE = "Step Functions Execution Status Change"


def execution_status_change_event(execution: Any) -> dict[str, Any]:
    """A PutEvents entry shaped like the event Step Functions sends when an execution ends."""
    from moto.stepfunctions.parser.asl.utils.encoding import to_json_str

    def millis(moment: Any) -> int | None:
        return int(moment.timestamp() * 1000) if moment is not None else None

    machine = execution.state_machine
    status = str(getattr(execution.exec_status, "value", execution.exec_status))
    succeeded = status == "SUCCEEDED"
    detail = {
        "executionArn": execution.exec_arn,
        "stateMachineArn": getattr(machine, "source_arn", None) or machine.arn,  # a version's machine
        "name": execution.name,
        "status": status,
        "startDate": millis(execution.start_date),
        "stopDate": millis(execution.stop_date),
        "input": to_json_str(execution.input_data, separators=(",", ":")),
        "output": to_json_str(execution.output, separators=(",", ":")) if succeeded else None,
        "inputDetails": {"included": True},
        "outputDetails": {"included": True} if succeeded else None,
        "error": execution.error,
        "cause": execution.cause,
    }
    entry: dict[str, Any] = {
        "Source": "aws.states",
        "DetailType": EXECUTION_STATUS_CHANGE,
        "Resources": [execution.exec_arn],
        "Detail": json.dumps(detail),
    }
    if execution.stop_date is not None:
        entry["Time"] = execution.stop_date.timestamp()  # moto's backend takes epoch seconds
    return entry


def _machine_type(execution: Any) -> str:
    # moto 5.2.5 keeps the real type in StateMachine.type; its sm_type is always "STANDARD".
    machine_type = getattr(execution.state_machine, "type", None) or execution.sm_type
    return str(getattr(machine_type, "value", machine_type))


@contextmanager
def emit_execution_status_events(*, include_express: bool = False) -> Iterator[None]:
    """moto's Step Functions engine never sends "Step Functions Execution Status Change" to
    EventBridge, so rules on ``aws.states`` (e.g. alarms on FAILED/TIMED_OUT/ABORTED) never fire;
    this puts that event on the default bus when an execution ends (SUCCEEDED, FAILED, TIMED_OUT,
    or ABORTED by StopExecution). Like AWS, Express executions send none unless
    ``include_express``. Errors here are logged, never raised into the execution."""
    from moto.events.models import events_backends
    from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication

    # Every execution's worker calls terminated() once it stops, whatever the outcome (StopExecution
    # ends the program as ProgramStopped, which _reflect_execution_status maps to ABORTED).
    original = BaseExecutionWorkerCommunication.terminated

    def terminated(self: BaseExecutionWorkerCommunication) -> None:
        original(self)
        execution = self.execution
        try:
            if _machine_type(execution) == "EXPRESS" and not include_express:
                return
            backend = events_backends[execution.account_id][execution.region_name]
            backend.put_events([execution_status_change_event(execution)])
        except Exception:  # a bridge must never break the execution
            _LOG.exception("could not emit the status change event for %s", execution.exec_arn)

    with mock.patch.object(BaseExecutionWorkerCommunication, "terminated", terminated):
        yield


@contextmanager
def create_change_sets_in_dependency_order() -> Iterator[None]:
    """moto applies a CREATE change set (what ``cdk deploy`` sends) in template order, ignoring
    DependsOn, so an API Gateway deployment is created before its methods and fails; this
    creates the resources in dependency order, as moto's CreateStack does."""
    original = cfn_models.ChangeSet.apply

    def apply(self: cfn_models.ChangeSet) -> None:
        if self.change_set_type != "CREATE":
            original(self)
            return
        stack = self.stack
        stack.template = self.template
        stack._parse_template()
        if self.parameters:
            stack.parameters = self.parameters
        stack.resource_map = stack._create_resource_map()
        stack.resource_map.create(stack.template_dict)
        stack.output_map = stack._create_output_map()

    with mock.patch.object(cfn_models.ChangeSet, "apply", apply):
        yield


# Words of a serviceId: acronyms ("SES", "SMS", "DB"), capitalised words, a lone "v" of "v2", digits.
_WORD = re.compile(r"[A-Z]+(?=[A-Z][a-z]{2})|[A-Z]+(?![a-z]{2})|[A-Z]?[a-z]+|[0-9]+")


_SFN_TO_BOTOCORE = {"pinpointsmsvoicev2": "pinpoint-sms-voice-v2", "eventbridge": "events"}


@functools.cache
def aws_sdk_error_prefix(service: str) -> str:
    """The service part of an aws-sdk integration's error name on AWS: the SDK's client name in
    PascalCase (``sesv2`` -> ``SesV2``, ``dynamodb`` -> ``DynamoDb``, ``pinpointsmsvoicev2`` ->
    ``PinpointSmsVoiceV2``), built from the service model's ``serviceId``."""
    import botocore.session
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service import (
        StateTaskService,
    )

    # Step Functions' names for a few services differ from botocore's.
    boto_name = {**StateTaskService._SERVICE_NAME_SFN_TO_BOTO_OVERRIDES, **_SFN_TO_BOTOCORE}.get(service, service)
    try:
        service_id = str(botocore.session.get_session().get_service_model(boto_name).service_id)
    except Exception:  # an unknown service: keep what the engine would have used
        return service
    return "".join(word[:1].upper() + word[1:].lower() for word in _WORD.findall(service_id))


@contextmanager
def name_sdk_errors_as_aws() -> Iterator[None]:
    """moto names aws-sdk errors ``sesv2.MessageRejectedException`` (the lower-case service id);
    AWS names them ``SesV2.MessageRejectedException``. This gives them AWS's service part."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_aws_sdk import (
        StateTaskServiceAwsSdk,
    )

    with mock.patch.object(StateTaskServiceAwsSdk, "_normalise_service_error_name",
                           staticmethod(aws_sdk_error_prefix)):
        yield


@contextmanager
def atomic_dynamodb_item_writes() -> Iterator[None]:
    """moto 5.2.5's ``DynamoDBBackend.update_item`` reads, changes and stores an item without a
    lock, so concurrent ``ADD`` updates lose increments, and ``put_item``'s condition check and
    write are not atomic either; DynamoDB applies each item write atomically. This serialises them."""
    from moto.dynamodb.models import DynamoDBBackend

    lock = threading.RLock()

    def serialised(original: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(original)
        def write(self: Any, *args: Any, **kwargs: Any) -> Any:
            with lock:
                return original(self, *args, **kwargs)
        return write

    with mock.patch.object(DynamoDBBackend, "put_item", serialised(DynamoDBBackend.put_item)), \
            mock.patch.object(DynamoDBBackend, "update_item", serialised(DynamoDBBackend.update_item)):
        yield
