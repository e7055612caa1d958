"""A deployed REST API as API Gateway routes it, read from the stack's template: its stage, each
method's path, authorization, request validation and integration (references resolved against
the deployed stack). moto keeps the API's shape, but not the integrations' templates or roles."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from local_aws.local import LocalAws
    from local_aws.records import DeployedStack


def resolve_intrinsic(value: Any, aws: LocalAws, stack: DeployedStack) -> Any:
    """Fn::Join, Ref, Fn::GetAtt <Role>.Arn and <Queue>.QueueName, as CloudFormation resolved them
    in the deployment."""
    if isinstance(value, str):
        return value
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(str(resolve_intrinsic(part, aws, stack)) for part in parts)
    if "Ref" in value:
        pseudo = {"AWS::Partition": "aws", "AWS::Region": aws.region, "AWS::AccountId": aws.account_id}
        return pseudo.get(value["Ref"]) or stack.physical_id(value["Ref"])
    logical_id, attribute = value["Fn::GetAtt"]
    resource_type = stack.resources[logical_id].resource_type
    if (resource_type, attribute) == ("AWS::SQS::Queue", "QueueName"):
        return stack.physical_id(logical_id).rsplit("/", 1)[-1]  # Ref is the queue's URL
    if (resource_type, attribute) != ("AWS::IAM::Role", "Arn"):
        raise ValueError(f"cannot resolve {value}: only a role's Arn and a queue's QueueName are modelled")
    return aws.client("iam").get_role(RoleName=stack.physical_id(logical_id))["Role"]["Arn"]


@dataclass(frozen=True)
class ApiMethod:
    """One method: ``path`` is the resource path (``/notifications/{id}``)."""

    http_method: str
    path: str
    authorization_type: str
    #: Request parameters the validator requires (``method.request.path.id``).
    required_parameters: tuple[str, ...]
    #: JSON schema by content type, when the validator checks the body.
    body_models: dict[str, dict[str, Any]]
    #: The integration's properties with references resolved (Type, Uri, Credentials, templates).
    integration: dict[str, Any]
    _pattern: re.Pattern[str] = field(repr=False, compare=False, default=re.compile(""))

    def match(self, path: str) -> dict[str, str] | None:
        """The path parameters when ``path`` (below the stage) is this method's resource."""
        found = self._pattern.fullmatch(path)
        return None if found is None else found.groupdict()


@dataclass(frozen=True)
class DeployedApi:
    logical_id: str
    api_id: str
    stage: str
    methods: tuple[ApiMethod, ...]

    def route(self, http_method: str, path: str) -> tuple[ApiMethod, dict[str, str]] | None:
        for method in self.methods:
            parameters = method.match(path)
            if parameters is not None and method.http_method in (http_method, "ANY"):
                return method, parameters
        return None


def deployed_apis(template: dict[str, Any], aws: LocalAws, stack: DeployedStack) -> list[DeployedApi]:
    """Every AWS::ApiGateway::RestApi of the template with its first stage and its methods."""
    resources: dict[str, Any] = template["Resources"]

    def of_type(kind: str) -> dict[str, dict[str, Any]]:
        return {k: r.get("Properties", {}) for k, r in resources.items() if r["Type"] == f"AWS::ApiGateway::{kind}"}

    def path_of(resource_ref: Any) -> str:
        if isinstance(resource_ref, dict) and resource_ref.get("Ref") in resources:
            properties = resources[resource_ref["Ref"]]["Properties"]
            return path_of(properties["ParentId"]) + "/" + properties["PathPart"]
        return ""  # Fn::GetAtt [api, RootResourceId]

    stages, validators, models = of_type("Stage"), of_type("RequestValidator"), of_type("Model")
    apis = []
    for api_id, _ in of_type("RestApi").items():
        [stage] = [s["StageName"] for s in stages.values() if s["RestApiId"] == {"Ref": api_id}][:1] or ["prod"]
        methods = []
        for properties in of_type("Method").values():
            if properties["RestApiId"] != {"Ref": api_id}:
                continue
            validator = validators.get(properties.get("RequestValidatorId", {}).get("Ref", ""), {})
            path = path_of(properties["ResourceId"]) or "/"
            methods.append(ApiMethod(
                http_method=properties["HttpMethod"],
                path=path,
                authorization_type=properties.get("AuthorizationType", "NONE"),
                required_parameters=tuple(
                    name for name, required in properties.get("RequestParameters", {}).items()
                    if required and validator.get("ValidateRequestParameters")),
                body_models={
                    content_type: models[ref["Ref"]]["Schema"]
                    for content_type, ref in properties.get("RequestModels", {}).items()
                } if validator.get("ValidateRequestBody") else {},
                integration=_resolved(properties.get("Integration", {}), aws, stack),
                _pattern=_path_pattern(path),
            ))
        apis.append(DeployedApi(logical_id=api_id, api_id=stack.physical_id(api_id), stage=stage,
                                methods=tuple(methods)))
    return apis


def _resolved(integration: dict[str, Any], aws: LocalAws, stack: DeployedStack) -> dict[str, Any]:
    resolved = dict(integration)
    for key in ("Uri", "Credentials"):
        if key in resolved:
            resolved[key] = resolve_intrinsic(resolved[key], aws, stack)
    resolved["RequestTemplates"] = {content_type: resolve_intrinsic(text, aws, stack)
                                    for content_type, text in integration.get("RequestTemplates", {}).items()}
    return resolved


def _path_pattern(path: str) -> re.Pattern[str]:
    """``/notifications/{id}`` -> a regex with a group per parameter; ``{proxy+}`` takes the rest."""
    parts = []
    for segment in path.strip("/").split("/") if path != "/" else []:
        greedy = re.fullmatch(r"\{(\w+)\+\}", segment)
        single = re.fullmatch(r"\{(\w+)\}", segment)
        if greedy:
            parts.append(f"(?P<{greedy.group(1)}>.+)")
        elif single:
            parts.append(f"(?P<{single.group(1)}>[^/]+)")
        else:
            parts.append(re.escape(segment))
    return re.compile("/" + "/".join(parts))
