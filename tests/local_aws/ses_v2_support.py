"""Helpers for the SES v2 tests (``local_aws.ses_v2``): a role with given statements, and a state
machine of one ``aws-sdk:sesv2`` task run as that role."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from local_aws import ExecutionResult, LocalAws

SENDER = "noreply@example.com"


@contextmanager
def ses_sender() -> Iterator[LocalAws]:
    """An in-process LocalAws where ``example.com`` (so ``SENDER``) may send."""
    with LocalAws.in_process() as aws:
        aws.verify_email_identities(["example.com"])
        yield aws


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def role(aws: LocalAws, name: str, statements: list[dict[str, Any]]) -> str:
    """A role Step Functions may assume, with ``statements`` as its one inline policy."""
    trust = {"Effect": "Allow", "Principal": {"Service": "states.amazonaws.com"}, "Action": "sts:AssumeRole"}
    iam = aws.client("iam")
    arn: str = iam.create_role(RoleName=name, AssumeRolePolicyDocument=policy(trust))["Role"]["Arn"]
    iam.put_role_policy(RoleName=name, PolicyName="ses", PolicyDocument=policy(*statements))
    return arn


def allow(actions: str | list[str], resource: str = "*") -> dict[str, Any]:
    return {"Effect": "Allow", "Action": actions, "Resource": resource}


def run_sesv2_task(aws: LocalAws, role_arn: str, action: str, parameters: dict[str, Any]) -> ExecutionResult:
    """Runs ``arn:aws:states:::aws-sdk:sesv2:<action>`` with ``parameters`` as ``role_arn``; an error
    is caught into the output as ``{"Error", "Cause"}`` so the test reads it either way."""
    definition = {
        "StartAt": "Call",
        "States": {
            "Call": {
                "Type": "Task",
                "Resource": f"arn:aws:states:::aws-sdk:sesv2:{action}",
                "Parameters": parameters,
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}],
                "End": True,
            },
            "Caught": {"Type": "Pass", "End": True},
        },
    }
    machine: str = aws.client("stepfunctions").create_state_machine(
        name=f"sesv2-{action}-{uuid.uuid4().hex[:8]}", definition=json.dumps(definition), roleArn=role_arn,
    )["stateMachineArn"]
    return aws.start_and_wait(machine, {})
