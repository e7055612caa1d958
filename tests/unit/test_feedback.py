"""DeliveryFeedback: the synthesized wiring (SES -> SNS -> SQS -> Lambda, SMS logs -> Lambda), its
IAM, the asset, cdk-nag, and the agreement between the construct and the handler it deploys."""

from __future__ import annotations

import json
import py_compile
import re
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import assertions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_ses as ses
from aws_cdk import aws_sns as sns
from cdk_nag import AwsSolutionsChecks, HIPAASecurityChecks, NIST80053R5Checks

from constructs_lib import NotificationWorkflow
from constructs_lib._props import PropError
from constructs_lib.delivery_log import DeliveryLog
from constructs_lib.feedback import (
    ALARM_ACTION_FINDINGS,
    ASSET_EXCLUDE,
    HANDLER_DIRECTORY,
    LOG_ENCRYPTION_FINDINGS,
    METRICS_NAMESPACE,
    REQUIRED_INDEXES,
    DeliveryFeedback,
)
from lambda_src.delivery_status import handler
from tests.conftest import cdk_json_context
from tests.support.asl import resources_of_type
from tests.unit.test_nag_gate import REPORT_WITHOUT_FAILING, add_nag_canary, findings, only_the_canary


def delivery_log(stack: cdk.Stack, *, encryption_key: kms.IKey | None = None) -> dynamodb.ITable:
    """The workflow's own delivery-log table, which carries the GSIs the feedback needs."""
    return DeliveryLog(stack, "DeliveryLog", encryption_key=encryption_key).table


def _stack(app: cdk.App, name: str) -> cdk.Stack:
    return cdk.Stack(app, name, synthesizer=cdk.DefaultStackSynthesizer(generate_bootstrap_version_rule=False))


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Three stacks in one app: the defaults (what they leave to the stack is acknowledged there);
    an existing configuration set, existing SMS log groups, a CMK-encrypted table and that key for
    the construct too; and the workflow wired to a configuration set the stack owns. Plus the nag
    canary (see test_nag_gate.py), so the report shows that every pack ran."""
    # Bytecode next to the handler must not reach the asset (nor change its hash).
    py_compile.compile(str(HANDLER_DIRECTORY / "handler.py"), doraise=True)
    outdir = tmp_path_factory.mktemp("feedback")
    app = cdk.App(context={**cdk_json_context(), **REPORT_WITHOUT_FAILING}, outdir=str(outdir),
                  analytics_reporting=False)

    default = _stack(app, "Feedback")
    feedback = DeliveryFeedback(default, "Feedback", table=delivery_log(default))
    for finding in feedback.unacknowledged_findings:
        cdk.Validations.of(default).acknowledge(cdk.Acknowledgment(id=finding, reason="test: no log key"))

    shared = _stack(app, "SharedFeedback")
    key = kms.Key(shared, "TableKey", enable_key_rotation=True)
    alarms = sns.Topic(shared, "Alarms", master_key=key, enforce_ssl=True)
    with_key = DeliveryFeedback(
        shared, "Feedback", table=delivery_log(shared, encryption_key=key), configuration_set_name="shared-events",
        create_sms_log_groups=False, reserved_concurrency=5, encryption_key=key, alarm_topic=alarms)
    assert with_key.unacknowledged_findings == []

    wired = _stack(app, "Wired")
    configuration_set = ses.ConfigurationSet(wired, "EmailConfigurationSet")
    workflow = NotificationWorkflow(wired, "Workflow", sender="n@example.com", email_identities=["example.com"],
                                    configuration_set_name=configuration_set.configuration_set_name)
    wired_feedback = DeliveryFeedback(wired, "Feedback", table=workflow.table, encryption_key=workflow.encryption_key,
                                      configuration_set_name=configuration_set.configuration_set_name)
    assert wired_feedback.unacknowledged_findings == list(ALARM_ACTION_FINDINGS)
    for finding in wired_feedback.unacknowledged_findings:
        cdk.Validations.of(wired).acknowledge(cdk.Acknowledgment(id=finding, reason="test: no alarm topic"))

    add_nag_canary(app)
    # Validation plugins apply to the whole app: every stack is checked by all three packs.
    cdk.Validations.of(app).add_plugins(
        AwsSolutionsChecks(default), NIST80053R5Checks(default), HIPAASecurityChecks(default))

    assembly = app.synth()
    return {
        "outdir": outdir,
        "template": assembly.get_stack_by_name("Feedback").template,
        "shared": assembly.get_stack_by_name("SharedFeedback").template,
        "wired": assembly.get_stack_by_name("Wired").template,
        "findings": findings(outdir),
        "metric": default.resolve(feedback.metric_malformed_events().to_metric_config().metric_stat),
        "unacknowledged": feedback.unacknowledged_findings,
    }


@pytest.fixture(scope="module")
def template(synthesized: dict[str, Any]) -> dict[str, Any]:
    return synthesized["template"]  # type: ignore[no-any-return]


def one(template: dict[str, Any], resource_type: str) -> tuple[str, dict[str, Any]]:
    [(logical_id, resource)] = resources_of_type(template, resource_type).items()
    return logical_id, resource


def by_prefix(template: dict[str, Any], resource_type: str, prefix: str) -> tuple[str, dict[str, Any]]:
    [(logical_id, resource)] = [(k, v) for k, v in resources_of_type(template, resource_type).items()
                                if k.startswith(prefix)]
    return logical_id, resource


def statements(template: dict[str, Any], role_prefix: str) -> list[dict[str, Any]]:
    role, _ = by_prefix(template, "AWS::IAM::Role", role_prefix)
    return [s for p in resources_of_type(template, "AWS::IAM::Policy").values()
            if {"Ref": role} in p["Properties"]["Roles"] for s in p["Properties"]["PolicyDocument"]["Statement"]]


def actions(statement: dict[str, Any]) -> list[str]:
    value = statement["Action"]
    return [value] if isinstance(value, str) else list(value)


def flat(value: Any) -> str:
    """A CloudFormation value as text, references shown as ${Name}."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return ",".join(flat(v) for v in value)
    if "Fn::Join" in value:
        delimiter, parts = value["Fn::Join"]
        return str(delimiter).join(flat(p) for p in parts)
    if "Ref" in value:
        return "${" + value["Ref"] + "}"
    if "Fn::GetAtt" in value:
        return "${" + ".".join(value["Fn::GetAtt"]) + "}"
    return json.dumps(value)


# ---- the function -------------------------------------------------------------------------------


def newest_python() -> str:
    versions = [getattr(lambda_.Runtime, name).name for name in dir(lambda_.Runtime)
                if re.fullmatch(r"PYTHON_3_\d+", name)]
    return max(versions, key=lambda v: int(v.rsplit(".", 1)[1]))


def test_the_function_runs_the_newest_python_traced_and_bounded(template: dict[str, Any]) -> None:
    function_id, function = one(template, "AWS::Lambda::Function")
    props = function["Properties"]
    assert props["Runtime"] == newest_python()
    assert props["Handler"] == "handler.handler"
    assert props["TracingConfig"] == {"Mode": "Active"}
    assert props["ReservedConcurrentExecutions"] == 5
    assert props["Timeout"] == 30
    dlq, _ = by_prefix(template, "AWS::SQS::Queue", "FeedbackDeadLetterQueue")
    assert props["DeadLetterConfig"] == {"TargetArn": {"Fn::GetAtt": [dlq, "Arn"]}}
    _, invoke_config = one(template, "AWS::Lambda::EventInvokeConfig")
    assert invoke_config["Properties"]["MaximumRetryAttempts"] == 2


def test_the_function_is_configured_as_the_handler_expects(template: dict[str, Any]) -> None:
    _, function = one(template, "AWS::Lambda::Function")
    table, _ = one(template, "AWS::DynamoDB::Table")
    assert function["Properties"]["Environment"]["Variables"] == {
        handler.TABLE_ENV: {"Ref": table},
        handler.SMS_INDEX_ENV: handler.DEFAULT_INDEXES["sms"],
        handler.EMAIL_INDEX_ENV: handler.DEFAULT_INDEXES["email"],
        handler.NAMESPACE_ENV: handler.DEFAULT_NAMESPACE,
        handler.RETRY_WINDOW_ENV: str(handler.DEFAULT_RETRY_WINDOW_SECONDS),
    }
    assert METRICS_NAMESPACE == handler.DEFAULT_NAMESPACE
    assert {index: attribute for index, attribute in REQUIRED_INDEXES.items()} == {
        handler.DEFAULT_INDEXES[c]: handler.MESSAGE_ID_ATTRIBUTES[c] for c in ("sms", "email")}


def test_the_function_logs_to_its_own_group(template: dict[str, Any]) -> None:
    _, function = one(template, "AWS::Lambda::Function")
    group = function["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
    log_group = resources_of_type(template, "AWS::Logs::LogGroup")[group]
    assert log_group["Properties"]["RetentionInDays"] == 30
    assert log_group["DeletionPolicy"] == "Retain"


def test_sqs_feeds_the_function_with_partial_batch_responses(template: dict[str, Any]) -> None:
    _, mapping = one(template, "AWS::Lambda::EventSourceMapping")
    queue, _ = by_prefix(template, "AWS::SQS::Queue", "FeedbackEventQueue")
    props = mapping["Properties"]
    assert props["EventSourceArn"] == {"Fn::GetAtt": [queue, "Arn"]}
    assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert props["BatchSize"] == 10
    # Below the reserved concurrency: queue batches leave slots for the SMS log invocations.
    _, function = one(template, "AWS::Lambda::Function")
    assert props["ScalingConfig"] == {"MaximumConcurrency": 2}
    assert props["ScalingConfig"]["MaximumConcurrency"] < function["Properties"]["ReservedConcurrentExecutions"]


def test_an_alarm_watches_the_dead_letter_queue(template: dict[str, Any]) -> None:
    dlq, _ = by_prefix(template, "AWS::SQS::Queue", "FeedbackDeadLetterQueue")
    _, alarm = one(template, "AWS::CloudWatch::Alarm")
    props = alarm["Properties"]
    assert props["Namespace"] == "AWS/SQS" and props["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert props["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [dlq, "QueueName"]}}]
    assert (props["ComparisonOperator"], props["Threshold"]) == ("GreaterThanThreshold", 0)
    assert (props["Statistic"], props["Period"], props["EvaluationPeriods"]) == ("Maximum", 60, 1)
    assert props["TreatMissingData"] == "notBreaching"
    assert "AlarmActions" not in props  # no alarm_topic given: unacknowledged_findings names it


def test_the_dead_letter_alarm_notifies_the_alarm_topic_given(synthesized: dict[str, Any]) -> None:
    [topic] = [t for t in resources_of_type(synthesized["shared"], "AWS::SNS::Topic") if t.startswith("Alarms")]
    _, alarm = one(synthesized["shared"], "AWS::CloudWatch::Alarm")
    assert alarm["Properties"]["AlarmActions"] == [{"Ref": topic}]


def test_queues_are_encrypted_tls_only_and_drain_into_the_dead_letter_queue(template: dict[str, Any]) -> None:
    dlq, dead_letters = by_prefix(template, "AWS::SQS::Queue", "FeedbackDeadLetterQueue")
    queue_id, queue = by_prefix(template, "AWS::SQS::Queue", "FeedbackEventQueue")
    for q in (dead_letters, queue):
        assert q["Properties"]["SqsManagedSseEnabled"] is True
    assert queue["Properties"]["RedrivePolicy"] == {"deadLetterTargetArn": {"Fn::GetAtt": [dlq, "Arn"]},
                                                    "maxReceiveCount": 8}
    _, function = one(template, "AWS::Lambda::Function")
    visibility = queue["Properties"]["VisibilityTimeout"]
    assert visibility >= 6 * function["Properties"]["Timeout"]
    # Unmatched recent events are dropped before the queue would dead-letter them.
    assert handler.DEFAULT_RETRY_WINDOW_SECONDS < visibility * (8 - 1)
    for queue_ref in (dlq, queue_id):
        [policy] = [p["Properties"] for p in resources_of_type(template, "AWS::SQS::QueuePolicy").values()
                    if {"Ref": queue_ref} in p["Properties"]["Queues"]]
        assert {"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}.items() <= \
            policy["PolicyDocument"]["Statement"][0].items()


def test_ses_events_reach_the_queue_through_an_encrypted_tls_only_topic(template: dict[str, Any]) -> None:
    topic_id, topic = one(template, "AWS::SNS::Topic")
    key_id, key = one(template, "AWS::KMS::Key")
    assert topic["Properties"]["KmsMasterKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    assert key["Properties"]["EnableKeyRotation"] is True
    [ses_statement] = [s for s in key["Properties"]["KeyPolicy"]["Statement"]
                       if s["Principal"] == {"Service": "ses.amazonaws.com"}]
    assert sorted(ses_statement["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey*"]
    assert "aws:SourceAccount" in ses_statement["Condition"]["StringEquals"]
    _, policy = one(template, "AWS::SNS::TopicPolicy")
    topic_statements = policy["Properties"]["PolicyDocument"]["Statement"]
    assert any(s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
               for s in topic_statements)
    [publish] = [s for s in topic_statements if s["Effect"] == "Allow"]
    assert publish["Principal"] == {"Service": "ses.amazonaws.com"} and publish["Action"] == "sns:Publish"
    _, subscription = one(template, "AWS::SNS::Subscription")
    queue, _ = by_prefix(template, "AWS::SQS::Queue", "FeedbackEventQueue")
    assert subscription["Properties"]["Protocol"] == "sqs"
    assert subscription["Properties"]["TopicArn"] == {"Ref": topic_id}
    assert subscription["Properties"]["Endpoint"] == {"Fn::GetAtt": [queue, "Arn"]}
    assert not subscription["Properties"].get("RawMessageDelivery")  # the handler reads the SNS envelope


def test_the_configuration_set_publishes_the_four_outcome_events(template: dict[str, Any]) -> None:
    configuration_set, _ = one(template, "AWS::SES::ConfigurationSet")
    _, destination = one(template, "AWS::SES::ConfigurationSetEventDestination")
    topic, _ = one(template, "AWS::SNS::Topic")
    props = destination["Properties"]
    assert props["ConfigurationSetName"] == {"Ref": configuration_set}
    assert sorted(props["EventDestination"]["MatchingEventTypes"]) == ["bounce", "complaint", "delivery", "reject"]
    assert props["EventDestination"]["SnsDestination"] == {"TopicARN": {"Ref": topic}}
    assert props["EventDestination"]["Enabled"] is True


# ---- SMS delivery-status logs -------------------------------------------------------------------

SMS_GROUP = "sns/${AWS::Region}/${AWS::AccountId}/DirectPublishToPhoneNumber"


def test_both_sms_log_groups_exist_with_retention(template: dict[str, Any]) -> None:
    groups = {flat(g["Properties"].get("LogGroupName", "")): g
              for g in resources_of_type(template, "AWS::Logs::LogGroup").values()}
    for name in (SMS_GROUP, SMS_GROUP + "/Failure"):
        assert groups[name]["Properties"]["RetentionInDays"] == 30
        assert groups[name]["DeletionPolicy"] == "Retain"


def test_subscription_filters_send_every_sms_log_line_to_the_function(template: dict[str, Any]) -> None:
    function, _ = one(template, "AWS::Lambda::Function")
    filters = resources_of_type(template, "AWS::Logs::SubscriptionFilter").values()
    groups = resources_of_type(template, "AWS::Logs::LogGroup")
    names = set()
    for subscription in filters:
        props = subscription["Properties"]
        assert props["DestinationArn"] == {"Fn::GetAtt": [function, "Arn"]}
        assert props["FilterPattern"] == ""
        names.add(flat(groups[props["LogGroupName"]["Ref"]]["Properties"]["LogGroupName"]))
    assert names == {SMS_GROUP, SMS_GROUP + "/Failure"}
    permissions = [p["Properties"] for p in resources_of_type(template, "AWS::Lambda::Permission").values()]
    assert len(permissions) == 2
    assert {p["Principal"] for p in permissions} == {"logs.amazonaws.com"}


def test_sns_may_write_only_the_sms_log_groups(template: dict[str, Any]) -> None:
    _, role = by_prefix(template, "AWS::IAM::Role", "FeedbackSmsDeliveryStatusRole")
    [trust] = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "sns.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    granted = {(a, flat(r)) for s in statements(template, "FeedbackSmsDeliveryStatusRole")
               for a in actions(s) for r in (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]])}
    groups = {flat(g["Properties"]["LogGroupName"]): k for k, g in
              resources_of_type(template, "AWS::Logs::LogGroup").items() if "LogGroupName" in g["Properties"]}
    expected = set()
    for name in (SMS_GROUP, SMS_GROUP + "/Failure"):
        expected.add(("logs:CreateLogGroup",
                      "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:" + name))
        for action in ("logs:CreateLogStream", "logs:PutLogEvents"):
            expected.add((action, "${" + groups[name] + ".Arn}"))
    assert granted == expected


# ---- the function's IAM -----------------------------------------------------------------------


def test_the_function_may_query_the_indexes_and_update_items_only(template: dict[str, Any]) -> None:
    table, _ = one(template, "AWS::DynamoDB::Table")
    dynamo = [s for s in statements(template, "FeedbackFunctionRole") if actions(s)[0].startswith("dynamodb:")]
    assert [(actions(s), sorted(flat(r) for r in s["Resource"]) if isinstance(s["Resource"], list)
             else flat(s["Resource"])) for s in dynamo] == [
        (["dynamodb:Query"], [f"${{{table}.Arn}}/index/ByEmailMessageId", f"${{{table}.Arn}}/index/BySmsMessageId"]),
        (["dynamodb:UpdateItem"], f"${{{table}.Arn}}"),
    ]


def test_the_function_role_has_no_managed_policy_and_one_wildcard(template: dict[str, Any]) -> None:
    _, role = by_prefix(template, "AWS::IAM::Role", "FeedbackFunctionRole")
    assert "ManagedPolicyArns" not in role["Properties"]
    wildcards = [s for s in statements(template, "FeedbackFunctionRole") if s["Resource"] == "*"]
    assert [sorted(actions(s)) for s in wildcards] == [["xray:PutTelemetryRecords", "xray:PutTraceSegments"]]


# ---- variants -------------------------------------------------------------------------------------


def test_an_existing_configuration_set_and_log_groups_are_used_not_created(synthesized: dict[str, Any]) -> None:
    template = synthesized["shared"]
    assert not resources_of_type(template, "AWS::SES::ConfigurationSet")
    _, destination = one(template, "AWS::SES::ConfigurationSetEventDestination")
    assert destination["Properties"]["ConfigurationSetName"] == "shared-events"
    assert not [g for g in resources_of_type(template, "AWS::Logs::LogGroup").values()
                if flat(g["Properties"]["LogGroupName"]).startswith("sns/")]
    names = {flat(f["Properties"]["LogGroupName"])
             for f in resources_of_type(template, "AWS::Logs::SubscriptionFilter").values()}
    assert names == {SMS_GROUP, SMS_GROUP + "/Failure"}
    _, function = one(template, "AWS::Lambda::Function")
    assert function["Properties"]["ReservedConcurrentExecutions"] == 5
    _, mapping = one(template, "AWS::Lambda::EventSourceMapping")
    assert mapping["Properties"]["ScalingConfig"] == {"MaximumConcurrency": 2}  # half of 5


def test_the_queue_concurrency_can_be_set_below_the_reserved_concurrency() -> None:
    stack = cdk.Stack(cdk.App(), "Concurrency")
    DeliveryFeedback(stack, "Feedback", table=delivery_log(stack), reserved_concurrency=10, max_queue_concurrency=9)
    [mapping] = resources_of_type(assertions.Template.from_stack(stack).to_json(),
                                  "AWS::Lambda::EventSourceMapping").values()
    assert mapping["Properties"]["ScalingConfig"] == {"MaximumConcurrency": 9}


def test_a_given_key_encrypts_the_topic_and_the_log_groups(synthesized: dict[str, Any]) -> None:
    template = synthesized["shared"]
    [(key_id, key)] = resources_of_type(template, "AWS::KMS::Key").items()  # no key of its own
    _, topic = by_prefix(template, "AWS::SNS::Topic", "FeedbackEventTopic")
    assert topic["Properties"]["KmsMasterKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    [group] = resources_of_type(template, "AWS::Logs::LogGroup").values()
    assert group["Properties"]["KmsKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    assert group["Properties"]["LogGroupName"].startswith("/notify-cdk/")
    principals = [flat(s["Principal"]["Service"]) for s in key["Properties"]["KeyPolicy"]["Statement"]
                  if "Service" in s.get("Principal", {})]
    assert principals == ["ses.amazonaws.com", "logs.${AWS::Region}.amazonaws.com"]


def test_without_a_key_the_log_encryption_findings_are_left_to_the_stack(synthesized: dict[str, Any]) -> None:
    assert synthesized["unacknowledged"] == [*LOG_ENCRYPTION_FINDINGS, *ALARM_ACTION_FINDINGS]


def test_a_customer_managed_table_key_is_granted_to_the_function(synthesized: dict[str, Any]) -> None:
    template = synthesized["shared"]
    key = next(k for k in resources_of_type(template, "AWS::KMS::Key") if k.startswith("TableKey"))
    kms_statements = [s for s in statements(template, "FeedbackFunctionRole") if actions(s)[0].startswith("kms:")]
    assert [flat(s["Resource"]) for s in kms_statements] == [f"${{{key}.Arn}}"]


def test_the_workflow_can_send_with_the_configuration_set_the_feedback_listens_to(
    synthesized: dict[str, Any]
) -> None:
    template = synthesized["wired"]
    configuration_set, _ = one(template, "AWS::SES::ConfigurationSet")
    _, destination = one(template, "AWS::SES::ConfigurationSetEventDestination")
    assert destination["Properties"]["ConfigurationSetName"] == {"Ref": configuration_set}
    [machine] = resources_of_type(template, "AWS::StepFunctions::StateMachine").values()
    assert {"Ref": configuration_set} in machine["Properties"]["DefinitionString"]["Fn::Join"][1]


# ---- cdk-nag ------------------------------------------------------------------------------------


def test_cdk_nag_finds_nothing_after_the_constructs_acknowledgements(synthesized: dict[str, Any]) -> None:
    """All three packs ran over the three stacks (each reports the canary) and found nothing else."""
    assert synthesized["findings"] == only_the_canary()


# ---- the asset ----------------------------------------------------------------------------------


def test_the_asset_holds_the_handler_source_only(synthesized: dict[str, Any], template: dict[str, Any]) -> None:
    assert (HANDLER_DIRECTORY / "__pycache__").is_dir()  # the fixture made sure there is bytecode
    _, function = one(template, "AWS::Lambda::Function")
    asset_hash = function["Properties"]["Code"]["S3Key"].removesuffix(".zip")
    staged = synthesized["outdir"] / f"asset.{asset_hash}"
    assert sorted(p.name for p in staged.iterdir()) == ["__init__.py", "handler.py"]


def test_the_asset_hash_ignores_bytecode(synthesized: dict[str, Any], template: dict[str, Any]) -> None:
    _, function = one(template, "AWS::Lambda::Function")
    asset_hash = function["Properties"]["Code"]["S3Key"].removesuffix(".zip")
    stray = HANDLER_DIRECTORY / "__pycache__" / "stray.cpython-99.pyc"
    try:
        stray.write_bytes(b"not the same on every machine")
        assert cdk.FileSystem.fingerprint(str(HANDLER_DIRECTORY), exclude=ASSET_EXCLUDE) == asset_hash
    finally:
        stray.unlink(missing_ok=True)


# ---- helpers and props --------------------------------------------------------------------------


def test_the_malformed_events_metric_matches_what_the_handler_emits(synthesized: dict[str, Any]) -> None:
    stat = synthesized["metric"]
    assert stat["namespace"] == handler.DEFAULT_NAMESPACE
    assert stat["metricName"] == "MalformedEvents" and "MalformedEvents" in handler.METRICS
    assert [d["name"] for d in stat["dimensions"]] == ["FunctionName"]
    assert stat["statistic"] == "Sum"


@pytest.mark.parametrize(("props", "prop"), [
    ({"reserved_concurrency": 1}, "reserved_concurrency"),
    ({"reserved_concurrency": 2}, "reserved_concurrency"),  # no room below it for the queue's minimum of 2
    ({"reserved_concurrency": 5, "max_queue_concurrency": 5}, "max_queue_concurrency"),
    ({"reserved_concurrency": 5, "max_queue_concurrency": 1}, "max_queue_concurrency"),
    ({"max_queue_concurrency": True}, "max_queue_concurrency"),
    ({"reserved_concurrency": 1001}, "reserved_concurrency"),
    ({"reserved_concurrency": True}, "reserved_concurrency"),
    ({"configuration_set_name": "has spaces"}, "configuration_set_name"),
    ({"configuration_set_name": ""}, "configuration_set_name"),
    ({"configuration_set_name": "x" * 65}, "configuration_set_name"),
])
def test_fails_when_a_prop_is_unusable(props: dict[str, Any], prop: str) -> None:
    stack = cdk.Stack(cdk.App(), "Props")
    with pytest.raises(PropError) as raised:
        DeliveryFeedback(stack, "Feedback", table=delivery_log(stack), **props)
    assert raised.value.prop == prop
    assert str(raised.value).startswith("DeliveryFeedback: invalid ")


def test_the_handler_directory_is_where_the_asset_comes_from() -> None:
    assert HANDLER_DIRECTORY == Path(handler.__file__).resolve().parent
