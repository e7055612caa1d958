"""``local_aws.ses_v2`` templates: SES v2 template operations on the store SES v1 shares, SendEmail
with ``Content.Template`` rendered (or not delivered when a variable is missing), from a workflow
too, and ``AWS::SES::Template`` in CloudFormation."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from botocore.exceptions import ClientError

from local_aws import LocalAws
from tests.local_aws.ses_v2_support import SENDER, allow, role, run_sesv2_task, ses_sender

WELCOME = {"Subject": "Welcome, {{name}}", "Text": "Hello {{name}}, you have {{count}} new {{user.kind}} messages.",
           "Html": "<p>Hello <b>{{name}}</b></p>"}


@pytest.fixture
def aws() -> Iterator[LocalAws]:
    with ses_sender() as local:
        local.client("sesv2").create_email_template(TemplateName="welcome", TemplateContent=WELCOME)
        yield local


def send(aws: LocalAws, data: object, template: str = "welcome", to: str = "ana@example.org") -> str:
    message_id: str = aws.client("sesv2").send_email(
        FromEmailAddress=SENDER, Destination={"ToAddresses": [to]},
        Content={"Template": {"TemplateName": template, "TemplateData": json.dumps(data)}})["MessageId"]
    return message_id


def test_without_the_bridge_moto_cannot_send_a_template() -> None:
    with LocalAws.in_process(apply_bridges=False) as bare:
        bare.verify_email_identities(["example.com"])
        with pytest.raises(NotImplementedError):
            bare.client("sesv2").send_email(FromEmailAddress=SENDER, Destination={"ToAddresses": ["a@example.org"]},
                                            Content={"Template": {"TemplateName": "t", "TemplateData": "{}"}})


def test_a_template_send_shows_the_rendered_subject_and_bodies(aws: LocalAws) -> None:
    data = {"name": "Ana", "count": 3, "user": {"kind": "billing"}}

    message_id = send(aws, data)

    [sent] = aws.sent_emails()
    assert (sent.message_id, sent.kind, sent.template) == (message_id, "template", "welcome")
    assert json.loads(sent.template_data or "") == data
    assert sent.subject == "Welcome, Ana"
    assert sent.text_body == "Hello Ana, you have 3 new billing messages."
    assert sent.html_body == "<p>Hello <b>Ana</b></p>"
    assert sent.delivered_to == ["ana@example.org"] and sent.undelivered == {} and sent.events == []


def test_a_missing_variable_is_accepted_and_not_delivered_with_a_rendering_failure(aws: LocalAws) -> None:
    message_id = send(aws, {"name": "Ana", "count": None, "user": {}})  # null counts as missing

    [sent] = aws.sent_emails()
    assert sent.message_id == message_id  # SES accepted it
    assert (sent.subject, sent.text_body, sent.html_body) == (None, None, None)
    assert sent.undelivered == {"ana@example.org": "RenderingFailure"} and sent.delivered_to == []
    [event] = sent.events
    assert event["eventType"] == "Rendering Failure"
    assert event["mail"]["messageId"] == message_id
    assert event["failure"] == {"templateName": "welcome",
                                "errorMessage": "Attribute 'count' is not present in the rendering data."}


def test_an_unknown_template_is_refused(aws: LocalAws) -> None:
    with pytest.raises(ClientError) as refused:
        send(aws, {}, template="missing")
    assert refused.value.response["Error"]["Code"] == "NotFoundException"
    assert aws.sent_emails() == []


@pytest.mark.parametrize("data", ["not json", "[1, 2]"])
def test_template_data_must_be_a_json_object(aws: LocalAws, data: str) -> None:
    with pytest.raises(ClientError) as refused:
        aws.client("sesv2").send_email(FromEmailAddress=SENDER, Destination={"ToAddresses": ["ana@example.org"]},
                                       Content={"Template": {"TemplateName": "welcome", "TemplateData": data}})
    assert refused.value.response["Error"]["Code"] == "BadRequestException"


def test_handlebars_blocks_are_refused_rather_than_sent_unrendered(aws: LocalAws) -> None:
    aws.client("sesv2").create_email_template(
        TemplateName="blocks", TemplateContent={"Subject": "Hi", "Text": "{{#if vip}}VIP{{/if}}"})
    with pytest.raises(ClientError, match="Handlebars") as refused:
        send(aws, {"vip": True}, template="blocks")
    assert refused.value.response["Error"]["Code"] == "BadRequestException"


def test_v1_and_v2_share_one_template_store(aws: LocalAws) -> None:
    v1, v2 = aws.client("ses"), aws.client("sesv2")
    assert v1.get_template(TemplateName="welcome")["Template"]["SubjectPart"] == WELCOME["Subject"]
    v1.create_template(Template={"TemplateName": "from-v1", "SubjectPart": "Hi {{name}}", "TextPart": "t"})

    send(aws, {"name": "Bo"}, template="from-v1")

    assert v2.get_email_template(TemplateName="from-v1")["TemplateContent"]["Subject"] == "Hi {{name}}"
    assert aws.sent_emails()[0].subject == "Hi Bo"
    assert sorted(t["TemplateName"] for t in v2.list_email_templates()["TemplatesMetadata"]) == ["from-v1", "welcome"]


def test_template_operations_answer_as_sesv2(aws: LocalAws) -> None:
    v2 = aws.client("sesv2")
    with pytest.raises(ClientError) as duplicate:
        v2.create_email_template(TemplateName="welcome", TemplateContent=WELCOME)
    v2.update_email_template(TemplateName="welcome", TemplateContent={**WELCOME, "Subject": "Hey {{name}}"})
    updated = v2.get_email_template(TemplateName="welcome")["TemplateContent"]["Subject"]
    v2.delete_email_template(TemplateName="welcome")
    errors = []
    for call in (v2.get_email_template, v2.delete_email_template):
        with pytest.raises(ClientError) as missing:
            call(TemplateName="welcome")
        errors.append(missing.value.response["Error"]["Code"])

    assert duplicate.value.response["Error"]["Code"] == "AlreadyExistsException"
    assert updated == "Hey {{name}}"
    assert errors == ["NotFoundException", "NotFoundException"]


def test_a_workflow_sends_a_template_and_names_an_unknown_one_as_aws(aws: LocalAws) -> None:
    templates = f"arn:aws:ses:us-east-1:{aws.account_id}:template/*"
    identity_arn = f"arn:aws:ses:us-east-1:{aws.account_id}:identity/example.com"
    sender = role(aws, "sender", [allow("ses:SendEmail", identity_arn), allow("ses:SendEmail", templates)])
    parameters = {"FromEmailAddress": SENDER, "Destination": {"ToAddresses": ["ana@example.org"]},
                  "Content": {"Template": {"TemplateName": "welcome",
                                           "TemplateData": json.dumps({"name": "Ana", "count": 1,
                                                                       "user": {"kind": "new"}})}}}

    sent = run_sesv2_task(aws, sender, "sendEmail", parameters)
    missing = run_sesv2_task(aws, sender, "sendEmail", {
        **parameters, "Content": {"Template": {"TemplateName": "other", "TemplateData": "{}"}}})

    assert sent.status == "SUCCEEDED" and "Error" not in sent.output, sent.output
    assert [e.subject for e in aws.sent_emails()] == ["Welcome, Ana"]
    assert missing.output["Error"] == "SesV2.NotFoundException"


def test_a_template_send_needs_ses_sendemail_on_the_template(aws: LocalAws) -> None:
    identity_arn = f"arn:aws:ses:us-east-1:{aws.account_id}:identity/example.com"
    identity_only = role(aws, "identity-only", [allow("ses:SendEmail", identity_arn)])

    result = run_sesv2_task(aws, identity_only, "sendEmail", {
        "FromEmailAddress": SENDER, "Destination": {"ToAddresses": ["ana@example.org"]},
        "Content": {"Template": {"TemplateName": "welcome", "TemplateData": "{}"}}})

    assert result.output["Error"] == "SesV2.AccessDeniedException"
    assert aws.access is not None
    [denial] = aws.access.denials
    assert (denial.request.action, denial.request.resource) == (
        "ses:SendEmail", f"arn:aws:ses:us-east-1:{aws.account_id}:template/welcome")
    assert aws.sent_emails() == []


def cfn_template(subject: str) -> dict[str, object]:
    return {"Resources": {"Welcome": {"Type": "AWS::SES::Template", "Properties": {"Template": {
        "TemplateName": "cfn-welcome", "SubjectPart": subject, "TextPart": "Hi {{name}}",
        "HtmlPart": "<p>{{name}}</p>"}}},
        "Unnamed": {"Type": "AWS::SES::Template", "Properties": {"Template": {"SubjectPart": "s"}}}},
        "Outputs": {"Name": {"Value": {"Ref": "Welcome"}}, "Id": {"Value": {"Fn::GetAtt": ["Welcome", "Id"]}},
                    "Generated": {"Value": {"Ref": "Unnamed"}}}}


def test_cloudformation_deploys_updates_and_deletes_templates(aws: LocalAws) -> None:
    v2, cfn = aws.client("sesv2"), aws.client("cloudformation")

    stack = aws.deploy_template("Templates", cfn_template("Hello {{name}}"))
    generated = stack.outputs["Generated"]
    deployed = v2.get_email_template(TemplateName="cfn-welcome")["TemplateContent"]
    cfn.update_stack(StackName="Templates", TemplateBody=json.dumps(cfn_template("Howdy {{name}}")))
    updated = v2.get_email_template(TemplateName="cfn-welcome")["TemplateContent"]["Subject"]
    cfn.delete_stack(StackName="Templates")
    left = {t["TemplateName"] for t in v2.list_email_templates()["TemplatesMetadata"]}

    assert (stack.outputs["Name"], stack.outputs["Id"]) == ("cfn-welcome", "cfn-welcome")
    assert generated.startswith("Templates-Unnamed-")
    assert deployed == {"Subject": "Hello {{name}}", "Text": "Hi {{name}}", "Html": "<p>{{name}}</p>"}
    assert updated == "Howdy {{name}}"
    assert left == {"welcome"}


def test_the_server_routes_the_template_and_suppression_operations() -> None:
    # moto's server routes /v2/email/... path by path; its catch-all reaches these in process only.
    with LocalAws.server() as server:
        server.verify_email_identities(["example.com"])
        v2 = server.client("sesv2")
        v2.create_email_template(TemplateName="welcome", TemplateContent=WELCOME)
        v2.put_suppressed_destination(EmailAddress="bo@example.org", Reason="BOUNCE")

        send(server, {"name": "Ana", "count": 2, "user": {"kind": "new"}})
        send(server, {"name": "Bo", "count": 2, "user": {"kind": "new"}}, to="bo@example.org")

        assert [t["TemplateName"] for t in v2.list_email_templates()["TemplatesMetadata"]] == ["welcome"]
        suppressed = v2.get_suppressed_destination(EmailAddress="bo@example.org")["SuppressedDestination"]
        assert suppressed["Reason"] == "BOUNCE"
        assert [(e.subject, e.delivered_to) for e in server.sent_emails()] == [
            ("Welcome, Ana", ["ana@example.org"]), ("Welcome, Bo", [])]
