"""EndUserMessagingSms (issue 14 item 4): the configuration set and its SNS event destination, the
opt-out list, the topic and key policies End User Messaging needs, the send grant's scope, bad
props, and cdk-nag."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk.assertions import Template

from constructs_lib import PropError
from constructs_lib._nag import acknowledge_own_role_policy
from constructs_lib.sms_voice import DEFAULT_EVENT_TYPES, EndUserMessagingSms
from tests.support.asl import resources_of_type
from tests.support.nag import REPORT_WITHOUT_FAILING, add_all_packs, add_nag_canary, beyond_the_canary

POOL_ID = "pool-0123456789abcdef0123456789abcdef"
ENV = cdk.Environment(account="111122223333", region="eu-west-1")


def _stack() -> cdk.Stack:
    return cdk.Stack(cdk.App(analytics_reporting=False), "Sms", env=ENV,
                     synthesizer=cdk.DefaultStackSynthesizer(generate_bootstrap_version_rule=False))


def _with_topic(**props: Any) -> tuple[EndUserMessagingSms, iam.Role, dict[str, Any]]:
    stack = _stack()
    key = kms.Key(stack, "EventsKey", enable_key_rotation=True)
    topic = sns.Topic(stack, "Events", master_key=key, enforce_ssl=True)
    sms = EndUserMessagingSms(stack, "Sms", origination_identity=POOL_ID, event_topic=topic, **props)
    role = iam.Role(stack, "Sender", assumed_by=iam.ServicePrincipal("states.amazonaws.com"))
    sms.grant_send(role)
    return sms, role, dict(Template.from_stack(stack).to_json())


@pytest.fixture(scope="module")
def built() -> tuple[EndUserMessagingSms, iam.Role, dict[str, Any]]:
    return _with_topic()


def _logical_id(construct: Any) -> str:
    return cdk.Stack.of(construct).get_logical_id(construct.node.default_child or construct)


def test_the_configuration_set_sends_delivery_events_to_the_topic(built: Any) -> None:
    sms, _, template = built
    [(set_id, configuration_set)] = resources_of_type(template, "AWS::SMSVOICE::ConfigurationSet").items()
    topic_id = _logical_id(sms.event_topic)
    assert configuration_set["Properties"] == {"EventDestinations": [{
        "EventDestinationName": "DeliveryEvents", "Enabled": True, "MatchingEventTypes": list(DEFAULT_EVENT_TYPES),
        "SnsDestination": {"TopicArn": {"Ref": topic_id}}}]}
    # It waits for the topic policy: AWS checks it may publish when the destination is created.
    [policy_id] = resources_of_type(template, "AWS::SNS::TopicPolicy")
    assert policy_id in configuration_set["DependsOn"]
    assert cdk.Stack.of(sms).resolve(sms.configuration_set_name) == {"Ref": set_id}
    assert cdk.Stack.of(sms).resolve(sms.configuration_set_arn) == {"Fn::GetAtt": [set_id, "Arn"]}


def test_an_opt_out_list_is_created_and_kept_when_none_is_named(built: Any) -> None:
    sms, _, template = built
    [(list_id, opt_out_list)] = resources_of_type(template, "AWS::SMSVOICE::OptOutList").items()
    assert opt_out_list["DeletionPolicy"] == opt_out_list["UpdateReplacePolicy"] == "Retain"
    assert cdk.Stack.of(sms).resolve(sms.opt_out_list_name) == {"Ref": list_id}
    assert cdk.Stack.of(sms).resolve(sms.opt_out_list_arn) == {"Fn::Join": ["", [
        "arn:", {"Ref": "AWS::Partition"}, ":sms-voice:eu-west-1:111122223333:opt-out-list/", {"Ref": list_id}]]}


def test_a_named_opt_out_list_is_used_as_it_is() -> None:
    stack = _stack()
    sms = EndUserMessagingSms(stack, "Sms", origination_identity=POOL_ID, opt_out_list_name="Default")
    template = dict(Template.from_stack(stack).to_json())
    assert resources_of_type(template, "AWS::SMSVOICE::OptOutList") == {}
    assert sms.opt_out_list is None and sms.opt_out_list_name == "Default"
    # Without a topic the configuration set has no event destination (and no topic policy).
    [configuration_set] = resources_of_type(template, "AWS::SMSVOICE::ConfigurationSet").values()
    assert "EventDestinations" not in configuration_set.get("Properties", {})


def test_only_sms_voice_of_this_account_may_publish_to_the_topic_and_use_its_key(built: Any) -> None:
    sms, _, template = built
    conditions = {
        "StringEquals": {"aws:SourceAccount": "111122223333"},
        "ArnLike": {"aws:SourceArn": {"Fn::Join": ["", [
            "arn:", {"Ref": "AWS::Partition"}, ":sms-voice:eu-west-1:111122223333:configuration-set/*"]]}},
    }
    [topic_policy] = resources_of_type(template, "AWS::SNS::TopicPolicy").values()
    [publish] = [s for s in topic_policy["Properties"]["PolicyDocument"]["Statement"]
                 if s.get("Sid") == "SmsVoicePublishesDeliveryEvents"]
    assert publish == {"Sid": "SmsVoicePublishesDeliveryEvents", "Effect": "Allow", "Action": "sns:Publish",
                       "Principal": {"Service": "sms-voice.amazonaws.com"},
                       "Resource": {"Ref": _logical_id(sms.event_topic)}, "Condition": conditions}
    [key] = resources_of_type(template, "AWS::KMS::Key").values()
    [use_key] = [s for s in key["Properties"]["KeyPolicy"]["Statement"]
                 if s.get("Sid") == "SmsVoiceEncryptsDeliveryEvents"]
    assert sorted(use_key["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey*"]
    assert use_key["Principal"] == {"Service": "sms-voice.amazonaws.com"}
    assert use_key["Condition"] == conditions


def test_grant_send_allows_send_text_message_on_the_origination_identity_and_configuration_set_only(
        built: Any) -> None:
    sms, role, template = built
    statements = [s for p in resources_of_type(template, "AWS::IAM::Policy").values()
                  if {"Ref": _logical_id(role)} in p["Properties"]["Roles"]
                  for s in p["Properties"]["PolicyDocument"]["Statement"]]
    pool_arn = {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"},
                                  f":sms-voice:eu-west-1:111122223333:pool/{POOL_ID}"]]}
    set_id = _logical_id(sms.configuration_set)
    assert statements == [{"Effect": "Allow", "Action": "sms-voice:SendTextMessage",
                           "Resource": [pool_arn, {"Fn::GetAtt": [set_id, "Arn"]}]}]


def test_grant_read_opt_outs_reads_the_opt_out_list_only() -> None:
    stack = _stack()
    sms = EndUserMessagingSms(stack, "Sms", origination_identity=POOL_ID, opt_out_list_name="Default")
    role = iam.Role(stack, "Reader", assumed_by=iam.ServicePrincipal("states.amazonaws.com"))
    sms.grant_read_opt_outs(role)
    [policy] = resources_of_type(dict(Template.from_stack(stack).to_json()), "AWS::IAM::Policy").values()
    assert policy["Properties"]["PolicyDocument"]["Statement"] == [{
        "Effect": "Allow", "Action": "sms-voice:DescribeOptedOutNumbers",
        "Resource": {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"},
                                       ":sms-voice:eu-west-1:111122223333:opt-out-list/Default"]]}}]


@pytest.mark.parametrize(("identity", "expected"), [
    ("phone-0123456789abcdef0123456789abcdef", "phone-number/phone-0123456789abcdef0123456789abcdef"),
    (POOL_ID, f"pool/{POOL_ID}"),
])
def test_an_identity_given_by_id_is_granted_by_its_arn(identity: str, expected: str) -> None:
    stack = _stack()
    sms = EndUserMessagingSms(stack, "Sms", origination_identity=identity, opt_out_list_name="Default")
    assert json.dumps(stack.resolve(sms.origination_identity_arn)).endswith(f':{expected}"]]}}')
    arn = "arn:aws:sms-voice:eu-west-1:111122223333:sender-id/MyBrand/GB"
    assert EndUserMessagingSms(stack, "ById", origination_identity=arn).origination_identity_arn == arn


def test_the_send_arguments_are_the_ones_the_construct_fixes(built: Any) -> None:
    sms, _, _ = built
    arguments = cdk.Stack.of(sms).resolve(sms.send_text_message_arguments())
    assert arguments["MessageType"] == "TRANSACTIONAL"
    assert arguments["ConfigurationSetName"] == {"Ref": _logical_id(sms.configuration_set)}
    assert "pool/" + POOL_ID in json.dumps(arguments["OriginationIdentity"])


@pytest.mark.parametrize(("props", "prop"), [
    ({"origination_identity": "+12065550100"}, "origination_identity"),
    ({"origination_identity": "my-pool"}, "origination_identity"),
    ({"origination_identity": POOL_ID, "opt_out_list_name": "bad name!"}, "opt_out_list_name"),
    ({"origination_identity": POOL_ID, "message_type": "transactional"}, "message_type"),
    ({"origination_identity": POOL_ID, "event_types": []}, "event_types"),
    ({"origination_identity": POOL_ID, "event_types": "TEXT_ALL"}, "event_types"),
    ({"origination_identity": POOL_ID, "event_types": ["EMAIL_DELIVERED"]}, "event_types"),
])
def test_fails_when_a_prop_is_unusable(props: dict[str, Any], prop: str) -> None:
    with pytest.raises(PropError) as raised:
        EndUserMessagingSms(_stack(), "Sms", **props)
    assert raised.value.prop == prop
    assert repr(props[prop]) in str(raised.value)


def test_fails_when_the_topic_is_fifo() -> None:
    stack = _stack()
    topic = sns.Topic(stack, "Fifo", fifo=True, topic_name="events.fifo")
    with pytest.raises(PropError) as raised:
        EndUserMessagingSms(stack, "Sms", origination_identity=POOL_ID, event_topic=topic)
    assert raised.value.prop == "event_topic" and "FIFO" in raised.value.fix


def test_the_e164_refusal_says_to_use_the_phone_number_id() -> None:
    with pytest.raises(PropError, match="PhoneNumberId"):
        EndUserMessagingSms(_stack(), "Sms", origination_identity="+12065550100")


def test_the_three_packs_find_nothing(tmp_path: Path) -> None:
    app = cdk.App(context=REPORT_WITHOUT_FAILING, outdir=str(tmp_path), analytics_reporting=False)
    stack = cdk.Stack(app, "Sms", env=ENV)
    key = kms.Key(stack, "EventsKey", enable_key_rotation=True)
    topic = sns.Topic(stack, "Events", master_key=key, enforce_ssl=True)
    sms = EndUserMessagingSms(stack, "Sms", origination_identity=POOL_ID, event_topic=topic)
    role = iam.Role(stack, "Sender", assumed_by=iam.ServicePrincipal("states.amazonaws.com"))
    sms.grant_send(role)
    sms.grant_read_opt_outs(role)
    acknowledge_own_role_policy(role, "the test sender's")  # the grantee's, not the construct's
    add_all_packs(app)
    add_nag_canary(app)
    app.synth()
    assert beyond_the_canary(tmp_path) == {}
