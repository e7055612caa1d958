"""``AccessCheck``: decides a request made on behalf of a principal the way AWS does, with the
policies the embedded AWS holds, and keeps a report of every denial.

Identity policies come from moto's IAM (a role's inline and attached policies); resource
policies from the resource itself: a KMS key policy, an SQS queue policy, an SNS topic policy.
The decision is iam-simulate's: an explicit deny wins; in one account an allow in either the
identity or the resource policy is enough, except for KMS, where the key policy must allow the
principal or delegate to the account, and a delegation needs an IAM allow as well.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from moto.iam.models import iam_backends
from moto.kms.models import kms_backends
from moto.sns.models import sns_backends
from moto.sqs.models import sqs_backends

from local_aws.access.simulator import IamSimulator

ContextValue = str | Sequence[str]
_ASSUMED_ROLE = re.compile(r"^arn:[^:]+:sts::\d+:assumed-role/(?P<role>[^/]+)/")


@dataclass(frozen=True)
class AccessRequest:
    """One authorization AWS makes: ``principal`` (a role ARN or a service principal such as
    ``events.amazonaws.com``) asks for ``action`` on ``resource`` with ``context`` keys."""

    principal: str
    action: str
    resource: str
    context: Mapping[str, ContextValue] = field(default_factory=dict)
    #: What made the request, for the report (e.g. ``state machine task SendSms``).
    caller: str = ""

    def describe(self) -> str:
        context = f" with {json.dumps(dict(self.context), sort_keys=True)}" if self.context else ""
        by = f" ({self.caller})" if self.caller else ""
        return f"{self.principal}{by} -> {self.action} on {self.resource}{context}"


@dataclass(frozen=True)
class Denial:
    """A refused request, with what was missing."""

    request: AccessRequest
    decision: str
    reason: str

    def __str__(self) -> str:
        return f"DENIED {self.request.describe()}: {self.reason}"


class AccessDeniedError(Exception):
    """Raised by ``AccessCheck.require``; the bridges turn it into the service's own error."""

    def __init__(self, denial: Denial) -> None:
        super().__init__(str(denial))
        self.denial = denial


class AccessCheck:
    """Evaluates requests against the policies in moto's backends for one account."""

    def __init__(self, simulator: IamSimulator, *, account_id: str, partition: str = "aws") -> None:
        self.simulator = simulator
        self.account_id = account_id
        self.partition = partition
        self._lock = threading.Lock()
        self._denials: list[Denial] = []
        self._allowed = 0

    # ---- decisions -------------------------------------------------------------------------

    def evaluate(self, request: AccessRequest) -> Denial | None:
        """None when AWS would allow ``request``; else the denial (also added to the report)."""
        identity = self.identity_policies(request.principal)
        resource_policy = self.resource_policy(request.resource)
        simulation: dict[str, Any] = {
            "request": {
                "principal": request.principal,
                "action": request.action,
                "resource": {"resource": request.resource, "accountId": self.account_id},
                "contextVariables": {**self._base_context(request.principal), **_plain(request.context)},
            },
            "identityPolicies": identity,
        }
        boundary = self.permissions_boundary(request.principal)
        if boundary is not None:
            simulation["permissionBoundaryPolicies"] = [boundary]
        if resource_policy is not None:
            simulation["resourcePolicy"] = resource_policy
            simulation["resourcePolicyName"] = f"resource policy of {request.resource}"
        answer = self.simulator.simulate(simulation)
        if answer["decision"] == "Allowed":
            with self._lock:
                self._allowed += 1
            return None
        denial = Denial(request, answer["decision"], _explain(request, answer, identity, resource_policy))
        with self._lock:
            self._denials.append(denial)
        return denial

    def record(self, denial: Denial) -> None:
        """Adds a denial decided elsewhere (e.g. a call no rule covers) to the report."""
        with self._lock:
            self._denials.append(denial)

    def require(self, requests: Sequence[AccessRequest]) -> None:
        """Raises ``AccessDeniedError`` for the first request AWS would refuse."""
        for request in requests:
            denial = self.evaluate(request)
            if denial is not None:
                raise AccessDeniedError(denial)

    # ---- the report ------------------------------------------------------------------------

    @property
    def denials(self) -> list[Denial]:
        with self._lock:
            return list(self._denials)

    @property
    def allowed(self) -> int:
        """How many requests were allowed."""
        with self._lock:
            return self._allowed

    def clear(self) -> None:
        """Forget the denials so far (e.g. between tests)."""
        with self._lock:
            self._denials.clear()

    def report(self) -> str:
        denials = self.denials
        if not denials:
            return f"access check: {self.allowed} requests allowed, none denied"
        lines = [f"access check: {len(denials)} requests denied"]
        lines.extend(f"  {d}" for d in denials)
        return "\n".join(lines)

    # ---- policies from the embedded AWS ----------------------------------------------------

    def role(self, role_arn: str) -> Any:
        """The role of a role ARN, or of an assumed-role session's ARN (``sts::...:assumed-role/R/s``)."""
        backend = iam_backends[self.account_id][self.partition]
        session = _ASSUMED_ROLE.match(role_arn)
        for role in backend.roles.values():
            if role.arn == role_arn or (session is not None and role.name == session["role"]):
                return role
        return None

    def user(self, user_arn: str) -> Any:
        backend = iam_backends[self.account_id][self.partition]
        for user in backend.users.values():
            if user.arn == user_arn:
                return user
        return None

    def identity_policies(self, principal: str) -> list[dict[str, Any]]:
        """The inline and attached managed policies of a role (or an assumed-role session), or of a
        user and its groups; none for a service principal."""
        holders: list[Any] = []
        if ":role/" in principal or _ASSUMED_ROLE.match(principal):
            holders = [self.role(principal)]
        elif ":user/" in principal:
            user = self.user(principal)
            groups = iam_backends[self.account_id][self.partition].get_groups_for_user(user.name) if user else []
            holders = [user, *groups]
        policies = []
        for holder in (h for h in holders if h is not None):
            policies += [{"name": name, "policy": _document(doc)} for name, doc in sorted(holder.policies.items())]
            for managed in holder.managed_policies.values():
                [version] = [v for v in managed.versions if v.is_default]
                policies.append({"name": managed.name, "policy": _document(version.document)})
        return policies

    def permissions_boundary(self, principal: str) -> dict[str, Any] | None:
        """The role's permissions boundary, as a named policy; None without one."""
        role = self.role(principal) if ":role/" in principal else None
        boundary_arn = getattr(role, "permissions_boundary_arn", None)
        if not boundary_arn:
            return None
        backend = iam_backends[self.account_id][self.partition]
        managed = backend.managed_policies.get(boundary_arn) or backend.aws_managed_policies.get(boundary_arn)
        if managed is None:
            return None
        [version] = [v for v in managed.versions if v.is_default]
        return {"name": f"permissions boundary {managed.name}", "policy": _document(version.document)}

    def resource_policy(self, arn: str) -> dict[str, Any] | None:
        """The policy attached to a KMS key, SQS queue or SNS topic; None for other resources."""
        parts = arn.split(":", 5)
        if len(parts) < 6:
            return None
        service, region, resource = parts[2], parts[3], parts[5]
        if service == "kms" and resource.startswith("key/"):
            key = kms_backends[self.account_id][region].keys.get(resource.removeprefix("key/"))
            return _document(key.policy) if key is not None else None
        if service == "sqs":
            queue = sqs_backends[self.account_id][region].queues.get(resource)
            return _document(queue.policy) if queue is not None and queue.policy else None
        if service == "sns":
            topic = sns_backends[self.account_id][region].topics.get(arn)
            return dict(topic._policy_json) if topic is not None else None
        if service == "iam" and resource.startswith("role/"):
            # For sts:AssumeRole the role's trust policy is the resource policy.
            role = self.role(arn)
            return _document(role.assume_role_policy_document) if role is not None else None
        return None

    def _base_context(self, principal: str) -> dict[str, ContextValue]:
        context: dict[str, ContextValue] = {"aws:SecureTransport": "true"}
        if principal.startswith("arn:"):
            session = _ASSUMED_ROLE.match(principal)
            role = self.role(principal) if session else None
            # A session's aws:PrincipalArn is its role's ARN.
            context["aws:PrincipalArn"] = role.arn if role is not None else principal
            context["aws:PrincipalAccount"] = self.account_id
        return context


def _document(doc: Any) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(doc) if isinstance(doc, str) else dict(doc)
    return parsed


def _plain(context: Mapping[str, ContextValue]) -> dict[str, Any]:
    return {k: (v if isinstance(v, str) else list(v)) for k, v in context.items()}


def _statements(policy: dict[str, Any] | None) -> Iterator[dict[str, Any]]:
    if policy is None:
        return
    statements = policy.get("Statement", [])
    yield from ([statements] if isinstance(statements, dict) else statements)


def _explain(request: AccessRequest, answer: dict[str, Any], identity: list[dict[str, Any]],
             resource_policy: dict[str, Any] | None) -> str:
    """Which statement was missing, in words."""
    if answer["decision"] == "Error":
        return f"iam-simulate refused the request as invalid: {json.dumps(answer.get('errors'))}"
    if answer["decision"] == "ExplicitlyDenied":
        denies = answer["identity"]["denies"] + answer["resource"]["denies"]
        return "explicitly denied by " + "; ".join(f"{d['policy']}: {json.dumps(d['statement'])}" for d in denies)
    names = ", ".join(p["name"] for p in identity) or "none"
    identity_result = answer["identity"]["result"]
    resource_result = answer["resource"]["result"]
    is_key = request.action.startswith("kms:")
    if is_key and resource_result not in ("Allowed", "AllowedForAccount"):
        return (f"the key policy has no statement allowing {request.principal} (or delegating to the account) "
                f"{request.action} with this context")
    if is_key:
        return (f"the key policy delegates to the account, so an IAM statement must allow {request.action} "
                f"on the key with this context, and none of the role's policies ({names}) does")
    if answer.get("boundary") not in (None, "Allowed"):
        return f"the role's permissions boundary does not allow {request.action}"
    if identity_result != "Allowed" and resource_policy is None:
        return f"no statement in the identity policies ({names}) allows {request.action} on {request.resource}"
    if identity_result != "Allowed":
        return (f"neither the identity policies ({names}) nor the resource policy "
                f"({len(list(_statements(resource_policy)))} statements) allow {request.action}")
    return f"refused ({identity_result}/{resource_result})"
