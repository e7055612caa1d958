"""The access check (``local_aws.access``): the wrapper around iam-simulate and the evaluation
semantics AWS documents. Every test asserts an allowed and a denied case side by side, so a check
that always allows, or always denies, fails here.

One LocalAws (moto with the check on) serves the whole module; each test makes its own roles,
keys and queues under fresh names.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from itertools import count
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from local_aws import LocalAws
from local_aws.access import (
    AccessCheck,
    AccessDeniedError,
    AccessRequest,
    UnmodelledCall,
    guard_client,
    requests_for_call,
)

REGION = "us-east-1"
OTHER_ACCOUNT = "111122223333"
STATES_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "states.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}
_names = count(1)


# ---- fixtures and helpers --------------------------------------------------------------------


@pytest.fixture(scope="module")
def aws() -> Iterator[LocalAws]:
    with LocalAws.in_process(region=REGION) as local:
        yield local


@pytest.fixture
def check(aws: LocalAws) -> AccessCheck:
    assert aws.access is not None, "LocalAws.in_process() turns the access check on by default"
    aws.access.clear()
    return aws.access


def unique(prefix: str) -> str:
    return f"{prefix}{next(_names)}"


def policy(*statements: Mapping[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def statement(effect: str, action: str | list[str], resource: str = "*", *,
              principal: Any = None, condition: Mapping[str, Any] | None = None) -> dict[str, Any]:
    found: dict[str, Any] = {"Effect": effect, "Action": action, "Resource": resource}
    if principal is not None:
        found["Principal"] = principal
    if condition is not None:
        found["Condition"] = condition
    return found


def make_role(aws: LocalAws, *statements: Mapping[str, Any]) -> str:
    """A role with ``statements`` as its one inline policy (none when empty); returns its ARN."""
    name = unique("role-")
    arn: str = aws.client("iam").create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(STATES_TRUST))[
        "Role"]["Arn"]
    if statements:
        aws.client("iam").put_role_policy(RoleName=name, PolicyName="inline", PolicyDocument=policy(*statements))
    return arn


def make_key(aws: LocalAws, *statements: Mapping[str, Any]) -> str:
    """A customer-managed key whose key policy is ``statements``; returns its ARN."""
    arn: str = aws.client("kms").create_key(Policy=policy(*statements))["KeyMetadata"]["Arn"]
    return arn


def make_queue(aws: LocalAws, *statements: Mapping[str, Any], key: str | None = None) -> tuple[str, str]:
    """A queue with ``statements`` as its queue policy (none when empty); returns (url, ARN)."""
    name = unique("queue-")
    attributes = {}
    if statements:
        attributes["Policy"] = policy(*statements)
    if key is not None:
        attributes["KmsMasterKeyId"] = key
    url: str = aws.client("sqs").create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    return url, f"arn:aws:sqs:{REGION}:{aws.account_id}:{name}"


def root(aws: LocalAws) -> str:
    return f"arn:aws:iam::{aws.account_id}:root"


def delegate_to_account(aws: LocalAws) -> dict[str, Any]:
    """The default key-policy statement: the account's IAM policies decide."""
    return statement("Allow", "kms:*", principal={"AWS": root(aws)})


def allowed(check: AccessCheck, principal: str, action: str, resource: str,
            context: Mapping[str, Any] | None = None) -> bool:
    return check.evaluate(AccessRequest(principal, action, resource, dict(context or {}))) is None


def table_arn(aws: LocalAws, name: str = "t") -> str:
    return f"arn:aws:dynamodb:{REGION}:{aws.account_id}:table/{name}"


# ---- explicit deny ---------------------------------------------------------------------------


def test_an_identity_deny_wins_over_a_queue_policy_allow(aws: LocalAws, check: AccessCheck) -> None:
    plain = make_role(aws)
    denying = make_role(aws, statement("Deny", "sqs:SendMessage"))
    _, queue = make_queue(aws, statement("Allow", "sqs:SendMessage", principal={"AWS": [plain, denying]}))

    assert allowed(check, plain, "sqs:SendMessage", queue)
    denial = check.evaluate(AccessRequest(denying, "sqs:SendMessage", queue))
    assert denial is not None
    assert denial.decision == "ExplicitlyDenied"
    assert denial.reason.startswith("explicitly denied by inline")


def test_a_queue_policy_deny_wins_over_an_identity_allow(aws: LocalAws, check: AccessCheck) -> None:
    role = make_role(aws, statement("Allow", "sqs:SendMessage"))
    _, open_queue = make_queue(aws)
    _, closed_queue = make_queue(aws, statement("Deny", "sqs:SendMessage", principal={"AWS": role}))

    assert allowed(check, role, "sqs:SendMessage", open_queue)
    denial = check.evaluate(AccessRequest(role, "sqs:SendMessage", closed_queue))
    assert denial is not None
    assert denial.decision == "ExplicitlyDenied"
    assert f"resource policy of {closed_queue}" in denial.reason


def test_a_key_policy_deny_wins_over_delegation_and_an_iam_allow(aws: LocalAws, check: AccessCheck) -> None:
    role = make_role(aws, statement("Allow", "kms:Decrypt"))
    delegating = make_key(aws, delegate_to_account(aws))
    denying = make_key(aws, delegate_to_account(aws), statement("Deny", "kms:Decrypt", principal={"AWS": role}))

    assert allowed(check, role, "kms:Decrypt", delegating)
    denial = check.evaluate(AccessRequest(role, "kms:Decrypt", denying))
    assert denial is not None and denial.decision == "ExplicitlyDenied"


# ---- identity and resource policies in one account -------------------------------------------


def test_in_one_account_an_allow_in_either_the_identity_or_the_queue_policy_is_enough(
    aws: LocalAws, check: AccessCheck,
) -> None:
    plain = make_role(aws)
    with_iam = make_role(aws, statement("Allow", "sqs:SendMessage"))
    _, queue_naming_plain = make_queue(aws, statement("Allow", "sqs:SendMessage", principal={"AWS": plain}))
    _, queue_without_policy = make_queue(aws)

    assert allowed(check, plain, "sqs:SendMessage", queue_naming_plain), "the queue policy alone allows"
    assert allowed(check, with_iam, "sqs:SendMessage", queue_without_policy), "the identity policy alone allows"
    denial = check.evaluate(AccessRequest(plain, "sqs:SendMessage", queue_without_policy))
    assert denial is not None and denial.decision == "ImplicitlyDenied", "neither allows"
    # The queue policy names one role, not every principal of the account.
    other = make_role(aws)
    assert not allowed(check, other, "sqs:SendMessage", queue_naming_plain)
    # An allow for another action is no allow for this one.
    assert not allowed(check, with_iam, "sqs:ReceiveMessage", queue_without_policy)


# ---- KMS: the key policy decides ---------------------------------------------------------------


def test_kms_delegation_needs_an_iam_allow_and_a_named_role_needs_none(aws: LocalAws, check: AccessCheck) -> None:
    with_iam = make_role(aws, statement("Allow", "kms:Decrypt"))
    plain = make_role(aws)
    delegating = make_key(aws, delegate_to_account(aws))
    naming_plain = make_key(aws, statement("Allow", "kms:Decrypt", principal={"AWS": plain}))
    naming_neither = make_key(aws, statement(
        "Allow", "kms:*", principal={"AWS": f"arn:aws:iam::{aws.account_id}:role/someone-else"}))

    decisions = {
        (key_name, role_name): allowed(check, role, "kms:Decrypt", key)
        for key_name, key in (("delegating", delegating), ("naming plain", naming_plain),
                              ("naming neither", naming_neither))
        for role_name, role in (("with IAM allow", with_iam), ("plain", plain))
    }

    assert decisions == {
        ("delegating", "with IAM allow"): True,
        ("delegating", "plain"): False,          # delegation alone grants nothing
        ("naming plain", "with IAM allow"): False,  # another role named: the IAM allow is not enough
        ("naming plain", "plain"): True,         # named in the key policy: no IAM statement needed
        ("naming neither", "with IAM allow"): False,
        ("naming neither", "plain"): False,
    }
    reasons = [d.reason for d in check.denials]
    assert any("delegates to the account, so an IAM statement must allow kms:Decrypt" in r for r in reasons)
    assert any("the key policy has no statement allowing" in r for r in reasons)


# ---- condition operators ----------------------------------------------------------------------

ACCOUNT = "123456789012"  # moto's default account, which LocalAws uses
RULE = f"arn:aws:events:{REGION}:{ACCOUNT}:rule"
LOG_GROUP_X = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:x"
LOGS_WILDCARD = f"arn:aws:logs:{REGION}:{ACCOUNT}:*"

# (condition block, [(request context, allowed?)]) on an identity policy allowing dynamodb:PutItem.
IDENTITY_CONDITIONS: dict[str, tuple[dict[str, Any], list[tuple[dict[str, Any], bool]]]] = {
    "StringEquals": (
        {"StringEquals": {"aws:SourceAccount": ACCOUNT}},
        [({"aws:SourceAccount": ACCOUNT}, True), ({"aws:SourceAccount": OTHER_ACCOUNT}, False), ({}, False)],
    ),
    "StringLike": (
        {"StringLike": {"aws:SourceArn": "arn:aws:events:*:*:rule/notify-*"}},
        [({"aws:SourceArn": f"{RULE}/notify-a"}, True), ({"aws:SourceArn": f"{RULE}/other"}, False)],
    ),
    "ArnEquals": (
        {"ArnEquals": {"aws:SourceArn": f"{RULE}/a"}},
        [({"aws:SourceArn": f"{RULE}/a"}, True), ({"aws:SourceArn": f"{RULE}/ab"}, False)],
    ),
    "ArnLike": (
        {"ArnLike": {"aws:SourceArn": f"{RULE}/notify-*"}},
        [({"aws:SourceArn": f"{RULE}/notify-a"}, True), ({"aws:SourceArn": f"{RULE}/other"}, False)],
    ),
    "Bool": (  # the check puts aws:SecureTransport=true in every request
        {"Bool": {"aws:SecureTransport": "true"}},
        [({}, True), ({"aws:SecureTransport": "false"}, False)],
    ),
    "Null true: the key is absent": (
        {"Null": {"aws:SourceArn": "true"}},
        [({}, True), ({"aws:SourceArn": f"{RULE}/a"}, False)],
    ),
    "Null false: the key is present": (
        {"Null": {"aws:SourceArn": "false"}},
        [({}, False), ({"aws:SourceArn": f"{RULE}/a"}, True)],
    ),
    "StringEqualsIfExists": (
        {"StringEqualsIfExists": {"aws:SourceAccount": ACCOUNT}},
        [({}, True), ({"aws:SourceAccount": ACCOUNT}, True), ({"aws:SourceAccount": OTHER_ACCOUNT}, False)],
    ),
    "StringEquals never expands a literal *": (
        {"StringEquals": {"aws:SourceArn": LOGS_WILDCARD}},
        [({"aws:SourceArn": LOG_GROUP_X}, False), ({"aws:SourceArn": LOGS_WILDCARD}, True)],
    ),
    "ArnLike expands *": (
        {"ArnLike": {"aws:SourceArn": LOGS_WILDCARD}},
        [({"aws:SourceArn": LOG_GROUP_X}, True),
         ({"aws:SourceArn": f"arn:aws:logs:us-west-2:{ACCOUNT}:log-group:x"}, False)],
    ),
}


@pytest.mark.parametrize("name", list(IDENTITY_CONDITIONS))
def test_identity_policy_condition_operators(aws: LocalAws, check: AccessCheck, name: str) -> None:
    assert aws.account_id == ACCOUNT
    condition, cases = IDENTITY_CONDITIONS[name]
    role = make_role(aws, statement("Allow", "dynamodb:PutItem", condition=condition))

    decisions = [(context, allowed(check, role, "dynamodb:PutItem", table_arn(aws), context)) for context, _ in cases]

    assert decisions == cases
    assert {expected for _, expected in cases} == {True, False}, "each case shows both outcomes"


STATE_MACHINE = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:WorkflowE4A1B2C3-Ab1Cd2"
MACHINE_CONTEXT_KEY = "kms:EncryptionContext:aws:states:stateMachineArn"
SQS_VIA = f"sqs.{REGION}.amazonaws.com"

# (key-policy principal, condition, [(request context, allowed?)]) for kms:Decrypt by a role.
KEY_CONDITIONS: dict[str, tuple[str, dict[str, Any], list[tuple[dict[str, Any], bool]]]] = {
    "ForAnyValue:StringEquals on kms:EncryptionContextKeys": (
        "role",
        {"ForAnyValue:StringEquals": {"kms:EncryptionContextKeys": ["aws:sqs:arn"]}},
        [({"kms:EncryptionContextKeys": ["aws:sqs:arn", "other"]}, True),
         ({"kms:EncryptionContextKeys": ["other"]}, False),
         ({}, False)],  # no keys at all: no value matches
    ),
    "ForAllValues:StringEquals on kms:EncryptionContextKeys": (
        "role",
        {"ForAllValues:StringEquals": {"kms:EncryptionContextKeys": ["aws:sqs:arn", "other"]}},
        [({"kms:EncryptionContextKeys": ["aws:sqs:arn"]}, True),
         ({"kms:EncryptionContextKeys": ["aws:sqs:arn", "unexpected"]}, False),
         ({}, True)],  # documented: ForAllValues matches when the key is absent
    ),
    "kms:ViaService": (
        "role",
        {"StringEquals": {"kms:ViaService": SQS_VIA}},
        [({"kms:ViaService": SQS_VIA}, True), ({"kms:ViaService": f"sns.{REGION}.amazonaws.com"}, False), ({}, False)],
    ),
    "kms:CallerAccount (the AWS managed key pattern)": (
        "*",
        {"StringEquals": {"kms:CallerAccount": ACCOUNT, "kms:ViaService": SQS_VIA}},
        [({"kms:CallerAccount": ACCOUNT, "kms:ViaService": SQS_VIA}, True),
         ({"kms:CallerAccount": OTHER_ACCOUNT, "kms:ViaService": SQS_VIA}, False),
         ({"kms:CallerAccount": ACCOUNT, "kms:ViaService": f"sns.{REGION}.amazonaws.com"}, False)],
    ),
    "StringEquals on a machine ARN with an empty name": (
        "role",
        {"StringEquals": {MACHINE_CONTEXT_KEY: f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:"}},
        [({MACHINE_CONTEXT_KEY: STATE_MACHINE}, False),
         ({MACHINE_CONTEXT_KEY: f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:"}, True)],
    ),
    "ArnLike on the machine's logical id": (
        "role",
        {"ArnLike": {MACHINE_CONTEXT_KEY: f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:*Workflow*"}},
        [({MACHINE_CONTEXT_KEY: STATE_MACHINE}, True),
         ({MACHINE_CONTEXT_KEY: f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:Other-Ab1Cd2"}, False),
         ({}, False)],
    ),
}


@pytest.mark.parametrize("name", list(KEY_CONDITIONS))
def test_key_policy_condition_keys(aws: LocalAws, check: AccessCheck, name: str) -> None:
    principal, condition, cases = KEY_CONDITIONS[name]
    role = make_role(aws)  # no IAM statement: only the key policy can allow
    key = make_key(aws, statement("Allow", "kms:Decrypt", principal={"AWS": role if principal == "role" else "*"},
                                  condition=condition))

    decisions = [(context, allowed(check, role, "kms:Decrypt", key, context)) for context, _ in cases]

    assert decisions == cases
    assert {expected for _, expected in cases} == {True, False}


# ---- service principals: EventBridge to SQS ----------------------------------------------------


def test_events_to_sqs_is_decided_by_source_arn_and_source_account(aws: LocalAws, check: AccessCheck) -> None:
    rule = f"{RULE}/{unique('rule-')}"
    _, queue = make_queue(aws, statement(
        "Allow", "sqs:SendMessage", principal={"Service": "events.amazonaws.com"},
        condition={"ArnEquals": {"aws:SourceArn": rule}, "StringEquals": {"aws:SourceAccount": ACCOUNT}}))

    def events(source_arn: str, source_account: str) -> bool:
        return allowed(check, "events.amazonaws.com", "sqs:SendMessage", queue,
                       {"aws:SourceArn": source_arn, "aws:SourceAccount": source_account})

    assert events(rule, ACCOUNT)
    assert not events(f"{RULE}/another-rule", ACCOUNT)
    assert not events(rule, OTHER_ACCOUNT)
    assert not allowed(check, "sns.amazonaws.com", "sqs:SendMessage", queue,
                       {"aws:SourceArn": rule, "aws:SourceAccount": ACCOUNT}), "another service principal"


def test_eventbridge_delivers_only_where_the_queue_policy_names_the_rule(aws: LocalAws, check: AccessCheck) -> None:
    events, sqs = aws.client("events"), aws.client("sqs")
    rule_name = unique("deliver-")
    rule_arn = events.put_rule(Name=rule_name, EventPattern=json.dumps({"source": [rule_name]}))["RuleArn"]
    from_events = {"Service": "events.amazonaws.com"}
    open_url, open_arn = make_queue(aws, statement(
        "Allow", "sqs:SendMessage", principal=from_events, condition={"ArnEquals": {"aws:SourceArn": rule_arn}}))
    closed_url, closed_arn = make_queue(aws, statement(
        "Allow", "sqs:SendMessage", principal=from_events,
        condition={"ArnEquals": {"aws:SourceArn": f"{RULE}/some-other-rule"}}))
    events.put_targets(Rule=rule_name, Targets=[{"Id": "open", "Arn": open_arn}, {"Id": "closed", "Arn": closed_arn}])

    events.put_events(Entries=[{"Source": rule_name, "DetailType": "t", "Detail": "{}"}])

    assert len(sqs.receive_message(QueueUrl=open_url).get("Messages", [])) == 1
    assert sqs.receive_message(QueueUrl=closed_url).get("Messages", []) == []
    [denial] = check.denials
    assert (denial.request.principal, denial.request.resource) == ("events.amazonaws.com", closed_arn)
    assert denial.request.context["aws:SourceArn"] == rule_arn


# ---- log-group keys: StringEquals against ArnLike on a wildcard ARN ----------------------------


def test_a_log_group_key_policy_needs_arnlike_for_a_wildcard_arn(aws: LocalAws, check: AccessCheck) -> None:
    logs = aws.client("logs")

    def key_for_logs(operator: str) -> str:
        return make_key(aws, delegate_to_account(aws), statement(
            "Allow", ["kms:GenerateDataKey*", "kms:Decrypt", "kms:Encrypt*", "kms:ReEncrypt*", "kms:Describe*"],
            principal={"Service": f"logs.{REGION}.amazonaws.com"},
            condition={operator: {"kms:EncryptionContext:aws:logs:arn": LOGS_WILDCARD}}))

    logs.create_log_group(logGroupName=unique("arnlike-"), kmsKeyId=key_for_logs("ArnLike"))
    with pytest.raises(ClientError) as refused:
        logs.create_log_group(logGroupName=unique("stringequals-"), kmsKeyId=key_for_logs("StringEquals"))

    assert refused.value.response["Error"]["Code"] == "AccessDeniedException"
    assert [d.request.principal for d in check.denials] == [f"logs.{REGION}.amazonaws.com"]


# ---- the report -------------------------------------------------------------------------------


def test_a_denial_names_principal_action_resource_and_what_was_missing(aws: LocalAws, check: AccessCheck) -> None:
    role = make_role(aws, statement("Allow", "dynamodb:GetItem", table_arn(aws)))
    key = make_key(aws, delegate_to_account(aws))
    assert allowed(check, role, "dynamodb:GetItem", table_arn(aws))
    assert check.denials == []
    assert check.report().endswith("none denied")

    missing_iam = check.evaluate(AccessRequest(role, "dynamodb:PutItem", table_arn(aws), caller="a test"))
    missing_key = check.evaluate(AccessRequest(role, "kms:Decrypt", key, {"kms:ViaService": SQS_VIA}))

    assert missing_iam is not None and missing_key is not None
    text = str(missing_iam)
    assert text.startswith(f"DENIED {role} (a test) -> dynamodb:PutItem on {table_arn(aws)}: ")
    assert "no statement in the identity policies (inline) allows dynamodb:PutItem" in text
    assert f"{role} -> kms:Decrypt on {key} with " in str(missing_key)
    assert '"kms:ViaService": "sqs.us-east-1.amazonaws.com"' in str(missing_key)
    assert "an IAM statement must allow kms:Decrypt" in str(missing_key)
    assert check.denials == [missing_iam, missing_key]
    assert check.report().splitlines() == [
        "access check: 2 requests denied", f"  {missing_iam}", f"  {missing_key}",
    ]


def test_require_raises_for_the_first_refused_request(aws: LocalAws, check: AccessCheck) -> None:
    role = make_role(aws, statement("Allow", "dynamodb:GetItem"))
    get = AccessRequest(role, "dynamodb:GetItem", table_arn(aws))
    put = AccessRequest(role, "dynamodb:PutItem", table_arn(aws))

    check.require([get, get])  # allowed: no error
    with pytest.raises(AccessDeniedError) as refused:
        check.require([get, put, AccessRequest(role, "dynamodb:DeleteItem", table_arn(aws))])

    assert refused.value.denial.request == put
    assert [d.request for d in check.denials] == [put], "require stops at the first denial"


# ---- requests_for_call -------------------------------------------------------------------------


def test_publish_to_a_kms_encrypted_topic_implies_the_key_requests(aws: LocalAws, check: AccessCheck) -> None:
    sns = aws.client("sns")
    key = make_key(aws, delegate_to_account(aws))
    encrypted = sns.create_topic(Name=unique("encrypted-"), Attributes={"KmsMasterKeyId": key})["TopicArn"]
    plain = sns.create_topic(Name=unique("plain-"))["TopicArn"]
    role = make_role(aws)

    def ask(topic: str) -> list[AccessRequest]:
        return requests_for_call(principal=role, iam_prefix="sns", operation="Publish", params={"TopicArn": topic},
                                 account_id=aws.account_id, region=REGION, caller="test")

    asked = ask(encrypted)
    assert [(r.action, r.resource) for r in asked] == [
        ("sns:Publish", encrypted), ("kms:GenerateDataKey", key), ("kms:Decrypt", key),
    ]
    for request in asked[1:]:
        assert request.context["kms:ViaService"] == f"sns.{REGION}.amazonaws.com"
        assert request.context["kms:EncryptionContext:aws:sns:topicArn"] == encrypted
        assert request.context["kms:CallerAccount"] == aws.account_id
    assert [(r.action, r.resource) for r in ask(plain)] == [("sns:Publish", plain)]


def test_an_unknown_call_is_unmodelled() -> None:
    with pytest.raises(UnmodelledCall, match="sqs:DeleteQueue: no access rule"):
        requests_for_call(principal="arn:aws:iam::123456789012:role/r", iam_prefix="sqs", operation="DeleteQueue",
                          params={"QueueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/q"},
                          account_id=ACCOUNT, region=REGION, caller="test")


# ---- guard_client ------------------------------------------------------------------------------


def test_a_guarded_client_needs_the_item_and_the_key_permission(aws: LocalAws, check: AccessCheck) -> None:
    table = unique("table-")
    key = make_key(aws, delegate_to_account(aws))
    aws.client("dynamodb").create_table(
        TableName=table, KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST",
        SSESpecification={"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": key},
    )
    role = make_role(aws, statement("Allow", "dynamodb:GetItem", table_arn(aws, table)))
    role_name = role.rsplit("/", 1)[1]
    client = boto3.client("dynamodb", region_name=REGION)
    undo = guard_client(client, check, principal=role, caller="handler")

    def put(item_id: str) -> str | None:
        try:
            client.put_item(TableName=table, Item={"id": {"S": item_id}})
        except ClientError as error:
            assert error.response["Error"]["Code"] == "AccessDeniedException"
            return str(error.response["Error"]["Message"])
        return None

    def grant(*statements: Mapping[str, Any]) -> None:
        aws.client("iam").put_role_policy(RoleName=role_name, PolicyName="inline", PolicyDocument=policy(
            statement("Allow", "dynamodb:GetItem", table_arn(aws, table)), *statements))

    try:
        refused = put("1")
        assert refused is not None and "dynamodb:PutItem" in refused
        grant(statement("Allow", "dynamodb:PutItem", table_arn(aws, table)))
        refused = put("2")
        assert refused is not None and f"kms:Decrypt on resource: {key}" in refused
        grant(statement("Allow", "dynamodb:PutItem", table_arn(aws, table)), statement("Allow", "kms:Decrypt", key))
        assert put("3") is None
        with pytest.raises(ClientError, match="no access rule"):
            client.describe_table(TableName=table)  # unmodelled: refused, and reported
    finally:
        undo()

    client.describe_table(TableName=table)  # undone: no longer checked
    items = aws.client("dynamodb").scan(TableName=table)["Items"]
    assert items == [{"id": {"S": "3"}}]
    assert [d.decision for d in check.denials] == ["ImplicitlyDenied", "ImplicitlyDenied", "Unmodelled"]


# ---- IamSimulator ------------------------------------------------------------------------------


def simulation(principal: str, action: str, policies: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    return {
        "request": {"principal": principal, "action": action,
                    "resource": {"resource": "*", "accountId": ACCOUNT}, "contextVariables": {}},
        "identityPolicies": [{"name": "p", "policy": json.loads(policy(*policies))}],
    }


def test_the_simulator_refuses_an_action_iam_does_not_know(aws: LocalAws, check: AccessCheck) -> None:
    simulator = check.simulator
    role = make_role(aws, statement("Allow", "*"))
    allow_all = [statement("Allow", "*")]

    assert simulator.simulate(simulation(role, "ses:SendEmail", allow_all))["decision"] == "Allowed"
    invalid = simulator.simulate(simulation(role, "sesv2:SendEmail", allow_all))  # SES v2 authorizes as ses:
    assert invalid["decision"] == "Error"
    denial = check.evaluate(AccessRequest(role, "sesv2:SendEmail", "*"))
    assert denial is not None and denial.decision == "Error"
    assert "refused the request as invalid" in denial.reason
    assert check.evaluate(AccessRequest(role, "ses:SendEmail", "*")) is None


def test_repeated_simulations_are_answered_from_the_cache(aws: LocalAws, check: AccessCheck) -> None:
    role = make_role(aws, statement("Allow", "dynamodb:GetItem"))
    request = AccessRequest(role, "dynamodb:GetItem", table_arn(aws))
    before = check.simulator.evaluations

    for _ in range(3):
        assert check.evaluate(request) is None
    assert check.simulator.evaluations == before + 1
    for _ in range(3):
        assert check.evaluate(AccessRequest(role, "dynamodb:PutItem", table_arn(aws))) is not None
    assert check.simulator.evaluations == before + 2
    assert len(check.denials) == 3, "a cached denial is still reported each time"


# ---- gaps found in review, now fixed ----------------------------------------------------------


def test_a_table_under_the_aws_managed_key_needs_no_kms_permission(aws: LocalAws, check: AccessCheck) -> None:
    table = unique("managed-")
    aws.client("dynamodb").create_table(
        TableName=table, KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST",
        SSESpecification={"Enabled": True, "SSEType": "KMS"},
    )
    role = make_role(aws, statement("Allow", "dynamodb:PutItem", table_arn(aws, table)))

    requests = requests_for_call(principal=role, iam_prefix="dynamodb", operation="PutItem",
                                 params={"TableName": table}, account_id=aws.account_id, region=REGION, caller="t")

    assert [r.action for r in requests] == ["dynamodb:PutItem"]


def test_a_permissions_boundary_limits_the_role(aws: LocalAws, check: AccessCheck) -> None:
    boundary = aws.client("iam").create_policy(
        PolicyName=unique("boundary-"), PolicyDocument=policy(statement("Allow", "sqs:*")))["Policy"]["Arn"]
    name = unique("bounded-")
    aws.client("iam").create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(STATES_TRUST),
                                  PermissionsBoundary=boundary)
    aws.client("iam").put_role_policy(RoleName=name, PolicyName="inline", PolicyDocument=policy(
        statement("Allow", ["dynamodb:PutItem", "sqs:SendMessage"])))
    role = f"arn:aws:iam::{aws.account_id}:role/{name}"
    _, queue = make_queue(aws)

    assert allowed(check, role, "sqs:SendMessage", queue)
    assert not allowed(check, role, "dynamodb:PutItem", table_arn(aws))
