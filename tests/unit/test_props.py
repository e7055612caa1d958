"""Bad construct props raise at synth time, naming the prop, the value and the fix."""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_stepfunctions as sfn

from constructs_lib import NotificationWorkflow, RetryPolicy
from constructs_lib._props import PropError
from tests.support.asl import evaluate_field

GOOD: dict[str, Any] = {"sender": "n@example.com", "email_identities": ["example.com"]}


def _build(**overrides: Any) -> NotificationWorkflow:
    stack = cdk.Stack(cdk.App(), "Props")
    return NotificationWorkflow(stack, "Workflow", **{**GOOD, **overrides})


@pytest.mark.parametrize(
    ("overrides", "prop", "fix"),
    [
        ({"sender": "not-an-address"}, "sender", "e-mail address"),
        ({"email_identities": []}, "email_identities", "list of SES identities"),
        ({"email_identities": "example.com"}, "email_identities", "list of SES identities"),
        ({"sender": "n@other.org"}, "sender", "add 'other.org' or 'n@other.org' to email_identities"),
        ({"allowed_senders": ["a@other.org"]}, "allowed_senders", "add 'other.org'"),
        ({"allowed_senders": "a@example.com"}, "allowed_senders", "not a string"),
        ({"allowed_senders": ["a*@example.com"]}, "allowed_senders", "use '*@example.com'"),
        ({"allowed_senders": ["*"]}, "allowed_senders", "use '*@example.com'"),
        ({"allowed_senders": ["*@*.example.com"]}, "allowed_senders", "use '*@example.com'"),
        ({"allowed_senders": ["*@other.org"]}, "allowed_senders", "add 'other.org'"),
        ({"default_subject": "  "}, "default_subject", "non-empty subject"),
        ({"allowed_configuration_sets": ["x"]}, "allowed_configuration_sets", "configuration_set_name"),
        ({"timeout": cdk.Duration.minutes(10), "workflow_type": sfn.StateMachineType.EXPRESS}, "timeout",
         "between 10 seconds and 5 minutes"),
        ({"task_timeout": cdk.Duration.minutes(5)}, "task_timeout", "shorter than timeout"),
        ({"max_send_delay": cdk.Duration.days(400), "workflow_type": sfn.StateMachineType.EXPRESS}, "max_send_delay",
         "between 1 minute"),
        ({"max_send_delay": cdk.Duration.days(365)}, "max_send_delay", "use at most 31535700 seconds"),
        ({"max_send_delay": cdk.Duration.seconds(59)}, "max_send_delay", "between 1 minute"),
        ({"sms_retry": RetryPolicy(cdk.Duration.seconds(2), 11, 2.0)}, "sms_retry.max_attempts", "0 to 10"),
        ({"email_retry": RetryPolicy(cdk.Duration.seconds(3), 2, 0.5)}, "email_retry.backoff_rate", "1.0 to 10.0"),
        ({"email_retry": RetryPolicy(cdk.Duration.seconds(30), 2, 2.0, cdk.Duration.seconds(5))},
         "email_retry.max_delay", "at least the interval"),
    ],
)
def test_fails_when_a_prop_is_invalid(overrides: dict[str, Any], prop: str, fix: str) -> None:
    with pytest.raises(PropError) as error:
        _build(**overrides)
    assert error.value.prop == prop
    message = str(error.value)
    assert f"invalid {prop}=" in message and fix in message


def test_unresolved_tokens_are_not_checked_at_synth_time() -> None:
    sender = cdk.Token.as_string(cdk.Fn.ref("SenderParameter"))
    assert _build(sender=sender).state_machine is not None


def test_express_and_custom_retries_reach_the_definition(tmp_path: Any) -> None:
    app = cdk.App(outdir=str(tmp_path))
    stack = cdk.Stack(app, "Express")
    NotificationWorkflow(
        stack, "Workflow", **GOOD, workflow_type=sfn.StateMachineType.EXPRESS,
        configuration_set_name="tracking", allowed_configuration_sets=["marketing"],
        sms_retry=RetryPolicy(cdk.Duration.seconds(1), 1, 1.0, cdk.Duration.seconds(1), jitter=False),
    )
    template = app.synth().get_stack_by_name("Express").template
    [machine] = [r for r in template["Resources"].values() if r["Type"] == "AWS::StepFunctions::StateMachine"]
    assert machine["Properties"]["StateMachineType"] == "EXPRESS"
    body = "".join(p for p in machine["Properties"]["DefinitionString"]["Fn::Join"][1] if isinstance(p, str))
    assert '"IntervalSeconds":1,"MaxAttempts":1,"BackoffRate":1,"MaxDelaySeconds":1,"JitterStrategy":"NONE"' in body
    asl = json.loads(body)
    validate = asl["States"]["ValidateRequest"]

    def configuration_set(email: dict[str, Any]) -> Any:
        request = evaluate_field(validate["Assign"]["request"], {
            "channel": "email", "message": "m", "email": {"to": "a@example.org", **email}})
        return evaluate_field(asl["States"]["SendEmail"]["Arguments"], request=request)["ConfigurationSetName"]

    # the default set, or one the request chooses among the allowed ones; the contract refuses others
    assert configuration_set({}) == "tracking"
    assert configuration_set({"configurationSet": "marketing"}) == "marketing"
    for chosen, broken in [("marketing", False), ("tracking", False), ("other", True)]:
        request = {"channel": "email", "message": "m", "email": {"to": "a@example.org", "configurationSet": chosen}}
        assert evaluate_field(validate["Choices"][0]["Condition"], request) is broken, chosen


def test_an_sms_topic_scopes_publish_to_that_topic(tmp_path: Any) -> None:
    from aws_cdk import aws_sns as sns

    app = cdk.App(outdir=str(tmp_path))
    stack = cdk.Stack(app, "Topic")
    topic = sns.Topic(stack, "SmsTopic")
    NotificationWorkflow(stack, "Workflow", **GOOD, sms_topic=topic)
    template = app.synth().get_stack_by_name("Topic").template
    statements = [s for r in template["Resources"].values() if r["Type"] == "AWS::IAM::Policy"
                  for s in r["Properties"]["PolicyDocument"]["Statement"]]
    [publish] = [s for s in statements if s["Action"] == "sns:Publish"]
    assert publish["Resource"] == {"Ref": next(k for k in template["Resources"] if k.startswith("SmsTopic"))}
    assert not [s for s in statements if s["Resource"] == "*" and "sns:Publish" in s["Action"]]
    [machine] = [r for r in template["Resources"].values() if r["Type"] == "AWS::StepFunctions::StateMachine"]
    body = json.dumps(machine["Properties"]["DefinitionString"])
    assert '\\"TopicArn\\":\\"' in body and "PhoneNumber.$" not in body


def test_scheduled_sends_extend_the_timeout_by_the_longest_wait(tmp_path: Any) -> None:
    app = cdk.App(outdir=str(tmp_path))
    stack = cdk.Stack(app, "Scheduling")
    NotificationWorkflow(stack, "Workflow", **GOOD, max_send_delay=cdk.Duration.days(30),
                         timeout=cdk.Duration.minutes(10))
    template = app.synth().get_stack_by_name("Scheduling").template
    [machine] = [r for r in template["Resources"].values() if r["Type"] == "AWS::StepFunctions::StateMachine"]
    definition = json.dumps(machine["Properties"]["DefinitionString"])
    assert '\\"TimeoutSeconds\\":2592600' in definition  # 30 days + 10 minutes
    assert "WaitUntilSendAt" in definition and "StartScheduledSend" in definition


def test_without_scheduled_sends_the_definition_has_no_wait() -> None:
    workflow = _build()
    assert workflow.max_send_delay is None
    template = cdk.assertions.Template.from_stack(cdk.Stack.of(workflow))
    [machine] = template.find_resources("AWS::StepFunctions::StateMachine").values()
    assert "WaitUntilSendAt" not in json.dumps(machine)
