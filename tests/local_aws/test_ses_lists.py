"""``local_aws.ses_v2`` list management: SendEmail with ``ListManagementOptions`` (the one-click
List-Unsubscribe headers, unsubscribed contacts bounced), GetContact with the topics' defaults from
a workflow under the access check, and ``AWS::SES::ContactList`` in CloudFormation."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from local_aws import LocalAws
from tests.local_aws.ses_v2_support import SENDER, allow, role, run_sesv2_task, ses_sender

TOPICS = [
    {"TopicName": "offers", "DisplayName": "Offers", "DefaultSubscriptionStatus": "OPT_OUT"},
    {"TopicName": "updates", "DisplayName": "Updates", "DefaultSubscriptionStatus": "OPT_IN"},
]


@pytest.fixture
def aws() -> Iterator[LocalAws]:
    with ses_sender() as local:
        local.client("sesv2").create_contact_list(ContactListName="news", Topics=TOPICS)
        yield local


def send(aws: LocalAws, to: list[str], topic: str | None = "updates", contact_list: str = "news") -> str:
    options = {"ContactListName": contact_list, **({"TopicName": topic} if topic else {})}
    body = {"Text": {"Data": "Leave: {{amazonSESUnsubscribeUrl}}"},
            "Html": {"Data": "<a>{{amazonSESUnsubscribeUrl}}</a>"}}
    message_id: str = aws.client("sesv2").send_email(
        FromEmailAddress=SENDER, Destination={"ToAddresses": to}, ListManagementOptions=options,
        Content={"Simple": {"Subject": {"Data": "News"}, "Body": body}})["MessageId"]
    return message_id


def test_a_single_recipient_gets_the_one_click_unsubscribe_headers(aws: LocalAws) -> None:
    send(aws, ["ana@example.org"])

    [sent] = aws.sent_emails()
    url = sent.headers["List-Unsubscribe"].strip("<>")
    assert sent.headers == {"List-Unsubscribe": f"<{url}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
    assert url.startswith("https://") and "topic=updates" in url
    assert (sent.contact_list, sent.topic) == ("news", "updates")
    assert sent.text_body == f"Leave: {url}" and sent.html_body == f"<a>{url}</a>"
    assert sent.delivered_to == ["ana@example.org"]


def test_several_recipients_get_no_unsubscribe_headers(aws: LocalAws) -> None:
    send(aws, ["ana@example.org", "bo@example.org"])

    [sent] = aws.sent_emails()
    assert sent.headers == {}
    assert sent.text_body == "Leave: {{amazonSESUnsubscribeUrl}}"
    assert sent.delivered_to == ["ana@example.org", "bo@example.org"]


@pytest.mark.parametrize(("contact", "topic"), [
    ({"UnsubscribeAll": True}, "updates"),
    ({"UnsubscribeAll": True}, None),
    ({"TopicPreferences": [{"TopicName": "updates", "SubscriptionStatus": "OPT_OUT"}]}, "updates"),
    ({}, "offers"),  # no preference: the topic's default, OPT_OUT
])
def test_an_unsubscribed_contact_is_bounced_not_delivered(aws: LocalAws, contact: dict[str, Any],
                                                          topic: str | None) -> None:
    aws.client("sesv2").create_contact(ContactListName="news", EmailAddress="ana@example.org", **contact)

    message_id = send(aws, ["ana@example.org", "bo@example.org"], topic=topic)

    [sent] = aws.sent_emails()
    assert sent.message_id == message_id  # accepted
    assert sent.undelivered == {"ana@example.org": "UnsubscribedRecipient"}
    assert sent.delivered_to == ["bo@example.org"]
    [event] = sent.events
    assert event["eventType"] == "Bounce" and event["mail"]["messageId"] == message_id
    assert (event["bounce"]["bounceType"], event["bounce"]["bounceSubType"]) == ("Permanent", "UnsubscribedRecipient")
    assert event["bounce"]["bouncedRecipients"] == [{"emailAddress": "ana@example.org"}]


@pytest.mark.parametrize(("contact", "topic"), [
    ({"TopicPreferences": [{"TopicName": "offers", "SubscriptionStatus": "OPT_IN"}]}, "offers"),  # beats the default
    ({"TopicPreferences": [{"TopicName": "offers", "SubscriptionStatus": "OPT_OUT"}]}, "updates"),  # another topic
    ({"TopicPreferences": [{"TopicName": "offers", "SubscriptionStatus": "OPT_OUT"}]}, None),  # no topic named
])
def test_a_subscribed_contact_is_delivered(aws: LocalAws, contact: dict[str, Any], topic: str | None) -> None:
    aws.client("sesv2").create_contact(ContactListName="news", EmailAddress="ana@example.org", **contact)

    send(aws, ["ana@example.org"], topic=topic)

    [sent] = aws.sent_emails()
    assert sent.delivered_to == ["ana@example.org"] and sent.events == []


@pytest.mark.parametrize(("contact_list", "topic"), [("gone", "updates"), ("news", "unknown")])
def test_the_contact_list_and_topic_must_exist(aws: LocalAws, contact_list: str, topic: str) -> None:
    with pytest.raises(ClientError) as refused:
        send(aws, ["ana@example.org"], topic=topic, contact_list=contact_list)
    assert refused.value.response["Error"]["Code"] == "NotFoundException"
    assert aws.sent_emails() == []


def test_a_workflow_reads_a_contact_with_the_topic_defaults_on_that_list_only(aws: LocalAws) -> None:
    v2 = aws.client("sesv2")
    v2.create_contact_list(ContactListName="other")
    v2.create_contact(ContactListName="news", EmailAddress="ana@example.org",
                      TopicPreferences=[{"TopicName": "updates", "SubscriptionStatus": "OPT_OUT"}])
    lists = f"arn:aws:ses:us-east-1:{aws.account_id}:contact-list"
    reader = role(aws, "reader", [allow("ses:GetContact", f"{lists}/news")])
    elsewhere = role(aws, "elsewhere", [allow("ses:GetContact", f"{lists}/other")])
    parameters = {"ContactListName": "news", "EmailAddress": "ana@example.org"}

    read = run_sesv2_task(aws, reader, "getContact", parameters)
    refused = run_sesv2_task(aws, elsewhere, "getContact", parameters)

    assert read.status == "SUCCEEDED" and "Error" not in read.output, read.output
    assert read.output["TopicPreferences"] == [{"TopicName": "updates", "SubscriptionStatus": "OPT_OUT"}]
    assert read.output["TopicDefaultPreferences"] == [{"TopicName": "offers", "SubscriptionStatus": "OPT_OUT"},
                                                      {"TopicName": "updates", "SubscriptionStatus": "OPT_IN"}]
    assert read.output["UnsubscribeAll"] is False
    # A timestamp reaches the workflow as text (moto's engine kept a datetime nothing could serialise).
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", read.output["CreatedTimestamp"])
    assert refused.output["Error"] == "SesV2.AccessDeniedException"
    assert aws.access is not None
    [denial] = aws.access.denials
    assert (denial.request.action, denial.request.resource) == ("ses:GetContact", f"{lists}/news")


def contact_list_template(topics: list[dict[str, str]]) -> dict[str, Any]:
    return {"Resources": {
        "News": {"Type": "AWS::SES::ContactList", "Properties": {
            "ContactListName": "cfn-news", "Description": "News", "Topics": topics}},
        "Unnamed": {"Type": "AWS::SES::ContactList", "Properties": {}}},
        "Outputs": {"Name": {"Value": {"Ref": "News"}}, "Generated": {"Value": {"Ref": "Unnamed"}}}}


def test_cloudformation_deploys_updates_and_deletes_contact_lists(aws: LocalAws) -> None:
    v2, cfn = aws.client("sesv2"), aws.client("cloudformation")

    stack = aws.deploy_template("Lists", contact_list_template(TOPICS[:1]))
    deployed = v2.get_contact_list(ContactListName="cfn-news")
    cfn.update_stack(StackName="Lists", TemplateBody=json.dumps(contact_list_template(TOPICS)))
    updated = v2.get_contact_list(ContactListName="cfn-news")["Topics"]
    cfn.delete_stack(StackName="Lists")
    left = {c["ContactListName"] for c in v2.list_contact_lists()["ContactLists"]}

    assert stack.outputs["Name"] == "cfn-news" and stack.outputs["Generated"].startswith("Lists-Unnamed-")
    assert (deployed["Description"], deployed["Topics"]) == ("News", TOPICS[:1])
    assert updated == TOPICS
    assert left == {"news"}
