"""EventBridge Pipes (``local_aws.pipes``): an SQS -> Step Functions pipe deployed from a template,
run by ``LocalAws.run_pipes`` as the pipe's role: one execution per batch, whose input is a JSON
array of the batch's records (or of the input template applied to each record)."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from local_aws import LocalAws, StackDeployError
from local_aws.pipes import UnsupportedPipe

REGION = "us-east-1"
# The input is the batch (an array): fails (error Boom) when an element has "fail"; else passes it through.
MACHINE_ASL = {
    "StartAt": "EachRecord",
    "States": {
        "EachRecord": {"Type": "Map", "ItemsPath": "$", "End": True, "ItemProcessor": {
            "ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "Check", "States": {
                "Check": {"Type": "Choice", "Choices": [{"Variable": "$.fail", "IsPresent": True, "Next": "Boom"}],
                          "Default": "Done"},
                "Boom": {"Type": "Fail", "Error": "Boom"},
                "Done": {"Type": "Pass", "End": True},
            }}},
    },
}
# Reports the batch's second record as failed: {"batchItemFailures": [{"itemIdentifier": <its messageId>}]}.
SECOND_FAILS_ASL = {
    "StartAt": "Pick",
    "States": {
        "Pick": {"Type": "Pass", "InputPath": "$[1]", "Parameters": {"itemIdentifier.$": "$.messageId"},
                 "Next": "Report"},
        "Report": {"Type": "Pass", "Parameters": {"batchItemFailures.$": "States.Array($)"}, "End": True},
    },
}
PIPE_ROLE_ACTIONS = ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes",
                     "states:StartExecution", "states:StartSyncExecution")


def trust(service: str) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]}


def returning(output: dict[str, Any]) -> dict[str, Any]:
    """A machine whose output is ``output``."""
    return {"StartAt": "Out", "States": {"Out": {"Type": "Pass", "Result": output, "End": True}}}


def pipe_template(*, invocation: str = "FIRE_AND_FORGET", machine_type: str = "STANDARD", batch_size: int = 10,
                  actions: tuple[str, ...] = PIPE_ROLE_ACTIONS, trusted: str = "pipes.amazonaws.com",
                  max_receive_count: int = 2, desired_state: str = "RUNNING", input_template: str | None = None,
                  queue_key: bool = False, extra_statements: tuple[dict[str, Any], ...] = (),
                  machine_asl: dict[str, Any] = MACHINE_ASL) -> dict[str, Any]:
    """Queue (with a DLQ), state machine, pipe role allowed ``actions`` on them, and the pipe."""
    sqs_actions = [a for a in actions if a.startswith("sqs:")]
    states_actions = [a for a in actions if a.startswith("states:")]
    statements = [*([{"Effect": "Allow", "Action": sqs_actions, "Resource": {"Fn::GetAtt": ["Queue", "Arn"]}}]
                    if sqs_actions else []),
                  *([{"Effect": "Allow", "Action": states_actions, "Resource": {"Ref": "Machine"}}]
                    if states_actions else []),
                  *extra_statements]
    target_parameters: dict[str, Any] = {"StepFunctionStateMachineParameters": {"InvocationType": invocation}}
    if input_template is not None:
        target_parameters["InputTemplate"] = input_template
    queue_properties: dict[str, Any] = {"RedrivePolicy": {
        "deadLetterTargetArn": {"Fn::GetAtt": ["DeadLetters", "Arn"]}, "maxReceiveCount": max_receive_count}}
    resources: dict[str, Any] = {
        "DeadLetters": {"Type": "AWS::SQS::Queue"},
        "Queue": {"Type": "AWS::SQS::Queue", "Properties": queue_properties},
        "MachineRole": {"Type": "AWS::IAM::Role",
                        "Properties": {"AssumeRolePolicyDocument": trust("states.amazonaws.com")}},
        "Machine": {"Type": "AWS::StepFunctions::StateMachine", "Properties": {
            "StateMachineType": machine_type, "RoleArn": {"Fn::GetAtt": ["MachineRole", "Arn"]},
            "DefinitionString": json.dumps(machine_asl)}},
        "PipeRole": {"Type": "AWS::IAM::Role", "Properties": {
            "AssumeRolePolicyDocument": trust(trusted),
            **({"Policies": [{"PolicyName": "pipe", "PolicyDocument": {
                "Version": "2012-10-17", "Statement": statements}}]} if statements else {})}},
        "Pipe": {"Type": "AWS::Pipes::Pipe", "Properties": {
            "RoleArn": {"Fn::GetAtt": ["PipeRole", "Arn"]}, "DesiredState": desired_state,
            "Source": {"Fn::GetAtt": ["Queue", "Arn"]}, "Target": {"Ref": "Machine"},
            "SourceParameters": {"SqsQueueParameters": {"BatchSize": batch_size,
                                                        "MaximumBatchingWindowInSeconds": 5}},
            "TargetParameters": target_parameters}},
    }
    if queue_key:
        resources["QueueKey"] = {"Type": "AWS::KMS::Key", "Properties": {"KeyPolicy": {
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kms:*", "Resource": "*",
                                                    "Principal": {"AWS": "arn:aws:iam::123456789012:root"}}]}}}
        queue_properties["KmsMasterKeyId"] = {"Fn::GetAtt": ["QueueKey", "Arn"]}
    return {"Resources": resources, "Outputs": {
        "PipeName": {"Value": {"Ref": "Pipe"}}, "PipeArn": {"Value": {"Fn::GetAtt": ["Pipe", "Arn"]}},
        "QueueUrl": {"Value": {"Ref": "Queue"}}, "QueueArn": {"Value": {"Fn::GetAtt": ["Queue", "Arn"]}},
        "DeadLetterUrl": {"Value": {"Ref": "DeadLetters"}},
        "MachineArn": {"Value": {"Ref": "Machine"}}, "PipeRoleArn": {"Value": {"Fn::GetAtt": ["PipeRole", "Arn"]}},
    }}


@pytest.fixture
def aws() -> Iterator[LocalAws]:
    with LocalAws.in_process(region=REGION) as local:
        yield local


def body_text(body: Any) -> str:
    return body if isinstance(body, str) else json.dumps(body)


def send(aws: LocalAws, queue_url: str, *bodies: Any) -> list[str]:
    """Sends each body (JSON unless a string); returns the message ids."""
    sqs = aws.client("sqs")
    return [sqs.send_message(QueueUrl=queue_url, MessageBody=body_text(body))["MessageId"] for body in bodies]


def in_queue(aws: LocalAws, queue_url: str) -> int:
    """Messages in the queue, visible or not."""
    attributes = aws.client("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


def executions(aws: LocalAws, machine_arn: str) -> list[tuple[Any, str]]:
    """(input, status) of every execution of the machine, sorted by their JSON."""
    sfn = aws.client("stepfunctions")
    found = []
    for summary in sfn.list_executions(stateMachineArn=machine_arn)["executions"]:
        described = sfn.describe_execution(executionArn=summary["executionArn"])
        found.append((json.loads(described["input"]), described["status"]))
    return sorted(found, key=lambda item: json.dumps(item, sort_keys=True))


def settled_executions(aws: LocalAws, machine_arn: str, timeout: float = 20.0) -> list[tuple[Any, str]]:
    """``executions`` once none is RUNNING (a FIRE_AND_FORGET start does not wait for its execution)."""
    deadline = time.monotonic() + timeout
    while True:
        found = executions(aws, machine_arn)
        if all(status != "RUNNING" for _, status in found) or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def by_json(values: list[Any]) -> list[Any]:
    return sorted(values, key=lambda value: json.dumps(value, sort_keys=True))


def denied_actions(aws: LocalAws) -> list[tuple[str, str]]:
    assert aws.access is not None
    return [(d.request.principal, d.request.action) for d in aws.access.denials]


# ---- batches -------------------------------------------------------------------------------------


def test_a_batch_of_one_is_a_one_element_array_of_the_sqs_record(aws: LocalAws) -> None:
    out = aws.deploy_template("pipe-one", pipe_template(batch_size=1)).outputs
    sqs = aws.client("sqs")
    body = json.dumps({"n": 1})
    message_id = sqs.send_message(QueueUrl=out["QueueUrl"], MessageBody=body, MessageAttributes={
        "kind": {"DataType": "String", "StringValue": "order"},
        "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01"}})["MessageId"]
    [other_id] = send(aws, out["QueueUrl"], "not json")

    assert aws.run_pipes() == 2
    runs = executions(aws, out["MachineArn"])
    assert [len(batch) for batch, _ in runs] == [1, 1], "one execution per batch of one, each an array"
    records = {batch[0]["messageId"]: batch[0] for batch, _ in runs}
    assert set(records) == {message_id, other_id}
    record = records[message_id]
    assert set(record) == {"messageId", "receiptHandle", "body", "attributes", "messageAttributes", "md5OfBody",
                           "eventSource", "eventSourceARN", "awsRegion"}
    assert record["body"] == body, "without a template the body is the raw string"
    assert records[other_id]["body"] == "not json"
    assert isinstance(record["receiptHandle"], str) and record["receiptHandle"]
    assert record["md5OfBody"] == hashlib.md5(body.encode()).hexdigest()  # noqa: S324 - SQS's checksum
    assert (record["eventSource"], record["eventSourceARN"], record["awsRegion"]) == (
        "aws:sqs", out["QueueArn"], REGION)
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert {"SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp"} <= set(record["attributes"])
    assert record["messageAttributes"] == {
        "kind": {"stringValue": "order", "stringListValues": [], "binaryListValues": [], "dataType": "String"},
        "blob": {"binaryValue": "AAE=", "stringListValues": [], "binaryListValues": [], "dataType": "Binary"}}
    assert records[other_id]["messageAttributes"] == {}
    assert in_queue(aws, out["QueueUrl"]) == 0
    assert aws.access is not None and aws.access.denials == []


def test_three_messages_with_batch_size_ten_are_one_execution_of_a_three_element_array(aws: LocalAws) -> None:
    out = aws.deploy_template("pipe-three", pipe_template()).outputs
    ids = send(aws, out["QueueUrl"], {"n": 0}, {"n": 1}, {"n": 2})

    assert aws.run_pipes() == 3
    [(batch, status)] = settled_executions(aws, out["MachineArn"])
    assert status == "SUCCEEDED"
    assert sorted(record["messageId"] for record in batch) == sorted(ids)
    assert sorted(record["body"] for record in batch) == ['{"n": 0}', '{"n": 1}', '{"n": 2}']
    assert in_queue(aws, out["QueueUrl"]) == 0
    assert aws.run_pipes() == 0
    assert len(executions(aws, out["MachineArn"])) == 1


def test_fire_and_forget_deletes_the_whole_batch_even_when_its_execution_fails(aws: LocalAws) -> None:
    out = aws.deploy_template("pipe-ff", pipe_template(input_template="<$.body>")).outputs
    send(aws, out["QueueUrl"], {"n": 1}, {"n": 2, "fail": True})

    assert aws.run_pipes() == 2
    [(batch, status)] = settled_executions(aws, out["MachineArn"])
    assert (by_json(batch), status) == ([{"fail": True, "n": 2}, {"n": 1}], "FAILED")
    # FIRE_AND_FORGET: the start is the delivery
    assert in_queue(aws, out["QueueUrl"]) == 0
    assert in_queue(aws, out["DeadLetterUrl"]) == 0
    assert aws.run_pipes() == 0


def test_batch_size_bounds_each_batch_and_max_batches_the_batches(aws: LocalAws) -> None:
    out = aws.deploy_template("pipe-batch", pipe_template(batch_size=2, input_template="<$.body>")).outputs
    send(aws, out["QueueUrl"], *({"n": n} for n in range(5)))

    assert aws.run_pipes(max_batches=1) == 2
    assert in_queue(aws, out["QueueUrl"]) == 3
    assert [len(batch) for batch, _ in executions(aws, out["MachineArn"])] == [2]
    assert aws.run_pipes(max_batches=1) == 2
    assert aws.run_pipes() == 1
    runs = executions(aws, out["MachineArn"])
    assert sorted(len(batch) for batch, _ in runs) == [1, 2, 2]
    assert sorted(item["n"] for batch, _ in runs for item in batch) == [0, 1, 2, 3, 4]


def test_a_batch_size_above_ten_fills_one_batch_from_several_receives(aws: LocalAws) -> None:
    out = aws.deploy_template("pipe-big", pipe_template(batch_size=25, input_template="<$.body.n>")).outputs
    send(aws, out["QueueUrl"], *({"n": n} for n in range(12)))

    assert aws.run_pipes() == 12
    [(batch, _)] = executions(aws, out["MachineArn"])
    assert sorted(batch) == list(range(12))
    assert in_queue(aws, out["QueueUrl"]) == 0


# ---- input templates, applied to each record -----------------------------------------------------


def test_the_body_template_gives_each_parsed_body_and_a_body_that_is_not_json_stays_a_string(
    aws: LocalAws,
) -> None:
    out = aws.deploy_template("pipe-body", pipe_template(input_template="<$.body>")).outputs
    send(aws, out["QueueUrl"], {"k": [1, 2]}, "plain text")

    assert aws.run_pipes() == 2
    [(batch, _)] = executions(aws, out["MachineArn"])
    assert by_json(batch) == ["plain text", {"k": [1, 2]}]


def test_a_path_template_reaches_into_the_parsed_body(aws: LocalAws) -> None:
    out = aws.deploy_template("pipe-path", pipe_template(input_template=" <$.body.order.lines[1]> ")).outputs
    send(aws, out["QueueUrl"], {"order": {"lines": ["a", {"sku": "b"}]}}, {"order": {"lines": ["c", "d"]}},
         {"other": 1})

    assert aws.run_pipes() == 3
    [(batch, _)] = executions(aws, out["MachineArn"])
    assert by_json(batch) == ["d", None, {"sku": "b"}]


def test_an_object_template_is_applied_to_each_record(aws: LocalAws) -> None:
    template = ('{"request": <$.body>, "messageId": <$.messageId>, "sender": "<$.attributes.SenderId>",\n'
                ' "count": "<$.body.count>", "meta": {"source": "pipe", "customer": <$.body.customer>}}')
    out = aws.deploy_template("pipe-object", pipe_template(input_template=template)).outputs
    first, second = {"customer": "c-1", "count": 2}, {"customer": "c-2", "count": 3}
    ids = send(aws, out["QueueUrl"], first, second)

    assert aws.run_pipes() == 2
    [(batch, _)] = executions(aws, out["MachineArn"])
    requests = {element["messageId"]: element["request"] for element in batch}
    assert requests == dict(zip(ids, [first, second], strict=True))
    assert {element["messageId"]: (element["count"], element["meta"]) for element in batch} == {
        ids[0]: ("2", {"source": "pipe", "customer": "c-1"}), ids[1]: ("3", {"source": "pipe", "customer": "c-2"})}
    assert all(isinstance(element["sender"], str) and element["sender"] for element in batch)


@pytest.mark.parametrize(("template", "reason"), [
    ("Hello, <$.body.name>", "only a single <$.path> placeholder or a JSON object"),
    ('{"greeting": "Hello, <$.body.name>"}', 'the string "Hello, <$.body.name>" mixes text and placeholders'),
    ('{"pipe": <aws.pipes.pipe-name>}', "placeholder <aws.pipes.pipe-name>: only <$.path>"),
    ('{"all": <$.body[*]>}', "placeholder <$.body[*]>: only <$.path>"),
    ('{"order": <$.body>', "not a JSON object once its placeholders are filled in"),
    ("[<$.body>]", "only a single <$.path> placeholder or a JSON object"),
])
def test_other_input_templates_are_refused_at_deploy(aws: LocalAws, template: str, reason: str) -> None:
    with pytest.raises(StackDeployError) as failed:
        aws.deploy_template("pipe-template", pipe_template(input_template=template))
    assert isinstance(failed.value.__cause__, UnsupportedPipe)
    assert f"InputTemplate {template!r}: {reason}" in str(failed.value.__cause__)


# ---- REQUEST_RESPONSE ----------------------------------------------------------------------------


def test_request_response_keeps_the_whole_batch_when_its_execution_fails_and_redrive_moves_it_to_the_dlq(
    aws: LocalAws,
) -> None:
    out = aws.deploy_template("pipe-rr", pipe_template(invocation="REQUEST_RESPONSE", machine_type="EXPRESS",
                                                       max_receive_count=2, input_template="<$.body>")).outputs
    send(aws, out["QueueUrl"], {"n": 1}, {"n": 2, "fail": True})

    assert aws.run_pipes() == 0  # one execution for both; it FAILED: both stay, n=1 too
    assert in_queue(aws, out["QueueUrl"]) == 2
    assert aws.run_pipes() == 0  # second receive, second failure
    assert in_queue(aws, out["QueueUrl"]) == 2
    assert in_queue(aws, out["DeadLetterUrl"]) == 0
    assert aws.run_pipes() == 0  # the third receive finds maxReceiveCount reached: SQS moves both
    assert in_queue(aws, out["QueueUrl"]) == 0
    dead = aws.client("sqs").receive_message(QueueUrl=out["DeadLetterUrl"], MaxNumberOfMessages=10)["Messages"]
    assert by_json([json.loads(m["Body"]) for m in dead]) == [{"fail": True, "n": 2}, {"n": 1}]
    # each delivery waited for its execution: both ended FAILED, each with the whole batch
    runs = executions(aws, out["MachineArn"])
    assert [(by_json(batch), status) for batch, status in runs] == [
        ([{"fail": True, "n": 2}, {"n": 1}], "FAILED")] * 2

    send(aws, out["QueueUrl"], {"n": 3}, {"n": 4})
    assert aws.run_pipes() == 2  # a batch whose execution SUCCEEDED is deleted
    assert in_queue(aws, out["QueueUrl"]) == 0
    assert ([{"n": 3}, {"n": 4}], "SUCCEEDED") in [(by_json(b), s) for b, s in executions(aws, out["MachineArn"])]


def test_request_response_keeps_only_the_records_reported_in_batch_item_failures(aws: LocalAws) -> None:
    out = aws.deploy_template("pipe-partial", pipe_template(
        invocation="REQUEST_RESPONSE", machine_type="EXPRESS", machine_asl=SECOND_FAILS_ASL)).outputs
    send(aws, out["QueueUrl"], {"n": 1}, {"n": 2}, {"n": 3})

    assert aws.run_pipes() == 2
    [(batch, status)] = executions(aws, out["MachineArn"])
    assert (len(batch), status) == (3, "SUCCEEDED")
    assert in_queue(aws, out["QueueUrl"]) == 1
    [left] = aws.client("sqs").receive_message(QueueUrl=out["QueueUrl"])["Messages"]
    assert left["MessageId"] == batch[1]["messageId"]
    assert left["Body"] == batch[1]["body"]


@pytest.mark.parametrize(("output", "delivered"), [
    ({"batchItemFailures": []}, 2),
    ({"batchItemFailures": None}, 2),
    ({"result": "anything else"}, 2),
    ({"batchItemFailures": [{"itemIdentifier": "not-in-the-batch"}]}, 0),
    ({"batchItemFailures": [{"id": "no itemIdentifier"}]}, 0),
    ({"batchItemFailures": "not a list"}, 0),
])
def test_a_report_of_no_failures_deletes_the_batch_and_a_malformed_one_keeps_it(
    aws: LocalAws, output: dict[str, Any], delivered: int,
) -> None:
    out = aws.deploy_template("pipe-report", pipe_template(
        invocation="REQUEST_RESPONSE", machine_type="EXPRESS", machine_asl=returning(output))).outputs
    send(aws, out["QueueUrl"], {"n": 1}, {"n": 2})

    assert aws.run_pipes() == delivered
    assert in_queue(aws, out["QueueUrl"]) == 2 - delivered


def test_fire_and_forget_ignores_what_the_execution_returns(aws: LocalAws) -> None:
    out = aws.deploy_template("pipe-ff-report", pipe_template(machine_asl=SECOND_FAILS_ASL)).outputs
    send(aws, out["QueueUrl"], {"n": 1}, {"n": 2})

    assert aws.run_pipes() == 2
    assert in_queue(aws, out["QueueUrl"]) == 0


# ---- CloudFormation ------------------------------------------------------------------------------


def test_ref_is_the_name_getatt_the_arn_and_update_and_delete_reach_the_pipe(aws: LocalAws) -> None:
    out = aws.deploy_template("pipe-cfn", pipe_template(desired_state="STOPPED")).outputs
    pipes = aws.client("pipes")
    described = pipes.describe_pipe(Name=out["PipeName"])
    assert described["Arn"] == out["PipeArn"]
    assert (described["Source"], described["Target"]) == (
        f"arn:aws:sqs:{REGION}:{aws.account_id}:{out['QueueUrl'].rsplit('/', 1)[1]}", out["MachineArn"])
    send(aws, out["QueueUrl"], {"n": 1})
    assert aws.run_pipes() == 0, "a STOPPED pipe does not poll"
    assert in_queue(aws, out["QueueUrl"]) == 1

    cfn = aws.client("cloudformation")
    cfn.update_stack(StackName="pipe-cfn", TemplateBody=json.dumps(pipe_template(batch_size=4)),
                     Capabilities=["CAPABILITY_IAM"])
    updated = pipes.describe_pipe(Name=out["PipeName"])
    assert updated["DesiredState"] == "RUNNING"
    assert updated["SourceParameters"]["SqsQueueParameters"]["BatchSize"] == 4
    assert aws.run_pipes() == 1

    cfn.delete_stack(StackName="pipe-cfn")
    assert pipes.list_pipes()["Pipes"] == []


# ---- the access check ----------------------------------------------------------------------------


@pytest.mark.parametrize(("invocation", "missing", "started", "delivered", "left_in_queue", "denied"), [
    ("FIRE_AND_FORGET", None, True, 3, 0, None),
    ("REQUEST_RESPONSE", None, True, 3, 0, None),
    ("FIRE_AND_FORGET", "sqs:GetQueueAttributes", False, 0, 3, "sqs:GetQueueAttributes"),
    ("FIRE_AND_FORGET", "sqs:ReceiveMessage", False, 0, 3, "sqs:ReceiveMessage"),
    ("FIRE_AND_FORGET", "states:StartExecution", False, 0, 3, "states:StartExecution"),
    ("REQUEST_RESPONSE", "states:StartSyncExecution", False, 0, 3, "states:StartSyncExecution"),
    ("FIRE_AND_FORGET", "sqs:DeleteMessage", True, 3, 3, "sqs:DeleteMessage"),  # started, then not deleted
])
def test_the_pipe_role_needs_each_permission_once_per_batch(
    aws: LocalAws, invocation: str, missing: str | None, started: bool, delivered: int, left_in_queue: int,
    denied: str | None,
) -> None:
    actions = tuple(a for a in PIPE_ROLE_ACTIONS if a != missing)
    machine_type = "EXPRESS" if invocation == "REQUEST_RESPONSE" else "STANDARD"
    out = aws.deploy_template("pipe-iam", pipe_template(invocation=invocation, machine_type=machine_type,
                                                        actions=actions)).outputs
    send(aws, out["QueueUrl"], {"n": 1}, {"n": 2}, {"n": 3})

    assert aws.run_pipes() == delivered
    assert [len(batch) for batch, _ in executions(aws, out["MachineArn"])] == ([3] if started else [])
    assert in_queue(aws, out["QueueUrl"]) == left_in_queue
    assert aws.access is not None
    if denied is None:
        assert aws.access.denials == []
    else:
        assert denied_actions(aws) == [(out["PipeRoleArn"], denied)]
        assert f"({'pipe ' + out['PipeName']}) -> {denied} on " in aws.access.report()


def test_the_role_must_trust_pipes(aws: LocalAws) -> None:
    out = aws.deploy_template("pipe-trust", pipe_template(trusted="states.amazonaws.com")).outputs
    send(aws, out["QueueUrl"], {"n": 1})

    assert aws.run_pipes() == 0
    assert executions(aws, out["MachineArn"]) == []
    assert denied_actions(aws) == [("pipes.amazonaws.com", "sts:AssumeRole")]
    [denial] = aws.access.denials if aws.access else []
    assert denial.request.resource == out["PipeRoleArn"]
    assert denial.request.context["aws:SourceArn"] == out["PipeArn"]


def test_an_encrypted_queue_needs_kms_decrypt_via_sqs(aws: LocalAws) -> None:
    out = aws.deploy_template("pipe-kms", pipe_template(queue_key=True)).outputs
    send(aws, out["QueueUrl"], {"n": 1})

    assert aws.run_pipes() == 0
    assert denied_actions(aws) == [(out["PipeRoleArn"], "kms:Decrypt")]
    assert aws.access is not None
    assert aws.access.denials[0].request.context["kms:ViaService"] == f"sqs.{REGION}.amazonaws.com"

    # the same with kms:Decrypt granted on the key through SQS: delivered
    decrypt = {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": {"Fn::GetAtt": ["QueueKey", "Arn"]},
               "Condition": {"StringEquals": {"kms:ViaService": f"sqs.{REGION}.amazonaws.com"}}}
    aws.client("cloudformation").delete_stack(StackName="pipe-kms")
    out = aws.deploy_template("pipe-kms-ok", pipe_template(queue_key=True, extra_statements=(decrypt,))).outputs
    aws.access.clear()
    send(aws, out["QueueUrl"], {"n": 2})
    assert aws.run_pipes() == 1
    assert aws.access.denials == []


def test_without_the_access_check_a_role_without_permissions_delivers() -> None:
    with LocalAws.in_process(region=REGION, access_check=False) as aws:
        out = aws.deploy_template("pipe-open", pipe_template(actions=())).outputs
        send(aws, out["QueueUrl"], {"n": 1})
        assert aws.run_pipes() == 1
        assert in_queue(aws, out["QueueUrl"]) == 0
