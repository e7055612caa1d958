"""The change-set bridge: ``cdk deploy`` creates stacks through change sets, which moto 5.2.5
applies in template order; an API Gateway deployment listed before its method then fails."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from botocore.parsers import ResponseParserError

from local_aws import LocalAws

# The deployment comes first in the template and depends on the method, as CDK can emit it.
TEMPLATE: dict[str, Any] = {
    "Resources": {
        "Deployment": {"Type": "AWS::ApiGateway::Deployment", "DependsOn": ["Method"],
                       "Properties": {"RestApiId": {"Ref": "Api"}}},
        "Api": {"Type": "AWS::ApiGateway::RestApi", "Properties": {"Name": "probe"}},
        "Method": {"Type": "AWS::ApiGateway::Method", "Properties": {
            "RestApiId": {"Ref": "Api"}, "ResourceId": {"Fn::GetAtt": ["Api", "RootResourceId"]},
            "HttpMethod": "GET", "AuthorizationType": "NONE",
            "Integration": {"Type": "HTTP", "IntegrationHttpMethod": "GET",
                            "Uri": "http://127.0.0.1/probe"}}},
    }
}


def _create_through_change_set(aws: LocalAws) -> str:
    cfn = aws.client("cloudformation")
    cfn.create_change_set(StackName="probe", ChangeSetName="one", ChangeSetType="CREATE",
                          TemplateBody=json.dumps(TEMPLATE))
    cfn.execute_change_set(StackName="probe", ChangeSetName="one")
    for _ in range(50):
        status: str = cfn.describe_stacks(StackName="probe")["Stacks"][0]["StackStatus"]
        if not status.endswith("IN_PROGRESS"):
            return status
        time.sleep(0.05)
    return status


def test_change_set_creates_resources_in_dependency_order() -> None:
    with LocalAws.in_process() as aws:
        assert _create_through_change_set(aws) == "CREATE_COMPLETE"
        assert aws.client("apigateway").get_rest_apis()["items"][0]["name"] == "probe"


def test_without_the_bridge_the_deployment_fails() -> None:
    """API Gateway refuses to deploy an API that has no method yet; moto sends that error as JSON
    to a client that speaks XML with CloudFormation, so botocore cannot parse the response."""
    with LocalAws.in_process(apply_bridges=False) as aws:
        with pytest.raises(ResponseParserError, match=r"BadRequestException.*REST API doesn.*t contain any methods"):
            _create_through_change_set(aws)
        stack = aws.client("cloudformation").describe_stacks(StackName="probe")["Stacks"][0]
    assert stack["StackStatus"] == "REVIEW_IN_PROGRESS"


def test_create_stack_was_never_affected() -> None:
    with LocalAws.in_process(apply_bridges=False) as aws:
        stack = aws.deploy_template("probe2", TEMPLATE)
        assert stack.one_of_type("AWS::ApiGateway::RestApi").physical_id
