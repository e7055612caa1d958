"""EventBridge Pipes (``local_aws.pipes``): an SQS -> Step Functions pipe deployed from a template,
run by ``LocalAws.run_pipes`` as the pipe's role."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from local_aws import LocalAws, StackDeployError
from local_aws.pipes import UnsupportedPipe

REGION = "us-east-1"
# Fails (error Boom) when the input has "fail"; else passes its input through.
MACHINE_ASL = {
    "StartAt": "Check",
    "States": {
        "Check": {"Type": "Choice", "Choices": [{"Variable": "$.fail", "IsPresent": True, "Next": "Boom"}],
                  "Default": "Done"},
        "Boom": {"Type": "Fail", "Error": "Boom"},
        "Done": {"Type": "Pass", "End": True},
    },
}
PIPE_ROLE_ACTIONS = ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes",
                     "states:StartExecution", "states:StartSyncExecution")


def trust(service: str) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]}


def pipe_template(*, invocation: str = "FIRE_AND_FORGET", machine_type: str = "STANDARD", batch_size: int = 10,
                  actions: tuple[str, ...] = PIPE_ROLE_ACTIONS, trusted: str = "pipes.amazonaws.com",
                  max_receive_count: int = 2, desired_state: str = "RUNNING", input_template: str | None = None,
                  queue_key: bool = False, extra_statements: tuple[dict[str, Any], ...] = ()) -> dict[str, Any]:
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
            "DefinitionString": json.dumps(MACHINE_ASL)}},
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
        "QueueUrl": {"Value": {"Ref": "Queue"}}, "DeadLetterUrl": {"Value": {"Ref": "DeadLetters"}},
        "MachineArn": {"Value": {"Ref": "Machine"}}, "PipeRoleArn": {"Value": {"Fn::GetAtt": ["PipeRole", "Arn"]}},
    }}


@pytest.fixture
def aws() -> Iterator[LocalAws]:
    with LocalAws.in_process(region=REGION) as local:
        yield local


def send(aws: LocalAws, queue_url: str, *bodies: Any) -> None:
    for body in bodies:
        aws.client("sqs").send_message(QueueUrl=queue_url, MessageBody=body if isinstance(body, str) else
                                       json.dumps(body))


def in_queue(aws: LocalAws, queue_url: str) -> int:
    """Messages in the queue, visible or not."""
    attributes = aws.client("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


def executions(aws: LocalAws, machine_arn: str) -> list[tuple[Any, str]]:
    """(input, status) of every execution of the machine, inputs sorted by their JSON."""
    sfn = aws.client("stepfunctions")
    found = []
    for summary in sfn.list_executions(stateMachineArn=machine_arn)["executions"]:
        described = sfn.describe_execution(executionArn=summary["executionArn"])
        found.append((json.loads(described["input"]), described["status"]))
    return sorted(found, key=lambda item: json.dumps(item, sort_keys=True))


def denied_actions(aws: LocalAws) -> list[tuple[str, str]]:
    assert aws.access is not None
    return [(d.request.principal, d.request.action) for d in aws.access.denials]


# ---- delivery ------------------------------------------------------------------------------------


def test_fire_and_forget_starts_one_execution_per_message_with_its_body_and_deletes_it(aws: LocalAws) -> None:
    out = aws.deploy_template("pipe-ff", pipe_template()).outputs
    send(aws, out["QueueUrl"], {"n": 1}, {"n": 2}, {"n": 3, "fail": True})

    assert aws.run_pipes() == 3
    assert [i for i, _ in executions(aws, out["MachineArn"])] == [{"fail": True, "n": 3}, {"n": 1}, {"n": 2}]
    # FIRE_AND_FORGET: the start is the delivery, so the message of a failing execution is deleted too
    assert in_queue(aws, out["QueueUrl"]) == 0
    assert in_queue(aws, out["DeadLetterUrl"]) == 0
    assert aws.run_pipes() == 0
    assert aws.access is not None and aws.access.denials == []


def test_batch_size_bounds_each_receive_and_max_batches_the_receives(aws: LocalAws) -> None:
    out = aws.deploy_template("pipe-batch", pipe_template(batch_size=2)).outputs
    send(aws, out["QueueUrl"], *({"n": n} for n in range(5)))

    assert aws.run_pipes(max_batches=1) == 2
    assert in_queue(aws, out["QueueUrl"]) == 3
    assert aws.run_pipes(max_batches=1) == 2
    assert aws.run_pipes() == 1
    assert sorted(i["n"] for i, _ in executions(aws, out["MachineArn"])) == [0, 1, 2, 3, 4]


def test_the_body_template_passes_the_body_and_a_body_that_is_not_json_becomes_a_string(aws: LocalAws) -> None:
    out = aws.deploy_template("pipe-body", pipe_template(input_template="<$.body>")).outputs
    send(aws, out["QueueUrl"], {"k": [1, 2]}, "plain text")

    assert aws.run_pipes() == 2
    assert sorted(json.dumps(i) for i, _ in executions(aws, out["MachineArn"])) == ['"plain text"', '{"k": [1, 2]}']


def test_another_input_template_is_refused_at_deploy(aws: LocalAws) -> None:
    with pytest.raises(StackDeployError) as failed:
        aws.deploy_template("pipe-template", pipe_template(input_template='{"order": <$.body>}'))
    assert isinstance(failed.value.__cause__, UnsupportedPipe)
    assert "InputTemplate '{\"order\": <$.body>}': only '<$.body>' is emulated" in str(failed.value.__cause__)


def test_request_response_deletes_succeeded_messages_and_redrive_moves_a_failing_one_to_the_dlq(
    aws: LocalAws,
) -> None:
    out = aws.deploy_template("pipe-rr", pipe_template(invocation="REQUEST_RESPONSE", machine_type="EXPRESS",
                                                       max_receive_count=2)).outputs
    send(aws, out["QueueUrl"], {"n": 1}, {"n": 2, "fail": True})

    assert aws.run_pipes() == 1  # n=2's execution FAILED: its message stays
    assert in_queue(aws, out["QueueUrl"]) == 1
    assert aws.run_pipes() == 0  # second receive, second failure
    assert in_queue(aws, out["QueueUrl"]) == 1
    assert in_queue(aws, out["DeadLetterUrl"]) == 0
    assert aws.run_pipes() == 0  # the third receive finds maxReceiveCount reached: SQS moves it
    assert in_queue(aws, out["QueueUrl"]) == 0
    [dead] = aws.client("sqs").receive_message(QueueUrl=out["DeadLetterUrl"])["Messages"]
    assert json.loads(dead["Body"]) == {"n": 2, "fail": True}
    # each delivery waited for its execution: all have ended, one success and two failures
    assert executions(aws, out["MachineArn"]) == [
        ({"fail": True, "n": 2}, "FAILED"), ({"fail": True, "n": 2}, "FAILED"), ({"n": 1}, "SUCCEEDED")]


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


@pytest.mark.parametrize(("invocation", "missing", "delivered", "left_in_queue", "denied"), [
    ("FIRE_AND_FORGET", None, 1, 0, None),
    ("REQUEST_RESPONSE", None, 1, 0, None),
    ("FIRE_AND_FORGET", "sqs:GetQueueAttributes", 0, 1, "sqs:GetQueueAttributes"),
    ("FIRE_AND_FORGET", "sqs:ReceiveMessage", 0, 1, "sqs:ReceiveMessage"),
    ("FIRE_AND_FORGET", "states:StartExecution", 0, 1, "states:StartExecution"),
    ("REQUEST_RESPONSE", "states:StartSyncExecution", 0, 1, "states:StartSyncExecution"),
    ("FIRE_AND_FORGET", "sqs:DeleteMessage", 1, 1, "sqs:DeleteMessage"),  # started, then not deleted
])
def test_the_pipe_role_needs_each_permission(aws: LocalAws, invocation: str, missing: str | None, delivered: int,
                                             left_in_queue: int, denied: str | None) -> None:
    actions = tuple(a for a in PIPE_ROLE_ACTIONS if a != missing)
    machine_type = "EXPRESS" if invocation == "REQUEST_RESPONSE" else "STANDARD"
    out = aws.deploy_template("pipe-iam", pipe_template(invocation=invocation, machine_type=machine_type,
                                                        actions=actions)).outputs
    send(aws, out["QueueUrl"], {"n": 1})

    assert aws.run_pipes() == delivered
    assert len(executions(aws, out["MachineArn"])) == delivered
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
