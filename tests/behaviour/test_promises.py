"""Promises the README makes that no other behaviour test exercised (issue 10, part 8): redrive,
Step Functions refusing a second start, the claim under concurrent Express duplicates, SES
configuration sets, delivery-log throttling, fallback after transient SMS errors, ``sms_topic``,
and the task and workflow timeouts. All run on the embedded AWS with the IAM/KMS access check on."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

import aws_cdk as cdk
import pytest
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from botocore.exceptions import ClientError
from moto.dynamodb.exceptions import ERROR_TYPE_PREFIX, DynamodbException
from moto.dynamodb.models import DynamoDBBackend
from moto.sns.models import SNSBackend
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl

from constructs_lib import NotificationWorkflow
from local_aws import (
    ExecutionResult,
    LocalAws,
    inject_fault,
    record_retry_sleeps,
    sns_internal_error,
    sns_publish_fault,
    sns_throttled,
)
from local_aws.records import states_entered_from_events
from tests.behaviour.conftest import SENDER, Deployment, new_id
from tests.conftest import Synthesized

SMS = {"channel": "sms", "message": "Code 1234", "phoneNumber": "+15555550100"}
EMAIL = {"channel": "email", "message": "Shipped.", "email": {"to": "a@example.org", "subject": "Order"}}
BOTH = {**SMS, **EMAIL, "channel": "both"}
SMS_PATH = ["ValidateRequest", "ClaimSms", "SendSms", "RecordOutcome"]

# The extra stack: SMS through a topic, two configuration sets, and short timeouts.
DEFAULT_SET, MARKETING_SET = "notify-transactional", "notify-marketing"
TASK_TIMEOUT_S, WORKFLOW_TIMEOUT_S = 3, 10


# ---- helpers --------------------------------------------------------------------------------


@dataclass
class Hang:
    """Calls that matched and are blocked until the context exits (then they raise)."""

    times: int
    calls: int = 0
    entered: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def take(self) -> bool:
        with self._lock:
            if self.calls >= self.times:
                return False
            self.calls += 1
            return True


@contextmanager
def hang(target: type, method_name: str, when: Callable[[tuple[Any, ...], dict[str, Any]], bool],
         error: Callable[[], Exception], *, times: int = 1_000) -> Iterator[Hang]:
    """The first ``times`` calls of ``target.method_name`` that match ``when`` block until the
    block ends, then raise ``error()`` (so an abandoned call never has a late side effect)."""
    original = getattr(target, method_name)
    state = Hang(times=times)

    def hung(self: Any, *args: Any, **kwargs: Any) -> Any:
        if when(args, kwargs) and state.take():
            state.entered.set()
            state.release.wait(60)
            raise error()
        return original(self, *args, **kwargs)

    with mock.patch.object(target, method_name, hung):
        try:
            yield state
        finally:
            state.release.set()


@dataclass
class HeldWaits:
    waiting: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)

    def sleep(self, seconds: float) -> None:
        self.waiting.set()
        self.release.wait(30)


@contextmanager
def held_retry_waits() -> Iterator[HeldWaits]:
    """Every retry wait of the engine lasts until the block ends (an execution is then between
    two attempts, with no task in flight)."""
    waits = HeldWaits()
    with mock.patch.object(retrier_decl, "time", waits):
        try:
            yield waits
        finally:
            waits.release.set()


def dynamodb_error(code: str) -> Callable[[], Exception]:
    """A DynamoDB error moto serialises with ``__type`` ``...#<code>`` (boto3 sees the code)."""
    return lambda: DynamodbException(ERROR_TYPE_PREFIX + code, f"{code} (injected)")


def wait_for(aws: LocalAws, execution_arn: str, *, timeout_s: float = 30) -> ExecutionResult:
    sfn = aws.client("stepfunctions")
    deadline = time.monotonic() + timeout_s
    while (described := sfn.describe_execution(executionArn=execution_arn))["status"] == "RUNNING":
        assert time.monotonic() < deadline, f"{execution_arn} still RUNNING after {timeout_s}s"
        time.sleep(0.02)
    output = described.get("output")
    return ExecutionResult(execution_arn=execution_arn, status=described["status"],
                           output=json.loads(output) if output is not None else None,
                           error=described.get("error"), cause=described.get("cause"),
                           events=aws.execution_history(execution_arn))


def history_closed(aws: LocalAws, execution_arn: str, *, timeout_s: float) -> list[dict[str, Any]]:
    """The execution's history once its last event closes it (ExecutionSucceeded/Failed/...)."""
    closing = {"ExecutionSucceeded", "ExecutionFailed", "ExecutionTimedOut", "ExecutionAborted"}
    deadline = time.monotonic() + timeout_s
    while (events := aws.execution_history(execution_arn))[-1]["type"] not in closing:
        assert time.monotonic() < deadline, f"history still open, last event {events[-1]['type']}"
        time.sleep(0.1)
    return events


def start(aws: LocalAws, state_machine_arn: str, request: dict[str, Any], name: str) -> str:
    arn: str = aws.client("stepfunctions").start_execution(
        stateMachineArn=state_machine_arn, name=name, input=json.dumps(request))["executionArn"]
    return arn


def captured(aws: LocalAws, queue_url: str, execution_arn: str, *, timeout_s: float = 5) -> dict[str, Any]:
    """The failed-execution queue's event for ``execution_arn`` (deleted once read); other
    messages are made visible again for the tests that look for them."""
    sqs = aws.client("sqs")
    deadline = time.monotonic() + timeout_s
    while True:
        others, found = [], None
        while messages := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
            for message in messages:
                detail = json.loads(message["Body"])["detail"]
                if detail["executionArn"] == execution_arn and found is None:
                    found = detail
                    sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
                else:
                    others.append(message["ReceiptHandle"])
        for handle in others:
            sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=handle, VisibilityTimeout=0)
        if found is not None:
            return found
        assert time.monotonic() < deadline, f"{execution_arn} never reached the failed-execution queue"
        time.sleep(0.05)


def definition(aws: LocalAws, state_machine_arn: str) -> dict[str, Any]:
    described = aws.client("stepfunctions").describe_state_machine(stateMachineArn=state_machine_arn)
    parsed: dict[str, Any] = json.loads(described["definition"])
    return parsed


# ---- the extra stack: sms_topic, configuration sets, short timeouts --------------------------


@dataclass
class TopicDeployment(Deployment):
    topic_queue_url: str = ""

    def published(self) -> list[dict[str, Any]]:
        """Everything published to the SMS topic, as SNS envelopes (read from a subscribed queue)."""
        sqs = self.aws.client("sqs")
        envelopes = []
        while messages := sqs.receive_message(QueueUrl=self.topic_queue_url, MaxNumberOfMessages=10).get(
                "Messages", []):
            for message in messages:
                envelopes.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=self.topic_queue_url, ReceiptHandle=message["ReceiptHandle"])
        return envelopes


@pytest.fixture(scope="module")
def topic_stack(local_aws: LocalAws, tmp_path_factory: pytest.TempPathFactory) -> TopicDeployment:
    """A workflow that publishes SMS to an encrypted topic, has an allowed second configuration
    set, and a 3 s task timeout inside a 10 s workflow timeout (the shortest allowed)."""
    app = cdk.App(outdir=str(tmp_path_factory.mktemp("promises")), analytics_reporting=False)
    stack = cdk.Stack(app, "NotifyPromises")
    topic_key = kms.Key(stack, "SmsTopicKey", enable_key_rotation=True)
    topic = sns.Topic(stack, "SmsTopic", master_key=topic_key)
    workflow = NotificationWorkflow(
        stack, "Workflow", sender=SENDER, email_identities=["example.com"], sms_topic=topic,
        configuration_set_name=DEFAULT_SET, allowed_configuration_sets=[MARKETING_SET],
        task_timeout=cdk.Duration.seconds(TASK_TIMEOUT_S), timeout=cdk.Duration.seconds(WORKFLOW_TIMEOUT_S),
    )
    assert workflow.failed_executions is not None
    cdk.CfnOutput(stack, "SmsTopicArn", value=topic.topic_arn)
    cdk.CfnOutput(stack, "FailedExecutionsQueueUrl", value=workflow.failed_executions.queue_url)
    template = app.synth().get_stack_by_name("NotifyPromises").template
    deployed = local_aws.deploy_template("NotifyPromises", template)

    sqs = local_aws.client("sqs")
    queue_url = sqs.create_queue(QueueName=f"sms-topic-reader-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    topic_arn = deployed.outputs["SmsTopicArn"]
    sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"Policy": json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"}, "Action": "sqs:SendMessage",
                       "Resource": queue_arn, "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}}}],
    })})
    local_aws.client("sns").subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    return TopicDeployment(aws=local_aws, stack=deployed, topic_queue_url=queue_url)


# ---- 1. redrive -----------------------------------------------------------------------------


def test_redrive_continues_from_the_unfinished_state_without_sending_again(deployment: Deployment) -> None:
    """An execution stopped after its SMS went out is ABORTED and captured in the failed-execution
    queue; redriving it must finish the record from RecordOutcome, not send again.

    It is stopped while RecordOutcome waits to retry a throttled write: moto 5.2.5 does not
    interrupt a task in flight on StopExecution (the execution stays RUNNING until the attempt
    returns, then ends FAILED with the task's error instead of ABORTED)."""
    nid = new_id("redrive")
    sms_before = len(deployment.aws.sms_messages())
    sfn = deployment.aws.client("stepfunctions")
    with held_retry_waits() as waits, inject_fault(
            DynamoDBBackend, "update_item", dynamodb_error("ThrottlingException"), times=1):
        arn = start(deployment.aws, deployment.stack.state_machine_arn, {**SMS, "notificationId": nid}, nid)
        assert waits.waiting.wait(10), "RecordOutcome never waited to retry"
        sfn.stop_execution(executionArn=arn, error="Operator", cause="stopped before the record was written")
    aborted = wait_for(deployment.aws, arn)

    assert aborted.status == "ABORTED", (aborted.error, aborted.cause)
    assert aborted.states_entered == SMS_PATH
    assert [m.phone_number for m in deployment.aws.sms_messages()[sms_before:]] == ["+15555550100"]
    assert deployment.record(nid)["status"] == "PROCESSING"
    detail = captured(deployment.aws, deployment.stack.outputs["FailedExecutionsQueueUrl"], arn)
    assert detail["status"] == "ABORTED"

    sfn.redrive_execution(executionArn=arn)  # local_aws.redrive bridges moto's missing RedriveExecution
    redriven = wait_for(deployment.aws, arn)
    assert redriven.status == "SUCCEEDED", redriven.cause
    assert redriven.states_entered[len(SMS_PATH):] == ["RecordOutcome"]
    assert len(deployment.aws.sms_messages()) == sms_before + 1
    record = deployment.record(nid)
    assert (record["status"], record["executionArn"]) == ("SENT", arn)


# ---- 2. a second StartExecution with the same name ------------------------------------------


def test_a_second_start_with_the_same_name_is_refused_by_step_functions(deployment: Deployment) -> None:
    nid = new_id("samename")
    request = {**SMS, "notificationId": nid}
    first = deployment.run(request, name=nid)
    assert first.status == "SUCCEEDED", first.cause
    sent_before = deployment.sent_counts()
    sfn = deployment.aws.client("stepfunctions")

    for again in (request, {**request, "message": "a different text"}):  # closed: refused either way
        with pytest.raises(ClientError) as refused:
            start(deployment.aws, deployment.stack.state_machine_arn, again, nid)
        assert refused.value.response["Error"]["Code"] == "ExecutionAlreadyExists"

    assert deployment.sent_counts() == sent_before
    record = deployment.record(nid)
    assert record["executionArn"] == first.execution_arn and "duplicateCount" not in record
    executions = sfn.list_executions(stateMachineArn=deployment.stack.state_machine_arn)["executions"]
    assert [e["executionArn"] for e in executions if e["name"] == nid] == [first.execution_arn]


def test_a_blind_retry_of_a_running_start_returns_the_same_execution(deployment: Deployment) -> None:
    """While the first execution runs, the same name and input return it again (a safe blind
    retry); the same name with another input is refused. Exactly one SMS goes out."""
    nid = new_id("blind")
    request = {**SMS, "notificationId": nid, "message": f"blind retry {nid}"}
    sms_before = len(deployment.aws.sms_messages())
    is_this_sms = lambda args, kwargs: (args[0] if args else kwargs.get("message")) == request["message"]  # noqa: E731
    with record_retry_sleeps(), hang(SNSBackend, "publish", is_this_sms, sns_internal_error, times=1) as stuck:
        arn = start(deployment.aws, deployment.stack.state_machine_arn, request, nid)
        assert stuck.entered.wait(10)
        assert start(deployment.aws, deployment.stack.state_machine_arn, request, nid) == arn
        with pytest.raises(ClientError) as refused:
            start(deployment.aws, deployment.stack.state_machine_arn, {**request, "message": "other"}, nid)
        assert refused.value.response["Error"]["Code"] == "ExecutionAlreadyExists"
        stuck.release.set()  # the first attempt fails (InternalError) and is retried
        result = wait_for(deployment.aws, arn)

    assert result.status == "SUCCEEDED", result.cause
    executions = deployment.aws.client("stepfunctions").list_executions(
        stateMachineArn=deployment.stack.state_machine_arn)["executions"]
    assert [e["executionArn"] for e in executions if e["name"] == nid] == [arn]
    assert [m.message for m in deployment.aws.sms_messages()[sms_before:]] == [request["message"]]
    assert deployment.record(nid)["status"] == "SENT"


# ---- 3. concurrent duplicates on Express ----------------------------------------------------


def test_concurrent_duplicates_on_express_race_the_claim_and_one_is_sent(deployment: Deployment) -> None:
    sfn = deployment.aws.client("stepfunctions")
    standard = sfn.describe_state_machine(stateMachineArn=deployment.stack.state_machine_arn)
    express = sfn.create_state_machine(
        name=f"promises-express-{uuid.uuid4().hex[:8]}", definition=standard["definition"],
        roleArn=standard["roleArn"], type="EXPRESS",
    )["stateMachineArn"]
    nid, racers = new_id("race"), 6
    request = {**SMS, "notificationId": nid, "message": f"race {nid}"}
    sms_before = len(deployment.aws.sms_messages())
    barrier = threading.Barrier(racers)
    results: list[ExecutionResult] = []
    lock = threading.Lock()

    def race() -> None:
        barrier.wait()
        result = deployment.aws.start_and_wait(express, request)
        with lock:
            results.append(result)

    threads = [threading.Thread(target=race) for _ in range(racers)]
    for thread in threads:  # LocalAws applies atomic_dynamodb_item_writes, as DynamoDB writes are atomic
        thread.start()
    for thread in threads:
        thread.join(60)

    assert len(results) == racers and {r.status for r in results} == {"SUCCEEDED"}
    winners = [r for r in results if r.states_entered[-1] == "RecordOutcome"]
    losers = [r for r in results if r.states_entered[-2:] == ["ClaimSms", "RecordDuplicate"]]
    assert (len(winners), len(losers)) == (1, racers - 1), [r.states_entered[-2:] for r in results]
    sent = deployment.aws.sms_messages()[sms_before:]
    assert [(m.phone_number, m.message) for m in sent] == [("+15555550100", request["message"])]
    record = deployment.record(nid)
    assert record["status"] == "SENT" and record["executionArn"] == winners[0].execution_arn
    assert record["duplicateCount"] == racers - 1
    assert record["lastDuplicateExecutionArn"] in {r.execution_arn for r in losers}


# ---- 4. configuration sets ------------------------------------------------------------------


def test_every_email_carries_the_stacks_configuration_set(deployment: Deployment, synthesized: Synthesized) -> None:
    """The dev stack's only allowed set is its own ``EmailConfigurationSet``: every configuration
    set the definition names is a Ref to it (the request's default and the allowed list), and each
    email (email, both, and one naming the set itself) is sent with that set."""
    resources = synthesized.template()["Resources"]
    [set_id] = [k for k, r in resources.items() if r["Type"] == "AWS::SES::ConfigurationSet"]
    [machine] = [r for r in resources.values() if r["Type"] == "AWS::StepFunctions::StateMachine"]
    parts = machine["Properties"]["DefinitionString"]["Fn::Join"][1]
    in_defaults = [parts[i + 1] for i, part in enumerate(parts[:-1])
                   if isinstance(part, str) and part.endswith('$e.configurationSet :\\"')]
    assert in_defaults == [{"Ref": set_id}]  # the default of $request.email.configurationSet
    ses_refs = [p for p in parts if isinstance(p, dict) and "ConfigurationSet" in json.dumps(p)]
    assert ses_refs and all(p == {"Ref": set_id} for p in ses_refs)
    probe = new_id("cs")
    deployment.run({**EMAIL, "notificationId": probe})
    stack_set = deployment.email(deployment.record(probe)["emailMessageId"]).configuration_set
    assert isinstance(stack_set, str) and stack_set  # moto 5.2.5 resolves this Ref to "None": see the report

    email_id, both_id, chosen_id = new_id("cs"), new_id("cs"), new_id("cs")
    deployment.run({**EMAIL, "notificationId": email_id})
    deployment.run({**BOTH, "notificationId": both_id})
    deployment.run({**EMAIL, "notificationId": chosen_id, "email": {**EMAIL["email"], "configurationSet": stack_set}})

    for nid in (email_id, both_id, chosen_id):
        record = deployment.record(nid)
        assert record["status"] == "SENT", record
        assert deployment.email(record["emailMessageId"]).configuration_set == stack_set


def test_a_request_can_choose_an_allowed_configuration_set_and_no_other(topic_stack: TopicDeployment) -> None:
    chosen_id, default_id, refused_id = new_id("cs"), new_id("cs"), new_id("cs")
    chosen = topic_stack.run({**EMAIL, "notificationId": chosen_id,
                              "email": {**EMAIL["email"], "configurationSet": MARKETING_SET}})
    topic_stack.run({**EMAIL, "notificationId": default_id})
    sent_before = topic_stack.sent_counts()
    refused = topic_stack.run({**EMAIL, "notificationId": refused_id,
                               "email": {**EMAIL["email"], "configurationSet": "notify-unknown"}})

    assert chosen.status == "SUCCEEDED", chosen.cause
    assert topic_stack.email(topic_stack.record(chosen_id)["emailMessageId"]).configuration_set == MARKETING_SET
    assert topic_stack.email(topic_stack.record(default_id)["emailMessageId"]).configuration_set == DEFAULT_SET
    assert (refused.status, refused.error) == ("FAILED", "ValidationError")
    assert topic_stack.sent_counts() == sent_before
    assert topic_stack.record(refused_id)["status"] == "REJECTED"


# ---- 5. delivery log throttled or unavailable -----------------------------------------------


def test_a_throttled_claim_is_retried_then_sent_once(deployment: Deployment) -> None:
    nid = new_id("throttle")
    sms_before = len(deployment.aws.sms_messages())
    with record_retry_sleeps() as sleeps, inject_fault(
            DynamoDBBackend, "put_item", dynamodb_error("ProvisionedThroughputExceededException"), times=2) as fault:
        result = deployment.run({**SMS, "notificationId": nid})

    assert result.status == "SUCCEEDED", result.cause
    assert result.states_entered == SMS_PATH
    assert (fault.calls, len(sleeps.intervals)) == (3, 2)
    assert len(deployment.aws.sms_messages()) == sms_before + 1
    assert deployment.record(nid)["status"] == "SENT"


def test_an_unavailable_delivery_log_fails_before_sending_and_is_captured(deployment: Deployment) -> None:
    nid = new_id("throttle")
    sent_before = deployment.sent_counts()
    with record_retry_sleeps() as sleeps, inject_fault(
            DynamoDBBackend, "put_item", dynamodb_error("ProvisionedThroughputExceededException"), times=100) as fault:
        result = deployment.run({**SMS, "notificationId": nid})

    assert (result.status, result.error) == ("FAILED", "DeliveryLogUnavailable")
    assert "ProvisionedThroughputExceededException" in (result.cause or "")
    assert result.states_entered == ["ValidateRequest", "ClaimSms", "DeliveryLogUnavailable"]
    assert fault.calls == 4 and len(sleeps.intervals) == 3  # the try and 3 retries (1 s, x2, jitter)
    assert all(0 <= wait <= cap for wait, cap in zip(sleeps.intervals, (1, 2, 4), strict=True)), sleeps.intervals
    assert deployment.sent_counts() == sent_before
    assert deployment.aws.table_item(deployment.stack.table_name, {"notificationId": nid}) is None
    detail = captured(deployment.aws, deployment.stack.outputs["FailedExecutionsQueueUrl"], result.execution_arn)
    assert (detail["status"], detail["error"]) == ("FAILED", "DeliveryLogUnavailable")


def test_a_throttled_outcome_record_never_sends_twice(deployment: Deployment) -> None:
    nid = new_id("throttle")
    sms_before = len(deployment.aws.sms_messages())
    with record_retry_sleeps(), inject_fault(
            DynamoDBBackend, "update_item", dynamodb_error("ThrottlingException"), times=100) as fault:
        result = deployment.run({**SMS, "notificationId": nid})

    assert (result.status, result.error) == ("FAILED", "DeliveryLogUnavailable")
    assert "ThrottlingException" in (result.cause or "")
    assert result.states_entered == [*SMS_PATH, "DeliveryLogUnavailable"]
    assert fault.calls == 4
    assert [m.phone_number for m in deployment.aws.sms_messages()[sms_before:]] == ["+15555550100"]
    assert deployment.record(nid)["status"] == "PROCESSING"  # claimed; the outcome could not be written
    detail = captured(deployment.aws, deployment.stack.outputs["FailedExecutionsQueueUrl"], result.execution_arn)
    assert (detail["status"], detail["error"]) == ("FAILED", "DeliveryLogUnavailable")


# ---- 6. SMS fallback after transient errors -------------------------------------------------


def test_sms_falls_back_to_email_after_transient_errors_outlast_the_retries(variant: Deployment) -> None:
    nid = new_id("fallback")
    sms_before = len(variant.aws.sms_messages())
    with record_retry_sleeps() as sleeps, sns_publish_fault(sns_throttled, times=100) as fault:
        result = variant.run({**SMS, "notificationId": nid, "email": {"to": "fallback@example.org"}})

    assert result.status == "SUCCEEDED", result.cause
    assert result.states_entered == ["ValidateRequest", "ClaimSms", "SendSms", "FallBackToEmail", "SendFallbackEmail",
                                     "RecordOutcome"]
    assert fault.calls == 4 and len(sleeps.intervals) == 3  # the SMS was retried first
    assert len(variant.aws.sms_messages()) == sms_before
    record = variant.record(nid)
    assert (record["status"], record["fallback"]) == ("SENT", "email")
    assert record["results"]["sms"]["error"] == "SNS.ThrottledException"
    email = variant.email(record["results"]["email"]["messageId"])
    assert (email.to, email.text_body) == (["fallback@example.org"], "Code 1234")


# ---- 7. sms_topic ---------------------------------------------------------------------------


def test_sms_is_published_to_the_topic_with_the_number_as_an_attribute(topic_stack: TopicDeployment) -> None:
    nid = new_id("topic")
    topic_stack.published()  # drain
    sms_before = len(topic_stack.aws.sms_messages())
    result = topic_stack.run({**SMS, "notificationId": nid, "message": f"via topic {nid}"})

    assert result.status == "SUCCEEDED", result.cause
    assert result.states_entered == SMS_PATH
    [envelope] = topic_stack.published()
    assert envelope["TopicArn"] == topic_stack.stack.outputs["SmsTopicArn"]
    assert envelope["Message"] == f"via topic {nid}"
    assert envelope["MessageAttributes"]["phoneNumber"] == {"Type": "String", "Value": "+15555550100"}
    assert len(topic_stack.aws.sms_messages()) == sms_before  # nothing straight to the phone
    record = topic_stack.record(nid)
    assert (record["status"], record["smsMessageId"]) == ("SENT", envelope["MessageId"])


# ---- 8. timeouts ----------------------------------------------------------------------------


def _is_topic_publish(marker: str) -> Callable[[tuple[Any, ...], dict[str, Any]], bool]:
    return lambda args, kwargs: (args[0] if args else kwargs.get("message")) == marker


def test_a_hung_task_attempt_is_cut_at_task_timeout_and_retried(topic_stack: TopicDeployment) -> None:
    nid = new_id("tasktimeout")
    marker = f"slow {nid}"
    topic_stack.published()
    began = time.monotonic()
    with record_retry_sleeps() as sleeps, hang(SNSBackend, "publish", _is_topic_publish(marker), sns_internal_error,
                                               times=1) as stuck:
        result = topic_stack.run({**SMS, "notificationId": nid, "message": marker})
    elapsed = time.monotonic() - began

    assert result.status == "SUCCEEDED", result.cause
    assert stuck.calls == 1 and len(sleeps.intervals) == 1
    assert TASK_TIMEOUT_S <= elapsed < WORKFLOW_TIMEOUT_S
    timed_out = [e for e in result.events if e["type"] == "TaskTimedOut"]
    assert [e["taskTimedOutEventDetails"]["error"] for e in timed_out] == ["States.Timeout"]
    assert [e["Message"] for e in topic_stack.published()] == [marker]  # once: the cut attempt had no effect
    assert topic_stack.record(nid)["status"] == "SENT"


def test_an_execution_past_the_workflow_timeout_ends_timed_out_and_is_captured(topic_stack: TopicDeployment) -> None:
    nid = new_id("timeout")
    marker = f"stuck {nid}"
    topic_stack.published()
    with record_retry_sleeps(), hang(SNSBackend, "publish", _is_topic_publish(marker), sns_internal_error) as stuck:
        result = topic_stack.run({**SMS, "notificationId": nid, "message": marker})
        # each attempt is cut at 3 s and retried at once: the 10 s timeout falls in the 4th (or,
        # on a slow machine, just before it starts); 4 attempts would need 12 s
        assert stuck.calls in (3, 4)

    assert result.status == "TIMED_OUT"
    # moto keeps running the attempt in flight when the workflow times out: once it is cut too,
    # nothing after SendSms was entered (no RecordSmsFailed after the timeout).
    # (moto then closes the history with ExecutionFailed States.Timeout, where AWS writes
    # ExecutionTimedOut at the timeout itself: the status is what this test can rely on.)
    events = history_closed(topic_stack.aws, result.execution_arn, timeout_s=TASK_TIMEOUT_S + 2)
    assert states_entered_from_events(events) == SMS_PATH[:-1]
    assert topic_stack.published() == []
    assert topic_stack.record(nid)["status"] == "PROCESSING"
    detail = captured(topic_stack.aws, topic_stack.stack.outputs["FailedExecutionsQueueUrl"], result.execution_arn)
    assert detail["status"] == "TIMED_OUT"
