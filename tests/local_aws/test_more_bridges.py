"""The bridges added for the full notification stack: CloudWatch alarms in templates, parsing a
definition once, and publishing a synthesized assembly's file assets."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

from local_aws import LocalAws, StackDeployError

ALARM_AND_DASHBOARD: dict[str, Any] = {
    "Resources": {
        "Alarm": {"Type": "AWS::CloudWatch::Alarm", "Properties": {
            "AlarmName": "probe-failed", "Namespace": "AWS/States", "MetricName": "ExecutionsFailed",
            "ComparisonOperator": "GreaterThanOrEqualToThreshold", "EvaluationPeriods": 1, "Period": 300,
            "Threshold": 1, "Statistic": "Sum", "TreatMissingData": "notBreaching"}},
        "Dashboard": {"Type": "AWS::CloudWatch::Dashboard", "Properties": {"DashboardBody": {"Fn::Join": ["", [
            '{"widgets":[{"type":"alarm","properties":{"alarms":["', {"Fn::GetAtt": ["Alarm", "Arn"]}, '"]}}]}']]}}},
    }
}


def test_alarms_in_a_template_are_created_and_their_arn_resolves() -> None:
    with LocalAws.in_process() as aws:
        aws.deploy_template("alarms", ALARM_AND_DASHBOARD)
        [alarm] = aws.client("cloudwatch").describe_alarms(AlarmNames=["probe-failed"])["MetricAlarms"]
        assert (alarm["MetricName"], alarm["Threshold"]) == ("ExecutionsFailed", 1.0)
        body = aws.client("cloudwatch").get_dashboard(DashboardName=aws.describe_stack("alarms").resources[
            "Dashboard"].physical_id)["DashboardBody"]
        assert alarm["AlarmArn"] in body


def test_without_the_alarm_bridge_the_dashboard_fails_the_stack() -> None:
    with LocalAws.in_process(apply_bridges=False) as aws:
        with pytest.raises(StackDeployError) as failed:
            aws.deploy_template("alarms", ALARM_AND_DASHBOARD)

    # moto skips the alarm, so the dashboard's GetAtt on it does not resolve
    cause = failed.value.__cause__
    assert isinstance(cause, ClientError)
    assert (cause.operation_name, cause.response["Error"]["Code"]) == ("CreateStack", "ValidationError")
    assert cause.response["Error"]["Message"] == \
        "Template error: instance of Fn::GetAtt references undefined resource Alarm"


def test_a_definition_is_parsed_once_for_many_executions(local: LocalAws, template: dict[str, Any]) -> None:
    stack = local.deploy_template("parsed-once", template)
    local.verify_email_identities(["example.com"])
    machine = local.client("stepfunctions").describe_state_machine(stateMachineArn=stack.state_machine_arn)
    marker = json.dumps({**json.loads(machine["definition"]), "Comment": "parse-count probe"})
    arn = local.client("stepfunctions").create_state_machine(
        name="parse-probe", definition=marker, roleArn=machine["roleArn"])["stateMachineArn"]

    # under the bridge the parsed program is shared, and sharing it across executions is safe
    assert AmazonStateLanguageParser.parse(marker) is AmazonStateLanguageParser.parse(marker)
    for _ in range(3):
        result = local.start_and_wait(arn, {"phoneNumber": "+15555550100", "message": "hi"})
        assert result.status == "SUCCEEDED", result.cause
        assert result.states_entered == ["Normalise", "LogRequest", "SendSms"]


def test_without_the_bridge_each_parse_is_new() -> None:
    definition = json.dumps({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}})
    assert AmazonStateLanguageParser.parse(definition) is not AmazonStateLanguageParser.parse(definition)


def test_publish_assets_uploads_files_and_zipped_directories(local: LocalAws, tmp_path: Path) -> None:
    (tmp_path / "asset.code").mkdir()
    (tmp_path / "asset.code" / "handler.py").write_text("def handler(event, context):\n    return {}\n")
    (tmp_path / "Probe.template.json").write_text("{}")
    destination = {"bucketName": "cdk-hnb659fds-assets-${AWS::AccountId}-${AWS::Region}", "objectKey": "code.zip"}
    (tmp_path / "Probe.assets.json").write_text(json.dumps({"version": "55.0.0", "files": {
        "code": {"source": {"path": "asset.code", "packaging": "zip"}, "destinations": {"d": destination}},
        "template": {"source": {"path": "Probe.template.json", "packaging": "file"},
                     "destinations": {"d": {**destination, "objectKey": "t.json"}}},
    }}))

    assert local.publish_assets(tmp_path, "Probe") == 1
    bucket = f"cdk-hnb659fds-assets-{local.account_id}-{local.region}"
    body = local.client("s3").get_object(Bucket=bucket, Key="code.zip")["Body"].read()
    assert zipfile.ZipFile(io.BytesIO(body)).namelist() == ["handler.py"]
