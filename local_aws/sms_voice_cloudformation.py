"""``AWS::SMSVOICE::*`` in moto's CloudFormation, created in ``local_aws.sms_voice``'s backend.

moto 5.2.5 skips these types with a warning. Modelled, with the return values CloudFormation
documents (``Ref`` is the resource's identifier, ``Fn::GetAtt`` its attributes):

- ``OptOutList``: ``Ref`` the name, ``Arn``; a new ``OptOutListName`` replaces it.
- ``PhoneNumber`` (a fake number of ``IsoCountryCode``): ``Ref`` the ``PhoneNumberId``, ``Arn``,
  ``PhoneNumberId``, ``PhoneNumber``; a new country, type or capabilities replace it. CloudFormation
  has no message type for a number: it is ``TRANSACTIONAL``.
- ``Pool`` of ``OriginationIdentities`` (phone number ids or ARNs): ``Ref`` the ``PoolId``, ``Arn``,
  ``PoolId``; it takes its first number's message type, and opt-out list unless it names one.
- ``ConfigurationSet`` with ``EventDestinations``: ``Ref`` the name, ``Arn``; a new name replaces it.

Names left out are generated (``<stack>-<logical id>-<suffix>``, at most 64 characters).
``MandatoryKeywords``, ``OptionalKeywords``, ``TwoWay``, ``MessageFeedbackEnabled`` and
``ProtectConfigurationId`` are accepted and not emulated.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

import moto.cloudformation.parsing as cfn_parsing

from local_aws.bridges import CloudFormationModelStub
from local_aws.sms_voice import SmsVoiceBackend, SmsVoiceError, sms_voice_backend


def _name(props: dict[str, Any], name_property: str, generated: str) -> str:
    return str(props.get(name_property) or generated)[:64]


class _SmsVoiceModel(CloudFormationModelStub):
    """The parts the four types share: attributes by name, the backend, replacement on update."""

    _TYPE = ""
    #: The resource's field ``Ref`` gives.
    _REF_FIELD = "id"
    _ATTRIBUTES: tuple[str, ...] = ("Arn",)
    #: Properties whose change makes CloudFormation replace the resource.
    _REPLACED_BY: tuple[str, ...] = ()

    def __init__(self, resource: Any, account_id: str, region_name: str, props: dict[str, Any]) -> None:
        self.resource = resource
        self.account_id = account_id
        self.region_name = region_name
        self.props = props
        self.physical_resource_id: str = str(getattr(resource, self._REF_FIELD))

    @classmethod
    def cloudformation_type(cls) -> str:
        return cls._TYPE

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str,
        **kwargs: Any,
    ) -> Any:
        props = cloudformation_json.get("Properties", {})
        backend = sms_voice_backend(account_id, region_name)
        with backend.lock:
            return cls(cls.create(backend, props, resource_name), account_id, region_name, props)

    @classmethod
    def create(cls, backend: SmsVoiceBackend, props: dict[str, Any], generated_name: str) -> Any:
        """The resource ``props`` describe, made in ``backend`` (its lock held)."""
        raise NotImplementedError

    def backend(self) -> SmsVoiceBackend:
        return sms_voice_backend(self.account_id, self.region_name)

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in cls._ATTRIBUTES

    def get_cfn_attribute(self, attr: str) -> str:
        if attr not in self._ATTRIBUTES:
            raise KeyError(attr)
        return str(self.attribute(attr))

    def attribute(self, attr: str) -> Any:
        return self.resource.arn

    @classmethod
    def update_from_cloudformation_json(
        cls, original_resource: Any, new_resource_name: str, cloudformation_json: dict[str, Any],
        account_id: str, region_name: str,
    ) -> Any:
        props = cloudformation_json.get("Properties", {})
        if any(props.get(p) != original_resource.props.get(p) for p in cls._REPLACED_BY):
            created = cls.create_from_cloudformation_json(new_resource_name, cloudformation_json, account_id,
                                                          region_name)
            original_resource.delete(account_id, region_name)
            return created
        with original_resource.backend().lock:
            original_resource.update(props)
        original_resource.props = props
        return original_resource

    def update(self, props: dict[str, Any]) -> None:
        self.resource.tags = list(props.get("Tags") or [])

    def delete(self, account_id: str, region_name: str) -> None:
        backend = self.backend()
        with backend.lock:
            try:
                self.remove(backend)
            except SmsVoiceError as error:
                if error.code != "ResourceNotFoundException":
                    raise

    def remove(self, backend: SmsVoiceBackend) -> None:
        raise NotImplementedError


class _OptOutList(_SmsVoiceModel):
    _TYPE = "AWS::SMSVOICE::OptOutList"
    _REF_FIELD = "name"
    _REPLACED_BY = ("OptOutListName",)

    @classmethod
    def create(cls, backend: SmsVoiceBackend, props: dict[str, Any], generated_name: str) -> Any:
        created = backend.handle("CreateOptOutList", {
            "OptOutListName": _name(props, "OptOutListName", generated_name), "Tags": props.get("Tags")})
        return backend.opt_out_list(created["OptOutListName"])

    def remove(self, backend: SmsVoiceBackend) -> None:
        backend.handle("DeleteOptOutList", {"OptOutListName": self.resource.name})


class _PhoneNumber(_SmsVoiceModel):
    _TYPE = "AWS::SMSVOICE::PhoneNumber"
    _ATTRIBUTES = ("Arn", "PhoneNumberId", "PhoneNumber")
    _REPLACED_BY = ("IsoCountryCode", "NumberType", "NumberCapabilities")

    def attribute(self, attr: str) -> Any:
        return {"Arn": self.resource.arn, "PhoneNumberId": self.resource.id,
                "PhoneNumber": self.resource.phone_number}[attr]

    @classmethod
    def create(cls, backend: SmsVoiceBackend, props: dict[str, Any], generated_name: str) -> Any:
        return backend.request_number(
            iso_country_code=props["IsoCountryCode"], message_type="TRANSACTIONAL",
            number_capabilities=list(props["NumberCapabilities"]), number_type=props["NumberType"],
            opt_out_list_name=props.get("OptOutListName"),
            deletion_protection=str(props.get("DeletionProtectionEnabled", False)).lower() == "true",
            self_managed_opt_outs=str(props.get("SelfManagedOptOutsEnabled", False)).lower() == "true",
            tags=props.get("Tags"))

    def update(self, props: dict[str, Any]) -> None:
        super().update(props)
        self.backend().update_identity(self.resource, props)

    def remove(self, backend: SmsVoiceBackend) -> None:
        if self.resource.pool_id in backend.pools:  # the stack's pool may go after its numbers
            pool = backend.pools[self.resource.pool_id]
            pool.phone_number_ids.remove(self.resource.id)
        self.resource.pool_id = None
        self.resource.deletion_protection = False  # CloudFormation deletes what it made
        backend.release(backend.phone_number(self.resource.id))


class _Pool(_SmsVoiceModel):
    _TYPE = "AWS::SMSVOICE::Pool"
    _ATTRIBUTES = ("Arn", "PoolId")

    def attribute(self, attr: str) -> Any:
        return self.resource.arn if attr == "Arn" else self.resource.id

    @classmethod
    def create(cls, backend: SmsVoiceBackend, props: dict[str, Any], generated_name: str) -> Any:
        flag = props.get("SelfManagedOptOutsEnabled")
        return backend.create_pool_from(
            list(props["OriginationIdentities"]), opt_out_list_name=props.get("OptOutListName"),
            deletion_protection=str(props.get("DeletionProtectionEnabled", False)).lower() == "true",
            self_managed_opt_outs=None if flag is None else str(flag).lower() == "true",
            shared_routes=str(props.get("SharedRoutesEnabled", False)).lower() == "true", tags=props.get("Tags"))

    def update(self, props: dict[str, Any]) -> None:
        super().update(props)
        backend = self.backend()
        backend.update_identity(self.resource, props)
        wanted = [backend.phone_number(i).id for i in props["OriginationIdentities"]]
        for number_id in [i for i in self.resource.phone_number_ids if i not in wanted]:
            self.resource.phone_number_ids.remove(number_id)
            backend.phone_numbers[number_id].pool_id = None
        for number_id in wanted:
            backend.handle("AssociateOriginationIdentity", {
                "PoolId": self.resource.id, "OriginationIdentity": number_id,
                "IsoCountryCode": backend.phone_numbers[number_id].iso_country_code})

    def remove(self, backend: SmsVoiceBackend) -> None:
        self.resource.deletion_protection = False
        backend.delete_pool_named(backend.pool(self.resource.id))


class _ConfigurationSet(_SmsVoiceModel):
    _TYPE = "AWS::SMSVOICE::ConfigurationSet"
    _REF_FIELD = "name"
    _REPLACED_BY = ("ConfigurationSetName",)

    @classmethod
    def create(cls, backend: SmsVoiceBackend, props: dict[str, Any], generated_name: str) -> Any:
        created = backend.create_configuration_set_named(
            _name(props, "ConfigurationSetName", generated_name), list(props.get("Tags") or []),
            props.get("DefaultSenderId"))
        try:
            created.destinations = _destinations(backend, props)
        except SmsVoiceError:
            del backend.configuration_sets[created.name]
            raise
        return created

    def update(self, props: dict[str, Any]) -> None:
        super().update(props)
        backend = self.backend()
        self.resource.default_sender_id = props.get("DefaultSenderId")
        self.resource.destinations = _destinations(backend, props)

    def remove(self, backend: SmsVoiceBackend) -> None:
        backend.handle("DeleteConfigurationSet", {"ConfigurationSetName": self.resource.name})


def _destinations(backend: SmsVoiceBackend, props: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {d["EventDestinationName"]: backend.event_destination(d) for d in props.get("EventDestinations") or []}


@contextmanager
def model_sms_voice_in_cloudformation() -> Iterator[None]:
    """moto 5.2.5 skips ``AWS::SMSVOICE::*``; this creates, updates and deletes them in the
    emulated service."""
    original = cfn_parsing.resource_class_from_type
    models = {model.cloudformation_type(): model for model in (_OptOutList, _PhoneNumber, _Pool, _ConfigurationSet)}

    def resource_class_from_type(resource_type: str) -> Any:
        return models.get(resource_type) or original(resource_type)

    with mock.patch.object(cfn_parsing, "resource_class_from_type", resource_class_from_type):
        yield
