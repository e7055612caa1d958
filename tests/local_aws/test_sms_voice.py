"""AWS End User Messaging SMS on the embedded AWS (``local_aws.sms_voice``): sending, the opt-out
refusal and a recipient's STOP, delivery events on an SNS topic (reaching an SQS queue with the
send's Context) and in a log group, Step Functions' ``aws-sdk:pinpointsmsvoicev2`` task under the
access check, the ``AWS::SMSVOICE::*`` types and EndUserMessagingSms deployed through
CloudFormation, and the server mode the CDK CLI deploys through.

One in-process LocalAws serves the module; each test makes its own numbers, lists and topics.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from itertools import count
from typing import Any

import aws_cdk as cdk
import boto3
import pytest
from aws_cdk import aws_kms as kms
from aws_cdk import aws_smsvoice as smsvoice
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk.assertions import Template
from botocore.config import Config
from botocore.exceptions import ClientError

from constructs_lib.sms_voice import EndUserMessagingSms
from local_aws import LocalAws

REGION = "us-east-1"
ACCOUNT = "123456789012"
SEND_TASK = "arn:aws:states:::aws-sdk:pinpointsmsvoicev2:sendTextMessage"
_names = count(1)
_recipients = count(100)


@pytest.fixture(scope="module")
def aws() -> Iterator[LocalAws]:
    with LocalAws.in_process(region=REGION) as local:
        yield local


@pytest.fixture
def sms(aws: LocalAws) -> Any:
    assert aws.access is not None
    aws.access.clear()
    return aws.client("pinpoint-sms-voice-v2")


def unique(prefix: str) -> str:
    return f"{prefix}{next(_names)}"


def recipient() -> str:
    return f"+1425555{next(_recipients):04d}"


def new_number(sms: Any, **extra: Any) -> dict[str, Any]:
    number: dict[str, Any] = sms.request_phone_number(
        IsoCountryCode="US", MessageType="TRANSACTIONAL", NumberCapabilities=["SMS"], NumberType="TOLL_FREE", **extra)
    return number


def new_pool(sms: Any, **number_extra: Any) -> dict[str, Any]:
    number = new_number(sms, **number_extra)
    pool: dict[str, Any] = sms.create_pool(OriginationIdentity=number["PhoneNumberArn"], MessageType="TRANSACTIONAL")
    return {**pool, "PhoneNumber": number["PhoneNumber"]}


def conflict_reason(error: ClientError) -> tuple[str, str | None]:
    return error.response["Error"]["Code"], error.response.get("Reason")


# ---- sending and errors ------------------------------------------------------------------------


def test_a_text_through_a_pool_is_sent_from_its_number_and_recorded(aws: LocalAws, sms: Any) -> None:
    pool = new_pool(sms)
    to = recipient()
    message_id = sms.send_text_message(
        DestinationPhoneNumber=to, OriginationIdentity=pool["PoolArn"], MessageBody="Your code is 1234",
        Context={"notificationId": "n-1"}, TimeToLive=300)["MessageId"]

    [sent] = [m for m in aws.sms_voice_messages() if m.destination_phone_number == to]
    assert (sent.message_id, sent.message_body, sent.origination_phone_number) == (
        message_id, "Your code is 1234", pool["PhoneNumber"])
    assert (sent.context, sent.time_to_live, sent.message_type) == ({"notificationId": "n-1"}, 300, "TRANSACTIONAL")


def test_a_dry_run_answers_a_message_id_and_sends_nothing(aws: LocalAws, sms: Any) -> None:
    number = new_number(sms)
    to = recipient()
    assert sms.send_text_message(DestinationPhoneNumber=to, OriginationIdentity=number["PhoneNumber"],
                                 MessageBody="hi", DryRun=True)["MessageId"]
    assert [m for m in aws.sms_voice_messages() if m.destination_phone_number == to] == []


@pytest.mark.parametrize(("change", "code", "detail"), [
    ({"DestinationPhoneNumber": "555-0100"}, "ValidationException", "FIELD_VALIDATION_FAILED"),
    ({"MessageBody": "   "}, "ValidationException", "FIELD_VALIDATION_FAILED"),
    ({"TimeToLive": 1}, "ValidationException", "FIELD_VALIDATION_FAILED"),
    ({"OriginationIdentity": "pool-0000"}, "ResourceNotFoundException", "pool"),
    ({"ConfigurationSetName": "no-such-set"}, "ResourceNotFoundException", "configuration-set"),
])
def test_a_bad_send_is_refused_with_the_models_error(sms: Any, change: dict[str, Any], code: str,
                                                      detail: str) -> None:
    number = new_number(sms)
    request = {"DestinationPhoneNumber": recipient(), "OriginationIdentity": number["PhoneNumberId"],
               "MessageBody": "hi", **change}
    # As Step Functions' SDK tasks call it: without botocore's own checks, so the service answers.
    unchecked = boto3.client("pinpoint-sms-voice-v2", region_name=REGION, config=Config(parameter_validation=False))
    with pytest.raises(ClientError) as raised:
        unchecked.send_text_message(**request)
    response = raised.value.response
    assert response["Error"]["Code"] == code
    assert detail in (response.get("Reason"), response.get("ResourceType"))


def test_names_already_taken_are_a_conflict(sms: Any) -> None:
    name = unique("list-")
    sms.create_opt_out_list(OptOutListName=name)
    with pytest.raises(ClientError) as raised:
        sms.create_opt_out_list(OptOutListName=name)
    assert conflict_reason(raised.value) == ("ConflictException", "RESOURCE_ALREADY_EXISTS")
    assert name in [o["OptOutListName"] for o in sms.describe_opt_out_lists()["OptOutLists"]]


# ---- opt-out -----------------------------------------------------------------------------------


def test_a_number_on_the_identitys_opt_out_list_is_refused_until_removed(aws: LocalAws, sms: Any) -> None:
    opt_outs = unique("opt-outs-")
    sms.create_opt_out_list(OptOutListName=opt_outs)
    number = new_number(sms, OptOutListName=opt_outs)
    to = recipient()
    sms.put_opted_out_number(OptOutListName=opt_outs, OptedOutNumber=to)

    with pytest.raises(ClientError) as raised:
        sms.send_text_message(DestinationPhoneNumber=to, OriginationIdentity=number["PhoneNumberId"],
                              MessageBody="hi")
    assert conflict_reason(raised.value) == ("ConflictException", "DESTINATION_PHONE_NUMBER_OPTED_OUT")
    assert [m for m in aws.sms_voice_messages() if m.destination_phone_number == to] == []
    # Another identity with another list may still text the number.
    other = new_number(sms)
    sms.send_text_message(DestinationPhoneNumber=to, OriginationIdentity=other["PhoneNumberId"], MessageBody="hi")

    sms.delete_opted_out_number(OptOutListName=opt_outs, OptedOutNumber=to)
    sms.send_text_message(DestinationPhoneNumber=to, OriginationIdentity=number["PhoneNumberId"], MessageBody="hi")
    assert len([m for m in aws.sms_voice_messages() if m.destination_phone_number == to]) == 2


def test_a_recipient_texting_stop_joins_the_pools_opt_out_list(aws: LocalAws, sms: Any) -> None:
    pool = new_pool(sms)
    to = recipient()
    assert aws.sms_voice_reply(to, pool["PoolId"], "hello") is False  # not an opt-out keyword
    assert aws.sms_voice_reply(to, pool["PoolId"], "stop please") is True

    [entry] = [n for n in sms.describe_opted_out_numbers(OptOutListName=pool["OptOutListName"])["OptedOutNumbers"]
               if n["OptedOutNumber"] == to]
    assert entry["EndUserOptedOut"] is True
    by_hand = recipient()
    sms.put_opted_out_number(OptOutListName=pool["OptOutListName"], OptedOutNumber=by_hand)
    end_users = sms.describe_opted_out_numbers(
        OptOutListName=pool["OptOutListName"], OptedOutNumbers=[to, by_hand],
        Filters=[{"Name": "end-user-opted-out", "Values": ["true"]}])["OptedOutNumbers"]
    assert [n["OptedOutNumber"] for n in end_users] == [to]
    with pytest.raises(ClientError) as raised:
        sms.send_text_message(DestinationPhoneNumber=to, OriginationIdentity=pool["PoolId"], MessageBody="hi")
    assert conflict_reason(raised.value) == ("ConflictException", "DESTINATION_PHONE_NUMBER_OPTED_OUT")


def test_stop_adds_nothing_when_the_identity_manages_opt_outs_itself(sms: Any, aws: LocalAws) -> None:
    number = new_number(sms)
    sms.update_phone_number(PhoneNumberId=number["PhoneNumberId"], SelfManagedOptOutsEnabled=True)
    to = recipient()
    assert aws.sms_voice_reply(to, number["PhoneNumberArn"]) is False
    sms.send_text_message(DestinationPhoneNumber=to, OriginationIdentity=number["PhoneNumberArn"], MessageBody="hi")


# ---- events ------------------------------------------------------------------------------------


def event_topic(aws: LocalAws, *, allow_sms_voice: bool = True) -> tuple[str, str]:
    """A topic (End User Messaging may publish, or not) with an SQS queue subscribed; (topic ARN, queue URL)."""
    topic_arn: str = aws.client("sns").create_topic(Name=unique("sms-events-"))["TopicArn"]
    if allow_sms_voice:
        aws.client("sns").set_topic_attributes(TopicArn=topic_arn, AttributeName="Policy", AttributeValue=json.dumps({
            "Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"Service": "sms-voice.amazonaws.com"}, "Action": "sns:Publish",
                "Resource": topic_arn, "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}}}]}))
    sqs_client = aws.client("sqs")
    queue_url: str = sqs_client.create_queue(QueueName=unique("sms-events-"))["QueueUrl"]
    queue_arn = sqs_client.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"]
    sqs_client.set_queue_attributes(QueueUrl=queue_url, Attributes={"Policy": json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"}, "Action": "sqs:SendMessage",
            "Resource": queue_arn, "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}}}]})})
    aws.client("sns").subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    return topic_arn, queue_url


def received_events(aws: LocalAws, queue_url: str) -> list[dict[str, Any]]:
    """The End User Messaging events SNS delivered to the queue, in order."""
    events: list[dict[str, Any]] = []
    while True:
        messages = aws.client("sqs").receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            return events
        events += [json.loads(json.loads(m["Body"])["Message"]) for m in messages]


def configuration_set_to(sms: Any, topic_arn: str, *event_types: str) -> str:
    name = unique("config-")
    sms.create_configuration_set(ConfigurationSetName=name)
    sms.create_event_destination(ConfigurationSetName=name, EventDestinationName="topic",
                                 MatchingEventTypes=list(event_types or ["TEXT_ALL"]),
                                 SnsDestination={"TopicArn": topic_arn})
    return name


def test_delivery_events_reach_a_queue_subscribed_to_the_topic_with_the_context(aws: LocalAws, sms: Any) -> None:
    topic_arn, queue_url = event_topic(aws)
    configuration_set = configuration_set_to(sms, topic_arn)
    number = new_number(sms)
    to = recipient()
    message_id = sms.send_text_message(
        DestinationPhoneNumber=to, OriginationIdentity=number["PhoneNumberId"], MessageBody="Hello from the test",
        ConfigurationSetName=configuration_set, Context={"notificationId": "n-42"})["MessageId"]

    events = received_events(aws, queue_url)
    assert [(e["eventType"], e["messageStatus"], e["isFinal"]) for e in events] == [
        ("TEXT_SUCCESSFUL", "SUCCESSFUL", False), ("TEXT_DELIVERED", "DELIVERED", True)]
    delivered = events[-1]
    assert {k: delivered[k] for k in ("messageId", "destinationPhoneNumber", "originationPhoneNumber", "context",
                                      "messageType", "messageEncoding", "totalMessageParts", "eventVersion")} == {
        "messageId": message_id, "destinationPhoneNumber": to, "originationPhoneNumber": number["PhoneNumber"],
        "context": {"notificationId": "n-42"}, "messageType": "TRANSACTIONAL", "messageEncoding": "GSM",
        "totalMessageParts": 1, "eventVersion": "1.0"}
    assert delivered["eventTimestamp"] >= delivered["messageRequestTimestamp"] > 1_600_000_000_000
    assert aws.access is not None and aws.access.denials == []


def test_a_chosen_failure_is_the_only_event_and_destinations_get_only_their_types(aws: LocalAws, sms: Any) -> None:
    topic_arn, queue_url = event_topic(aws)
    configuration_set = configuration_set_to(sms, topic_arn, "TEXT_DELIVERED", "TEXT_CARRIER_UNREACHABLE")
    number = new_number(sms)
    to = recipient()
    aws.sms_voice_outcome(to, "TEXT_CARRIER_UNREACHABLE")
    for _ in range(2):
        sms.send_text_message(DestinationPhoneNumber=to, OriginationIdentity=number["PhoneNumberId"],
                              MessageBody="Grüße", ConfigurationSetName=configuration_set)

    events = received_events(aws, queue_url)
    # The first send failed; the second was delivered (TEXT_SUCCESSFUL is not matched).
    assert [(e["eventType"], e["isFinal"]) for e in events] == [
        ("TEXT_CARRIER_UNREACHABLE", True), ("TEXT_DELIVERED", True)]
    assert events[0]["messageEncoding"] == "UCS2" and "context" not in events[0]
    with pytest.raises(ValueError, match="event types"):
        aws.sms_voice_outcome(to, "DELIVERED")


def test_no_event_reaches_a_topic_whose_policy_leaves_out_sms_voice(aws: LocalAws, sms: Any) -> None:
    topic_arn, queue_url = event_topic(aws, allow_sms_voice=False)
    configuration_set = configuration_set_to(sms, topic_arn)
    number = new_number(sms)
    sms.send_text_message(DestinationPhoneNumber=recipient(), OriginationIdentity=number["PhoneNumberId"],
                          MessageBody="hi", ConfigurationSetName=configuration_set)

    assert received_events(aws, queue_url) == []
    assert aws.access is not None
    # One refused publish per event (TEXT_SUCCESSFUL, TEXT_DELIVERED).
    assert [(d.request.principal, d.request.action, d.request.resource, d.request.context["aws:SourceArn"])
            for d in aws.access.denials] == [
        ("sms-voice.amazonaws.com", "sns:Publish", topic_arn,
         f"arn:aws:sms-voice:{REGION}:{ACCOUNT}:configuration-set/{configuration_set}")] * 2


def _log_role(aws: LocalAws, group_arn: str, *, trusted: bool) -> str:
    name = unique("sms-logs-")
    trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "sms-voice.amazonaws.com" if trusted else "states.amazonaws.com"},
        "Action": "sts:AssumeRole"}]}
    iam_client = aws.client("iam")
    role_arn: str = iam_client.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    iam_client.put_role_policy(RoleName=name, PolicyName="logs", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"],
            "Resource": group_arn}]}))
    return role_arn


@pytest.mark.parametrize("trusted", [True, False])
def test_a_log_group_destination_gets_the_events_through_its_role(aws: LocalAws, sms: Any, trusted: bool) -> None:
    group = unique("/sms/events-")
    aws.client("logs").create_log_group(logGroupName=group)
    group_arn = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{group}:*"
    configuration_set = unique("config-")
    sms.create_configuration_set(ConfigurationSetName=configuration_set)
    sms.create_event_destination(
        ConfigurationSetName=configuration_set, EventDestinationName="logs", MatchingEventTypes=["ALL"],
        CloudWatchLogsDestination={"IamRoleArn": _log_role(aws, group_arn, trusted=trusted), "LogGroupArn": group_arn})
    number = new_number(sms)
    sms.send_text_message(DestinationPhoneNumber=recipient(), OriginationIdentity=number["PhoneNumberId"],
                          MessageBody="hi", ConfigurationSetName=configuration_set, Context={"k": "v"})

    logged = [json.loads(e["message"]) for e in aws.client("logs").filter_log_events(logGroupName=group)["events"]]
    if trusted:
        assert [(e["eventType"], e["context"]) for e in logged] == [
            ("TEXT_SUCCESSFUL", {"k": "v"}), ("TEXT_DELIVERED", {"k": "v"})]
    else:  # sms-voice.amazonaws.com may not take the role: nothing is written
        assert logged == []
        assert aws.access is not None
        assert [d.request.action for d in aws.access.denials] == ["sts:AssumeRole"] * 2  # one per event


# ---- Step Functions under the access check -----------------------------------------------------

SEND_DEFINITION = {
    "StartAt": "Send",
    "States": {"Send": {
        "Type": "Task", "Resource": SEND_TASK,
        "Parameters": {"DestinationPhoneNumber.$": "$.to", "MessageBody.$": "$.body",
                       "OriginationIdentity.$": "$.from", "ConfigurationSetName.$": "$.configurationSet",
                       "Context": {"notificationId.$": "$.id"}},
        "End": True}},
}


def send_machine(aws: LocalAws, *resources: str) -> str:
    """A state machine whose role may SendTextMessage on ``resources`` (none: no statement at all)."""
    name = unique("sms-sender-")
    iam_client = aws.client("iam")
    role_arn = iam_client.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Service": "states.amazonaws.com"}, "Action": "sts:AssumeRole"}]}))[
        "Role"]["Arn"]
    if resources:
        iam_client.put_role_policy(RoleName=name, PolicyName="send", PolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Action": "sms-voice:SendTextMessage", "Resource": list(resources)}]}))
    machine_arn: str = aws.client("stepfunctions").create_state_machine(
        name=name, definition=json.dumps(SEND_DEFINITION), roleArn=role_arn)["stateMachineArn"]
    return machine_arn


def test_a_workflow_sends_through_the_sdk_task_with_a_scoped_grant(aws: LocalAws, sms: Any) -> None:
    topic_arn, queue_url = event_topic(aws)
    configuration_set = configuration_set_to(sms, topic_arn, "TEXT_DELIVERED")
    pool = new_pool(sms)
    set_arn = f"arn:aws:sms-voice:{REGION}:{ACCOUNT}:configuration-set/{configuration_set}"
    machine = send_machine(aws, pool["PoolArn"], set_arn)
    to = recipient()

    result = aws.start_and_wait(machine, {"to": to, "body": "Your parcel is here", "from": pool["PoolId"],
                                          "configurationSet": configuration_set, "id": "n-7"})
    assert result.status == "SUCCEEDED", result.cause
    [sent] = [m for m in aws.sms_voice_messages() if m.destination_phone_number == to]
    assert result.output == {"MessageId": sent.message_id}
    [event] = received_events(aws, queue_url)
    assert (event["messageId"], event["context"]) == (sent.message_id, {"notificationId": "n-7"})

    aws.sms_voice_reply(to, pool["PoolArn"])
    refused = aws.start_and_wait(machine, {"to": to, "body": "again", "from": pool["PoolId"],
                                           "configurationSet": configuration_set, "id": "n-8"})
    assert (refused.status, refused.error) == ("FAILED", "PinpointSmsVoiceV2.ConflictException")
    assert "opted out" in (refused.cause or "")


@pytest.mark.parametrize("grant", ["none", "another pool", "another configuration set"])
def test_a_role_without_the_grant_for_this_send_is_denied(aws: LocalAws, sms: Any, grant: str) -> None:
    pool, other_pool = new_pool(sms), new_pool(sms)
    configuration_set = unique("config-")
    sms.create_configuration_set(ConfigurationSetName=configuration_set)
    set_arn = f"arn:aws:sms-voice:{REGION}:{ACCOUNT}:configuration-set/{configuration_set}"
    resources = {"none": [], "another pool": [other_pool["PoolArn"], set_arn],
                 "another configuration set": [pool["PoolArn"], set_arn + "-other"]}[grant]
    machine = send_machine(aws, *resources)
    to = recipient()

    result = aws.start_and_wait(machine, {"to": to, "body": "hi", "from": pool["PoolArn"],
                                          "configurationSet": configuration_set, "id": "n-9"})
    assert (result.status, result.error) == ("FAILED", "PinpointSmsVoiceV2.AccessDeniedException")
    assert [m for m in aws.sms_voice_messages() if m.destination_phone_number == to] == []
    assert aws.access is not None
    [denial] = aws.access.denials
    assert denial.request.action == "sms-voice:SendTextMessage"
    assert denial.request.resource == (set_arn if grant == "another configuration set" else pool["PoolArn"])


# ---- CloudFormation ----------------------------------------------------------------------------


def sms_stack_template() -> dict[str, Any]:
    """A number in a pool, EndUserMessagingSms over the pool with an encrypted event topic and a
    queue on it, and a state machine granted by ``grant_send``."""
    stack = cdk.Stack(cdk.App(analytics_reporting=False), "SmsStack",
                      synthesizer=cdk.DefaultStackSynthesizer(generate_bootstrap_version_rule=False))
    keywords = smsvoice.CfnPhoneNumber.MandatoryKeywordsProperty(
        help=smsvoice.CfnPhoneNumber.MandatoryKeywordProperty(message="Help: example.com/sms"),
        stop=smsvoice.CfnPhoneNumber.MandatoryKeywordProperty(message="You will get no more texts."))
    number = smsvoice.CfnPhoneNumber(stack, "Number", iso_country_code="US", number_capabilities=["SMS"],
                                     number_type="TOLL_FREE", mandatory_keywords=keywords)
    pool = smsvoice.CfnPool(
        stack, "Pool", origination_identities=[number.attr_phone_number_id],
        mandatory_keywords=smsvoice.CfnPool.MandatoryKeywordsProperty(
            help=smsvoice.CfnPool.MandatoryKeywordProperty(message="Help: example.com/sms"),
            stop=smsvoice.CfnPool.MandatoryKeywordProperty(message="You will get no more texts.")))
    key = kms.Key(stack, "EventsKey", enable_key_rotation=True)
    topic = sns.Topic(stack, "Events", master_key=key, enforce_ssl=True)
    queue = sqs.Queue(stack, "EventsQueue")
    topic.add_subscription(subscriptions.SqsSubscription(queue, raw_message_delivery=True))
    sms = EndUserMessagingSms(stack, "Sms", origination_identity=pool.attr_arn, event_topic=topic)
    send = sfn.CustomState(stack, "Send", state_json={
        "Type": "Task", "Resource": SEND_TASK,
        "Parameters": {**sms.send_text_message_arguments(), "DestinationPhoneNumber.$": "$.to",
                       "MessageBody.$": "$.body", "Context": {"notificationId.$": "$.id"}}})
    machine = sfn.StateMachine(stack, "Machine", definition_body=sfn.DefinitionBody.from_chainable(send))
    sms.grant_send(machine)
    for name, value in {"MachineArn": machine.state_machine_arn, "QueueUrl": queue.queue_url,
                        "PoolId": pool.attr_pool_id, "PhoneNumber": number.attr_phone_number,
                        "ConfigurationSetName": sms.configuration_set_name,
                        "ConfigurationSetArn": sms.configuration_set_arn, "OptOutListName": sms.opt_out_list_name,
                        "OptOutListArn": sms.opt_out_list_arn}.items():
        cdk.CfnOutput(stack, name, value=value)
    return dict(Template.from_stack(stack).to_json())


def test_the_construct_deploys_and_its_configuration_set_reports_to_the_queue(aws: LocalAws, sms: Any) -> None:
    deployed = aws.deploy_template(unique("SmsStack"), sms_stack_template())
    out = deployed.outputs
    [pool] = sms.describe_pools(PoolIds=[out["PoolId"]])["Pools"]
    [number] = sms.describe_phone_numbers(
        Filters=[{"Name": "opt-out-list-name", "Values": ["Default"]}, {"Name": "number-type",
                                                                        "Values": ["TOLL_FREE"]}])["PhoneNumbers"][-1:]
    assert (number["PhoneNumber"], number["PoolId"]) == (out["PhoneNumber"], out["PoolId"])
    assert pool["OptOutListName"] == "Default"  # the pool took its number's list
    [configuration_set] = sms.describe_configuration_sets(
        ConfigurationSetNames=[out["ConfigurationSetName"]])["ConfigurationSets"]
    assert configuration_set["ConfigurationSetArn"] == out["ConfigurationSetArn"]
    [destination] = configuration_set["EventDestinations"]
    assert destination["SnsDestination"]["TopicArn"].startswith(f"arn:aws:sns:{REGION}:{ACCOUNT}:")
    assert out["OptOutListArn"] == f"arn:aws:sms-voice:{REGION}:{ACCOUNT}:opt-out-list/{out['OptOutListName']}"
    assert out["OptOutListName"] in [o["OptOutListName"] for o in sms.describe_opt_out_lists()["OptOutLists"]]

    to = recipient()
    result = aws.start_and_wait(out["MachineArn"], {"to": to, "body": "Deployed and sending", "id": "n-cfn"})
    assert result.status == "SUCCEEDED", result.cause
    bodies = [m["Body"] for m in aws.client("sqs").receive_message(
        QueueUrl=out["QueueUrl"], MaxNumberOfMessages=10)["Messages"]]
    events = [json.loads(body) for body in bodies]  # raw message delivery: the event itself
    assert {(e["eventType"], e["destinationPhoneNumber"], e["context"]["notificationId"]) for e in events} == {
        ("TEXT_SUCCESSFUL", to, "n-cfn"), ("TEXT_DELIVERED", to, "n-cfn")}
    assert aws.access is not None and aws.access.denials == []


def test_deleting_the_stack_deletes_what_it_made(aws: LocalAws, sms: Any) -> None:
    stack_name = unique("SmsStack")
    out = aws.deploy_template(stack_name, sms_stack_template()).outputs
    aws.client("cloudformation").delete_stack(StackName=stack_name)
    assert sms.describe_pools()["Pools"] == [p for p in sms.describe_pools()["Pools"] if p["PoolId"] != out["PoolId"]]
    assert out["PhoneNumber"] not in [n["PhoneNumber"] for n in sms.describe_phone_numbers()["PhoneNumbers"]]
    with pytest.raises(ClientError) as raised:
        sms.describe_configuration_sets(ConfigurationSetNames=[out["ConfigurationSetName"]])
    assert raised.value.response["Error"]["Code"] == "ResourceNotFoundException"
    # The opt-out list is retained (who opted out must not be forgotten).
    assert out["OptOutListName"] in [o["OptOutListName"] for o in sms.describe_opt_out_lists()["OptOutLists"]]


# ---- server mode -------------------------------------------------------------------------------


def test_server_mode_serves_the_api_and_the_sdk_task() -> None:
    with LocalAws.server(region=REGION) as server:
        client = boto3.client("pinpoint-sms-voice-v2", region_name=REGION, endpoint_url=server.endpoint_url,
                              aws_access_key_id="testing", aws_secret_access_key="testing")
        pool = new_pool(client)
        to = recipient()
        client.send_text_message(DestinationPhoneNumber=to, OriginationIdentity=pool["PoolId"], MessageBody="direct")
        machine = send_machine(server, pool["PoolArn"], f"arn:aws:sms-voice:{REGION}:{ACCOUNT}:configuration-set/*")
        client.create_configuration_set(ConfigurationSetName="server-set")
        result = server.start_and_wait(machine, {"to": to, "body": "via the engine", "from": pool["PoolId"],
                                                 "configurationSet": "server-set", "id": "n-s"})
        assert result.status == "SUCCEEDED", result.cause
        assert [(m.message_body, m.context) for m in server.sms_voice_messages()] == [
            ("direct", {}), ("via the engine", {"notificationId": "n-s"})]
        server.sms_voice_reply(to, pool["PoolId"])
        with pytest.raises(ClientError) as raised:
            client.send_text_message(DestinationPhoneNumber=to, OriginationIdentity=pool["PoolId"], MessageBody="x")
        assert conflict_reason(raised.value) == ("ConflictException", "DESTINATION_PHONE_NUMBER_OPTED_OUT")
