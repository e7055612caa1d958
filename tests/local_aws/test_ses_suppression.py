"""``local_aws.ses_v2`` account-level suppression list: its operations, a send to a suppressed
address accepted and not delivered (a ``Permanent``/``OnAccountSuppressionList`` bounce), and
``getSuppressedDestination`` from a workflow under the access check."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from botocore.exceptions import ClientError

from local_aws import LocalAws
from tests.local_aws.ses_v2_support import SENDER, allow, role, run_sesv2_task, ses_sender


@pytest.fixture
def aws() -> Iterator[LocalAws]:
    with ses_sender() as local:
        yield local


def error_code(call: object, **params: object) -> str:
    with pytest.raises(ClientError) as refused:
        call(**params)  # type: ignore[operator]
    code: str = refused.value.response["Error"]["Code"]
    return code


def test_without_the_bridge_moto_has_no_suppression_list() -> None:
    with LocalAws.in_process(apply_bridges=False) as bare, pytest.raises(NotImplementedError):
        bare.client("sesv2").get_suppressed_destination(EmailAddress="ana@example.org")


def test_the_suppression_list_operations(aws: LocalAws) -> None:
    v2 = aws.client("sesv2")
    absent = error_code(v2.get_suppressed_destination, EmailAddress="ana@example.org")
    v2.put_suppressed_destination(EmailAddress="Ana@Example.org", Reason="BOUNCE")
    v2.put_suppressed_destination(EmailAddress="bo@example.org", Reason="COMPLAINT")

    found = v2.get_suppressed_destination(EmailAddress="ana@example.org")["SuppressedDestination"]
    complaints = v2.list_suppressed_destinations(Reasons=["COMPLAINT"])["SuppressedDestinationSummaries"]
    first = v2.list_suppressed_destinations(PageSize=1)
    second = v2.list_suppressed_destinations(PageSize=1, NextToken=first["NextToken"])
    v2.delete_suppressed_destination(EmailAddress="ana@example.org")

    assert absent == "NotFoundException"
    assert (found["EmailAddress"], found["Reason"]) == ("Ana@Example.org", "BOUNCE")
    assert [d["EmailAddress"] for d in complaints] == ["bo@example.org"]
    assert [d["EmailAddress"] for d in first["SuppressedDestinationSummaries"] +
            second["SuppressedDestinationSummaries"]] == ["Ana@Example.org", "bo@example.org"]
    assert "NextToken" not in second
    assert error_code(v2.get_suppressed_destination, EmailAddress="ana@example.org") == "NotFoundException"
    assert error_code(v2.delete_suppressed_destination, EmailAddress="ana@example.org") == "NotFoundException"
    assert error_code(v2.put_suppressed_destination, EmailAddress="cy@example.org",
                      Reason="UNSUBSCRIBE") == "BadRequestException"


def test_a_suppressed_address_is_accepted_and_not_delivered(aws: LocalAws) -> None:
    aws.client("sesv2").put_suppressed_destination(EmailAddress="ana@example.org", Reason="BOUNCE")

    message_id = aws.client("sesv2").send_email(
        FromEmailAddress=SENDER, Destination={"ToAddresses": ["ana@example.org"], "CcAddresses": ["bo@example.org"]},
        Content={"Simple": {"Subject": {"Data": "Hi"}, "Body": {"Text": {"Data": "t"}}}})["MessageId"]

    [sent] = aws.sent_emails()
    assert sent.message_id == message_id
    assert sent.undelivered == {"ana@example.org": "OnAccountSuppressionList"}
    assert sent.delivered_to == ["bo@example.org"]
    [event] = sent.events
    assert event["eventType"] == "Bounce" and event["mail"]["messageId"] == message_id
    assert event["bounce"]["bounceType"] == "Permanent"
    assert event["bounce"]["bounceSubType"] == "OnAccountSuppressionList"
    assert event["bounce"]["bouncedRecipients"] == [{"emailAddress": "ana@example.org"}]


def test_a_workflow_checks_the_suppression_list_with_the_permission_on_star(aws: LocalAws) -> None:
    aws.client("sesv2").put_suppressed_destination(EmailAddress="ana@example.org", Reason="COMPLAINT")
    checker = role(aws, "checker", [allow("ses:GetSuppressedDestination")])
    other = role(aws, "other", [allow("ses:GetContact")])

    found = run_sesv2_task(aws, checker, "getSuppressedDestination", {"EmailAddress": "ana@example.org"})
    absent = run_sesv2_task(aws, checker, "getSuppressedDestination", {"EmailAddress": "bo@example.org"})
    refused = run_sesv2_task(aws, other, "getSuppressedDestination", {"EmailAddress": "ana@example.org"})

    assert found.output["SuppressedDestination"]["Reason"] == "COMPLAINT", found.output
    assert found.output["SuppressedDestination"]["LastUpdateTime"].endswith("Z")  # a timestamp as text
    assert absent.output["Error"] == "SesV2.NotFoundException"
    assert refused.output["Error"] == "SesV2.AccessDeniedException"
    assert aws.access is not None
    [denial] = aws.access.denials
    assert (denial.request.action, denial.request.resource) == ("ses:GetSuppressedDestination", "*")
