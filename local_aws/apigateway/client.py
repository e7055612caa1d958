"""A SigV4-signing HTTP client for the served API, as a caller would sign with botocore."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials


@dataclass(frozen=True)
class ApiAnswer:
    status: int
    body: Any
    headers: dict[str, str]


def call_api(url: str, method: str = "GET", *, body: Any = None, signed_by: Credentials | None = None,
             region: str = "us-east-1", timeout_s: float = 10) -> ApiAnswer:
    """One HTTP request with a JSON body, SigV4-signed for execute-api when ``signed_by``."""
    data = json.dumps(body).encode() if body is not None else None
    request = AWSRequest(method=method, url=url, data=data,
                         headers={"Content-Type": "application/json"} if data else {})
    if signed_by is not None:
        SigV4Auth(signed_by, "execute-api", region).add_auth(request)
    prepared = urllib.request.Request(url, data=data, headers=dict(request.headers), method=method)
    try:
        with urllib.request.urlopen(prepared, timeout=timeout_s) as response:
            status, raw, headers = response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as error:
        status, raw, headers = error.code, error.read(), dict(error.headers)
    return ApiAnswer(status, json.loads(raw) if raw else None, headers)
