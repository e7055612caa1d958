"""NotificationService: which parts it creates, how it wires them, its grant, its pass-through
props and the logical ids of its parts."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_backup as backup
from aws_cdk import aws_iam as iam
from aws_cdk import aws_ses as ses
from aws_cdk.assertions import Template

from constructs_lib import (
    DeliveryFeedback,
    NotificationApi,
    NotificationApiOptions,
    NotificationMonitoring,
    NotificationService,
    NotificationWorkflow,
    PropError,
)
from tests.support.asl import resources_of_type

SENDER = "n@example.com"
IDENTITIES = ["example.com"]


def _stack(name: str = "Service") -> cdk.Stack:
    return cdk.Stack(cdk.App(analytics_reporting=False), name,
                     synthesizer=cdk.DefaultStackSynthesizer(generate_bootstrap_version_rule=False))


def _service(stack: cdk.Stack, **props: Any) -> NotificationService:
    return NotificationService(stack, "Notifications", sender=SENDER, email_identities=IDENTITIES, **props)


def _template(stack: cdk.Stack) -> dict[str, Any]:
    return Template.from_stack(stack).to_json()


def test_by_default_the_workflow_and_its_monitoring_only() -> None:
    stack = _stack()
    service = _service(stack)

    assert isinstance(service.workflow, NotificationWorkflow)
    assert isinstance(service.monitoring, NotificationMonitoring)
    assert (service.api, service.feedback, service.configuration_set) == (None, None, None)
    template = _template(stack)
    assert resources_of_type(template, "AWS::ApiGateway::RestApi") == {}
    assert resources_of_type(template, "AWS::Lambda::Function") == {}
    assert resources_of_type(template, "AWS::SES::ConfigurationSet") == {}
    # One key for everything, the alarm topic included.
    [key] = resources_of_type(template, "AWS::KMS::Key")
    [topic] = resources_of_type(template, "AWS::SNS::Topic").values()
    assert topic["Properties"]["KmsMasterKeyId"] == {"Fn::GetAtt": [key, "Arn"]}


def test_each_part_can_be_turned_on_or_off() -> None:
    stack = _stack()
    service = _service(stack, api=True, feedback=True, monitoring=False)

    assert isinstance(service.api, NotificationApi)
    assert isinstance(service.feedback, DeliveryFeedback)
    assert service.monitoring is None
    assert resources_of_type(_template(stack), "AWS::CloudWatch::Dashboard") == {}


def test_with_feedback_the_configuration_set_exists_before_the_workflow_that_sends_with_it() -> None:
    stack = _stack()
    service = _service(stack, feedback=True)

    template = _template(stack)
    [configuration_set] = resources_of_type(template, "AWS::SES::ConfigurationSet")
    assert configuration_set.startswith("NotificationsEmailConfigurationSet")
    [destination] = resources_of_type(template, "AWS::SES::ConfigurationSetEventDestination").values()
    assert destination["Properties"]["ConfigurationSetName"] == {"Ref": configuration_set}
    [machine] = resources_of_type(template, "AWS::StepFunctions::StateMachine").values()
    assert {"Ref": configuration_set} in machine["Properties"]["DefinitionString"]["Fn::Join"][1]
    assert service.configuration_set is not None
    assert service.feedback is not None and service.feedback.unacknowledged_findings == []


def test_a_configuration_set_of_yours_is_used_not_created() -> None:
    stack = _stack()
    mine = ses.ConfigurationSet(stack, "Mine")
    service = _service(stack, feedback=True, configuration_set_name=mine.configuration_set_name)

    assert service.configuration_set is None
    template = _template(stack)
    assert list(resources_of_type(template, "AWS::SES::ConfigurationSet")) == [stack.get_logical_id(
        mine.node.default_child)]  # type: ignore[arg-type]


def test_the_feedback_dead_letter_alarm_notifies_the_alarm_topic() -> None:
    stack = _stack()
    service = _service(stack, feedback=True)

    template = _template(stack)
    assert service.feedback is not None and service.monitoring is not None
    [topic] = [t for t in resources_of_type(template, "AWS::SNS::Topic") if t.startswith("NotificationsMonitoring")]
    alarm = template["Resources"][stack.get_logical_id(service.feedback.dead_letter_alarm.node.default_child)]  # type: ignore[arg-type]
    assert alarm["Properties"]["AlarmActions"] == [{"Ref": topic}]


def test_without_monitoring_the_dead_letter_alarm_is_left_silent_and_said_so() -> None:
    stack = _stack()
    service = _service(stack, feedback=True, monitoring=False)

    assert service.feedback is not None
    assert "AlarmActions" not in _template(stack)["Resources"][
        stack.get_logical_id(service.feedback.dead_letter_alarm.node.default_child)]["Properties"]  # type: ignore[arg-type]
    assert service.feedback.unacknowledged_findings == ["NIST.800.53.R5-CloudWatchAlarmAction",
                                                        "HIPAA.Security-CloudWatchAlarmAction"]


def test_api_options_reach_the_api() -> None:
    stack = _stack()
    _service(stack, api=NotificationApiOptions(throttling_rate_limit=20, throttling_burst_limit=40, stage_name="v2"))

    [stage] = resources_of_type(_template(stack), "AWS::ApiGateway::Stage").values()
    assert stage["Properties"]["StageName"] == "v2"
    [settings] = stage["Properties"]["MethodSettings"]
    assert (settings["ThrottlingRateLimit"], settings["ThrottlingBurstLimit"]) == (20, 40)


def test_per_caller_throttling_reaches_the_api() -> None:
    stack = _stack()
    service = _service(stack, api=NotificationApiOptions(
        api_key_required=True, per_key_throttling=apigw.ThrottleSettings(rate_limit=5, burst_limit=10)))

    assert service.api is not None and service.api.usage_plan is not None
    [plan] = resources_of_type(_template(stack), "AWS::ApiGateway::UsagePlan").values()
    assert plan["Properties"]["Throttle"] == {"RateLimit": 5, "BurstLimit": 10}


def test_the_sms_spend_limit_reaches_the_monitoring() -> None:
    stack = _stack()
    service = _service(stack, sms_monthly_spend_limit_usd=200)

    assert service.monitoring is not None
    alarm = service.monitoring.alarms["SmsSpendNearLimit"]
    props = _template(stack)["Resources"][stack.get_logical_id(alarm.node.default_child)]["Properties"]  # type: ignore[arg-type]
    assert props["Threshold"] == 160


def test_workflow_options_pass_through() -> None:
    stack = _stack()
    service = _service(stack, workflow_options={"capture_failed_executions": False})

    assert service.workflow.failed_executions is None
    assert resources_of_type(_template(stack), "AWS::SQS::Queue") == {}


def test_grant_send_starts_executions_with_the_workflow_key() -> None:
    stack = _stack()
    service = _service(stack)
    caller = iam.Role(stack, "Caller", assumed_by=iam.AccountRootPrincipal())

    service.grant_send(caller)

    [policy] = [p for p in resources_of_type(_template(stack), "AWS::IAM::Policy").values()
                if p["Properties"]["Roles"] == [{"Ref": stack.get_logical_id(caller.node.default_child)}]]  # type: ignore[arg-type]
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    machine = stack.get_logical_id(service.workflow.state_machine.node.default_child)  # type: ignore[arg-type]
    key = stack.get_logical_id(service.workflow.encryption_key.node.default_child)  # type: ignore[arg-type]
    assert {json.dumps(s["Action"]): s["Resource"] for s in statements} == {
        '"states:StartExecution"': {"Ref": machine},
        '"kms:GenerateDataKey"': {"Fn::GetAtt": [key, "Arn"]},
    }


def test_a_backup_plan_backs_the_table_up_in_a_vault_under_the_workflow_key() -> None:
    stack = _stack()
    service = _service(stack, backup_plan=True)

    template = _template(stack)
    key = stack.get_logical_id(service.workflow.encryption_key.node.default_child)  # type: ignore[arg-type]
    table = stack.get_logical_id(service.workflow.table.node.default_child)  # type: ignore[arg-type]
    [vault] = resources_of_type(template, "AWS::Backup::BackupVault").values()
    assert vault["Properties"]["EncryptionKeyArn"] == {"Fn::GetAtt": [key, "Arn"]}
    assert vault["DeletionPolicy"] == "Retain"
    [plan] = resources_of_type(template, "AWS::Backup::BackupPlan").values()
    [rule] = plan["Properties"]["BackupPlan"]["BackupPlanRule"]
    assert rule["Lifecycle"] == {"DeleteAfterDays": 35}
    [selection] = resources_of_type(template, "AWS::Backup::BackupSelection").values()
    assert table in json.dumps(selection["Properties"]["BackupSelection"]["Resources"])


def test_a_backup_plan_of_yours_gets_a_selection_for_the_table() -> None:
    stack = _stack()
    plan = backup.BackupPlan.daily_monthly1_year_retention(stack, "Plan")
    service = _service(stack, backup_plan=plan)

    template = _template(stack)
    assert len(resources_of_type(template, "AWS::Backup::BackupPlan")) == 1
    assert resources_of_type(template, "AWS::Backup::BackupVault") != {}  # the plan's own vault
    [selection] = resources_of_type(template, "AWS::Backup::BackupSelection").values()
    assert selection["Properties"]["BackupPlanId"] == {
        "Fn::GetAtt": [stack.get_logical_id(plan.node.default_child), "BackupPlanId"]}  # type: ignore[arg-type]
    assert service.workflow.delivery_log.backup_plan is plan


@pytest.mark.parametrize(("props", "prop"), [
    ({"workflow_options": {"sender": "x@example.com"}}, "workflow_options['sender']"),
    ({"monitoring": False, "alarm_email": "ops@example.com"}, "alarm_email"),
    ({"api": "yes"}, "api"),
])
def test_fails_when_a_prop_is_unusable(props: dict[str, Any], prop: str) -> None:
    with pytest.raises(PropError) as raised:
        _service(_stack(), **props)
    assert (raised.value.construct, raised.value.prop) == ("NotificationService", prop)


def _logical_ids(build: Callable[[cdk.Stack], None]) -> set[str]:
    stack = _stack("Same")
    build(stack)
    return set(_template(stack)["Resources"])


def test_under_the_id_default_the_parts_keep_the_logical_ids_they_have_as_children_of_the_stack() -> None:
    """NotificationStack creates the service as "Default": a stack deployed before the service
    existed (parts created straight in the stack) keeps every resource, the retained table too."""
    def parts(stack: cdk.Stack) -> None:
        configuration_set = ses.ConfigurationSet(stack, "EmailConfigurationSet")
        workflow = NotificationWorkflow(stack, "Workflow", sender=SENDER, email_identities=IDENTITIES,
                                        configuration_set_name=configuration_set.configuration_set_name)
        NotificationApi(stack, "Api", workflow=workflow, encryption_key=workflow.encryption_key)
        DeliveryFeedback(stack, "DeliveryFeedback", workflow=workflow, encryption_key=workflow.encryption_key,
                         configuration_set_name=configuration_set.configuration_set_name)
        NotificationMonitoring(stack, "Monitoring", workflow=workflow, encryption_key=workflow.encryption_key)

    def service(stack: cdk.Stack) -> None:
        NotificationService(stack, "Default", sender=SENDER, email_identities=IDENTITIES, api=True, feedback=True)

    assert _logical_ids(service) == _logical_ids(parts)


def test_with_buffered_ingress_the_apis_post_queues_to_the_ingress_queue() -> None:
    stack = _stack()
    service = _service(stack, api=True, buffered_ingress=True)

    assert service.api is not None and service.buffered_ingress is not None
    template = _template(stack)
    queue = stack.get_logical_id(service.buffered_ingress.queue.node.default_child)  # type: ignore[arg-type]
    [post] = [m["Properties"] for m in resources_of_type(template, "AWS::ApiGateway::Method").values()
              if m["Properties"]["HttpMethod"] == "POST"]
    uri = json.dumps(post["Integration"]["Uri"])
    assert ":sqs:path/" in uri and json.dumps({"Fn::GetAtt": [queue, "QueueName"]}) in uri
    assert {"Ref": queue} in post["Integration"]["RequestTemplates"]["application/json"]["Fn::Join"][1]
    # Without buffered ingress POST starts the workflow, as before.
    plain = _stack("Plain")
    _service(plain, api=True)
    [plain_post] = [m["Properties"] for m in resources_of_type(_template(plain), "AWS::ApiGateway::Method").values()
                    if m["Properties"]["HttpMethod"] == "POST"]
    assert ":states:action/StartExecution" in json.dumps(plain_post["Integration"]["Uri"])
