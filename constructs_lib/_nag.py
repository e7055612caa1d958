"""Helpers for cdk-nag acknowledgements that must name a resource the way cdk-nag spells it."""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
from constructs import Construct, IConstruct


def nag_resource(scope: Construct, value: str) -> str:
    """A resource ARN (with tokens) spelled as cdk-nag spells it in an IAM5 finding id, e.g.
    ``arn:<AWS::Partition>:logs:<AWS::Region>:...``."""
    return _nag_flatten(cdk.Stack.of(scope).resolve(value))


def _nag_flatten(value: Any) -> str:
    if isinstance(value, str):
        return value.replace("${", "<").replace("}", ">")
    if isinstance(value, dict):
        if "Fn::Join" in value:
            delimiter, parts = value["Fn::Join"]
            return str(delimiter).join(_nag_flatten(part) for part in parts)
        if "Fn::GetAtt" in value:
            resource, attribute = value["Fn::GetAtt"]
            return f"<{_nag_flatten(resource)}.{_nag_flatten(attribute)}>"
        if "Ref" in value:
            return f"<{_nag_flatten(value['Ref'])}>"
    return json.dumps(value)


def acknowledge_own_role_policy(owner: IConstruct, whose: str) -> None:
    """NIST 800-53 and HIPAA report a role's inline policy; CDK attaches a role's grants that way, and
    a managed policy would only make the least-privilege set shareable. ``owner`` is the role (or its
    default policy); ``whose`` names the role in the reason."""
    for pack in ("NIST.800.53.R5", "HIPAA.Security"):
        cdk.Validations.of(owner).acknowledge(cdk.Acknowledgment(
            id=f"{pack}-IAMNoInlinePolicy",
            reason=f"CDK attaches {whose} grants as a policy owned by its one role; a managed policy would only "
                   "make that least-privilege set shareable.",
        ))
