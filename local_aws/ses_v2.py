"""SES v2 email templates, list management and the account-level suppression list on the embedded AWS.

moto 5.2.5's SES v2 raises ``NotImplementedError("Template functionality not ready")`` for a
``SendEmail`` with ``Content.Template``, has no ``*EmailTemplate`` operations (SES v1's templates
exist), ignores ``ListManagementOptions``, answers ``GetContact`` without the list's topic defaults,
has no suppression list, and its CloudFormation knows neither ``AWS::SES::Template`` nor
``AWS::SES::ContactList``. ``ses_v2_bridges(email_log)`` fills these gaps, in process and in moto's
server (whose routes lacked the template and suppression paths); the state lives on moto's SES
backend, so a reset clears it.

Templates (one store with SES v1, as in AWS: a template made by either API serves both):
``CreateEmailTemplate`` (``AlreadyExistsException`` for a name in use), ``GetEmailTemplate``,
``UpdateEmailTemplate``, ``DeleteEmailTemplate`` (``NotFoundException`` for an unknown name) and
``ListEmailTemplates``. ``SendEmail`` with ``Content.Template`` (``TemplateName``, ``TemplateArn``
or inline ``TemplateContent``) renders ``{{name}}`` and ``{{a.b}}`` (``{{{name}}}`` alike, nothing
HTML-escaped) from ``TemplateData`` (JSON text) into subject, HTML and text, and SES takes the
rendered message as a simple one: ``LocalAws.sent_emails()`` shows the rendered subject and bodies
with ``kind="template"``, the template's name and its data. An unknown template is refused with
``NotFoundException``, ``TemplateData`` that is not a JSON object with ``BadRequestException``.

A variable missing from the data (absent or null) is not an error of the call: AWS documents that
SES accepts such a message (``SendEmail`` returns a message id) and does not deliver it, and
publishes a ``Rendering Failure`` event (``failure: {templateName, errorMessage}``) to the
configuration set's event destinations. So here: the call succeeds, the ``SentEmail`` has no
subject or bodies, every recipient is in ``undelivered`` with ``RenderingFailure``, and its
``events`` hold that event, ``errorMessage`` naming the variable (``Attribute 'name' is not present
in the rendering data.``).

``ListManagementOptions`` (``ContactListName``, optional ``TopicName``): the list must exist, and the
topic be one of its topics (``NotFoundException`` otherwise). For a message to a single recipient
SES adds ``List-Unsubscribe: <url>`` and ``List-Unsubscribe-Post: List-Unsubscribe=One-Click``
(``SentEmail.headers``; the URL is a local one) and replaces ``{{amazonSESUnsubscribeUrl}}`` in the
bodies with that URL; with several recipients it adds neither, as AWS documents. A recipient who is
a contact of the list and is unsubscribed (``UnsubscribeAll``, or for the topic an ``OPT_OUT``
preference, or no preference and the topic's default ``OPT_OUT``) is not sent to: AWS documents that
SES bounces such a message, so the recipient is ``undelivered`` with ``UnsubscribedRecipient`` and a
``Bounce`` event (``Permanent``/``UnsubscribedRecipient``) is recorded. ``GetContact`` answers
``TopicDefaultPreferences`` with the list's topics and their default status.

Suppression list (account level): ``PutSuppressedDestination`` (reason ``BOUNCE`` or
``COMPLAINT``), ``GetSuppressedDestination`` (``NotFoundException`` when the address is not on it),
``DeleteSuppressedDestination`` (``NotFoundException`` likewise) and ``ListSuppressedDestinations``
(``Reason``, ``StartDate``, ``EndDate``, ``PageSize``/``NextToken`` filters). Addresses compare
without regard to case. AWS documents that SES accepts a message to a suppressed address but does
not send it, reporting a ``Bounce`` with ``bounceType`` ``Permanent`` and ``bounceSubType``
``OnAccountSuppressionList``: the recipient is ``undelivered`` with ``OnAccountSuppressionList`` and
that event is recorded. The other recipients of the message are delivered.

Step Functions: an ``aws-sdk`` task's result has its timestamps as ISO 8601 text (UTC, with
milliseconds), not the datetimes boto3 parses, which moto's engine kept and could not serialise.

CloudFormation: ``AWS::SES::Template`` (``Template: {TemplateName, SubjectPart, HtmlPart,
TextPart}``; ``Ref`` and ``Fn::GetAtt Id`` give the name) and ``AWS::SES::ContactList``
(``ContactListName``, ``Description``, ``Topics``, ``Tags``; ``Ref`` gives the name) are created,
updated (a new name replaces) and deleted; without a name CloudFormation makes one.

Not verified against AWS (documented behaviour, guessed details): the error for an unknown template,
contact list or topic in ``SendEmail`` (the model lists ``NotFoundException``; the messages are
local), the bounce subtype for an unsubscribed contact (AWS documents a bounce, not its subtype),
what ``TopicDefaultPreferences`` holds, the text form of timestamps in aws-sdk results, whether SES
HTML-escapes values, and the case rule of the suppression list. Not emulated: Handlebars blocks,
partials and comments (``{{#if}}``, ``{{#each}}``, ``{{> p}}``; refused with ``BadRequestException``
rather than sent unrendered), ``TestRenderEmailTemplate``, tenants' suppression lists,
configuration-set suppression overrides, addresses added to the suppression list by bounces,
publishing the events to event destinations, and v1 ``SendTemplatedEmail`` rendering (moto stores it
unrendered).
"""

from __future__ import annotations

import datetime
import json
import re
import uuid
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any
from unittest import mock
from urllib.parse import quote, unquote

import moto.cloudformation.parsing as cfn_parsing
from moto.core.exceptions import JsonRESTError
from moto.core.utils import utcnow
from moto.ses.exceptions import NotFoundException
from moto.ses.models import ContactList, SESBackend, ses_backends
from moto.sesv2.responses import SESV2Response

from local_aws.bridges import CloudFormationModelStub, EmailRequestLog

#: Why SES did not deliver to a recipient (``SentEmail.undelivered``), as its bounce subtype says.
SUPPRESSED = "OnAccountSuppressionList"
UNSUBSCRIBED = "UnsubscribedRecipient"
RENDERING_FAILURE = "RenderingFailure"
SUPPRESSION_REASONS = frozenset({"BOUNCE", "COMPLAINT"})
UNSUBSCRIBE_PLACEHOLDER = "{{amazonSESUnsubscribeUrl}}"
ONE_CLICK = "List-Unsubscribe=One-Click"

# {{name}}, {{a.b}}, {{{name}}}; anything else between braces is a Handlebars construct.
_PLACEHOLDER = re.compile(r"\{\{\{?\s*([^{}]*?)\s*\}?\}\}")
_VARIABLE = re.compile(r"^[A-Za-z_][\w-]*(\.[A-Za-z_][\w-]*)*$")


def bad_request(message: str) -> JsonRESTError:
    return JsonRESTError("BadRequestException", message)


def already_exists(message: str) -> JsonRESTError:
    return JsonRESTError("AlreadyExistsException", message)


# ---- templates --------------------------------------------------------------------------------


@dataclass(frozen=True)
class TemplateParts:
    subject: str
    text: str
    html: str


class RenderingFailure(Exception):
    """The data lacks a variable the template uses; SES accepts the message and drops it."""


def render(template: str, data: Mapping[str, Any]) -> str:
    """``template`` with each ``{{path}}`` replaced by its value in ``data``."""

    def value(match: re.Match[str]) -> str:
        name = match[1]
        if not _VARIABLE.match(name):
            raise bad_request(f"{match[0]!r}: the embedded AWS renders {{{{name}}}} and {{{{a.b}}}} "
                              "variables only (no Handlebars blocks, partials or comments)")
        found: Any = data
        for part in name.split("."):
            found = found.get(part) if isinstance(found, Mapping) else None
        if found is None:
            raise RenderingFailure(f"Attribute '{name}' is not present in the rendering data.")
        if isinstance(found, bool):
            return "true" if found else "false"
        return found if isinstance(found, str) else json.dumps(found)

    return _PLACEHOLDER.sub(value, template)


def stored_template(backend: SESBackend, name: str) -> TemplateParts:
    """A template of the store SES v1 and v2 share; ``NotFoundException`` when there is none."""
    found = backend.templates.get(name)
    if not found:
        raise NotFoundException(f"Template {name} does not exist.")
    return TemplateParts(str(found.get("subject_part") or ""), str(found.get("text_part") or ""),
                         str(found.get("html_part") or ""))


def _template_info(name: str, content: Mapping[str, Any]) -> dict[str, Any]:
    # The shape moto's SES v1 keeps, so that both APIs read one store.
    return {"template_name": name, "subject_part": content.get("Subject", ""), "text_part": content.get("Text", ""),
            "html_part": content.get("Html", ""), "Timestamp": utcnow()}


def _content(parts: TemplateParts) -> dict[str, str]:
    return {"Subject": parts.subject, "Text": parts.text, "Html": parts.html}


def _epoch(moment: Any) -> float:
    if isinstance(moment, datetime.datetime):
        return (moment if moment.tzinfo else moment.replace(tzinfo=datetime.UTC)).timestamp()
    return float(moment)


def create_email_template(self: SESV2Response) -> str:
    params = json.loads(self.body)
    backend = self.sesv2_backend.core_backend
    name = params["TemplateName"]
    if name in backend.templates:
        raise already_exists(f"Template {name} already exists.")
    if not params.get("TemplateContent", {}).get("Subject"):
        raise bad_request("The subject must be specified.")
    backend.templates[name] = _template_info(name, params["TemplateContent"])
    if params.get("Tags"):
        backend.tagger.tag_resource(_arn(self, f"template/{name}"), params["Tags"])
    return "{}"


def get_email_template(self: SESV2Response) -> str:
    name = unquote(self._get_param("TemplateName"))
    parts = stored_template(self.sesv2_backend.core_backend, name)
    return json.dumps({"TemplateName": name, "TemplateContent": _content(parts)})


def update_email_template(self: SESV2Response) -> str:
    name = unquote(self._get_param("TemplateName"))
    backend = self.sesv2_backend.core_backend
    stored_template(backend, name)
    content = json.loads(self.body).get("TemplateContent", {})
    if not content.get("Subject"):
        raise bad_request("The subject must be specified.")
    backend.templates[name] = {**_template_info(name, content), "Timestamp": backend.templates[name]["Timestamp"]}
    return "{}"


def delete_email_template(self: SESV2Response) -> str:
    name = unquote(self._get_param("TemplateName"))
    backend = self.sesv2_backend.core_backend
    stored_template(backend, name)
    backend.templates.pop(name, None)
    return "{}"


def list_email_templates(self: SESV2Response) -> str:
    templates = self.sesv2_backend.core_backend.templates.values()
    return json.dumps({"TemplatesMetadata": [
        {"TemplateName": t["template_name"], "CreatedTimestamp": _epoch(t["Timestamp"])} for t in templates]})


def _arn(self: SESV2Response, resource: str) -> str:
    return f"arn:aws:ses:{self.region}:{self.current_account}:{resource}"


# ---- suppression list -------------------------------------------------------------------------


@dataclass(frozen=True)
class SuppressedDestination:
    email_address: str
    reason: str
    last_update_time: float

    def described(self) -> dict[str, Any]:
        return {"EmailAddress": self.email_address, "Reason": self.reason, "LastUpdateTime": self.last_update_time}


_SUPPRESSION_ATTRIBUTE = "local_suppression_list"


def suppression_list(backend: SESBackend) -> dict[str, SuppressedDestination]:
    """The account's suppression list in a region, by lower-case address (kept on moto's backend)."""
    if not hasattr(backend, _SUPPRESSION_ATTRIBUTE):
        setattr(backend, _SUPPRESSION_ATTRIBUTE, {})
    found: dict[str, SuppressedDestination] = getattr(backend, _SUPPRESSION_ATTRIBUTE)
    return found


def _suppressed(self: SESV2Response, address: str) -> SuppressedDestination:
    found = suppression_list(self.sesv2_backend.core_backend).get(address.lower())
    if found is None:
        raise NotFoundException(f"Email address {address} does not exist on your suppression list.")
    return found


def put_suppressed_destination(self: SESV2Response) -> str:
    params = json.loads(self.body)
    address, reason = params["EmailAddress"], params["Reason"]
    if reason not in SUPPRESSION_REASONS:
        raise bad_request(f"Reason {reason!r} is not one of {sorted(SUPPRESSION_REASONS)}.")
    suppression_list(self.sesv2_backend.core_backend)[address.lower()] = SuppressedDestination(
        address, reason, datetime.datetime.now(datetime.UTC).timestamp())
    return "{}"


def get_suppressed_destination(self: SESV2Response) -> str:
    found = _suppressed(self, unquote(self._get_param("EmailAddress")))
    return json.dumps({"SuppressedDestination": {**found.described(), "Attributes": {}}})


def delete_suppressed_destination(self: SESV2Response) -> str:
    found = _suppressed(self, unquote(self._get_param("EmailAddress")))
    suppression_list(self.sesv2_backend.core_backend).pop(found.email_address.lower(), None)
    return "{}"


def list_suppressed_destinations(self: SESV2Response) -> str:
    query = self.querystring
    reasons = set(query.get("Reason", [])) or SUPPRESSION_REASONS
    start = _query_time(query.get("StartDate"))
    end = _query_time(query.get("EndDate"))
    found = [d for d in suppression_list(self.sesv2_backend.core_backend).values()
             if d.reason in reasons and (start is None or d.last_update_time >= start)
             and (end is None or d.last_update_time <= end)]
    offset = int(query.get("NextToken", ["0"])[0])
    size = int(query.get("PageSize", ["1000"])[0])
    page = found[offset:offset + size]
    answer: dict[str, Any] = {"SuppressedDestinationSummaries": [d.described() for d in page]}
    if offset + size < len(found):
        answer["NextToken"] = str(offset + size)
    return json.dumps(answer)


def _query_time(values: list[str] | None) -> float | None:
    if not values:
        return None
    text = values[0]
    try:
        return float(text)
    except ValueError:
        return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


# ---- contact lists ----------------------------------------------------------------------------


def _contact_list(backend: SESBackend, name: str) -> ContactList:
    found = backend.contacts_lists.get(name)
    if found is None:
        raise NotFoundException(f"List with name: {name} doesn't exist.")
    return found


def _topic_defaults(contact_list: ContactList) -> dict[str, str]:
    return {t["TopicName"]: t.get("DefaultSubscriptionStatus", "OPT_IN") for t in contact_list.topics or []}


def opt_out(contact_list: ContactList, address: str, topic: str | None) -> bool:
    """Whether ``address`` is a contact of the list unsubscribed from it or from ``topic``."""
    contact = next((c for key, c in contact_list.contacts.items() if key.lower() == address.lower()), None)
    if contact is None:
        return False
    if contact.unsubscribe_all:
        return True
    if topic is None:
        return False
    chosen = {p["TopicName"]: p["SubscriptionStatus"] for p in contact.topic_preferences or []}
    return (chosen.get(topic) or _topic_defaults(contact_list).get(topic)) == "OPT_OUT"


def get_contact(self: SESV2Response) -> str:
    name = self._get_param("ContactListName")
    contact = self.sesv2_backend.get_contact(unquote(self._get_param("EmailAddress")), name)
    defaults = _topic_defaults(self.sesv2_backend.get_contact_list(name))
    return json.dumps({**contact.response_object, "TopicDefaultPreferences": [
        {"TopicName": topic, "SubscriptionStatus": status} for topic, status in defaults.items()]})


# ---- SendEmail --------------------------------------------------------------------------------


def _recipients(destination: Mapping[str, list[str]] | None) -> list[str]:
    destination = destination or {}
    return [a for key in ("ToAddresses", "CcAddresses", "BccAddresses") for a in destination.get(key, [])]


def _template_of(backend: SESBackend, template: Mapping[str, Any]) -> tuple[str | None, TemplateParts]:
    if template.get("TemplateContent"):
        content = template["TemplateContent"]
        return None, TemplateParts(content.get("Subject", ""), content.get("Text", ""), content.get("Html", ""))
    name = template.get("TemplateName") or str(template.get("TemplateArn", "")).rsplit("/", 1)[-1]
    if not name:
        raise bad_request("Content.Template needs TemplateName, TemplateArn or TemplateContent.")
    return name, stored_template(backend, name)


def _template_data(template: Mapping[str, Any]) -> dict[str, Any]:
    try:
        data = json.loads(template.get("TemplateData") or "{}")
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise bad_request("TemplateData must be a JSON object.")
    return data


class _Send:
    """What SES does with one SendEmail request beyond what moto does (see the module docstring)."""

    def __init__(self, response: SESV2Response, params: dict[str, Any]) -> None:
        self.backend: SESBackend = response.sesv2_backend.core_backend
        self.region = response.region
        self.params = params
        self.recipients = _recipients(params.get("Destination"))
        self.details: dict[str, Any] = {"headers": {}, "undelivered": {}}
        self.unsubscribe_url: str | None = None

    def list_management(self) -> None:
        options = self.params.get("ListManagementOptions")
        if not options:
            return
        name, topic = options["ContactListName"], options.get("TopicName")
        contact_list = _contact_list(self.backend, name)
        if topic is not None and topic not in _topic_defaults(contact_list):
            raise NotFoundException(f"Topic {topic} doesn't exist in list {name}.")
        self.details.update(contact_list=name, topic=topic)
        if len(self.recipients) == 1:
            self.unsubscribe_url = (f"https://unsubscribe.{self.region}.local-aws.invalid/{quote(name)}"
                                    f"?topic={quote(topic or '')}&token={uuid.uuid4().hex}")
            self.details["headers"] = {"List-Unsubscribe": f"<{self.unsubscribe_url}>",
                                       "List-Unsubscribe-Post": ONE_CLICK}
        for address in self.recipients:
            if opt_out(contact_list, address, topic):
                self.details["undelivered"].setdefault(address, UNSUBSCRIBED)

    def suppression(self) -> None:
        suppressed = suppression_list(self.backend)
        for address in self.recipients:
            if address.lower() in suppressed:
                self.details["undelivered"][address] = SUPPRESSED

    def content(self) -> None:
        """Renders a template into simple content, which moto sends; the unsubscribe URL goes in."""
        content = self.params.get("Content") or {}
        url = self.unsubscribe_url or UNSUBSCRIBE_PLACEHOLDER
        if "Template" in content:
            name, parts = _template_of(self.backend, content["Template"])
            data = _template_data(content["Template"])
            self.details.update(kind="template", template=name, template_data=content["Template"].get("TemplateData"))
            try:
                parts = TemplateParts(*(render(p, {**data, "amazonSESUnsubscribeUrl": url})
                                        for p in (parts.subject, parts.text, parts.html)))
            except RenderingFailure as failure:
                self.details["rendering_error"] = str(failure)
                self.details["undelivered"] = dict.fromkeys(self.recipients, RENDERING_FAILURE)
                parts = TemplateParts("", "", "")
            body = {key: {"Data": value} for key, value in (("Text", parts.text), ("Html", parts.html)) if value}
            body = body or {"Text": {"Data": ""}}
            self.params["Content"] = {"Simple": {"Subject": {"Data": parts.subject}, "Body": body}}
        elif "Simple" in content and self.unsubscribe_url:
            for part in content["Simple"].get("Body", {}).values():
                part["Data"] = str(part.get("Data", "")).replace(UNSUBSCRIBE_PLACEHOLDER, self.unsubscribe_url)

    def events(self, message_id: str) -> list[dict[str, Any]]:
        """The events SES publishes for what it did not deliver, in its event publishing shape."""
        now = datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        mail = {"timestamp": now, "messageId": message_id, "source": self.params.get("FromEmailAddress"),
                "sendingAccountId": self.backend.account_id, "destination": self.recipients,
                "tags": {t["Name"]: [t["Value"]] for t in self.params.get("EmailTags", [])}}
        if "rendering_error" in self.details:
            return [{"eventType": "Rendering Failure", "mail": mail, "failure": {
                "templateName": self.details.get("template"), "errorMessage": self.details["rendering_error"]}}]
        events = []
        for subtype in (SUPPRESSED, UNSUBSCRIBED):
            bounced = [a for a, why in self.details["undelivered"].items() if why == subtype]
            if bounced:
                events.append({"eventType": "Bounce", "mail": mail, "bounce": {
                    "bounceType": "Permanent", "bounceSubType": subtype, "timestamp": now,
                    "feedbackId": str(uuid.uuid4()), "bouncedRecipients": [{"emailAddress": a} for a in bounced]}})
        return events


@contextmanager
def emulate_send_email(log: EmailRequestLog) -> Iterator[None]:
    """``SendEmail`` with templates, ``ListManagementOptions`` and the suppression list; what it
    adds to a message (template, headers, undelivered recipients, events) goes into ``log``. Apply
    after ``capture_email_requests``: it then records the rendered bodies."""
    original = SESV2Response.send_email

    def send_email(self: SESV2Response) -> str:
        send = _Send(self, json.loads(self.body))
        send.list_management()
        send.suppression()
        send.content()
        self.body = json.dumps(send.params)
        result: str = original(self)
        message_id = json.loads(result)["MessageId"]
        log.add(message_id, {**log.get(message_id), **send.details, "events": send.events(message_id)})
        return result

    with mock.patch.object(SESV2Response, "send_email", send_email):
        yield


# ---- CloudFormation ---------------------------------------------------------------------------


class _CloudFormationEmailTemplate(CloudFormationModelStub):
    """``AWS::SES::Template`` in the template store SES v1 and v2 share."""

    def __init__(self, name: str) -> None:
        self.physical_resource_id: str = name

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SES::Template"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr == "Id"

    def get_cfn_attribute(self, attr: str) -> str:
        if attr != "Id":
            raise KeyError(attr)
        return self.physical_resource_id

    @staticmethod
    def _name(cloudformation_json: dict[str, Any], default: str) -> str:
        return str(cloudformation_json.get("Properties", {}).get("Template", {}).get("TemplateName") or default)

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str,
        **kwargs: Any,
    ) -> _CloudFormationEmailTemplate:
        part = cloudformation_json.get("Properties", {}).get("Template", {})
        name = cls._name(cloudformation_json, resource_name)
        ses_backends[account_id][region_name].add_template(_template_info(name, {
            "Subject": part.get("SubjectPart", ""), "Text": part.get("TextPart", ""),
            "Html": part.get("HtmlPart", "")}))
        return cls(name)

    @classmethod
    def update_from_cloudformation_json(
        cls, original_resource: Any, new_resource_name: str, cloudformation_json: dict[str, Any],
        account_id: str, region_name: str,
    ) -> _CloudFormationEmailTemplate:
        # In place, or replaced under a new name: either way the old content goes.
        original_resource.delete(account_id, region_name)
        name = cls._name(cloudformation_json, original_resource.physical_resource_id)
        return cls.create_from_cloudformation_json(name, cloudformation_json, account_id, region_name)

    def delete(self, account_id: str, region_name: str) -> None:
        ses_backends[account_id][region_name].templates.pop(self.physical_resource_id, None)


class _CloudFormationContactList(CloudFormationModelStub):
    """``AWS::SES::ContactList`` in moto's SES v2 contact lists."""

    def __init__(self, name: str) -> None:
        self.physical_resource_id: str = name

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SES::ContactList"

    @staticmethod
    def _params(name: str, props: Mapping[str, Any]) -> dict[str, Any]:
        return {"ContactListName": name, "Description": props.get("Description"),
                "Topics": [dict(t) for t in props.get("Topics", [])], "Tags": list(props.get("Tags", []))}

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str,
        **kwargs: Any,
    ) -> _CloudFormationContactList:
        from moto.sesv2.models import sesv2_backends

        props = cloudformation_json.get("Properties", {})
        name = str(props.get("ContactListName") or resource_name)
        sesv2_backends[account_id][region_name].create_contact_list(cls._params(name, props))
        return cls(name)

    @classmethod
    def update_from_cloudformation_json(
        cls, original_resource: Any, new_resource_name: str, cloudformation_json: dict[str, Any],
        account_id: str, region_name: str,
    ) -> _CloudFormationContactList:
        from moto.sesv2.models import sesv2_backends

        props = cloudformation_json.get("Properties", {})
        name = str(props.get("ContactListName") or original_resource.physical_resource_id)
        if name != original_resource.physical_resource_id:  # a new name replaces the list
            created = cls.create_from_cloudformation_json(name, cloudformation_json, account_id, region_name)
            original_resource.delete(account_id, region_name)
            return created
        sesv2_backends[account_id][region_name].update_contact_list(name, cls._params(name, props))
        return cls(name)

    def delete(self, account_id: str, region_name: str) -> None:
        ses_backends[account_id][region_name].contacts_lists.pop(self.physical_resource_id, None)


@contextmanager
def model_ses_resources_in_cloudformation() -> Iterator[None]:
    """moto 5.2.5's CloudFormation skips ``AWS::SES::Template`` and ``AWS::SES::ContactList``."""
    original = cfn_parsing.resource_class_from_type
    models = {m.cloudformation_type(): m for m in (_CloudFormationEmailTemplate, _CloudFormationContactList)}

    def resource_class_from_type(resource_type: str) -> Any:
        return models.get(resource_type) or original(resource_type)

    with mock.patch.object(cfn_parsing, "resource_class_from_type", resource_class_from_type):
        yield


# ---- Step Functions ---------------------------------------------------------------------------


def timestamps_as_text(value: Any) -> Any:
    """``value`` with each datetime as ISO 8601 text in UTC with milliseconds (``...T12:00:00.000Z``)."""
    if isinstance(value, datetime.datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=datetime.UTC)
        return moment.astimezone(datetime.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    if isinstance(value, dict):
        return {key: timestamps_as_text(item) for key, item in value.items()}
    if isinstance(value, list):
        return [timestamps_as_text(item) for item in value]
    return value


@contextmanager
def sdk_task_timestamps_as_text() -> Iterator[None]:
    """moto's engine gives an ``aws-sdk`` task the boto3 response as it is, datetimes included
    (``getContact``'s ``CreatedTimestamp``, ``getSuppressedDestination``'s ``LastUpdateTime``), which
    no later state and no DescribeExecution can serialise; Step Functions gives them as text."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_aws_sdk import (
        StateTaskServiceAwsSdk,
    )

    original = StateTaskServiceAwsSdk._eval_service_task

    def eval_service_task(self: Any, env: Any, *args: Any, **kwargs: Any) -> None:
        original(self, env, *args, **kwargs)
        env.stack.append(timestamps_as_text(env.stack.pop()))

    with mock.patch.object(StateTaskServiceAwsSdk, "_eval_service_task", eval_service_task):
        yield


# ---- the bridge -------------------------------------------------------------------------------

#: The SES v2 operations moto lacks or answers short, by the handler name moto dispatches to.
HANDLERS = {
    "create_email_template": create_email_template,
    "get_email_template": get_email_template,
    "update_email_template": update_email_template,
    "delete_email_template": delete_email_template,
    "list_email_templates": list_email_templates,
    "put_suppressed_destination": put_suppressed_destination,
    "get_suppressed_destination": get_suppressed_destination,
    "delete_suppressed_destination": delete_suppressed_destination,
    "list_suppressed_destinations": list_suppressed_destinations,
    "get_contact": get_contact,
}


#: Their paths, for moto's server: its catch-all ``/v2/.*`` reaches them in process only.
SERVER_PATHS = ("{0}/v2/email/templates$", "{0}/v2/email/templates/(?P<TemplateName>[^/]+)$",
                "{0}/v2/email/suppression/addresses$", "{0}/v2/email/suppression/addresses/(?P<EmailAddress>[^/]+)$")


@contextmanager
def ses_v2_bridges(log: EmailRequestLog) -> Iterator[None]:
    """All of this module's bridges (see the module docstring)."""
    from moto.sesv2 import urls

    with ExitStack() as stack:
        for name, handler in HANDLERS.items():
            stack.enter_context(mock.patch.object(SESV2Response, name, handler, create=True))
        stack.enter_context(mock.patch.dict(urls.url_paths, dict.fromkeys(SERVER_PATHS, SESV2Response.dispatch)))
        stack.enter_context(emulate_send_email(log))
        stack.enter_context(model_ses_resources_in_cloudformation())
        stack.enter_context(sdk_task_timestamps_as_text())
        yield
