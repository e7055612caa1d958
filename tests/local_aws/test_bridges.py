"""Each bridge: without it moto shows the gap, with it the gap is gone, and it undoes itself."""

from __future__ import annotations

import json
import os
from typing import Any

import moto.stepfunctions.models as sfn_models
import pytest
from botocore.exceptions import ClientError
from moto.cloudformation.models import CloudFormationBackend
from moto.settings import moto_server_port
from moto.stepfunctions.parser.asl.utils.boto_client import boto_client_for
from moto.stepfunctions.parser.models import stepfunctions_parser_backends

from local_aws import (
    LocalAws,
    StackDeployError,
    bootstrap_version_parameter_name,
    capture_email_requests,
    point_sfn_sdk_calls_at_server,
    recompute_outputs_after_change_set,
    route_cfn_state_machines_to_executing_backend,
    seed_bootstrap_version,
)

SMS_INPUT = {"phoneNumber": "+15555550100", "message": "hi"}


def test_without_bootstrap_parameter_the_cdk_rule_breaks_create_stack(
    template: dict[str, Any],
) -> None:
    with LocalAws.in_process(apply_bridges=False) as bare:
        with pytest.raises(StackDeployError) as failed:
            bare.deploy_template("Notify", template)

    # moto evaluates the rule with the parameter it cannot find, and trips over None in process
    cause = failed.value.__cause__
    assert isinstance(cause, AttributeError)
    assert str(cause) == "'NoneType' object has no attribute 'value'"


def test_seeded_bootstrap_parameter_lets_the_template_deploy(template: dict[str, Any]) -> None:
    with LocalAws.in_process(apply_bridges=False) as bare:
        seed_bootstrap_version(bare.client("ssm"))
        seed_bootstrap_version(bare.client("ssm"))  # idempotent

        stack = bare.deploy_template("Notify", template)

        assert stack.table_name
        value = bare.client("ssm").get_parameter(Name=bootstrap_version_parameter_name())
        assert value["Parameter"]["Value"] == "30"


def test_without_routing_a_cfn_state_machine_cannot_be_started(template: dict[str, Any]) -> None:
    with LocalAws.in_process(apply_bridges=False) as bare:
        seed_bootstrap_version(bare.client("ssm"))
        stack = bare.deploy_template("Notify", template)

        with pytest.raises(ClientError) as refused:
            bare.start_and_wait(stack.state_machine_arn, SMS_INPUT)

    assert refused.value.operation_name == "StartExecution"
    assert refused.value.response["Error"]["Code"] == "StateMachineDoesNotExist"
    assert stack.state_machine_arn in refused.value.response["Error"]["Message"]


def test_routing_makes_a_cfn_state_machine_execute_and_is_undone(
    template: dict[str, Any],
) -> None:
    original = sfn_models.stepfunctions_backends
    with LocalAws.in_process(apply_bridges=False) as bare:
        seed_bootstrap_version(bare.client("ssm"))
        with route_cfn_state_machines_to_executing_backend():
            assert sfn_models.stepfunctions_backends is stepfunctions_parser_backends
            stack = bare.deploy_template("Notify", template)
            result = bare.start_and_wait(stack.state_machine_arn, SMS_INPUT)

        assert result.status == "SUCCEEDED", (result.error, result.cause)
        assert sfn_models.stepfunctions_backends is original


def test_local_aws_undoes_its_bridges_on_exit() -> None:
    original_execute = CloudFormationBackend.execute_change_set
    original_backends = sfn_models.stepfunctions_backends

    with LocalAws.in_process():
        assert sfn_models.stepfunctions_backends is stepfunctions_parser_backends
        assert CloudFormationBackend.execute_change_set is not original_execute

    assert sfn_models.stepfunctions_backends is original_backends
    assert CloudFormationBackend.execute_change_set is original_execute


def _create_via_change_set(local: LocalAws, template: dict[str, Any]) -> list[Any] | None:
    cfn = local.client("cloudformation")
    change_set = cfn.create_change_set(
        StackName="Notify",
        ChangeSetName="cdk-deploy-change-set",
        ChangeSetType="CREATE",
        TemplateBody=json.dumps(template),
        Capabilities=["CAPABILITY_IAM"],
    )
    cfn.execute_change_set(ChangeSetName=change_set["Id"])
    stack = cfn.describe_stacks(StackName="Notify")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    outputs: list[Any] | None = stack.get("Outputs")
    return outputs


def test_without_recompute_a_change_set_stack_has_no_outputs(template: dict[str, Any]) -> None:
    with LocalAws.in_process(apply_bridges=False) as bare:
        seed_bootstrap_version(bare.client("ssm"))

        assert _create_via_change_set(bare, template) is None


def test_recompute_fills_outputs_after_execute_change_set(template: dict[str, Any]) -> None:
    with LocalAws.in_process(apply_bridges=False) as bare:
        seed_bootstrap_version(bare.client("ssm"))
        with recompute_outputs_after_change_set():
            outputs = _create_via_change_set(bare, template)

        assert outputs is not None
        assert {o["OutputKey"] for o in outputs} == {"StateMachineArn", "TableName"}


def test_sfn_sdk_calls_go_to_port_5000_unless_pointed_at_the_server() -> None:
    # Outside mock_aws the engine builds clients for http://localhost:$MOTO_PORT.
    before = os.environ.get("MOTO_PORT")
    assert boto_client_for("us-east-1", "sns").meta.endpoint_url == (f"http://localhost:{moto_server_port()}")

    with point_sfn_sdk_calls_at_server(54321):
        client = boto_client_for("us-east-1", "sns")
        assert client.meta.endpoint_url == "http://localhost:54321"

    assert os.environ.get("MOTO_PORT") == before


def _send_email(local: LocalAws) -> None:
    local.verify_email_identities(["example.com"])
    local.client("sesv2").send_email(
        FromEmailAddress="noreply@example.com",
        Destination={"ToAddresses": ["ana@example.org"]},
        ReplyToAddresses=["help@example.com"],
        Content={
            "Simple": {
                "Subject": {"Data": "Hi"},
                "Body": {"Text": {"Data": "plain"}, "Html": {"Data": "<p>html</p>"}},
            }
        },
    )


def test_without_capture_moto_keeps_only_the_html_body_and_no_reply_to() -> None:
    with LocalAws.in_process(apply_bridges=False) as bare:
        _send_email(bare)

        [sent] = bare.sent_emails()
        assert sent.body == "<p>html</p>"
        assert (sent.reply_to, sent.text_body, sent.html_body) == ([], None, None)


def test_capture_keeps_reply_to_and_both_bodies_for_v2_and_v1() -> None:
    with LocalAws.in_process(apply_bridges=False) as bare, capture_email_requests() as log:
        _send_email(bare)
        bare.client("ses").send_email(
            Source="noreply@example.com",
            Destination={"ToAddresses": ["bo@example.org"]},
            ReplyToAddresses=["v1@example.com"],
            Message={"Subject": {"Data": "v1"}, "Body": {"Text": {"Data": "t1"}}},
        )

        v2, v1 = bare.sent_emails()
        assert log.get(v2.message_id)["reply_to"] == ["help@example.com"]
        assert log.get(v1.message_id) == {
            "reply_to": ["v1@example.com"],
            "text_body": "t1",
            "html_body": None,
            "configuration_set": None,
        }


BOOTSTRAP_LIKE = {
    "Resources": {
        "CdkBootstrapVersion": {
            "Type": "AWS::SSM::Parameter",
            "Properties": {"Name": "/cdk-bootstrap/hnb659fds/version", "Type": "String", "Value": "30"},
        }
    }
}


def test_seeding_conflicts_with_a_bootstrap_stack_so_it_can_be_turned_off() -> None:
    with LocalAws.in_process() as seeded:
        with pytest.raises(StackDeployError) as failed:
            seeded.deploy_template("CDKToolkit", BOOTSTRAP_LIKE)

    cause = failed.value.__cause__
    assert isinstance(cause, ClientError)
    assert (cause.operation_name, cause.response["Error"]["Code"]) == ("CreateStack", "ParameterAlreadyExists")

    with LocalAws.in_process(seed_bootstrap=False) as unseeded:
        assert unseeded.deploy_template("CDKToolkit", BOOTSTRAP_LIKE).stack_name == "CDKToolkit"
