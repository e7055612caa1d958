"""AWS End User Messaging SMS (``pinpoint-sms-voice-v2``, IAM prefix ``sms-voice``) on the embedded AWS.

moto 5.2.5 has no such service: a request to ``sms-voice.<region>.amazonaws.com`` gets "Not yet
implemented" in process and lands on the S3 app in server mode. ``serve_sms_voice`` (a bridge,
both modes) registers :class:`SmsVoiceBackend` as a moto backend: its URL pattern joins moto's
index (which both mock_aws and ThreadedMotoServer's dispatcher read) and ``moto.backends``
returns its ``BackendDict``. It also lets Step Functions' ``aws-sdk:pinpointsmsvoicev2:*`` tasks
build their boto3 client (the SDK's client is ``pinpoint-sms-voice-v2``), and models
``AWS::SMSVOICE::*`` in CloudFormation (``local_aws.sms_voice_cloudformation``).

Requests and answers follow the botocore service model (JSON 1.0, ``X-Amz-Target:
PinpointSMSVoiceV2.<Operation>``). Emulated operations: SendTextMessage; Create/Describe/
DeleteOptOutList(s), Put/Describe/DeleteOptedOutNumber(s); Create/Describe/DeleteConfigurationSet(s),
Create/Update/DeleteEventDestination; RequestPhoneNumber, DescribePhoneNumbers, UpdatePhoneNumber,
ReleasePhoneNumber; CreatePool, DescribePools, UpdatePool, DeletePool, AssociateOriginationIdentity.
Others answer ``ValidationException`` (reason ``UNKNOWN_OPERATION``) saying they are not emulated.
Errors are the model's: ``ValidationException`` (``Reason``, ``Fields``), ``ResourceNotFoundException``
(``ResourceType``, ``ResourceId``), ``ConflictException`` (``Reason``); the Step Functions engine
names them ``PinpointSmsVoiceV2.<Error>`` (``local_aws.bridges.name_sdk_errors_as_aws``).

SendTextMessage, as AWS documents it:

- ``OriginationIdentity`` is a phone number (E.164, ``PhoneNumberId`` or ARN) or a pool (id or
  ARN); without one the first phone number of the account sends (none: ``ConflictException``
  ``NO_ORIGINATION_IDENTITIES_FOUND``). A pool sends from its first phone number.
- A destination on the opt-out list of the origination identity (its ``OptOutListName``; phone
  numbers start on the list ``Default``) is refused: ``ConflictException`` with reason
  ``DESTINATION_PHONE_NUMBER_OPTED_OUT``; nothing is sent and no event is emitted.
  ``LocalAws.sms_voice_reply`` is a recipient texting an opt-out keyword such as STOP: the number
  joins that list unless the identity has ``SelfManagedOptOutsEnabled``.
- ``DryRun`` validates (opt-out included) and answers a ``MessageId`` without sending.
- With a ``ConfigurationSetName``, each enabled event destination whose ``MatchingEventTypes``
  match (``ALL``, ``TEXT_ALL`` or the type) gets every event of the message's outcome, in AWS's
  event JSON (``local_aws.sms_voice_events.text_event``): published to an SNS destination's topic as
  ``sms-voice.amazonaws.com`` (topic policy and key checked by the access check, with the
  configuration set as ``aws:SourceArn``), written to a CloudWatch Logs destination's group as its
  ``IamRoleArn`` (which ``sms-voice.amazonaws.com`` must be trusted to assume, and which needs
  ``logs:CreateLogStream``/``logs:PutLogEvents``). A refused delivery is dropped and logged, as
  AWS drops it. Events are delivered before SendTextMessage answers (AWS delivers later).
- The outcome is :data:`DELIVERED` (``TEXT_SUCCESSFUL`` then the final ``TEXT_DELIVERED``) unless
  ``LocalAws.sms_voice_outcome`` chose others for the destination (e.g. ``TEXT_CARRIER_UNREACHABLE``).

Not emulated: sender IDs, registrations, keywords other than the opt-out ones, two-way SMS, spend
limits, protect configurations, Kinesis Data Firehose destinations (accepted, never delivered to),
MMS and voice, ``MaxPrice``, ``TimeToLive`` expiry, the 30-day limit on re-adding a number.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any
from unittest import mock

import moto.backend_index as backend_index
import moto.backends as moto_backends
from moto.core.base_backend import BackendDict, BaseBackend
from moto.core.responses import BaseResponse

from local_aws.access.calls import ResourceKeys, UnmodelledCall
from local_aws.access.check import AccessRequest
from local_aws.sms_voice_events import deliver_events

#: The botocore service, its IAM prefix (SigV4 signing name) and the Step Functions SDK name.
SERVICE = "pinpoint-sms-voice-v2"
IAM_PREFIX = "sms-voice"
SFN_SERVICE = "pinpointsmsvoicev2"
_URL_BASE = r"https?://sms-voice\.(.+)\.amazonaws\.com"
DEFAULT_OPT_OUT_LIST = "Default"
#: What a message does when no outcome was chosen: accepted by the carrier, then delivered.
DELIVERED: tuple[str, ...] = ("TEXT_SUCCESSFUL", "TEXT_DELIVERED")
#: The SMS event types a destination may match (the model's ``EventType``, SMS part).
TEXT_EVENT_TYPES = ("TEXT_SENT", "TEXT_PENDING", "TEXT_QUEUED", "TEXT_SUCCESSFUL", "TEXT_DELIVERED",
                    "TEXT_INVALID", "TEXT_INVALID_MESSAGE", "TEXT_UNREACHABLE", "TEXT_CARRIER_UNREACHABLE",
                    "TEXT_BLOCKED", "TEXT_CARRIER_BLOCKED", "TEXT_SPAM", "TEXT_UNKNOWN", "TEXT_TTL_EXPIRED",
                    "TEXT_PROTECT_BLOCKED")
#: Replies that opt a recipient out where the law requires it (US, Canada), per AWS's user guide.
OPT_OUT_KEYWORDS = frozenset({"ARRET", "CANCEL", "END", "OPT-OUT", "OPTOUT", "QUIT", "REMOVE", "STOP", "TD",
                              "UNSUBSCRIBE"})
MESSAGE_TYPES = ("TRANSACTIONAL", "PROMOTIONAL")
_PHONE = re.compile(r"^\+?[1-9][0-9]{1,18}$")
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
#: Calling codes of the countries RequestPhoneNumber hands out fake numbers for.
_CALLING_CODES = {"US": "1", "CA": "1", "GB": "44", "AU": "61", "DE": "49", "FR": "33", "IE": "353"}


# ---- errors ------------------------------------------------------------------------------------


class SmsVoiceError(Exception):
    """An error answer in the model's shape: ``__type`` is the code botocore names the exception by."""

    def __init__(self, code: str, message: str, status: int = 400, **members: Any) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.members = {k: v for k, v in members.items() if v is not None}

    def body(self) -> dict[str, Any]:
        return {"__type": self.code, "Message": self.message, **self.members}


def _invalid(message: str, reason: str = "FIELD_VALIDATION_FAILED", field_name: str | None = None) -> SmsVoiceError:
    fields = [{"Name": field_name, "Message": message}] if field_name else None
    return SmsVoiceError("ValidationException", message, Reason=reason, Fields=fields)


def _not_found(resource_type: str, resource_id: str) -> SmsVoiceError:
    return SmsVoiceError("ResourceNotFoundException", f"The {resource_type} {resource_id} does not exist.", 404,
                         ResourceType=resource_type, ResourceId=resource_id)


def _conflict(reason: str, message: str, resource_type: str | None = None,
              resource_id: str | None = None) -> SmsVoiceError:
    return SmsVoiceError("ConflictException", message, 409, Reason=reason, ResourceType=resource_type,
                         ResourceId=resource_id)


# ---- resources ---------------------------------------------------------------------------------


@dataclass
class OptOutList:
    name: str
    arn: str
    created: float
    #: Opted-out numbers: number -> (when, whether the recipient opted out themselves).
    numbers: dict[str, tuple[float, bool]] = field(default_factory=dict)
    tags: list[dict[str, str]] = field(default_factory=list)

    def describe(self) -> dict[str, Any]:
        return {"OptOutListArn": self.arn, "OptOutListName": self.name, "CreatedTimestamp": self.created}


@dataclass
class PhoneNumber:
    id: str
    arn: str
    phone_number: str
    iso_country_code: str
    message_type: str
    number_capabilities: list[str]
    number_type: str
    opt_out_list_name: str
    created: float
    self_managed_opt_outs: bool = False
    deletion_protection: bool = False
    international_sending: bool = False
    pool_id: str | None = None
    tags: list[dict[str, str]] = field(default_factory=list)

    def describe(self) -> dict[str, Any]:
        found = {
            "PhoneNumberArn": self.arn, "PhoneNumberId": self.id, "PhoneNumber": self.phone_number,
            "Status": "ACTIVE", "IsoCountryCode": self.iso_country_code, "MessageType": self.message_type,
            "NumberCapabilities": self.number_capabilities, "NumberType": self.number_type,
            "MonthlyLeasingPrice": "0.00", "TwoWayEnabled": False,
            "SelfManagedOptOutsEnabled": self.self_managed_opt_outs, "OptOutListName": self.opt_out_list_name,
            "InternationalSendingEnabled": self.international_sending,
            "DeletionProtectionEnabled": self.deletion_protection, "CreatedTimestamp": self.created,
        }
        if self.pool_id:
            found["PoolId"] = self.pool_id
        return found


@dataclass
class Pool:
    id: str
    arn: str
    message_type: str
    opt_out_list_name: str
    created: float
    #: PhoneNumberIds, in the order they joined.
    phone_number_ids: list[str] = field(default_factory=list)
    self_managed_opt_outs: bool = False
    shared_routes: bool = False
    deletion_protection: bool = False
    tags: list[dict[str, str]] = field(default_factory=list)

    def describe(self) -> dict[str, Any]:
        return {
            "PoolArn": self.arn, "PoolId": self.id, "Status": "ACTIVE", "MessageType": self.message_type,
            "TwoWayEnabled": False, "SelfManagedOptOutsEnabled": self.self_managed_opt_outs,
            "OptOutListName": self.opt_out_list_name, "SharedRoutesEnabled": self.shared_routes,
            "DeletionProtectionEnabled": self.deletion_protection, "CreatedTimestamp": self.created,
        }


@dataclass
class ConfigurationSet:
    name: str
    arn: str
    created: float
    #: Event destinations by name, each in the model's ``EventDestination`` shape.
    destinations: dict[str, dict[str, Any]] = field(default_factory=dict)
    default_sender_id: str | None = None
    tags: list[dict[str, str]] = field(default_factory=list)

    def describe(self) -> dict[str, Any]:
        found = {"ConfigurationSetArn": self.arn, "ConfigurationSetName": self.name,
                 "EventDestinations": list(self.destinations.values()), "CreatedTimestamp": self.created}
        if self.default_sender_id:
            found["DefaultSenderId"] = self.default_sender_id
        return found


@dataclass(frozen=True)
class SmsVoiceMessage:
    """A text message End User Messaging accepted (``LocalAws.sms_voice_messages``)."""

    message_id: str
    destination_phone_number: str
    #: The number it was sent from (a pool's first number when sent through a pool).
    origination_phone_number: str
    #: ``OriginationIdentity`` as the request gave it (None when it gave none).
    origination_identity: str | None
    message_body: str
    message_type: str
    configuration_set_name: str | None
    context: dict[str, str]
    time_to_live: int | None
    #: The event types emitted for it, in order (the last one is final).
    event_types: tuple[str, ...]


# ---- the backend -------------------------------------------------------------------------------

_Operation = Callable[["SmsVoiceBackend", dict[str, Any]], dict[str, Any]]
_OPERATIONS: dict[str, _Operation] = {}


def _operation(name: str) -> Callable[[_Operation], _Operation]:
    def register(method: _Operation) -> _Operation:
        _OPERATIONS[name] = method
        return method
    return register


def _page(items: list[dict[str, Any]], params: Mapping[str, Any], key: str) -> dict[str, Any]:
    """``NextToken``/``MaxResults`` paging over ``items`` (the token is an offset)."""
    start = int(params.get("NextToken") or 0)
    size = int(params.get("MaxResults") or 100)
    found: dict[str, Any] = {key: items[start:start + size]}
    if start + size < len(items):
        found["NextToken"] = str(start + size)
    return found


def _filtered(items: list[dict[str, Any]], filters: list[dict[str, Any]] | None,
              attributes: Mapping[str, str]) -> list[dict[str, Any]]:
    """The model's ``Filters``: each named filter's attribute must equal one of its values (booleans as
    ``true``/``false``)."""
    for item_filter in filters or []:
        name = str(item_filter.get("Name"))
        if name not in attributes:
            raise _invalid(f"Filter {name!r} is not one of {sorted(attributes)}", "INVALID_FILTER_VALUES", "Filters")
        values = {str(v) for v in item_filter.get("Values") or []}

        def value(item: dict[str, Any], attribute: str = attributes[name]) -> str:
            found = item.get(attribute)
            return str(found).lower() if isinstance(found, bool) else str(found)

        items = [item for item in items if value(item) in values]
    return items


#: DescribePhoneNumbers' and DescribePools' filters both have, and the attribute each compares.
_IDENTITY_FILTERS = {
    "status": "Status", "message-type": "MessageType", "two-way-enabled": "TwoWayEnabled",
    "self-managed-opt-outs-enabled": "SelfManagedOptOutsEnabled", "opt-out-list-name": "OptOutListName",
    "deletion-protection-enabled": "DeletionProtectionEnabled"}


#: UpdatePhoneNumber's and UpdatePool's flags, and the field each sets (when the identity has it).
_UPDATABLE_FLAGS = {
    "SelfManagedOptOutsEnabled": "self_managed_opt_outs", "DeletionProtectionEnabled": "deletion_protection",
    "InternationalSendingEnabled": "international_sending", "SharedRoutesEnabled": "shared_routes"}


def _bool(value: Any, default: bool = False) -> bool:
    if value is None:
        return default
    return value if isinstance(value, bool) else str(value).lower() == "true"


def _require(params: Mapping[str, Any], *names: str) -> None:
    for name in names:
        if params.get(name) in (None, "", []):
            raise _invalid(f"{name} is required", "MISSING_PARAMETER", name)


def _short_id() -> str:
    return uuid.uuid4().hex


class SmsVoiceBackend(BaseBackend):
    """One account's End User Messaging SMS in one Region."""

    def __init__(self, region_name: str, account_id: str) -> None:
        super().__init__(region_name, account_id)
        self.lock = threading.RLock()
        self.opt_out_lists: dict[str, OptOutList] = {}
        self.phone_numbers: dict[str, PhoneNumber] = {}
        self.pools: dict[str, Pool] = {}
        self.configuration_sets: dict[str, ConfigurationSet] = {}
        self.messages: list[SmsVoiceMessage] = []
        #: Outcomes chosen for the next sends to a destination, oldest first.
        self.outcomes: dict[str, list[tuple[str, ...]]] = {}
        self._numbers_issued = 0

    @property
    def _url_module(self) -> Any:
        # moto finds a backend's URLs in a ``urls`` module next to its models; this one has none.
        return SimpleNamespace(url_bases=[_URL_BASE], url_paths={"{0}/$": SmsVoiceResponse.dispatch})

    def arn(self, resource_type: str, resource_id: str) -> str:
        return f"arn:aws:sms-voice:{self.region_name}:{self.account_id}:{resource_type}/{resource_id}"

    def handle(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        method = _OPERATIONS.get(operation)
        if method is None:
            raise _invalid(f"{operation} is not emulated by local_aws.sms_voice", "UNKNOWN_OPERATION")
        with self.lock:
            return method(self, params)

    # ---- lookups (names, ids or ARNs, as the API accepts them) ---------------------------------

    @staticmethod
    def _key(value: str, resource_type: str) -> str:
        marker = f":{resource_type}/"
        return value.split(marker, 1)[1] if value.startswith("arn:") and marker in value else value

    def opt_out_list(self, name_or_arn: str, *, create_default: bool = False) -> OptOutList:
        name = self._key(name_or_arn, "opt-out-list")
        if name not in self.opt_out_lists and create_default and name == DEFAULT_OPT_OUT_LIST:
            self._create_opt_out_list(name, [])
        if name not in self.opt_out_lists:
            raise _not_found("opt-out-list", name_or_arn)
        return self.opt_out_lists[name]

    def phone_number(self, identity: str) -> PhoneNumber:
        key = self._key(identity, "phone-number")
        for number in self.phone_numbers.values():
            if key in (number.id, number.phone_number):
                return number
        raise _not_found("phone-number", identity)

    def pool(self, id_or_arn: str) -> Pool:
        key = self._key(id_or_arn, "pool")
        if key not in self.pools:
            raise _not_found("pool", id_or_arn)
        return self.pools[key]

    def configuration_set(self, name_or_arn: str) -> ConfigurationSet:
        name = self._key(name_or_arn, "configuration-set")
        if name not in self.configuration_sets:
            raise _not_found("configuration-set", name_or_arn)
        return self.configuration_sets[name]

    def origination(self, identity: str | None) -> PhoneNumber | Pool:
        """The phone number or pool an ``OriginationIdentity`` names; the first number without one."""
        if not identity:
            numbers = list(self.phone_numbers.values())
            if not numbers:
                raise _conflict("NO_ORIGINATION_IDENTITIES_FOUND", "The account has no origination identity.")
            return numbers[0]
        if ":pool/" in identity or identity.startswith("pool-"):
            return self.pool(identity)
        if ":sender-id/" in identity:
            raise _not_found("sender-id", identity)  # sender IDs are not emulated
        return self.phone_number(identity)

    def identity_arn(self, identity: str | None) -> str | None:
        """The ARN IAM authorizes a send on, None when the identity is absent or unknown."""
        try:
            return self.origination(identity).arn if identity else None
        except SmsVoiceError:
            return None

    def _describe(self, params: Mapping[str, Any], ids_key: str, lookup: Callable[[str], Any],
                  every: Mapping[str, Any], filters: Mapping[str, str], key: str) -> dict[str, Any]:
        """A Describe* answer: the resources ``params[ids_key]`` names (else all), filtered, paged."""
        ids = params.get(ids_key)
        found = [lookup(i) for i in ids] if ids else list(every.values())
        return _page(_filtered([f.describe() for f in found], params.get("Filters"), filters), params, key)

    # ---- opt-out lists ---------------------------------------------------------------------------

    @staticmethod
    def _new_name(name: str, field_name: str, resource_type: str, taken: Mapping[str, Any]) -> str:
        """A name a Create* request may use: valid, and not taken by a resource of its type."""
        if not _NAME.match(name):
            raise _invalid(f"{field_name} {name!r} must match [A-Za-z0-9_-]{{1,64}}", field_name=field_name)
        if name in taken:
            raise _conflict("RESOURCE_ALREADY_EXISTS", f"The {resource_type} {name} already exists.",
                            resource_type, name)
        return name

    def _create_opt_out_list(self, name: str, tags: list[dict[str, str]]) -> OptOutList:
        self._new_name(name, "OptOutListName", "opt-out-list", self.opt_out_lists)
        created = OptOutList(name, self.arn("opt-out-list", name), time.time(), tags=list(tags))
        self.opt_out_lists[name] = created
        return created

    @_operation("CreateOptOutList")
    def create_opt_out_list(self, params: dict[str, Any]) -> dict[str, Any]:
        _require(params, "OptOutListName")
        created = self._create_opt_out_list(params["OptOutListName"], params.get("Tags") or [])
        return {**created.describe(), "Tags": created.tags}

    @_operation("DescribeOptOutLists")
    def describe_opt_out_lists(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._describe(params, "OptOutListNames", self.opt_out_list, self.opt_out_lists, {}, "OptOutLists")

    @_operation("DeleteOptOutList")
    def delete_opt_out_list(self, params: dict[str, Any]) -> dict[str, Any]:
        _require(params, "OptOutListName")
        found = self.opt_out_list(params["OptOutListName"])
        identities: list[PhoneNumber | Pool] = [*self.phone_numbers.values(), *self.pools.values()]
        users = [o.id for o in identities if o.opt_out_list_name == found.name]
        if users:
            raise _conflict("RESOURCE_DELETION_NOT_ALLOWED",
                            f"Opt-out list {found.name} is used by {', '.join(users)}.", "opt-out-list", found.name)
        del self.opt_out_lists[found.name]
        return found.describe()

    def opt_out(self, list_name: str, number: str, *, end_user: bool) -> OptOutList:
        if not _PHONE.match(number):
            raise _invalid(f"{number!r} is not a phone number in E.164 format", field_name="OptedOutNumber")
        found = self.opt_out_list(list_name)
        found.numbers[number] = (time.time(), end_user)
        return found

    @staticmethod
    def _opted_out(found: OptOutList, number: str) -> dict[str, Any]:
        when, end_user = found.numbers[number]
        return {"OptOutListArn": found.arn, "OptOutListName": found.name, "OptedOutNumber": number,
                "OptedOutTimestamp": when, "EndUserOptedOut": end_user}

    @_operation("PutOptedOutNumber")
    def put_opted_out_number(self, params: dict[str, Any]) -> dict[str, Any]:
        _require(params, "OptOutListName", "OptedOutNumber")
        found = self.opt_out(params["OptOutListName"], params["OptedOutNumber"], end_user=False)
        return self._opted_out(found, params["OptedOutNumber"])

    @_operation("DescribeOptedOutNumbers")
    def describe_opted_out_numbers(self, params: dict[str, Any]) -> dict[str, Any]:
        _require(params, "OptOutListName")
        found = self.opt_out_list(params["OptOutListName"])
        asked = params.get("OptedOutNumbers")
        numbers = [n for n in asked if n in found.numbers] if asked else list(found.numbers)
        items = [{k: v for k, v in self._opted_out(found, n).items() if not k.startswith("OptOutList")}
                 for n in numbers]
        items = _filtered(items, params.get("Filters"), {"end-user-opted-out": "EndUserOptedOut"})
        return {"OptOutListArn": found.arn, "OptOutListName": found.name,
                **_page(items, params, "OptedOutNumbers")}

    @_operation("DeleteOptedOutNumber")
    def delete_opted_out_number(self, params: dict[str, Any]) -> dict[str, Any]:
        _require(params, "OptOutListName", "OptedOutNumber")
        found = self.opt_out_list(params["OptOutListName"])
        number = params["OptedOutNumber"]
        if number not in found.numbers:
            raise _not_found("opted-out-number", number)
        answer = self._opted_out(found, number)
        del found.numbers[number]
        return answer

    # ---- configuration sets and event destinations -----------------------------------------------

    def create_configuration_set_named(self, name: str, tags: list[dict[str, str]],
                                       default_sender_id: str | None = None) -> ConfigurationSet:
        self._new_name(name, "ConfigurationSetName", "configuration-set", self.configuration_sets)
        created = ConfigurationSet(name, self.arn("configuration-set", name), time.time(),
                                   default_sender_id=default_sender_id, tags=list(tags))
        self.configuration_sets[name] = created
        return created

    @_operation("CreateConfigurationSet")
    def create_configuration_set(self, params: dict[str, Any]) -> dict[str, Any]:
        _require(params, "ConfigurationSetName")
        created = self.create_configuration_set_named(params["ConfigurationSetName"], params.get("Tags") or [])
        return {"ConfigurationSetArn": created.arn, "ConfigurationSetName": created.name, "Tags": created.tags,
                "CreatedTimestamp": created.created}

    @_operation("DescribeConfigurationSets")
    def describe_configuration_sets(self, params: dict[str, Any]) -> dict[str, Any]:
        names = params.get("ConfigurationSetNames")
        sets = [self.configuration_set(n) for n in names] if names else list(self.configuration_sets.values())
        items = [s.describe() for s in sets]
        for item_filter in params.get("Filters") or []:
            values = set(item_filter.get("Values") or [])
            if item_filter.get("Name") == "event-destination-name":
                items = [i for i in items if values & {d["EventDestinationName"] for d in i["EventDestinations"]}]
            elif item_filter.get("Name") == "matching-event-types":
                items = [i for i in items
                         if values & {t for d in i["EventDestinations"] for t in d["MatchingEventTypes"]}]
            else:
                items = _filtered(items, [item_filter], {"default-sender-id": "DefaultSenderId"})
        return _page(items, params, "ConfigurationSets")

    @_operation("DeleteConfigurationSet")
    def delete_configuration_set(self, params: dict[str, Any]) -> dict[str, Any]:
        _require(params, "ConfigurationSetName")
        found = self.configuration_set(params["ConfigurationSetName"])
        del self.configuration_sets[found.name]
        return found.describe()

    def event_destination(self, params: Mapping[str, Any], existing: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """An ``EventDestination`` from a Create/UpdateEventDestination request (or a template's)."""
        destination: dict[str, Any] = dict(existing or {})
        destination["EventDestinationName"] = params["EventDestinationName"]
        destination["Enabled"] = _bool(params.get("Enabled"), bool(destination.get("Enabled", True)))
        types = params.get("MatchingEventTypes") or destination.get("MatchingEventTypes")
        known = {"ALL", "TEXT_ALL", *TEXT_EVENT_TYPES}
        if not types or any(t not in known and not t.startswith(("VOICE_", "MEDIA_", "RCS_")) for t in types):
            raise _invalid(f"MatchingEventTypes {types!r} must name event types such as TEXT_ALL",
                           field_name="MatchingEventTypes")
        destination["MatchingEventTypes"] = list(types)
        for kind in ("SnsDestination", "CloudWatchLogsDestination", "KinesisFirehoseDestination"):
            if params.get(kind):
                destination[kind] = dict(params[kind])
        if not any(destination.get(kind) for kind in ("SnsDestination", "CloudWatchLogsDestination",
                                                       "KinesisFirehoseDestination")):
            raise _invalid("An event destination needs an SNS, CloudWatch Logs or Firehose destination",
                           "MISSING_PARAMETER", "SnsDestination")
        return destination

    @_operation("CreateEventDestination")
    def create_event_destination(self, params: dict[str, Any]) -> dict[str, Any]:
        _require(params, "ConfigurationSetName", "EventDestinationName", "MatchingEventTypes")
        found = self.configuration_set(params["ConfigurationSetName"])
        name = params["EventDestinationName"]
        if name in found.destinations:
            raise _conflict("RESOURCE_ALREADY_EXISTS", f"Event destination {name} already exists.",
                            "event-destination", name)
        found.destinations[name] = self.event_destination(params)
        return {"ConfigurationSetArn": found.arn, "ConfigurationSetName": found.name,
                "EventDestination": found.destinations[name]}

    def _destination_of(self, params: Mapping[str, Any]) -> tuple[ConfigurationSet, str]:
        _require(params, "ConfigurationSetName", "EventDestinationName")
        found = self.configuration_set(params["ConfigurationSetName"])
        name = params["EventDestinationName"]
        if name not in found.destinations:
            raise _not_found("event-destination", name)
        return found, name

    @_operation("UpdateEventDestination")
    def update_event_destination(self, params: dict[str, Any]) -> dict[str, Any]:
        found, name = self._destination_of(params)
        found.destinations[name] = self.event_destination(params, found.destinations[name])
        return {"ConfigurationSetArn": found.arn, "ConfigurationSetName": found.name,
                "EventDestination": found.destinations[name]}

    @_operation("DeleteEventDestination")
    def delete_event_destination(self, params: dict[str, Any]) -> dict[str, Any]:
        found, name = self._destination_of(params)
        return {"ConfigurationSetArn": found.arn, "ConfigurationSetName": found.name,
                "EventDestination": found.destinations.pop(name)}

    # ---- phone numbers and pools -----------------------------------------------------------------

    def request_number(self, *, iso_country_code: str, message_type: str, number_capabilities: list[str],
                       number_type: str, opt_out_list_name: str | None = None, pool_id: str | None = None,
                       deletion_protection: bool = False, self_managed_opt_outs: bool = False,
                       tags: list[dict[str, str]] | None = None) -> PhoneNumber:
        """A fake number of the country (``+1 206 555 01xx`` style for US/CA), on ``Default``
        unless ``opt_out_list_name`` names another list."""
        if iso_country_code not in _CALLING_CODES:
            raise _invalid(f"IsoCountryCode {iso_country_code!r}: the emulation issues numbers for "
                           f"{sorted(_CALLING_CODES)}", "COUNTRY_NOT_ENABLED", "IsoCountryCode")
        if message_type not in MESSAGE_TYPES:
            raise _invalid(f"MessageType {message_type!r} must be one of {MESSAGE_TYPES}", field_name="MessageType")
        opt_out_list = self.opt_out_list(opt_out_list_name or DEFAULT_OPT_OUT_LIST, create_default=True)
        pool = self.pool(pool_id) if pool_id else None
        self._numbers_issued += 1
        code = _CALLING_CODES[iso_country_code]
        digits = f"206555{self._numbers_issued + 99:04d}" if code == "1" else f"5550{self._numbers_issued:06d}"
        number_id = f"phone-{_short_id()}"
        number = PhoneNumber(
            id=number_id, arn=self.arn("phone-number", number_id), phone_number=f"+{code}{digits}",
            iso_country_code=iso_country_code, message_type=message_type,
            number_capabilities=list(number_capabilities), number_type=number_type,
            opt_out_list_name=opt_out_list.name, created=time.time(), self_managed_opt_outs=self_managed_opt_outs,
            deletion_protection=deletion_protection, tags=list(tags or []))
        self.phone_numbers[number_id] = number
        if pool is not None:
            self._associate(pool, number)
        return number

    @_operation("RequestPhoneNumber")
    def request_phone_number(self, params: dict[str, Any]) -> dict[str, Any]:
        _require(params, "IsoCountryCode", "MessageType", "NumberCapabilities", "NumberType")
        number = self.request_number(
            iso_country_code=params["IsoCountryCode"], message_type=params["MessageType"],
            number_capabilities=params["NumberCapabilities"], number_type=params["NumberType"],
            opt_out_list_name=params.get("OptOutListName"), pool_id=params.get("PoolId"),
            deletion_protection=_bool(params.get("DeletionProtectionEnabled")), tags=params.get("Tags"))
        return {**number.describe(), "Tags": number.tags}

    @_operation("DescribePhoneNumbers")
    def describe_phone_numbers(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._describe(params, "PhoneNumberIds", self.phone_number, self.phone_numbers, {
            **_IDENTITY_FILTERS, "iso-country-code": "IsoCountryCode", "number-type": "NumberType"}, "PhoneNumbers")

    def update_identity(self, identity: PhoneNumber | Pool, params: Mapping[str, Any]) -> dict[str, Any]:
        """UpdatePhoneNumber/UpdatePool: the opt-out list and the flags the request gives."""
        if params.get("OptOutListName"):
            identity.opt_out_list_name = self.opt_out_list(params["OptOutListName"], create_default=True).name
        for param, attribute in _UPDATABLE_FLAGS.items():
            if hasattr(identity, attribute):
                setattr(identity, attribute, _bool(params.get(param), getattr(identity, attribute)))
        return identity.describe()

    @_operation("UpdatePhoneNumber")
    def update_phone_number(self, params: dict[str, Any]) -> dict[str, Any]:
        _require(params, "PhoneNumberId")
        return self.update_identity(self.phone_number(params["PhoneNumberId"]), params)

    def release(self, number: PhoneNumber) -> dict[str, Any]:
        if number.deletion_protection:
            raise _conflict("DELETION_PROTECTION_ENABLED", f"Phone number {number.id} has deletion protection.",
                            "phone-number", number.id)
        if number.pool_id:
            raise _conflict("PHONE_NUMBER_ASSOCIATED_TO_POOL", f"Phone number {number.id} is in pool "
                            f"{number.pool_id}.", "phone-number", number.id)
        del self.phone_numbers[number.id]
        return {**number.describe(), "Status": "DELETED"}

    @_operation("ReleasePhoneNumber")
    def release_phone_number(self, params: dict[str, Any]) -> dict[str, Any]:
        _require(params, "PhoneNumberId")
        return self.release(self.phone_number(params["PhoneNumberId"]))

    def _associate(self, pool: Pool, number: PhoneNumber) -> None:
        if number.pool_id and number.pool_id != pool.id:
            raise _conflict("PHONE_NUMBER_ASSOCIATED_TO_POOL", f"Phone number {number.id} is in pool "
                            f"{number.pool_id}.", "phone-number", number.id)
        number.pool_id = pool.id
        if number.id not in pool.phone_number_ids:
            pool.phone_number_ids.append(number.id)

    def create_pool_from(self, identities: list[str], *, message_type: str | None = None,
                         opt_out_list_name: str | None = None, deletion_protection: bool = False,
                         self_managed_opt_outs: bool | None = None, shared_routes: bool = False,
                         tags: list[dict[str, str]] | None = None) -> Pool:
        """A pool of phone numbers; it takes the first number's message type, opt-out list and
        opt-out management unless given, as CreatePool's pool inherits them."""
        numbers = [self.phone_number(i) for i in identities]
        if not numbers:
            raise _invalid("A pool needs an origination identity", "MISSING_PARAMETER", "OriginationIdentity")
        first = numbers[0]
        pool_id = f"pool-{_short_id()}"
        pool = Pool(
            id=pool_id, arn=self.arn("pool", pool_id), message_type=message_type or first.message_type,
            opt_out_list_name=self.opt_out_list(opt_out_list_name or first.opt_out_list_name,
                                                create_default=True).name,
            created=time.time(), self_managed_opt_outs=(first.self_managed_opt_outs if self_managed_opt_outs is None
                                                        else self_managed_opt_outs),
            shared_routes=shared_routes, deletion_protection=deletion_protection, tags=list(tags or []))
        for number in numbers:
            self._associate(pool, number)
        self.pools[pool_id] = pool
        return pool

    @_operation("CreatePool")
    def create_pool(self, params: dict[str, Any]) -> dict[str, Any]:
        _require(params, "OriginationIdentity", "MessageType")
        pool = self.create_pool_from([params["OriginationIdentity"]], message_type=params["MessageType"],
                                     deletion_protection=_bool(params.get("DeletionProtectionEnabled")),
                                     tags=params.get("Tags"))
        return {**pool.describe(), "Tags": pool.tags}

    @_operation("DescribePools")
    def describe_pools(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._describe(params, "PoolIds", self.pool, self.pools, {
            **_IDENTITY_FILTERS, "shared-routes-enabled": "SharedRoutesEnabled"}, "Pools")

    @_operation("UpdatePool")
    def update_pool(self, params: dict[str, Any]) -> dict[str, Any]:
        _require(params, "PoolId")
        return self.update_identity(self.pool(params["PoolId"]), params)

    def delete_pool_named(self, pool: Pool) -> dict[str, Any]:
        if pool.deletion_protection:
            raise _conflict("DELETION_PROTECTION_ENABLED", f"Pool {pool.id} has deletion protection.", "pool", pool.id)
        for number_id in pool.phone_number_ids:
            if number_id in self.phone_numbers:
                self.phone_numbers[number_id].pool_id = None
        del self.pools[pool.id]
        return {**pool.describe(), "Status": "DELETING"}

    @_operation("DeletePool")
    def delete_pool(self, params: dict[str, Any]) -> dict[str, Any]:
        _require(params, "PoolId")
        return self.delete_pool_named(self.pool(params["PoolId"]))

    @_operation("AssociateOriginationIdentity")
    def associate_origination_identity(self, params: dict[str, Any]) -> dict[str, Any]:
        _require(params, "PoolId", "OriginationIdentity", "IsoCountryCode")
        pool = self.pool(params["PoolId"])
        number = self.phone_number(params["OriginationIdentity"])
        self._associate(pool, number)
        return {"PoolArn": pool.arn, "PoolId": pool.id, "OriginationIdentityArn": number.arn,
                "OriginationIdentity": number.id, "IsoCountryCode": number.iso_country_code}

    # ---- sending ---------------------------------------------------------------------------------

    @_operation("SendTextMessage")
    def send_text_message(self, params: dict[str, Any]) -> dict[str, Any]:
        destination = params.get("DestinationPhoneNumber")
        if not isinstance(destination, str) or not _PHONE.match(destination):
            raise _invalid(f"DestinationPhoneNumber {destination!r} is not a phone number in E.164 format",
                           field_name="DestinationPhoneNumber")
        body = params.get("MessageBody")
        if not isinstance(body, str) or not body.strip() or len(body) > 1600:
            raise _invalid("MessageBody must be 1 to 1600 characters, not only white space",
                           field_name="MessageBody")
        message_type = params.get("MessageType")
        if message_type is not None and message_type not in MESSAGE_TYPES:
            raise _invalid(f"MessageType {message_type!r} must be one of {MESSAGE_TYPES}", field_name="MessageType")
        ttl = params.get("TimeToLive")
        if ttl is not None and (isinstance(ttl, bool) or not isinstance(ttl, int) or not 5 <= ttl <= 259200):
            raise _invalid(f"TimeToLive {ttl!r} must be 5 to 259200 seconds", field_name="TimeToLive")
        context = params.get("Context") or {}
        if not isinstance(context, dict) or not all(isinstance(v, str) for v in context.values()):
            raise _invalid("Context must map names to strings", field_name="Context")
        configuration_set = (self.configuration_set(params["ConfigurationSetName"])
                             if params.get("ConfigurationSetName") else None)
        identity = self.origination(params.get("OriginationIdentity"))
        numbers = ([self.phone_numbers[i] for i in identity.phone_number_ids if i in self.phone_numbers]
                   if isinstance(identity, Pool) else [identity])
        if not numbers:
            raise _conflict("NO_ORIGINATION_IDENTITIES_FOUND", f"Pool {identity.id} has no phone number.",
                            "pool", identity.id)
        opt_outs = self.opt_out_list(identity.opt_out_list_name, create_default=True)
        if destination in opt_outs.numbers:
            raise _conflict("DESTINATION_PHONE_NUMBER_OPTED_OUT",
                            f"The destination phone number {destination} is opted out (opt-out list "
                            f"{opt_outs.name}).", "opted-out-number", destination)
        message_id = str(uuid.uuid4())
        if _bool(params.get("DryRun")):
            return {"MessageId": message_id}
        queued = self.outcomes.get(destination)
        events = queued.pop(0) if queued else DELIVERED
        message = SmsVoiceMessage(
            message_id=message_id, destination_phone_number=destination,
            origination_phone_number=numbers[0].phone_number, origination_identity=params.get("OriginationIdentity"),
            message_body=body, message_type=message_type or identity.message_type,
            configuration_set_name=configuration_set.name if configuration_set else None, context=dict(context),
            time_to_live=ttl, event_types=tuple(events))
        self.messages.append(message)
        if configuration_set is not None:
            deliver_events(configuration_set, message, account_id=self.account_id)
        return {"MessageId": message_id}

    def queue_outcome(self, destination: str, event_types: tuple[str, ...], times: int) -> None:
        """The next ``times`` sends to ``destination`` emit ``event_types`` (the last one final)."""
        unknown = [t for t in event_types if t not in TEXT_EVENT_TYPES]
        if not event_types or unknown:
            raise ValueError(f"event types {event_types!r}: give one or more of {TEXT_EVENT_TYPES}")
        with self.lock:
            self.outcomes.setdefault(destination, []).extend([tuple(event_types)] * times)

    def reply(self, recipient: str, identity: str, text: str) -> bool:
        """A recipient's inbound text to an origination identity: an opt-out keyword adds the
        recipient to the identity's opt-out list unless it manages opt-outs itself."""
        with self.lock:
            found = self.origination(identity)
            words = text.strip().split()
            if not words or words[0].upper() not in OPT_OUT_KEYWORDS or found.self_managed_opt_outs:
                return False
            self.opt_out(found.opt_out_list_name, recipient, end_user=True)
            return True

sms_voice_backends = BackendDict(SmsVoiceBackend, SERVICE)


def sms_voice_backend(account_id: str, region: str) -> SmsVoiceBackend:
    backend: SmsVoiceBackend = sms_voice_backends[account_id][region]
    return backend


class SmsVoiceResponse(BaseResponse):
    """The JSON 1.0 front: ``X-Amz-Target`` names the operation, the body holds its parameters."""

    def __init__(self) -> None:
        super().__init__(service_name=IAM_PREFIX)

    def call_action(self) -> tuple[int, dict[str, Any], str]:
        headers = {"Content-Type": "application/x-amz-json-1.0", "x-amzn-RequestId": str(uuid.uuid4())}
        try:
            params = json.loads(self.body or "{}")
            result = sms_voice_backend(self.current_account, self.region).handle(self._get_action(), params)
        except SmsVoiceError as error:
            return error.status, {**headers, "x-amzn-ErrorType": error.code}, json.dumps(error.body())
        except ValueError:
            unparsed = _invalid("The request body is not JSON", "CANNOT_PARSE")
            return unparsed.status, {**headers, "x-amzn-ErrorType": unparsed.code}, json.dumps(unparsed.body())
        return 200, headers, json.dumps(result)


# ---- the access check's rules ------------------------------------------------------------------


def sms_voice_requests(ask: Callable[[str, str], AccessRequest], resources: ResourceKeys, operation: str,
                       params: Mapping[str, Any]) -> list[AccessRequest]:
    """What IAM authorizes for an ``sms-voice`` call (``local_aws.access.calls`` asks here).
    SendTextMessage: the origination identity (phone number or pool ARN) and the configuration set,
    each optional resource of the action (none known: the action on ``*``); the opt-out number
    operations: the opt-out list."""
    action = f"{IAM_PREFIX}:{operation}"
    backend = sms_voice_backend(resources.account_id, resources.region)
    if operation == "SendTextMessage":
        asked = []
        with backend.lock:
            identity = backend.identity_arn(params.get("OriginationIdentity"))
        if identity is not None:
            asked.append(ask(action, identity))
        configuration_set = params.get("ConfigurationSetName")
        if configuration_set:
            name = SmsVoiceBackend._key(str(configuration_set), "configuration-set")
            asked.append(ask(action, resources.arn(IAM_PREFIX, f"configuration-set/{name}")))
        return asked or [ask(action, "*")]
    if operation in ("DescribeOptedOutNumbers", "PutOptedOutNumber", "DeleteOptedOutNumber"):
        name = SmsVoiceBackend._key(str(params["OptOutListName"]), "opt-out-list")
        return [ask(action, resources.arn(IAM_PREFIX, f"opt-out-list/{name}"))]
    raise UnmodelledCall(f"{action}: no access rule in local_aws.sms_voice; add one before relying on it")


# ---- the bridge --------------------------------------------------------------------------------


@contextmanager
def serve_sms_voice() -> Iterator[None]:
    """Serves ``pinpoint-sms-voice-v2`` in both modes, for Step Functions' aws-sdk tasks and in
    CloudFormation (see the module docstring)."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service import (
        StateTaskService,
    )

    from local_aws.sms_voice_cloudformation import model_sms_voice_in_cloudformation

    original_get_backend = moto_backends.get_backend

    def get_backend(name: str) -> Any:
        return sms_voice_backends if name == IAM_PREFIX else original_get_backend(name)  # type: ignore[call-overload]

    pattern = (IAM_PREFIX, re.compile(_URL_BASE))
    with ExitStack() as stack:
        # Both moto's stubber and the server's dispatcher hold this very list: change it in place.
        backend_index.backend_url_patterns.append(pattern)
        stack.callback(backend_index.backend_url_patterns.remove, pattern)
        stack.enter_context(mock.patch.object(moto_backends, "get_backend", get_backend))
        stack.enter_context(mock.patch.dict(StateTaskService._SERVICE_NAME_SFN_TO_BOTO_OVERRIDES,
                                            {SFN_SERVICE: SERVICE}))
        stack.enter_context(model_sms_voice_in_cloudformation())
        yield
