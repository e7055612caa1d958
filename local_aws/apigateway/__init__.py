"""API Gateway on the embedded AWS: moto keeps the REST API's shape but neither runs mapping
templates nor calls integrations; ``velocity`` renders the templates, ``sigv4`` checks signatures
against the local IAM, ``routes`` reads a deployed API from its template, and ``server`` serves it
over HTTP (``LocalAws.serve_api``)."""

from local_aws.apigateway.routes import ApiMethod, DeployedApi, deployed_apis, resolve_intrinsic
from local_aws.apigateway.server import ApiServer, GatewayResponse, LocalApiGateway
from local_aws.apigateway.sigv4 import LocalKey, SignatureRefused, local_key, verify_signature
from local_aws.apigateway.velocity import EXAMPLE_REQUEST_ID, CallerIdentity, Rendered, render

__all__ = [
    "EXAMPLE_REQUEST_ID",
    "ApiMethod",
    "ApiServer",
    "CallerIdentity",
    "DeployedApi",
    "GatewayResponse",
    "LocalApiGateway",
    "LocalKey",
    "Rendered",
    "SignatureRefused",
    "deployed_apis",
    "local_key",
    "render",
    "resolve_intrinsic",
    "verify_signature",
]
