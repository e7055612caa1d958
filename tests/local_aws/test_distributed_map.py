"""A Distributed Map (``ProcessorConfig.Mode: DISTRIBUTED``) in a JSONata state machine on the
embedded AWS, with the access check on: groundwork for a bulk send. What moto runs as it is, what
``local_aws.distributed_map`` bridges (JSONL, EXPRESS children, tolerated failures, ItemReader
errors), what the access check now asks of the role (``check_distributed_map_runs`` and the S3
rules), and what does not work locally (ItemBatcher, a JSONata ResultWriter).

Each test has its own LocalAws (starting one costs about 0.2 s), so the bare-moto test can run.
Run with ``-s`` to see the per-iteration timing.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator, Mapping
from itertools import count
from typing import Any

import pytest
from botocore.exceptions import ClientError
from moto.sns.models import SNSBackend

from local_aws import ExecutionResult, LocalAws, bind_jsonata_evaluator
from local_aws.access import AccessCheck, AccessRequest, requests_for_call
from local_aws.distributed_map import (
    TOLERANCE_EXCEEDED_CAUSE,
    Tolerance,
    isolate_query_language_scopes,
    normalise_distributed_map_definition,
)

REGION = "us-east-1"
STATES_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "states.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}
BAD_PHONE = "not-a-phone"  # sns:publish fails with SNS.InvalidParameterException
_names = count(1)
_numbers = count(1)  # moto's SMS log is shared by the module: each recipient gets its own number


# ---- fixtures and builders -----------------------------------------------------------------


@pytest.fixture
def aws() -> Iterator[LocalAws]:
    with LocalAws.in_process(region=REGION) as local:
        yield local


@pytest.fixture
def check(aws: LocalAws) -> AccessCheck:
    assert aws.access is not None
    aws.access.clear()
    return aws.access


def unique(prefix: str) -> str:
    return f"{prefix}{next(_names)}"


def phone(n: int) -> str:
    return f"+1555555{n:04d}"


def machine_arn(aws: LocalAws, name: str) -> str:
    return f"arn:aws:states:{REGION}:{aws.account_id}:stateMachine:{name}"


def map_run_grants(aws: LocalAws, name: str) -> list[dict[str, Any]]:
    """What AWS documents (and CDK's DistributedMap grants) for running a Distributed Map."""
    return [
        {"Effect": "Allow", "Action": "states:StartExecution", "Resource": machine_arn(aws, name)},
        {"Effect": "Allow", "Action": ["states:DescribeExecution", "states:StopExecution"],
         "Resource": f"arn:aws:states:{REGION}:{aws.account_id}:execution:{name}:*"},
    ]


def task_grants(aws: LocalAws, table: str, bucket: str | None) -> list[dict[str, Any]]:
    grants = [
        {"Effect": "Allow", "Action": "dynamodb:PutItem",
         "Resource": f"arn:aws:dynamodb:{REGION}:{aws.account_id}:table/{table}"},
        {"Effect": "Allow", "Action": "sns:Publish", "Resource": "*"},  # SMS to a number: no resource
    ]
    if bucket is not None:
        grants.append({"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"})
    return grants


def make_role(aws: LocalAws, statements: list[dict[str, Any]]) -> str:
    name = unique("bulk-role-")
    arn: str = aws.client("iam").create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(STATES_TRUST))[
        "Role"]["Arn"]
    aws.client("iam").put_role_policy(RoleName=name, PolicyName="bulk", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": statements}))
    return arn


def make_table(aws: LocalAws) -> str:
    name = unique("bulk-log-")
    aws.client("dynamodb").create_table(
        TableName=name, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "recipientId", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "recipientId", "AttributeType": "S"}],
    )
    return name


def make_bucket(aws: LocalAws, objects: Mapping[str, str], *, kms_key: str | None = None) -> str:
    name = unique("bulk-input-")
    s3 = aws.client("s3")
    s3.create_bucket(Bucket=name)
    if kms_key is not None:
        s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": [
            {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": kms_key}}]})
    for key, body in objects.items():
        s3.put_object(Bucket=name, Key=key, Body=body.encode())
    return name


def recipients(n: int, *, bad: frozenset[int] = frozenset()) -> list[dict[str, Any]]:
    return [{"id": f"r{i}", "phone": BAD_PHONE if i in bad else phone(next(_numbers))} for i in range(n)]


def jsonl(rows: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(row) + "\n" for row in rows)


def child_states(table: str) -> dict[str, Any]:
    """putItem then sns:publish, from $states.input (the ItemSelector's output) and a variable."""
    return {
        "Log": {
            "Type": "Task",
            "Resource": "arn:aws:states:::dynamodb:putItem",
            "Arguments": {"TableName": table, "Item": {
                "recipientId": {"S": "{% $states.input.recipient.id %}"},
                "index": {"N": "{% $string($states.input.index) %}"},
                "campaign": {"S": "{% $states.input.campaign %}"},
            }},
            "Assign": {"text": "{% 'Hello ' & $states.input.recipient.id & ' (' & $states.input.campaign & ')' %}"},
            "Output": "{% $states.input %}",
            "Next": "Send",
        },
        "Send": {
            "Type": "Task",
            "Resource": "arn:aws:states:::sns:publish",
            "Arguments": {"PhoneNumber": "{% $states.input.recipient.phone %}", "Message": "{% $text %}"},
            "Output": {"id": "{% $states.input.recipient.id %}", "index": "{% $states.input.index %}",
                       "messageId": "{% $states.result.MessageId %}"},
            "End": True,
        },
    }


def bulk_send(table: str, *, reader: Mapping[str, Any] | None = None, execution_type: str = "STANDARD",
              **map_fields: Any) -> dict[str, Any]:
    """Parent: assign the campaign, then the Distributed Map (inline ``Items`` unless ``reader``)."""
    fan_out: dict[str, Any] = {
        "Type": "Map",
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": execution_type},
                          "StartAt": "Log", "States": child_states(table)},
        # Parent variables reach the children only through the ItemSelector (as on AWS).
        "ItemSelector": {"recipient": "{% $states.context.Map.Item.Value %}",
                         "index": "{% $states.context.Map.Item.Index %}", "campaign": "{% $campaign %}"},
        "End": True,
        **map_fields,
    }
    if reader is not None:
        fan_out["ItemReader"] = {"Resource": "arn:aws:states:::s3:getObject", **reader}
    elif "Items" not in fan_out:
        fan_out["Items"] = "{% $states.input.recipients %}"
    return {"QueryLanguage": "JSONata", "StartAt": "Start", "States": {
        "Start": {"Type": "Pass", "Assign": {"campaign": "{% $states.input.campaign %}"}, "Next": "FanOut"},
        "FanOut": fan_out,
    }}


def deploy(aws: LocalAws, definition: Mapping[str, Any], *, statements: list[dict[str, Any]] | None = None,
           table: str | None = None, bucket: str | None = None, name: str | None = None) -> str:
    """Create the machine under ``name`` with a role of ``statements`` (default: what it needs)."""
    name = name or unique("bulk-send-")
    if statements is None:
        assert table is not None
        statements = task_grants(aws, table, bucket) + map_run_grants(aws, name)
    role = make_role(aws, statements)
    arn: str = aws.client("stepfunctions").create_state_machine(
        name=name, definition=json.dumps(definition), roleArn=role)["stateMachineArn"]
    return arn


def s3_reader(bucket: str, key: str, **config: Any) -> dict[str, Any]:
    return {"ReaderConfig": config, "Arguments": {"Bucket": bucket, "Key": key}}


def sms_to(aws: LocalAws, numbers: list[str]) -> list[str]:
    """The texts sent to ``numbers``."""
    return [m.message for m in aws.sms_messages() if m.phone_number in numbers]


def run(aws: LocalAws, arn: str, input: dict[str, Any], timeout_s: float = 60) -> ExecutionResult:
    return aws.start_and_wait(arn, input, timeout_s=timeout_s)


def map_events(result: ExecutionResult) -> list[str]:
    return [e["type"] for e in result.events if e["type"].startswith("MapRun")]


# ---- what works: items, selector, children, output -----------------------------------------


@pytest.mark.parametrize("execution_type", ["STANDARD", "EXPRESS"])
def test_inline_items_run_one_child_per_item_with_the_item_selector(
        aws: LocalAws, check: AccessCheck, execution_type: str) -> None:
    table = make_table(aws)
    people = recipients(3)
    arn = deploy(aws, bulk_send(table, execution_type=execution_type), table=table)

    result = run(aws, arn, {"campaign": "spring", "recipients": people})

    assert result.status == "SUCCEEDED", (result.error, result.cause, check.report())
    # The Map's output is the children's outputs, in item order.
    assert [(o["id"], o["index"]) for o in result.output] == [("r0", 0), ("r1", 1), ("r2", 2)]
    assert all(o["messageId"] for o in result.output)
    assert sorted((i["recipientId"], i["index"], i["campaign"]) for i in aws.table_items(table)) == [
        ("r0", 0, "spring"), ("r1", 1, "spring"), ("r2", 2, "spring")]
    assert sorted(sms_to(aws, [p["phone"] for p in people])) == [
        "Hello r0 (spring)", "Hello r1 (spring)", "Hello r2 (spring)"]
    assert map_events(result) == ["MapRunStarted", "MapRunSucceeded"]
    assert check.denials == []


def test_the_map_output_field_shapes_the_results(aws: LocalAws, check: AccessCheck) -> None:
    table = make_table(aws)
    definition = bulk_send(table, Output={"sent": "{% $count($states.result) %}",
                                          "ids": "{% $states.result.id %}"})
    arn = deploy(aws, definition, table=table)

    result = run(aws, arn, {"campaign": "c", "recipients": recipients(2)})

    assert (result.status, result.output) == ("SUCCEEDED", {"sent": 2, "ids": ["r0", "r1"]})


@pytest.mark.parametrize("execution_type", ["STANDARD", "EXPRESS"])
def test_jsonl_items_from_s3(aws: LocalAws, check: AccessCheck, execution_type: str) -> None:
    table = make_table(aws)
    people = recipients(4)
    bucket = make_bucket(aws, {"in/list.jsonl": jsonl(people[:2]) + "\n" + jsonl(people[2:])})  # a blank line
    definition = bulk_send(table, reader=s3_reader(bucket, "in/list.jsonl", InputType="JSONL"),
                           execution_type=execution_type)
    arn = deploy(aws, definition, table=table, bucket=bucket)

    result = run(aws, arn, {"campaign": "jsonl"})

    assert result.status == "SUCCEEDED", (result.error, result.cause, check.report())
    assert [o["id"] for o in result.output] == ["r0", "r1", "r2", "r3"]
    assert len(sms_to(aws, [p["phone"] for p in people])) == 4
    assert check.denials == []


def test_jsonl_max_items_and_a_line_that_is_not_json(aws: LocalAws, check: AccessCheck) -> None:
    table = make_table(aws)
    bucket = make_bucket(aws, {"ok.jsonl": jsonl(recipients(5)), "bad.jsonl": jsonl(recipients(1)) + "{oops\n"})
    capped = deploy(aws, bulk_send(table, reader=s3_reader(bucket, "ok.jsonl", InputType="JSONL", MaxItems=2)),
                    table=table, bucket=bucket)
    broken = deploy(aws, bulk_send(table, reader=s3_reader(bucket, "bad.jsonl", InputType="JSONL")),
                    table=table, bucket=bucket)

    assert [o["id"] for o in run(aws, capped, {"campaign": "c"}).output] == ["r0", "r1"]
    failed = run(aws, broken, {"campaign": "c"})
    assert (failed.status, failed.error) == ("FAILED", "States.ItemReaderFailed")
    assert "Line 2 of the JSONL object is not JSON" in (failed.cause or "")


def test_csv_items_with_the_header_in_the_first_row(aws: LocalAws, check: AccessCheck) -> None:
    table = make_table(aws)
    first, second = phone(next(_numbers)), phone(next(_numbers))
    bucket = make_bucket(aws, {"list.csv": f"id,phone\nr0,{first}\nr1,{second}\n"})
    definition = bulk_send(table, reader=s3_reader(bucket, "list.csv", InputType="CSV",
                                                   CSVHeaderLocation="FIRST_ROW"))
    arn = deploy(aws, definition, table=table, bucket=bucket)

    result = run(aws, arn, {"campaign": "csv"})

    assert result.status == "SUCCEEDED", (result.error, result.cause, check.report())
    assert [o["id"] for o in result.output] == ["r0", "r1"]
    assert sorted(sms_to(aws, [first, second])) == ["Hello r0 (csv)", "Hello r1 (csv)"]


def test_a_missing_object_fails_the_state_with_item_reader_failed(aws: LocalAws, check: AccessCheck) -> None:
    table = make_table(aws)
    bucket = make_bucket(aws, {})
    arn = deploy(aws, bulk_send(table, reader=s3_reader(bucket, "absent.jsonl", InputType="JSONL")),
                 table=table, bucket=bucket)

    result = run(aws, arn, {"campaign": "c"})

    assert (result.status, result.error) == ("FAILED", "States.ItemReaderFailed")
    assert "NoSuchKey" in (result.cause or "")


# ---- MaxConcurrency ------------------------------------------------------------------------


class ConcurrencyProbe:
    """Counts sns:publish calls in flight (each held briefly) and keeps the peak."""

    def __init__(self, hold_s: float) -> None:
        self.hold_s = hold_s
        self.in_flight = 0
        self.peak = 0
        self.calls = 0
        self._lock = threading.Lock()

    def wrap(self, original: Any) -> Any:
        def publish(backend: Any, *args: Any, **kwargs: Any) -> Any:
            with self._lock:
                self.in_flight += 1
                self.calls += 1
                self.peak = max(self.peak, self.in_flight)
            try:
                time.sleep(self.hold_s)
                return original(backend, *args, **kwargs)
            finally:
                with self._lock:
                    self.in_flight -= 1
        return publish


@pytest.mark.parametrize("max_concurrency", [1, 4])
def test_no_more_children_run_at_once_than_max_concurrency(
        aws: LocalAws, check: AccessCheck, monkeypatch: pytest.MonkeyPatch, max_concurrency: int) -> None:
    table = make_table(aws)
    probe = ConcurrencyProbe(hold_s=0.03)
    monkeypatch.setattr(SNSBackend, "publish", probe.wrap(SNSBackend.publish))
    arn = deploy(aws, bulk_send(table, MaxConcurrency=max_concurrency), table=table)

    result = run(aws, arn, {"campaign": "c", "recipients": recipients(24)})

    assert result.status == "SUCCEEDED", (result.error, result.cause)
    assert probe.calls == 24
    assert probe.peak <= max_concurrency
    if max_concurrency > 1:
        assert probe.peak > 1, "children ran one at a time: the probe would not notice a broken limit"


# ---- tolerated failures --------------------------------------------------------------------


@pytest.mark.parametrize(("fields", "bad", "status"), [
    ({}, {3}, "FAILED"),  # no tolerance declared: one failure fails the run
    ({"ToleratedFailureCount": 2}, {3, 7}, "SUCCEEDED"),
    ({"ToleratedFailureCount": 1}, {3, 7}, "FAILED"),
    ({"ToleratedFailurePercentage": 20}, {3, 7}, "SUCCEEDED"),  # 2 of 10 = 20%: not over
    ({"ToleratedFailurePercentage": 10}, {3, 7}, "FAILED"),
    ({"ToleratedFailureCount": 5, "ToleratedFailurePercentage": 10}, {3, 7}, "FAILED"),  # either threshold
    ({"ToleratedFailureCount": 0, "ToleratedFailurePercentage": 50}, {3}, "FAILED"),
], ids=["none", "count-within", "count-over", "pct-within", "pct-over", "both-pct-over", "count-0-declared"])
def test_tolerated_failure_thresholds(aws: LocalAws, check: AccessCheck, fields: dict[str, Any], bad: set[int],
                                      status: str) -> None:
    table = make_table(aws)
    arn = deploy(aws, bulk_send(table, MaxConcurrency=2, **fields), table=table)

    result = run(aws, arn, {"campaign": "c", "recipients": recipients(10, bad=frozenset(bad))})

    assert result.status == status, (result.error, result.cause)
    if status == "FAILED":
        assert (result.error, result.cause) == ("States.ExceedToleratedFailureThreshold", TOLERANCE_EXCEEDED_CAUSE)
        assert map_events(result) == ["MapRunStarted", "MapRunFailed"]
    else:
        # A tolerated failure leaves null at its index.
        assert [o is None for o in result.output] == [i in bad for i in range(10)]


def test_once_over_the_threshold_no_further_child_starts(aws: LocalAws, check: AccessCheck) -> None:
    table = make_table(aws)
    arn = deploy(aws, bulk_send(table, MaxConcurrency=1), table=table)
    people = recipients(10, bad=frozenset({0}))

    result = run(aws, arn, {"campaign": "c", "recipients": people})

    assert result.error == "States.ExceedToleratedFailureThreshold"
    # The first child failed at sns:publish; the nine others never started.
    assert aws.table_items(table) == [{"recipientId": "r0", "index": 0, "campaign": "c"}]
    assert sms_to(aws, [p["phone"] for p in people]) == []


def test_the_threshold_error_is_caught_like_any_other(aws: LocalAws, check: AccessCheck) -> None:
    table = make_table(aws)
    definition = bulk_send(table, Catch=[{"ErrorEquals": ["States.ExceedToleratedFailureThreshold"],
                                          "Output": {"caught": "{% $states.errorOutput.Error %}"},
                                          "Next": "Failed"}])
    definition["States"]["FanOut"].pop("End")
    definition["States"]["Failed"] = {"Type": "Pass", "End": True}
    arn = deploy(aws, definition, table=table)

    result = run(aws, arn, {"campaign": "c", "recipients": recipients(3, bad=frozenset({1}))})

    assert (result.status, result.output) == ("SUCCEEDED", {"caught": "States.ExceedToleratedFailureThreshold"})


def test_tolerance_arithmetic() -> None:
    assert Tolerance(None, None, 10).exceeded_by(1)
    assert not Tolerance(None, None, 10).exceeded_by(0)
    assert not Tolerance(2, None, 10).exceeded_by(2)
    assert Tolerance(2, None, 10).exceeded_by(3)
    assert not Tolerance(None, 25.0, 8).exceeded_by(2)
    assert Tolerance(None, 25.0, 8).exceeded_by(3)
    assert Tolerance(100, 0.0, 8).exceeded_by(1)  # both declared: either threshold


# ---- the gaps without the bridges ----------------------------------------------------------


def test_without_the_bridges_moto_refuses_jsonl_express_and_integer_percentages_and_ignores_tolerance() -> None:
    # isolate_query_language_scopes: a failed parse would otherwise break every later JSONPath parse.
    with LocalAws.in_process(region=REGION, apply_bridges=False) as bare, bind_jsonata_evaluator(), \
            isolate_query_language_scopes():
        sfn = bare.client("stepfunctions")
        role = f"arn:aws:iam::{bare.account_id}:role/any"
        table = make_table(bare)
        jsonl_reader = bulk_send(table, reader=s3_reader("b", "k", InputType="JSONL"))
        with pytest.raises(ClientError, match="'JSONL' is not a valid InputTypeValue"):
            sfn.create_state_machine(name="jsonl", definition=json.dumps(jsonl_reader), roleArn=role)
        with pytest.raises(ClientError, match="mismatched input '\"EXPRESS\"' expecting '\"STANDARD\"'"):
            sfn.create_state_machine(name="express", definition=json.dumps(bulk_send(table, execution_type="EXPRESS")),
                                     roleArn=role)
        with pytest.raises(ClientError, match="no viable alternative at input '\"ToleratedFailurePercentage\":10'"):
            sfn.create_state_machine(name="percentage", definition=json.dumps(bulk_send(
                table, ToleratedFailurePercentage=10)), roleArn=role)
        arn = sfn.create_state_machine(name="tolerance", definition=json.dumps(bulk_send(table)),
                                       roleArn=role)["stateMachineArn"]
        result = bare.start_and_wait(arn, {"campaign": "c", "recipients": recipients(3, bad=frozenset({1}))})

    assert result.status == "SUCCEEDED"  # AWS: FAILED, States.ExceedToleratedFailureThreshold
    assert [o is None for o in result.output] == [False, True, False]


def test_the_parse_rewrite_touches_only_processor_configs_and_percentages() -> None:
    definition = {"States": {"M": {"ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED",
                                                                         "ExecutionType": "EXPRESS"}},
                                   "ToleratedFailurePercentage": 10, "ToleratedFailureCount": 3,
                                   "Comment": "EXPRESS"}}}
    rewritten = json.loads(normalise_distributed_map_definition(json.dumps(definition)))["States"]["M"]

    assert rewritten["ItemProcessor"]["ProcessorConfig"]["ExecutionType"] == "STANDARD"
    assert isinstance(rewritten["ToleratedFailurePercentage"], float)
    assert (rewritten["ToleratedFailureCount"], rewritten["Comment"]) == (3, "EXPRESS")
    assert normalise_distributed_map_definition('{"StartAt": "x"') == '{"StartAt": "x"'  # not JSON: the parser says so


def test_a_failed_parse_no_longer_breaks_later_jsonpath_parses() -> None:
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
    from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor

    bad = json.dumps(bulk_send("t", reader=s3_reader("b", "k", InputType="PARQUET")))
    jsonpath = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": {"a": 1}, "End": True}}})
    with isolate_query_language_scopes():
        with pytest.raises(ValueError, match="'PARQUET' is not a valid InputTypeValue"):
            AmazonStateLanguageParser.parse(bad)
        AmazonStateLanguageParser.parse(jsonpath)
    assert Preprocessor._query_language_per_scope == []  # the shared stack was never touched


# ---- not working locally -------------------------------------------------------------------


@pytest.mark.parametrize("field", [
    {"ItemBatcher": {"MaxItemsPerBatch": 2}},
    {"ResultWriter": {"Resource": "arn:aws:states:::s3:putObject", "Arguments": {"Bucket": "b", "Prefix": "out"}}},
], ids=["ItemBatcher", "JSONata-ResultWriter"])
def test_fields_moto_cannot_parse(aws: LocalAws, field: dict[str, Any]) -> None:
    # moto/stepfunctions/parser/asl/antlr/runtime/ASLParser.py: no ItemBatcher rule; result_writer_decl
    # takes Resource and Parameters only. If moto learns them, this fails: then test the behaviour.
    with pytest.raises(ClientError, match="ASLParserException"):
        deploy(aws, bulk_send("t", **field), statements=task_grants(aws, "t", None))


# ---- the access check ----------------------------------------------------------------------


@pytest.mark.parametrize("missing", ["states:StartExecution", "states:DescribeExecution", "states:StopExecution"])
def test_a_role_without_the_map_run_grants_is_denied(aws: LocalAws, check: AccessCheck, missing: str) -> None:
    table = make_table(aws)
    name = unique("bulk-send-")
    actions = {"states:StartExecution", "states:DescribeExecution", "states:StopExecution"} - {missing}
    statements = task_grants(aws, table, None) + [
        {"Effect": "Allow", "Action": sorted(actions), "Resource": [
            machine_arn(aws, name), f"arn:aws:states:{REGION}:{aws.account_id}:execution:{name}:*"]}]
    arn = deploy(aws, bulk_send(table), statements=statements, name=name)
    people = recipients(2)

    result = run(aws, arn, {"campaign": "c", "recipients": people})

    assert (result.status, result.error) == ("FAILED", "States.Runtime")
    assert f"is not authorized to perform: {missing}" in (result.cause or "")
    assert [d.request.action for d in check.denials] == [missing]
    assert "Distributed Map FanOut" in check.report()
    assert sms_to(aws, [p["phone"] for p in people]) == []  # no child ran
    assert aws.table_items(table) == []


def test_start_execution_must_name_this_state_machine(aws: LocalAws, check: AccessCheck) -> None:
    table = make_table(aws)
    name = unique("bulk-send-")
    statements = task_grants(aws, table, None) + map_run_grants(aws, "some-other-machine")
    arn = deploy(aws, bulk_send(table), statements=statements, name=name)

    result = run(aws, arn, {"campaign": "c", "recipients": recipients(1)})

    assert result.error == "States.Runtime"
    [denial] = check.denials
    assert (denial.request.action, denial.request.resource) == ("states:StartExecution", machine_arn(aws, name))


def test_the_item_reader_needs_s3_get_object_on_the_object(aws: LocalAws, check: AccessCheck) -> None:
    table = make_table(aws)
    bucket = make_bucket(aws, {"in/list.jsonl": jsonl(recipients(1)), "other/list.jsonl": jsonl(recipients(1))})
    name = unique("bulk-send-")
    statements = task_grants(aws, table, None) + map_run_grants(aws, name) + [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/in/*"}]
    allowed = deploy(aws, bulk_send(table, reader=s3_reader(bucket, "in/list.jsonl", InputType="JSONL")),
                     statements=statements, name=name)
    name2 = unique("bulk-send-")
    statements2 = task_grants(aws, table, None) + map_run_grants(aws, name2) + statements[-1:]
    denied = deploy(aws, bulk_send(table, reader=s3_reader(bucket, "other/list.jsonl", InputType="JSONL")),
                    statements=statements2, name=name2)

    assert run(aws, allowed, {"campaign": "c"}).status == "SUCCEEDED"
    result = run(aws, denied, {"campaign": "c"})

    assert (result.status, result.error) == ("FAILED", "States.ItemReaderFailed")
    assert "AccessDenied" in (result.cause or "")
    [denial] = check.denials
    assert (denial.request.action, denial.request.resource) == ("s3:GetObject",
                                                                f"arn:aws:s3:::{bucket}/other/list.jsonl")


def test_a_kms_encrypted_object_needs_kms_decrypt(aws: LocalAws, check: AccessCheck) -> None:
    key = aws.client("kms").create_key(Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{aws.account_id}:root"}, "Action": "kms:*",
         "Resource": "*"}]}))["KeyMetadata"]["Arn"]
    table = make_table(aws)
    bucket = make_bucket(aws, {"list.jsonl": jsonl(recipients(1))}, kms_key=key)
    decrypt = {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": key,
               "Condition": {"StringEquals": {"kms:ViaService": f"s3.{REGION}.amazonaws.com",
                                              "kms:EncryptionContext:aws:s3:arn": f"arn:aws:s3:::{bucket}/list.jsonl"}}}
    definition = bulk_send(table, reader=s3_reader(bucket, "list.jsonl", InputType="JSONL"))
    without = deploy(aws, definition, table=table, bucket=bucket)
    name = unique("bulk-send-")
    with_key = deploy(aws, definition, name=name,
                      statements=task_grants(aws, table, bucket) + map_run_grants(aws, name) + [decrypt])

    result = run(aws, without, {"campaign": "c"})
    assert (result.status, result.error) == ("FAILED", "States.ItemReaderFailed")
    [denial] = check.denials
    assert (denial.request.action, denial.request.resource) == ("kms:Decrypt", key)
    check.clear()
    assert run(aws, with_key, {"campaign": "c"}).status == "SUCCEEDED"
    assert check.denials == []


def test_the_rules_for_the_calls_a_distributed_map_makes(aws: LocalAws) -> None:
    def asked(iam_prefix: str, operation: str, params: dict[str, Any]) -> list[tuple[str, str]]:
        return [(r.action, r.resource) for r in requests_for_call(
            principal="arn:aws:iam::123456789012:role/r", iam_prefix=iam_prefix, operation=operation,
            params=params, account_id=aws.account_id, region=REGION, caller="test")]

    execution = f"arn:aws:states:{REGION}:{aws.account_id}:execution:m:run"
    assert asked("states", "DescribeExecution", {"executionArn": execution}) == [
        ("states:DescribeExecution", execution)]
    assert asked("s3", "GetObject", {"Bucket": "no-such-bucket", "Key": "a/b"}) == [
        ("s3:GetObject", "arn:aws:s3:::no-such-bucket/a/b")]
    assert asked("s3", "PutObject", {"Bucket": "no-such-bucket", "Key": "out/x"}) == [
        ("s3:PutObject", "arn:aws:s3:::no-such-bucket/out/x")]
    assert AccessRequest  # the report's unit (see test_access_check.py)


# ---- timing --------------------------------------------------------------------------------


def test_time_per_child_for_200_jsonl_items_at_max_concurrency_10(aws: LocalAws, check: AccessCheck) -> None:
    items = 200
    table = make_table(aws)
    people = recipients(items)
    bucket = make_bucket(aws, {"list.jsonl": jsonl(people)})
    arn = deploy(aws, bulk_send(table, reader=s3_reader(bucket, "list.jsonl", InputType="JSONL"), MaxConcurrency=10),
                 table=table, bucket=bucket)

    started = time.perf_counter()
    result = run(aws, arn, {"campaign": "timing"}, timeout_s=300)
    elapsed = time.perf_counter() - started

    assert result.status == "SUCCEEDED", (result.error, result.cause, check.report())
    assert len(result.output) == items and len(aws.table_items(table)) == items
    print(f"\nDistributed Map, {items} JSONL items, MaxConcurrency 10, putItem + sns:publish per child, "
          f"access check on: {elapsed:.2f} s wall, {elapsed / items * 1000:.1f} ms per child iteration")
