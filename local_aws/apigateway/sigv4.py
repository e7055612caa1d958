"""SigV4 as API Gateway checks it for ``AWS_IAM`` methods, against the keys of the local IAM.

The signature is recomputed with botocore's signer and the secret moto's IAM (or STS, for
assumed-role credentials) holds; the signer is who the key belongs to. Refusals carry API
Gateway's 403 bodies and ``x-amzn-ErrorType``.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest, HTTPHeaders
from botocore.credentials import Credentials
from moto.iam.models import iam_backends
from moto.sts.models import sts_backends

from local_aws.apigateway.velocity import CallerIdentity

# API Gateway refuses a request signed more than 15 minutes before or after its clock.
MAX_CLOCK_SKEW = datetime.timedelta(minutes=15)
_AUTHORIZATION = re.compile(
    r"AWS4-HMAC-SHA256\s+Credential=(?P<credential>[^,\s]+),\s*SignedHeaders=(?P<signed>[^,\s]+),"
    r"\s*Signature=(?P<signature>[0-9a-f]+)\s*$")
_MISMATCH = ("The request signature we calculated does not match the signature you provided. Check your AWS "
             "Secret Access Key and signing method. Consult the service documentation for details.")


class SignatureRefused(Exception):
    """A request API Gateway answers 403 before authorization: ``error_type`` is its x-amzn-ErrorType."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message


@dataclass(frozen=True)
class LocalKey:
    """An access key the local IAM or STS issued, and who it belongs to."""

    secret: str
    session_token: str | None
    identity: CallerIdentity


def local_key(access_key_id: str, account_id: str, partition: str = "aws") -> LocalKey | None:
    """The key's secret and owner: an IAM user's key, or an assumed role's temporary one."""
    iam = iam_backends[account_id][partition]
    for user in iam.users.values():
        for key in user.access_keys:
            if key.access_key_id == access_key_id and key.status == "Active":
                return LocalKey(key.secret_access_key, None, CallerIdentity(
                    user_arn=user.arn, account_id=account_id, caller=user.id, user=user.id,
                    access_key=access_key_id))
    for session in sts_backends[account_id][partition].assumed_roles:
        if session.access_key_id == access_key_id:
            return LocalKey(session.secret_access_key, session.session_token, CallerIdentity(
                user_arn=session.arn, account_id=account_id, caller=session.user_id, user=session.user_id,
                access_key=access_key_id))
    return None


def verify_signature(*, method: str, url: str, headers: Mapping[str, str], body: bytes, region: str,
                     account_id: str, service: str = "execute-api",
                     now: datetime.datetime | None = None) -> CallerIdentity:
    """The signer of a SigV4 ``Authorization`` header; raises ``SignatureRefused`` as API Gateway
    would. ``headers`` must look names up case-insensitively (``http.client`` messages do)."""
    authorization = headers.get("Authorization")
    if not authorization:
        raise SignatureRefused("MissingAuthenticationTokenException", "Missing Authentication Token")
    parsed = _AUTHORIZATION.match(authorization)
    if parsed is None:
        raise SignatureRefused("IncompleteSignatureException",
                               f"Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' "
                               f"parameters. Authorization={authorization}")
    key_id, date, scope_region, scope_service, terminator = (parsed["credential"].split("/") + [""] * 5)[:5]
    amz_date = headers.get("X-Amz-Date", "")
    if not re.fullmatch(r"\d{8}T\d{6}Z", amz_date):
        raise SignatureRefused("IncompleteSignatureException", "Authorization header requires existence of "
                               "either a 'X-Amz-Date' or a 'Date' header.")
    if scope_service != service or terminator != "aws4_request":
        raise SignatureRefused("InvalidSignatureException",
                               f"Credential should be scoped to correct service: '{service}'. ")
    if scope_region != region:
        raise SignatureRefused("InvalidSignatureException", "Credential should be scoped to a valid region. ")
    signed_at = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.UTC)
    now = now or datetime.datetime.now(datetime.UTC)
    if abs(now - signed_at) > MAX_CLOCK_SKEW or date != amz_date[:8]:
        raise SignatureRefused("InvalidSignatureException", f"Signature expired: {amz_date} is now earlier than "
                               f"{(now - MAX_CLOCK_SKEW):%Y%m%dT%H%M%SZ}")
    key = local_key(key_id, account_id)
    if key is None or (key.session_token is not None
                       and headers.get("X-Amz-Security-Token") != key.session_token):
        raise SignatureRefused("UnrecognizedClientException", "The security token included in the request is invalid.")
    signed_names = parsed["signed"].split(";")
    if "host" not in signed_names or any(name not in headers for name in signed_names):
        raise SignatureRefused("InvalidSignatureException", _MISMATCH)
    content_sha256 = headers.get("X-Amz-Content-SHA256")
    # A signed hash that is not the body's would sign some other body.
    if content_sha256 is not None and content_sha256 != hashlib.sha256(body).hexdigest():
        raise SignatureRefused("InvalidSignatureException", _MISMATCH)
    request = AWSRequest(method=method, url=url, data=body,
                         headers={name: headers[name] for name in signed_names})
    request.context["timestamp"] = amz_date
    signer = _HeadersAsSigned(Credentials(key_id, key.secret, key.session_token), service, region, signed_names)
    expected = signer.signature(signer.string_to_sign(request, signer.canonical_request(request)), request)
    if not hmac.compare_digest(expected, parsed["signature"]):
        raise SignatureRefused("InvalidSignatureException", _MISMATCH)
    return key.identity


class _HeadersAsSigned(SigV4Auth):
    """botocore's signer over exactly the headers the client signed (botocore itself would leave
    some out, e.g. user-agent, and add none)."""

    def __init__(self, credentials: Credentials, service: str, region: str, signed_names: list[str]) -> None:
        super().__init__(credentials, service, region)
        self._signed_names = signed_names

    def headers_to_sign(self, request: AWSRequest) -> HTTPHeaders:
        header_map = HTTPHeaders()
        for name in self._signed_names:
            header_map[name] = request.headers[name]
        return header_map
