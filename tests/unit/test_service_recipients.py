"""NotificationService with recipient-aware delivery: the parts it builds for templates,
preferences, an SES contact list and End User Messaging SMS, how it wires them into the workflow,
the API and the feedback, and cdk-nag on the whole."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest

from constructs_lib import NotificationService, PropError
from tests.support.asl import resources_of_type
from tests.support.nag import REPORT_WITHOUT_FAILING, add_all_packs, add_nag_canary, beyond_the_canary

TEMPLATES = Path(__file__).resolve().parents[2] / "notification_stack" / "templates"
IDENTITY = "phone-0123456789abcdef0123456789abcdef"


def _service(app: cdk.App, **props: Any) -> tuple[NotificationService, cdk.Stack]:
    stack = cdk.Stack(app, "Recipients")
    service = NotificationService(stack, "Default", sender="n@example.com", email_identities=["example.com"],
                                  **props)
    return service, stack


ALL = {"api": True, "feedback": True, "templates_directory": str(TEMPLATES), "recipient_preferences": True,
       "preference_time_zones": ["UTC", "Europe/Paris"], "email_unsubscribe_topics": ["marketing", "orders"],
       "check_suppression_list": True, "sms_origination_identity": IDENTITY}


@pytest.fixture(scope="module")
def everything() -> tuple[NotificationService, dict[str, Any]]:
    app = cdk.App(analytics_reporting=False)
    service, stack = _service(app, **ALL)
    return service, app.synth().get_stack_by_name(stack.stack_name).template


def test_the_workflow_gets_each_part(everything: Any) -> None:
    service, _ = everything
    workflow = service.workflow
    assert workflow.templates is service.templates and workflow.preferences is service.recipient_preferences
    assert workflow.sms_provider is service.sms
    assert service.recipient_preferences is not None
    # One key for the log, the preferences and the rest; quiet hours need scheduled sends.
    assert service.recipient_preferences.encryption_key is workflow.encryption_key
    assert workflow.max_send_delay is not None and workflow.max_send_delay.to_days() == 2


def test_the_contact_list_has_the_topics_and_every_email_names_it(everything: Any) -> None:
    _, template = everything
    [(_, contact_list)] = resources_of_type(template, "AWS::SES::ContactList").items()
    topics = contact_list["Properties"]["Topics"]
    assert [(t["TopicName"], t["DefaultSubscriptionStatus"]) for t in topics] == [
        ("marketing", "OPT_IN"), ("orders", "OPT_IN")]
    [(_, machine)] = resources_of_type(template, "AWS::StepFunctions::StateMachine").items()
    definition = str(machine["Properties"]["DefinitionString"])
    for state in ("LookUpRecipient", "CheckEmailOptOut", "CheckSuppressionList", "CheckSmsOptOut",
                  "pinpointsmsvoicev2:sendTextMessage", "ListManagementOptions"):
        assert state in definition, state


def test_end_user_messaging_events_go_to_the_feedback_topic(everything: Any) -> None:
    service, template = everything
    assert service.sms is not None and service.feedback is not None
    assert service.sms.event_topic is service.feedback.sms_event_topic
    [(_, configuration_set)] = resources_of_type(template, "AWS::SMSVOICE::ConfigurationSet").items()
    [destination] = configuration_set["Properties"]["EventDestinations"]
    assert "SnsDestination" in destination


def test_the_api_serves_the_preferences(everything: Any) -> None:
    service, _ = everything
    assert service.api is not None and service.api.read_preferences_method is not None
    assert service.api.write_preferences_method is not None


def test_the_three_packs_find_nothing(tmp_path: Path) -> None:
    app = cdk.App(context=REPORT_WITHOUT_FAILING, outdir=str(tmp_path), analytics_reporting=False)
    _service(app, **ALL)
    add_all_packs(app)
    add_nag_canary(app)
    app.synth()
    assert beyond_the_canary(tmp_path) == {}


@pytest.mark.parametrize(("props", "prop", "fix"), [
    ({"email_unsubscribe_topics": []}, "email_unsubscribe_topics", "one or more topic names"),
    ({"email_unsubscribe_topics": "marketing"}, "email_unsubscribe_topics", "one or more topic names"),
    ({"workflow_options": {"templates": None}}, "workflow_options['templates']", "not in workflow_options"),
])
def test_bad_props_name_the_prop_and_the_fix(props: dict[str, Any], prop: str, fix: str) -> None:
    with pytest.raises(PropError) as error:
        _service(cdk.App(), **props)
    assert error.value.prop == prop and fix in error.value.fix


def test_sms_goes_either_to_a_topic_or_through_end_user_messaging() -> None:
    app = cdk.App()
    topic = cdk.aws_sns.Topic(cdk.Stack(app, "Topics"), "Sms")
    with pytest.raises(PropError) as error:
        _service(app, sms_origination_identity=IDENTITY, sms_topic=topic)
    assert error.value.prop == "sms_origination_identity" and "give one of them" in error.value.fix
