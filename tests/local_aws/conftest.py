"""Fixtures: an in-process LocalAws and a small CDK-shaped template (table, role, workflow)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from local_aws import LocalAws

TABLE_PLACEHOLDER = "__DELIVERY_LOG_TABLE__"

# Pass -> dynamodb:putItem -> sns:publish (PhoneNumber), as the notification workflow does.
WORKFLOW_ASL: dict[str, Any] = {
    "StartAt": "Normalise",
    "States": {
        "Normalise": {
            "Type": "Pass",
            "Parameters": {
                "notificationId.$": "$$.Execution.Name",
                "phoneNumber.$": "$.phoneNumber",
                "message.$": "$.message",
            },
            "Next": "LogRequest",
        },
        "LogRequest": {
            "Type": "Task",
            "Resource": "arn:aws:states:::dynamodb:putItem",
            "Parameters": {
                "TableName": TABLE_PLACEHOLDER,
                "Item": {
                    "notificationId": {"S.$": "$.notificationId"},
                    "status": {"S": "RECEIVED"},
                    "attempts": {"N": "1"},
                },
            },
            "ResultPath": None,
            "Next": "SendSms",
        },
        "SendSms": {
            "Type": "Task",
            "Resource": "arn:aws:states:::sns:publish",
            "Parameters": {"PhoneNumber.$": "$.phoneNumber", "Message.$": "$.message"},
            "ResultSelector": {"messageId.$": "$.MessageId"},
            "ResultPath": "$.sms",
            "End": True,
        },
    },
}


def workflow_template() -> dict[str, Any]:
    """A hand-written template shaped like CDK output, bootstrap-version rule included."""
    before, after = json.dumps(WORKFLOW_ASL).split(TABLE_PLACEHOLDER)
    return {
        "Parameters": {
            "BootstrapVersion": {
                "Type": "AWS::SSM::Parameter::Value<String>",
                "Default": "/cdk-bootstrap/hnb659fds/version",
                "Description": "Version of the CDK Bootstrap resources in this environment.",
            }
        },
        "Rules": {
            "CheckBootstrapVersion": {
                "Assertions": [
                    {
                        "Assert": {
                            "Fn::Not": [{"Fn::Contains": [["1", "2", "3", "4", "5"], {"Ref": "BootstrapVersion"}]}]
                        },
                        "AssertDescription": "CDK bootstrap stack version 6 required.",
                    }
                ]
            }
        },
        "Resources": {
            "DeliveryLog": {
                "Type": "AWS::DynamoDB::Table",
                "Properties": {
                    "KeySchema": [{"AttributeName": "notificationId", "KeyType": "HASH"}],
                    "AttributeDefinitions": [{"AttributeName": "notificationId", "AttributeType": "S"}],
                    "BillingMode": "PAY_PER_REQUEST",
                },
                "DeletionPolicy": "Retain",
            },
            "WorkflowRole": {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "AssumeRolePolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Principal": {"Service": "states.amazonaws.com"},
                                "Action": "sts:AssumeRole",
                            }
                        ],
                    },
                    "Policies": [
                        {
                            "PolicyName": "workflow",
                            "PolicyDocument": {
                                "Version": "2012-10-17",
                                "Statement": [
                                    {
                                        "Effect": "Allow",
                                        "Action": "dynamodb:PutItem",
                                        "Resource": {"Fn::GetAtt": ["DeliveryLog", "Arn"]},
                                    },
                                    {"Effect": "Allow", "Action": "sns:Publish", "Resource": "*"},
                                ],
                            },
                        }
                    ],
                },
            },
            "Workflow": {
                "Type": "AWS::StepFunctions::StateMachine",
                "Properties": {
                    "RoleArn": {"Fn::GetAtt": ["WorkflowRole", "Arn"]},
                    "DefinitionString": {"Fn::Join": ["", [before, {"Ref": "DeliveryLog"}, after]]},
                },
                "DependsOn": ["WorkflowRole"],
            },
        },
        "Outputs": {
            "StateMachineArn": {"Value": {"Ref": "Workflow"}},
            "TableName": {"Value": {"Ref": "DeliveryLog"}},
        },
    }


ENGINE_ROLE = "workflow"


def create_engine_role(aws: LocalAws, name: str = ENGINE_ROLE) -> str:
    """A state machine role allowed every call the engine tests make: they test the engine, and
    the access check refuses a machine whose role lacks the grant (or does not exist)."""
    iam = aws.client("iam")
    arn: str = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "states.amazonaws.com"},
                       "Action": "sts:AssumeRole"}],
    }))["Role"]["Arn"]
    iam.put_role_policy(RoleName=name, PolicyName="engine-tests", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["sns:Publish", "ses:SendEmail", "dynamodb:PutItem"],
                       "Resource": "*"}],
    }))
    return arn


@pytest.fixture
def local() -> Iterator[LocalAws]:
    """With the role ``workflow`` (``arn:aws:iam::123456789012:role/workflow``) created."""
    with LocalAws.in_process(region="us-east-1") as aws:
        create_engine_role(aws)
        yield aws


@pytest.fixture
def template() -> dict[str, Any]:
    return workflow_template()
