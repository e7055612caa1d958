"""``LocalAws``: moto in this process, either mocked in place (tests) or as an HTTP server (demo)."""

from __future__ import annotations

import datetime
import io
import json
import logging
import os
import socket
import threading
import time
import urllib.request
import uuid
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any
from unittest import mock

import boto3
from boto3.dynamodb.types import TypeDeserializer
from botocore.config import Config
from moto import mock_aws
from moto.core.config import DefaultConfig, default_user_config
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.ses.models import ses_backends
from moto.sns.models import sns_backends

from local_aws.access import (
    AccessCheck,
    IamSimulator,
    enforce_access,
    keep_state_machine_encryption,
    model_resource_policies_in_cloudformation,
)
from local_aws.apigateway.routes import deployed_apis
from local_aws.apigateway.server import ApiServer, LocalApiGateway
from local_aws.bridges import (
    EmailRequestLog,
    atomic_dynamodb_item_writes,
    capture_email_requests,
    create_change_sets_in_dependency_order,
    emit_execution_status_events,
    model_cloudwatch_alarms_in_cloudformation,
    name_sdk_errors_as_aws,
    point_sfn_sdk_calls_at_server,
    recompute_outputs_after_change_set,
    reuse_parsed_definitions,
    route_cfn_state_machines_to_executing_backend,
    seed_bootstrap_version,
    wait_until_timestamps,
)
from local_aws.distributed_map import distributed_map_bridges
from local_aws.jsonata import bind_jsonata_evaluator
from local_aws.pipes import model_pipes_in_cloudformation, run_pipes
from local_aws.records import (
    DeployedStack,
    ExecutionResult,
    SentEmail,
    SmsMessage,
    StackDeployError,
    StackResource,
    plain,
    sent_email_from_moto,
    states_entered_from_events,
)
from local_aws.redrive import redrive_executions
from local_aws.scheduler import (
    enable_updated_schedules_by_default,
    fire_due_schedules,
    model_schedules_in_cloudformation,
)
from local_aws.ses_v2 import ses_v2_bridges
from local_aws.sfn_tasks import start_executions_from_tasks
from local_aws.sms_voice import SmsVoiceMessage, serve_sms_voice, sms_voice_backend

DUMMY_KEY = "testing"
POLL_SECONDS = 0.05
SFN_EXECUTE_CONFIG: DefaultConfig = {"stepfunctions": {"execute_state_machine": True}}


def free_port(host: str = "127.0.0.1") -> int:
    """A port the OS considers free right now (bind to port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class LocalAws:
    """Helpers over an embedded moto. Create with ``in_process()`` or ``server()``.

    Boto3 clients go through mock_aws (in process) or to ``endpoint_url`` (server); the
    side-effect readers (SMS, emails) read moto's backends directly, valid in both modes.
    """

    def __init__(
        self,
        *,
        region: str,
        endpoint_url: str | None,
        cleanup: ExitStack,
        email_log: EmailRequestLog | None,
        access: AccessCheck | None = None,
    ) -> None:
        self.region = region
        self.account_id: str = DEFAULT_ACCOUNT_ID
        self.endpoint_url = endpoint_url
        self._cleanup = cleanup
        self._email_log = email_log
        self._clients: dict[str, Any] = {}
        #: The IAM/KMS access check (None when started with ``access_check=False``).
        self.access = access

    # ---- lifecycle -------------------------------------------------------------------------

    @classmethod
    @contextmanager
    def in_process(
        cls, region: str = "us-east-1", *, apply_bridges: bool = True, seed_bootstrap: bool = True,
        access_check: bool = True,
    ) -> Iterator[LocalAws]:
        """mock_aws with Step Functions execution on, dummy credentials and the bridges.

        ``seed_bootstrap`` creates the CDK bootstrap version parameter (when bridges apply);
        pass False before deploying a bootstrap (CDKToolkit) template, which creates it itself
        and fails in moto if it already exists. ``access_check`` (with the bridges) evaluates IAM and
        KMS for every request made on behalf of a principal (see ``local_aws.access``).
        """
        local = cls.start_in_process(region, apply_bridges=apply_bridges, seed_bootstrap=seed_bootstrap,
                                     access_check=access_check)
        try:
            yield local
        finally:
            local.stop()

    @classmethod
    def start_in_process(
        cls, region: str = "us-east-1", *, apply_bridges: bool = True, seed_bootstrap: bool = True,
        access_check: bool = True,
    ) -> LocalAws:
        """Like ``in_process`` but returns the object; call ``stop()`` when done."""
        cleanup = ExitStack()
        try:
            cleanup.enter_context(mock_aws(config=SFN_EXECUTE_CONFIG))
            # After mock_aws, whose own fake keys (FOOBARKEY) we replace with the documented ones.
            cleanup.enter_context(mock.patch.dict(os.environ, _dummy_env(region)))
            os.environ.pop("AWS_PROFILE", None)  # a named profile would beat the dummy keys
            email_log = cleanup.enter_context(_bridges()) if apply_bridges else None
            access = _start_access_check(cleanup) if apply_bridges and access_check else None
            local = cls(region=region, endpoint_url=None, cleanup=cleanup, email_log=email_log, access=access)
            if apply_bridges and seed_bootstrap:
                seed_bootstrap_version(local.client("ssm"))
            return local
        except BaseException:
            cleanup.close()
            raise

    @classmethod
    @contextmanager
    def server(
        cls,
        region: str = "us-east-1",
        *,
        port: int | None = None,
        apply_bridges: bool = True,
        seed_bootstrap: bool = True,
        access_check: bool = True,
    ) -> Iterator[LocalAws]:
        """A moto HTTP server on 127.0.0.1 (a free port by default), stopped on exit.

        Pass ``seed_bootstrap=False`` when a CLI will run ``cdk bootstrap`` against it.
        """
        local = cls.start_server(region, port=port, apply_bridges=apply_bridges, seed_bootstrap=seed_bootstrap,
                                 access_check=access_check)
        try:
            yield local
        finally:
            local.stop()

    @classmethod
    def start_server(
        cls,
        region: str = "us-east-1",
        *,
        port: int | None = None,
        apply_bridges: bool = True,
        seed_bootstrap: bool = True,
        access_check: bool = True,
    ) -> LocalAws:
        """Start a ThreadedMotoServer with fresh state; call ``stop()`` when done."""
        port = port or free_port()
        _ensure_port_free(port)  # ThreadedMotoServer.start() would hang on a busy port
        endpoint = f"http://127.0.0.1:{port}"
        cleanup = ExitStack()
        try:
            # POST /moto-api/config writes moto's process-wide config: restore it on stop.
            cleanup.enter_context(mock.patch.dict(default_user_config))
            # werkzeug logs every request at INFO; keep the demo's output readable.
            werkzeug_logger = logging.getLogger("werkzeug")
            cleanup.callback(werkzeug_logger.setLevel, werkzeug_logger.level)
            werkzeug_logger.setLevel(logging.WARNING)
            moto_server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
            moto_server.start()
            cleanup.callback(moto_server.stop)
            _post_json(f"{endpoint}/moto-api/reset", {})
            _post_json(f"{endpoint}/moto-api/config", SFN_EXECUTE_CONFIG)
            email_log = None
            access = None
            if apply_bridges:
                cleanup.enter_context(point_sfn_sdk_calls_at_server(port))
                email_log = cleanup.enter_context(_bridges())
                access = _start_access_check(cleanup) if access_check else None
            local = cls(region=region, endpoint_url=endpoint, cleanup=cleanup, email_log=email_log, access=access)
            if apply_bridges and seed_bootstrap:
                seed_bootstrap_version(local.client("ssm"))
            return local
        except BaseException:
            cleanup.close()
            raise

    def stop(self) -> None:
        """Undo bridges and patches, stop the mock or server (idempotent)."""
        self._clients.clear()
        self._cleanup.close()

    @property
    def port(self) -> int | None:
        """Server port, or None in process."""
        return int(self.endpoint_url.rsplit(":", 1)[1]) if self.endpoint_url else None

    def cli_env(self) -> dict[str, str]:
        """Environment variables for an AWS/CDK CLI subprocess talking to the server."""
        if self.port is None:
            raise RuntimeError("cli_env() needs server mode: use LocalAws.server()")
        return {
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{self.port}",
            # moto takes the bucket from the host name unless the host is `localhost`.
            "AWS_ENDPOINT_URL_S3_FOR_CLOUDFORMATION": f"http://localhost:{self.port}",
            "AWS_ACCESS_KEY_ID": DUMMY_KEY,
            "AWS_SECRET_ACCESS_KEY": DUMMY_KEY,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
        }

    # ---- clients ---------------------------------------------------------------------------

    def client(self, service: str) -> Any:
        """A cached boto3 client for this local AWS (no botocore retries)."""
        if service not in self._clients:
            with _SESSION_LOCK:
                self._clients[service] = _shared_session().client(
                    service,
                    region_name=self.region,
                    endpoint_url=self.endpoint_url,
                    aws_access_key_id=DUMMY_KEY,
                    aws_secret_access_key=DUMMY_KEY,
                    aws_session_token=None,
                    config=Config(retries={"total_max_attempts": 1}),
                )
        return self._clients[service]

    # ---- CloudFormation --------------------------------------------------------------------

    def deploy_template(
        self,
        stack_name: str,
        template: dict[str, Any],
        *,
        parameters: dict[str, str] | None = None,
        timeout_s: float = 30,
    ) -> DeployedStack:
        """create_stack and wait for CREATE_COMPLETE; raises StackDeployError otherwise."""
        cfn = self.client("cloudformation")
        try:
            cfn.create_stack(
                StackName=stack_name,
                TemplateBody=json.dumps(template),
                Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in (parameters or {}).items()],
                Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
            )
        except Exception as error:  # moto may raise a plain Python error in process
            raise StackDeployError(stack_name, repr(error), self._stack_events(stack_name)) from error
        deadline = time.monotonic() + timeout_s
        delays = _poll_delays()
        while True:
            stack = cfn.describe_stacks(StackName=stack_name)["Stacks"][0]
            status: str = stack["StackStatus"]
            if status == "CREATE_COMPLETE":
                break
            if not status.endswith("IN_PROGRESS") and status != "CREATE_PENDING":
                raise StackDeployError(stack_name, status, self._stack_events(stack_name))
            if time.monotonic() > deadline:
                raise StackDeployError(stack_name, f"timeout in {status}", self._stack_events(stack_name))
            time.sleep(next(delays))
        return self.describe_stack(stack_name)

    def publish_assets(self, assembly_dir: str | os.PathLike[str], stack_name: str) -> int:
        """Uploads the stack's file assets (Lambda code, ...) to the bucket the template points
        at, as ``cdk deploy`` would; returns how many were uploaded."""
        manifest = json.loads((Path(assembly_dir) / f"{stack_name}.assets.json").read_text())
        s3 = self.client("s3")
        uploaded = 0
        for asset in manifest.get("files", {}).values():
            source = Path(assembly_dir) / asset["source"]["path"]
            if source.name.endswith(".template.json"):
                continue  # deploy_template sends the template itself
            body = _zip_directory(source) if asset["source"].get("packaging") == "zip" else source.read_bytes()
            for destination in asset["destinations"].values():
                bucket = self._resolve_placeholders(destination["bucketName"])
                if bucket not in {b["Name"] for b in s3.list_buckets().get("Buckets", [])}:
                    s3.create_bucket(Bucket=bucket)
                s3.put_object(Bucket=bucket, Key=self._resolve_placeholders(destination["objectKey"]), Body=body)
                uploaded += 1
        return uploaded

    def deploy_assembly(self, assembly_dir: str | os.PathLike[str], stack_name: str) -> DeployedStack:
        """Publishes the stack's assets, then deploys its template from a synthesized assembly."""
        self.publish_assets(assembly_dir, stack_name)
        template = json.loads((Path(assembly_dir) / f"{stack_name}.template.json").read_text())
        return self.deploy_template(stack_name, template)

    def _resolve_placeholders(self, text: str) -> str:
        return (text.replace("${AWS::AccountId}", self.account_id).replace("${AWS::Region}", self.region)
                .replace("${AWS::Partition}", "aws"))

    def describe_stack(self, stack_name: str) -> DeployedStack:
        """Resources and Outputs of an existing stack."""
        cfn = self.client("cloudformation")
        stack = cfn.describe_stacks(StackName=stack_name)["Stacks"][0]
        resources: dict[str, StackResource] = {}
        for page in cfn.get_paginator("list_stack_resources").paginate(StackName=stack_name):
            for r in page["StackResourceSummaries"]:
                resources[r["LogicalResourceId"]] = StackResource(
                    logical_id=r["LogicalResourceId"],
                    physical_id=r.get("PhysicalResourceId", ""),
                    resource_type=r["ResourceType"],
                )
        return DeployedStack(
            stack_name=stack_name,
            stack_id=stack["StackId"],
            resources=resources,
            outputs={o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs") or []},
        )

    def _stack_events(self, stack_name: str) -> list[dict[str, Any]]:
        try:
            events: list[dict[str, Any]] = self.client("cloudformation").describe_stack_events(StackName=stack_name)[
                "StackEvents"
            ]
        except Exception:  # the stack may not exist at all
            return []
        return list(reversed(events))

    # ---- API Gateway -----------------------------------------------------------------------

    @contextmanager
    def serve_api(self, stack_name: str, *, api: str | None = None) -> Iterator[ApiServer]:
        """Serves a deployed stack's REST API over HTTP on 127.0.0.1 (see ``local_aws.apigateway``);
        ``api`` is its logical id when the stack has several. The server's ``url`` is the stage URL."""
        server = self.start_api_server(stack_name, api=api)
        try:
            yield server
        finally:
            server.stop()

    def start_api_server(self, stack_name: str, *, api: str | None = None) -> ApiServer:
        """Like ``serve_api`` but returns the running server; ``stop()`` (or this LocalAws's) stops it."""
        body = self.client("cloudformation").get_template(StackName=stack_name)["TemplateBody"]
        template = json.loads(body) if isinstance(body, str) else body
        apis = {a.logical_id: a for a in deployed_apis(template, self, self.describe_stack(stack_name))}
        if api is None and len(apis) != 1:
            raise LookupError(f"stack {stack_name!r} has REST APIs {sorted(apis)}: name one with api=")
        server = ApiServer(LocalApiGateway(self, apis[api] if api is not None else next(iter(apis.values()))))
        self._cleanup.callback(server.stop)
        return server.start()

    # ---- SES -------------------------------------------------------------------------------

    def verify_email_identities(self, identities: Iterable[str]) -> None:
        """Verify addresses (with '@') or domains so moto's SES accepts them as senders."""
        ses = self.client("ses")
        for identity in identities:
            if "@" in identity:
                ses.verify_email_identity(EmailAddress=identity)
            else:
                ses.verify_domain_identity(Domain=identity)

    # ---- Step Functions --------------------------------------------------------------------

    def start_and_wait(
        self,
        state_machine_arn: str,
        input: dict[str, Any],
        name: str | None = None,
        timeout_s: float = 30,
    ) -> ExecutionResult:
        """Start an execution (name defaults to a UUID) and poll until it leaves RUNNING."""
        sfn = self.client("stepfunctions")
        execution_arn: str = sfn.start_execution(
            stateMachineArn=state_machine_arn,
            input=json.dumps(input),
            # moto's executing backend names an unnamed execution "None", so a second one clashes.
            name=name if name is not None else str(uuid.uuid4()),
        )["executionArn"]
        deadline = time.monotonic() + timeout_s
        delays = _poll_delays()
        while True:
            described = sfn.describe_execution(executionArn=execution_arn)
            if described["status"] != "RUNNING":
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"execution {execution_arn} still RUNNING after {timeout_s}s")
            time.sleep(next(delays))
        raw_output = described.get("output")
        return ExecutionResult(
            execution_arn=execution_arn,
            status=described["status"],
            output=json.loads(raw_output) if raw_output is not None else None,
            error=described.get("error"),
            cause=described.get("cause"),
            events=self.execution_history(execution_arn),
        )

    def execution_history(self, execution_arn: str) -> list[dict[str, Any]]:
        """All history events, oldest first."""
        sfn = self.client("stepfunctions")
        events: list[dict[str, Any]] = []
        for page in sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn):
            events.extend(page["events"])
        return events

    def states_entered(self, execution_arn: str) -> list[str]:
        """Names of the states entered, in order."""
        return states_entered_from_events(self.execution_history(execution_arn))

    # ---- EventBridge Pipes and Scheduler ---------------------------------------------------

    def run_pipes(self, max_batches: int | None = None) -> int:
        """One pass of every RUNNING SQS -> Step Functions pipe, as each pipe's role: receive a
        batch, start one execution with the batch as a JSON array (as AWS does, even for a batch of
        one), delete what was delivered (``local_aws.pipes``). ``max_batches`` caps the batches per
        pipe; returns the messages delivered."""
        return run_pipes(self, max_batches=max_batches)

    def fire_due_schedules(self, now: datetime.datetime | None = None) -> list[str]:
        """Fires the ENABLED one-time ``at()`` schedules due at ``now`` (default: the clock), each
        starting its state machine as its target's role (``local_aws.scheduler``); returns the
        execution ARNs started."""
        return fire_due_schedules(self, now)

    # ---- side effects ----------------------------------------------------------------------

    def sms_messages(self) -> list[SmsMessage]:
        """SMS published to phone numbers, oldest first."""
        backend = sns_backends[self.account_id][self.region]
        return [
            SmsMessage(phone_number=phone, message=text, message_id=message_id)
            for message_id, (phone, text) in backend.sms_messages.items()
        ]

    def sms_voice_messages(self) -> list[SmsVoiceMessage]:
        """Text messages End User Messaging SMS accepted (``local_aws.sms_voice``), oldest first."""
        backend = sms_voice_backend(self.account_id, self.region)
        with backend.lock:
            return list(backend.messages)

    def sms_voice_outcome(self, destination_phone_number: str, *event_types: str, times: int = 1) -> None:
        """The next ``times`` texts to ``destination_phone_number`` emit ``event_types`` (the last one
        final), e.g. ``"TEXT_CARRIER_UNREACHABLE"``; later ones are delivered again."""
        sms_voice_backend(self.account_id, self.region).queue_outcome(destination_phone_number, event_types, times)

    def sms_voice_reply(self, recipient: str, origination_identity: str, text: str = "STOP") -> bool:
        """``recipient`` texts ``text`` to an origination identity (phone number or pool); an opt-out
        keyword such as STOP puts the recipient on its opt-out list, as AWS does unless the identity
        manages opt-outs itself. True when the recipient was opted out."""
        return sms_voice_backend(self.account_id, self.region).reply(recipient, origination_identity, text)

    def sent_emails(self) -> list[SentEmail]:
        """Emails accepted by SES v1 or v2, oldest first."""
        backend = ses_backends[self.account_id][self.region]
        log = self._email_log
        return [
            sent_email_from_moto(m, log.get(m.id) if log and hasattr(m, "id") else {}) for m in backend.sent_messages
        ]

    def table_item(self, table_name: str, key: Mapping[str, str]) -> dict[str, Any] | None:
        """One item by its (string) key, read consistently, as plain Python; None when absent."""
        item = self.client("dynamodb").get_item(
            TableName=table_name, Key={k: {"S": v} for k, v in key.items()}, ConsistentRead=True
        ).get("Item")
        if item is None:
            return None
        deserializer = TypeDeserializer()
        found: dict[str, Any] = plain({k: deserializer.deserialize(v) for k, v in item.items()})
        return found

    def table_items(self, table_name: str) -> list[dict[str, Any]]:
        """All items of a DynamoDB table as plain Python (integral numbers become int)."""
        deserializer = TypeDeserializer()
        items: list[dict[str, Any]] = []
        for page in self.client("dynamodb").get_paginator("scan").paginate(TableName=table_name):
            for item in page["Items"]:
                items.append(plain({k: deserializer.deserialize(v) for k, v in item.items()}))
        return items


_SESSION_LOCK = threading.Lock()
_SESSION: boto3.session.Session | None = None


def _shared_session() -> boto3.session.Session:
    # One session for all instances: it caches the service models (about 0.1 s per client).
    global _SESSION
    if _SESSION is None:
        _SESSION = boto3.session.Session()
    return _SESSION


def _poll_delays() -> Iterator[float]:
    # Short first waits: most local executions finish within a few milliseconds.
    yield from (0.005, 0.01, 0.02)
    while True:
        yield POLL_SECONDS


@contextmanager
def _bridges() -> Iterator[EmailRequestLog]:
    """The bridges both modes apply (bootstrap seeding is done once the clients exist)."""
    with ExitStack() as stack:
        stack.enter_context(route_cfn_state_machines_to_executing_backend())
        stack.enter_context(create_change_sets_in_dependency_order())
        stack.enter_context(recompute_outputs_after_change_set())
        stack.enter_context(model_cloudwatch_alarms_in_cloudformation())
        stack.enter_context(reuse_parsed_definitions())
        stack.enter_context(wait_until_timestamps())
        stack.enter_context(emit_execution_status_events())
        stack.enter_context(model_resource_policies_in_cloudformation())
        stack.enter_context(keep_state_machine_encryption())
        stack.enter_context(name_sdk_errors_as_aws())
        stack.enter_context(atomic_dynamodb_item_writes())
        stack.enter_context(bind_jsonata_evaluator())
        stack.enter_context(redrive_executions())
        stack.enter_context(distributed_map_bridges())
        stack.enter_context(start_executions_from_tasks())
        stack.enter_context(model_pipes_in_cloudformation())
        stack.enter_context(model_schedules_in_cloudformation())
        stack.enter_context(enable_updated_schedules_by_default())
        stack.enter_context(serve_sms_voice())
        email_log = stack.enter_context(capture_email_requests())
        stack.enter_context(ses_v2_bridges(email_log))  # after the capture: it records rendered templates
        yield email_log


def _start_access_check(cleanup: ExitStack) -> AccessCheck:
    """One iam-simulate process per LocalAws, stopped with it."""
    simulator = IamSimulator()
    cleanup.callback(simulator.close)
    check = AccessCheck(simulator, account_id=DEFAULT_ACCOUNT_ID)
    cleanup.enter_context(enforce_access(check))
    return check


def _zip_directory(directory: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(directory.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(directory).as_posix())
    return buffer.getvalue()


def _dummy_env(region: str) -> dict[str, str]:
    # Dummy credentials and region so nothing in the process can reach real AWS by accident.
    return {
        "AWS_ACCESS_KEY_ID": DUMMY_KEY,
        "AWS_SECRET_ACCESS_KEY": DUMMY_KEY,
        "AWS_SECURITY_TOKEN": DUMMY_KEY,
        "AWS_SESSION_TOKEN": DUMMY_KEY,
        "AWS_DEFAULT_REGION": region,
        "AWS_REGION": region,
    }


def _ensure_port_free(port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError as error:
            raise OSError(f"port {port} on 127.0.0.1 is busy: {error}") from error


def _post_json(url: str, body: Mapping[str, object]) -> None:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()
