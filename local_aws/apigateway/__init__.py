"""API Gateway on the embedded AWS: moto keeps the REST API's shape but neither runs mapping
templates nor calls integrations; ``velocity`` renders the templates and ``server`` serves a
deployed API over HTTP (SigV4, invoke permission, request model, templates, integration roles)."""

from local_aws.apigateway.velocity import EXAMPLE_REQUEST_ID, CallerIdentity, Rendered, render

__all__ = ["EXAMPLE_REQUEST_ID", "CallerIdentity", "Rendered", "render"]
