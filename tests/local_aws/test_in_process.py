"""The in-process LocalAws: deploy a CDK-shaped template, run the workflow, read side effects."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

from local_aws import LocalAws, StackDeployError

SMS_INPUT = {"phoneNumber": "+15555550100", "message": "Your code is 1234"}


def test_workflow_from_template_runs_and_leaves_side_effects(local: LocalAws, template: dict[str, Any]) -> None:
    stack = local.deploy_template("Notify", template)

    result = local.start_and_wait(stack.state_machine_arn, SMS_INPUT, name="n-001")

    assert result.status == "SUCCEEDED", (result.error, result.cause)
    assert result.states_entered == ["Normalise", "LogRequest", "SendSms"]
    assert local.states_entered(result.execution_arn) == ["Normalise", "LogRequest", "SendSms"]
    assert local.table_items(stack.table_name) == [{"notificationId": "n-001", "status": "RECEIVED", "attempts": 1}]
    [sms] = local.sms_messages()
    assert (sms.phone_number, sms.message) == ("+15555550100", "Your code is 1234")
    assert result.output["sms"] == {"messageId": sms.message_id}


def test_deployed_stack_finds_resources_by_logical_id_and_type(local: LocalAws, template: dict[str, Any]) -> None:
    stack = local.deploy_template("Notify", template)

    assert stack.physical_id("Workflow") == stack.state_machine_arn
    assert stack.state_machine_arn.startswith("arn:aws:states:us-east-1:123456789012:stateMachine:")
    assert stack.physical_id("DeliveryLog") == stack.table_name
    assert [r.logical_id for r in stack.of_type("AWS::IAM::Role")] == ["WorkflowRole"]
    assert stack.outputs == {
        "StateMachineArn": stack.state_machine_arn,
        "TableName": stack.table_name,
    }
    with pytest.raises(KeyError, match="logical ids"):
        stack.physical_id("Missing")
    with pytest.raises(LookupError, match="expected one AWS::SNS::Topic"):
        stack.one_of_type("AWS::SNS::Topic")


def test_deploy_failure_raises_with_reason(local: LocalAws) -> None:
    bad = {"Resources": {"Broken": {"Type": "AWS::DynamoDB::Table", "Properties": {}}}}

    with pytest.raises(StackDeployError, match="stack 'Bad' failed: .*create_table") as failure:
        local.deploy_template("Bad", bad)
    assert failure.value.events, "the stack events come with the error"


def test_failed_execution_reports_error_and_cause(local: LocalAws, template: dict[str, Any]) -> None:
    stack = local.deploy_template("Notify", template)

    result = local.start_and_wait(stack.state_machine_arn, {"phoneNumber": "not-a-number", "message": "x"})

    assert result.status == "FAILED"
    assert result.error == "SNS.InvalidParameterException"
    assert result.cause is not None and "E164" in result.cause
    assert result.output is None
    assert local.sms_messages() == []


def test_unnamed_executions_get_distinct_names(local: LocalAws, template: dict[str, Any]) -> None:
    stack = local.deploy_template("Notify", template)

    first = local.start_and_wait(stack.state_machine_arn, SMS_INPUT)
    second = local.start_and_wait(stack.state_machine_arn, SMS_INPUT)

    assert first.execution_arn != second.execution_arn
    assert len(local.table_items(stack.table_name)) == 2


SESV2_SEND = {
    "StartAt": "SendEmail",
    "States": {
        "SendEmail": {
            "Type": "Task",
            "Resource": "arn:aws:states:::aws-sdk:sesv2:sendEmail",
            "Parameters": {
                "FromEmailAddress.$": "$.from",
                "Destination": {
                    "ToAddresses": ["ana@example.org"],
                    "CcAddresses": ["cc@example.org"],
                    "BccAddresses": ["bcc@example.org"],
                },
                "ReplyToAddresses": ["help@example.com"],
                "Content": {
                    "Simple": {
                        "Subject": {"Data": "Hello"},
                        "Body": {"Text": {"Data": "plain"}, "Html": {"Data": "<p>html</p>"}},
                    }
                },
            },
            "End": True,
        }
    },
}


def _state_machine(local: LocalAws, definition: dict[str, Any], name: str) -> str:
    arn: str = local.client("stepfunctions").create_state_machine(
        name=name,
        definition=json.dumps(definition),
        roleArn="arn:aws:iam::123456789012:role/workflow",  # made by the `local` fixture
    )["stateMachineArn"]
    return arn


def test_sesv2_email_from_the_workflow_is_recorded_with_all_fields(local: LocalAws) -> None:
    local.verify_email_identities(["example.com"])
    arn = _state_machine(local, SESV2_SEND, "email")

    result = local.start_and_wait(arn, {"from": "noreply@example.com"})

    assert result.status == "SUCCEEDED", (result.error, result.cause)
    [sent] = local.sent_emails()
    assert sent.message_id == result.output["MessageId"]
    assert sent.source == sent.from_address == "noreply@example.com"
    assert (sent.to, sent.cc, sent.bcc) == (["ana@example.org"], ["cc@example.org"], ["bcc@example.org"])
    assert sent.reply_to == ["help@example.com"]
    assert sent.subject == "Hello"
    assert (sent.text_body, sent.html_body) == ("plain", "<p>html</p>")
    assert sent.body == "<p>html</p>"  # what moto itself keeps


def test_unverified_sender_is_rejected(local: LocalAws) -> None:
    local.verify_email_identities(["someone@example.com"])
    arn = _state_machine(local, SESV2_SEND, "email")

    accepted = local.start_and_wait(arn, {"from": "someone@example.com"})
    rejected = local.start_and_wait(arn, {"from": "other@example.com"})

    assert accepted.status == "SUCCEEDED"
    assert rejected.error == "SesV2.MessageRejectedException"
    assert len(local.sent_emails()) == 1


def test_raw_email_is_parsed(local: LocalAws) -> None:
    local.verify_email_identities(["example.com"])
    raw = (
        "From: a@example.com\r\nTo: b@example.org\r\nReply-To: r@example.com\r\n"
        "Subject: Raw\r\nContent-Type: text/plain\r\n\r\nraw body"
    )
    local.client("ses").send_raw_email(RawMessage={"Data": raw})

    [sent] = local.sent_emails()
    assert (sent.kind, sent.source, sent.subject) == ("raw", "a@example.com", "Raw")
    assert (sent.to, sent.reply_to, sent.text_body) == (["b@example.org"], ["r@example.com"], "raw body")


def test_table_items_are_plain_python(local: LocalAws) -> None:
    ddb = local.client("dynamodb")
    ddb.create_table(
        TableName="t",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    ddb.put_item(
        TableName="t",
        Item={
            "pk": {"S": "a"},
            "n": {"N": "3"},
            "f": {"N": "2.5"},
            "m": {"M": {"l": {"L": [{"N": "1"}, {"S": "x"}, {"BOOL": True}]}}},
            "ns": {"NS": ["1", "2"]},
        },
    )

    assert local.table_items("t") == [{"pk": "a", "n": 3, "f": 2.5, "m": {"l": [1, "x", True]}, "ns": {1, 2}}]


def test_dummy_credentials_are_set_and_restored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "outer")
    monkeypatch.setenv("AWS_PROFILE", "someone")

    with LocalAws.in_process(region="eu-west-1") as aws:
        assert os.environ["AWS_ACCESS_KEY_ID"] == "testing"
        assert os.environ["AWS_SECRET_ACCESS_KEY"] == "testing"
        assert os.environ["AWS_DEFAULT_REGION"] == "eu-west-1"
        assert "AWS_PROFILE" not in os.environ
        assert aws.account_id == "123456789012"
        assert aws.endpoint_url is None

    assert os.environ["AWS_ACCESS_KEY_ID"] == "outer"
    assert os.environ["AWS_PROFILE"] == "someone"


def test_cli_env_needs_server_mode(local: LocalAws) -> None:
    with pytest.raises(RuntimeError, match="server mode"):
        local.cli_env()
