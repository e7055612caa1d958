"""A deployed REST API served over HTTP on 127.0.0.1, the way API Gateway runs it.

For each request, in API Gateway's order: the route (else 403 Missing Authentication Token);
for ``AWS_IAM`` methods the SigV4 signature against the local IAM's keys and the signer's
``execute-api:Invoke`` on the method ARN under the access check; required parameters and the
request model (JSON Schema draft 4); the request template; the AWS service integration called as
its credentials role (API Gateway assuming it under the role's trust policy); the integration
response chosen by its selection pattern on the service's HTTP status, its template rendered,
``$context.responseOverride.status`` honoured.

AWS integrations are served by action URI (``...:states:action/StartExecution``), or by path URI
with the AWS JSON protocol's headers mapped as static values (SQS: ``X-Amz-Target:
AmazonSQS.SendMessageBatch``, the queue named in the body). Not modelled: the Query protocol
(form bodies), throttling, usage plans and API keys, WAF, custom domains, caching, CORS, binary
media, Lambda and HTTP integrations, and API Gateway's exact error bodies for every case.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import urllib.parse
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import TYPE_CHECKING, Any

import boto3
import jsonschema
from botocore import xform_name
from botocore.config import Config
from botocore.exceptions import ClientError, ParamValidationError

from local_aws.access import AccessRequest, guard_client
from local_aws.apigateway.routes import ApiMethod, DeployedApi
from local_aws.apigateway.sigv4 import SignatureRefused, verify_signature
from local_aws.apigateway.velocity import CallerIdentity, render

if TYPE_CHECKING:
    from local_aws.local import LocalAws

log = logging.getLogger(__name__)

JSON = "application/json"
# API Gateway's service names in integration URIs that boto3 spells otherwise.
_BOTO3_SERVICE = {"states": "stepfunctions"}
_ACTION_URI = re.compile(r"arn:[^:]+:apigateway:[^:]+:(?P<service>[^:]+):action/(?P<action>\w+)")
# A path URI calls the service's own path; the AWS JSON protocol names the action in X-Amz-Target.
_PATH_URI = re.compile(r"arn:[^:]+:apigateway:[^:]+:(?P<service>[^:]+):path/(?P<path>.*)")
_JSON_PROTOCOL = "application/x-amz-json-1.0"


@dataclass
class GatewayResponse:
    status: int
    body: dict[str, Any] | str
    headers: dict[str, str] = field(default_factory=dict)

    def encoded(self) -> bytes:
        return (self.body if isinstance(self.body, str) else json.dumps(self.body)).encode()


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def request_time_context(received: datetime) -> dict[str, Any]:
    """``$context.requestTime`` (CLF, ``dd/MMM/yyyy:HH:mm:ss +0000``, in UTC whatever the locale)
    and ``$context.requestTimeEpoch`` (milliseconds), as API Gateway fills them."""
    received = received.astimezone(UTC)
    return {"requestTime": f"{received:%d}/{_MONTHS[received.month - 1]}/{received:%Y:%H:%M:%S} +0000",
            "requestTimeEpoch": int(received.timestamp() * 1000)}


def _refusal(status: int, error_type: str, body: dict[str, Any]) -> GatewayResponse:
    """A gateway response (before or instead of the integration), typed as API Gateway types it."""
    return GatewayResponse(status, body, {"x-amzn-ErrorType": error_type})


class LocalApiGateway:
    """Answers requests for one deployed API (no HTTP here: ``ApiServer`` carries it)."""

    def __init__(self, aws: LocalAws, api: DeployedApi) -> None:
        self.aws = aws
        self.api = api
        self._session = boto3.session.Session()
        self._clients: dict[str, Any] = {}
        # One integration call at a time: a client is guarded for one role and caller per call.
        self._lock = threading.Lock()

    def method_arn(self, http_method: str, path: str) -> str:
        return (f"arn:aws:execute-api:{self.aws.region}:{self.aws.account_id}:{self.api.api_id}/"
                f"{self.api.stage}/{http_method}{path}")

    def handle(self, *, http_method: str, url: str, headers: Mapping[str, str], body: bytes) -> GatewayResponse:
        request_id = str(uuid.uuid4())
        response = self._answer(http_method, url, headers, body, request_id)
        response.headers.setdefault("Content-Type", JSON)
        response.headers["x-amzn-RequestId"] = request_id
        return response

    def _answer(self, http_method: str, url: str, headers: Mapping[str, str], body: bytes,
                request_id: str) -> GatewayResponse:
        split = urllib.parse.urlsplit(url)
        stage_prefix = f"/{self.api.stage}"
        below_stage = split.path[len(stage_prefix):] if split.path.startswith(stage_prefix + "/") else None
        routed = self.api.route(http_method, below_stage) if below_stage is not None else None
        if routed is None:
            return _refusal(403, "MissingAuthenticationTokenException", {"message": "Missing Authentication Token"})
        method, path_parameters = routed
        path_parameters = {k: urllib.parse.unquote(v) for k, v in path_parameters.items()}
        assert below_stage is not None
        method_arn = self.method_arn(http_method, below_stage)
        caller = f"API {http_method} {method.path}"

        identity = CallerIdentity(user_arn="", account_id="", caller="", user="")
        if method.authorization_type == "AWS_IAM":
            try:
                identity = verify_signature(method=http_method, url=url, headers=headers, body=body,
                                            region=self.aws.region, account_id=self.aws.account_id)
            except SignatureRefused as refused:
                return _refusal(403, refused.error_type, {"message": refused.message})
            denied = self._invoke_denied(identity, method_arn, caller)
            if denied is not None:
                return denied

        querystring = dict(urllib.parse.parse_qsl(split.query))
        header_values = {name: headers[name] for name in headers.keys()}
        invalid = self._invalid_request(method, path_parameters, querystring, header_values, headers, body)
        if invalid is not None:
            return invalid

        content_type = (headers.get("Content-Type") or JSON).split(";")[0].strip()
        integration = method.integration
        request_template = integration.get("RequestTemplates", {}).get(content_type)
        if request_template is None and integration.get("PassthroughBehavior") == "NEVER":
            return _refusal(415, "UnsupportedMediaTypeException", {"message": "Unsupported Media Type"})
        context = {"httpMethod": http_method, "resourcePath": method.path, "path": split.path,
                   "apiId": self.api.api_id, "stage": self.api.stage, "accountId": self.aws.account_id,
                   **request_time_context(datetime.now(UTC))}
        parameters = {"path": path_parameters, "querystring": querystring, "header": header_values}
        text = body.decode("utf-8", "replace")
        try:
            request = (render(request_template, text, request_id=request_id, identity=identity, context=context,
                              **parameters).text if request_template is not None else text)
            status, service_body = self._call_integration(integration, request, method_arn, caller)
            return self._integration_response(integration, status, service_body, request_id, identity, context,
                                              parameters)
        except Exception:  # what API Gateway logs as an execution failure and answers 500
            log.exception("%s failed", caller)
            return _refusal(500, "InternalServerErrorException", {"message": "Internal server error"})

    # ---- before the integration ----------------------------------------------------------------

    def _invoke_denied(self, identity: CallerIdentity, method_arn: str, caller: str) -> GatewayResponse | None:
        if self.aws.access is None:
            return None
        denial = self.aws.access.evaluate(AccessRequest(
            principal=identity.user_arn, action="execute-api:Invoke", resource=method_arn, caller=caller))
        if denial is None:
            return None
        # This one body says "Message", capitalised, on API Gateway.
        return _refusal(403, "AccessDeniedException", {
            "Message": f"User: {identity.user_arn} is not authorized to perform: execute-api:Invoke on resource: "
                       f"{method_arn}"})

    @staticmethod
    def _invalid_request(method: ApiMethod, path: dict[str, str], querystring: dict[str, str],
                         header_values: dict[str, str], headers: Mapping[str, str],
                         body: bytes) -> GatewayResponse | None:
        given = {"path": path, "querystring": querystring, "header": {k.lower(): v for k, v in header_values.items()}}
        missing = []
        for parameter in method.required_parameters:
            _, _, location, name = parameter.split(".", 3)
            if not given[location].get(name.lower() if location == "header" else name):
                missing.append(name)
        if missing:
            return _refusal(400, "BadRequestException",
                            {"message": f"Missing required request parameters: [{', '.join(missing)}]"})
        content_type = (headers.get("Content-Type") or JSON).split(";")[0].strip()
        schema = method.body_models.get(content_type)
        if schema is None:
            return None
        try:
            jsonschema.Draft4Validator(schema).validate(json.loads(body or b"null"))
        except (ValueError, jsonschema.ValidationError):
            return _refusal(400, "BadRequestException", {"message": "Invalid request body"})
        return None

    # ---- the integration -----------------------------------------------------------------------

    def _call_integration(self, integration: dict[str, Any], request: str, method_arn: str,
                          caller: str) -> tuple[int, str]:
        """The service's HTTP status and body as API Gateway receives them."""
        if integration.get("Type") != "AWS":
            raise NotImplementedError(f"only AWS service integrations are served, not {integration}")
        service, action = _service_action(integration)
        role_arn = integration.get("Credentials")
        if role_arn is None:
            raise NotImplementedError("an AWS integration without a credentials role")
        self._assume_integration_role(role_arn, method_arn, caller)
        try:
            params = json.loads(request)
        except ValueError as error:
            return 400, json.dumps({"__type": "SerializationException", "message": str(error)})
        client = self._client(service)
        received: dict[str, Any] = {}

        def keep_raw_response(response_dict: dict[str, Any], **_: Any) -> None:
            received["status"], received["body"] = response_dict["status_code"], response_dict["body"]

        event = f"before-parse.{client.meta.service_model.service_id.hyphenize()}"
        with self._lock:
            release = (guard_client(client, self.aws.access, principal=role_arn, caller=caller)
                       if self.aws.access is not None else (lambda: None))
            client.meta.events.register(event, keep_raw_response)
            try:
                getattr(client, xform_name(action))(**params)
            except ParamValidationError as error:
                return 400, json.dumps({"__type": "ValidationException", "message": str(error)})
            except ClientError as error:
                if "status" not in received:  # refused before it was sent (the access check)
                    return (error.response["ResponseMetadata"]["HTTPStatusCode"],
                            json.dumps({"__type": error.response["Error"]["Code"],
                                        "message": error.response["Error"]["Message"]}))
            finally:
                client.meta.events.unregister(event, keep_raw_response)
                release()
        raw = received["body"]
        return int(received["status"]), raw.decode() if isinstance(raw, bytes) else str(raw)

    def _assume_integration_role(self, role_arn: str, method_arn: str, caller: str) -> None:
        """API Gateway assumes the role as apigateway.amazonaws.com for this method."""
        if self.aws.access is None:
            return
        denial = self.aws.access.evaluate(AccessRequest(
            principal="apigateway.amazonaws.com", action="sts:AssumeRole", resource=role_arn,
            context={"aws:SourceArn": method_arn, "aws:SourceAccount": self.aws.account_id}, caller=caller))
        if denial is not None:
            raise PermissionError(f"API Gateway cannot assume {role_arn}: {denial.reason}")

    def _client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self._session.client(
                _BOTO3_SERVICE.get(service, service), region_name=self.aws.region,
                endpoint_url=self.aws.endpoint_url, aws_access_key_id="testing", aws_secret_access_key="testing",
                config=Config(retries={"total_max_attempts": 1}))
        return self._clients[service]

    def _integration_response(self, integration: dict[str, Any], status: int, service_body: str, request_id: str,
                              identity: CallerIdentity, context: dict[str, Any],
                              parameters: dict[str, dict[str, str]]) -> GatewayResponse:
        responses = integration.get("IntegrationResponses", [])
        # Selection patterns of an AWS integration match the service's HTTP status; none is the default.
        chosen = next((r for r in responses if r.get("SelectionPattern")
                       and re.fullmatch(r["SelectionPattern"], str(status))), None)
        chosen = chosen or next((r for r in responses if not r.get("SelectionPattern")), None)
        if chosen is None:
            raise LookupError(f"no integration response for the service's status {status}")
        template = chosen.get("ResponseTemplates", {}).get(JSON)
        if template is None:
            return GatewayResponse(int(chosen["StatusCode"]), service_body)
        rendered = render(template, service_body, request_id=request_id, identity=identity, context=context,
                          **parameters)
        return GatewayResponse(int(rendered.status_override or chosen["StatusCode"]), rendered.text,
                               dict(rendered.header_overrides))


def _service_action(integration: dict[str, Any]) -> tuple[str, str]:
    """The service and action an AWS integration calls: from an action URI, or from a path URI
    whose static headers speak the AWS JSON protocol (``X-Amz-Target: <Prefix>.<Action>``, as for
    SQS). The path itself is not read: the request body names the resource."""
    uri = integration.get("Uri", "")
    by_action = _ACTION_URI.fullmatch(uri)
    if by_action is not None:
        return by_action["service"], by_action["action"]
    by_path = _PATH_URI.fullmatch(uri)
    headers = {name.rsplit(".", 1)[-1].lower(): value.strip("'")
               for name, value in integration.get("RequestParameters", {}).items()
               if name.startswith("integration.request.header.") and value.startswith("'") and value.endswith("'")}
    if by_path is None or headers.get("content-type") != _JSON_PROTOCOL or "." not in headers.get("x-amz-target", ""):
        raise NotImplementedError(f"only action URIs, or path URIs with static AWS JSON protocol headers "
                                  f"(Content-Type {_JSON_PROTOCOL} and X-Amz-Target), are served, not {integration}")
    return by_path["service"], headers["x-amz-target"].rsplit(".", 1)[-1]


class ApiServer:
    """``LocalApiGateway`` over HTTP on 127.0.0.1 (a free port); ``url`` is the stage URL, ending in ``/``."""

    def __init__(self, gateway: LocalApiGateway) -> None:
        self.gateway = gateway
        handler = type("Handler", (_Handler,), {"gateway": gateway})
        # One request at a time, as the integrations' clients are guarded per call.
        self._server = HTTPServer(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="local-api-gateway", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/{self.gateway.api.stage}/"

    def start(self) -> ApiServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join()
        self._server.server_close()


class _Handler(BaseHTTPRequestHandler):
    gateway: LocalApiGateway
    protocol_version = "HTTP/1.1"

    def _serve(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        url = f"http://{self.headers.get('Host', '127.0.0.1')}{self.path}"
        response = self.gateway.handle(http_method=self.command, url=url, headers=self.headers, body=body)
        payload = response.encoded()
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        log.debug("%s " + format, self.address_string(), *args)
