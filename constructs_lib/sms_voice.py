"""EndUserMessagingSms: what a workflow needs to send SMS through AWS End User Messaging SMS
(``pinpoint-sms-voice-v2``) rather than SNS: a configuration set whose event destination reports
delivery, an opt-out list, and a send grant scoped to one origination identity."""

from __future__ import annotations

import re
from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_smsvoice as smsvoice
from aws_cdk import aws_sns as sns
from constructs import Construct, IDependable

from ._props import PropError, is_token

__all__ = ["DEFAULT_EVENT_TYPES", "EndUserMessagingSms", "SEND_TEXT_MESSAGE_ACTION"]

_NAME = "EndUserMessagingSms"
SERVICE_PRINCIPAL = "sms-voice.amazonaws.com"
#: The IAM action of SendTextMessage (Step Functions calls it ``aws-sdk:pinpointsmsvoicev2:sendTextMessage``).
SEND_TEXT_MESSAGE_ACTION = "sms-voice:SendTextMessage"
#: The events the topic gets by default: a carrier accepted or delivered the message, or it failed.
DEFAULT_EVENT_TYPES: tuple[str, ...] = (
    "TEXT_SUCCESSFUL", "TEXT_DELIVERED", "TEXT_INVALID", "TEXT_INVALID_MESSAGE", "TEXT_UNREACHABLE",
    "TEXT_CARRIER_UNREACHABLE", "TEXT_BLOCKED", "TEXT_CARRIER_BLOCKED", "TEXT_SPAM", "TEXT_UNKNOWN",
    "TEXT_TTL_EXPIRED", "TEXT_PROTECT_BLOCKED")
_EVENT_TYPES = frozenset({"ALL", "TEXT_ALL", "TEXT_SENT", "TEXT_PENDING", "TEXT_QUEUED", *DEFAULT_EVENT_TYPES})
MESSAGE_TYPES = ("TRANSACTIONAL", "PROMOTIONAL")
_IDENTITY_ARN = re.compile(r"^arn:aws[a-z-]*:sms-voice:[a-z0-9-]+:\d{12}:(phone-number|pool|sender-id)/\S+$")
_IDENTITY_ID = re.compile(r"^(phone|pool)-[A-Za-z0-9]+$")
_LIST_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_E164 = re.compile(r"^\+[1-9][0-9]{1,18}$")


class EndUserMessagingSms(Construct):
    """A configuration set (its SNS event destination reports ``TEXT_*`` events to
    ``event_topic``), an opt-out list, and :meth:`grant_send` for one origination identity.

    AWS refuses a text to a number on the opt-out list *of the origination identity* (SendTextMessage
    fails with ``ConflictException``, reason ``DESTINATION_PHONE_NUMBER_OPTED_OUT``; in Step Functions
    the error ``PinpointSmsVoiceV2.ConflictException``). A recipient replying STOP joins that list.
    :attr:`opt_out_list_name` is the list a workflow reads (``sms-voice:DescribeOptedOutNumbers``,
    :meth:`grant_read_opt_outs`) to skip opted-out recipients before sending.

    :param origination_identity: the phone number or pool to send from: its ARN, or its
        ``PhoneNumberId`` (``phone-...``) or ``PoolId`` (``pool-...``); a sender ID by ARN. A token
        must resolve to an ARN (e.g. ``CfnPool.attr_arn``). Required: IAM scopes the grant to it.
    :param opt_out_list_name: the opt-out list of that identity (its ``OptOutListName``; a new phone
        number's is ``Default``). Default: a new ``AWS::SMSVOICE::OptOutList``, which AWS applies to
        sends once the identity uses it (UpdatePool/UpdatePhoneNumber ``OptOutListName``).
    :param event_topic: SNS topic the configuration set publishes delivery events to (AWS's event JSON
        with the send's ``Context``). Its policy gets a statement letting ``sms-voice.amazonaws.com``
        publish for this account's configuration sets, and its key (if it is one this app defines)
        one letting End User Messaging use it. Default: none (no event destination).
    :param event_types: the ``MatchingEventTypes`` of that destination. Default: :data:`DEFAULT_EVENT_TYPES`.
    :param message_type: ``TRANSACTIONAL`` (default) or ``PROMOTIONAL``; what a send should pass as
        ``MessageType`` (:meth:`send_text_message_arguments`).

    Attributes: :attr:`configuration_set`, :attr:`configuration_set_name`,
    :attr:`configuration_set_arn`, :attr:`opt_out_list` (None when a name was given),
    :attr:`opt_out_list_name`, :attr:`opt_out_list_arn`, :attr:`origination_identity`,
    :attr:`origination_identity_arn`, :attr:`message_type`, :attr:`event_topic`.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        origination_identity: str,
        opt_out_list_name: str | None = None,
        event_topic: sns.ITopic | None = None,
        event_types: Sequence[str] = DEFAULT_EVENT_TYPES,
        message_type: str = "TRANSACTIONAL",
    ) -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        identity_arn = _origination_identity_arn(stack, origination_identity)
        if opt_out_list_name is not None and not is_token(opt_out_list_name) \
                and not _LIST_NAME.match(opt_out_list_name):
            raise PropError(_NAME, "opt_out_list_name", opt_out_list_name,
                            "Give the list's name: 1 to 64 letters, digits, '_' or '-' (e.g. 'Default'); or None "
                            "to create one.")
        if message_type not in MESSAGE_TYPES:
            raise PropError(_NAME, "message_type", message_type, f"Use one of {', '.join(MESSAGE_TYPES)}.")
        if isinstance(event_types, str) or not event_types or any(t not in _EVENT_TYPES for t in event_types):
            raise PropError(_NAME, "event_types", event_types,
                            f"Give a list of one or more SMS event types from {', '.join(sorted(_EVENT_TYPES))}.")

        #: The phone number or pool sends go from, as given.
        self.origination_identity = origination_identity
        #: Its ARN, which :meth:`grant_send` scopes the grant to.
        self.origination_identity_arn = identity_arn
        #: What a send passes as ``MessageType``.
        self.message_type = message_type
        #: The topic delivery events go to (None without one; see :meth:`add_event_topic`).
        self.event_topic: sns.ITopic | None = None

        #: The opt-out list this construct created (None when ``opt_out_list_name`` was given).
        self.opt_out_list: smsvoice.CfnOptOutList | None = None
        if opt_out_list_name is None:
            self.opt_out_list = smsvoice.CfnOptOutList(self, "OptOutList")
            self.opt_out_list.apply_removal_policy(cdk.RemovalPolicy.RETAIN)  # who opted out is kept
            opt_out_list_name = self.opt_out_list.ref
        #: The opt-out list's name.
        self.opt_out_list_name: str = opt_out_list_name
        #: The opt-out list's ARN.
        self.opt_out_list_arn = stack.format_arn(service="sms-voice", resource="opt-out-list",
                                                 resource_name=opt_out_list_name)

        #: The configuration set sends name (``ConfigurationSetName``): its destination gets their events.
        self.configuration_set = smsvoice.CfnConfigurationSet(self, "ConfigurationSet")
        #: The configuration set's name.
        self.configuration_set_name: str = self.configuration_set.ref
        #: The configuration set's ARN.
        self.configuration_set_arn: str = self.configuration_set.attr_arn
        self._event_types = list(event_types)
        if event_topic is not None:
            self.add_event_topic(event_topic)

    def add_event_topic(self, topic: sns.ITopic) -> None:
        """Sends the delivery events (``event_types``) to ``topic``: the configuration set's SNS
        event destination, with the topic (and key) policy letting End User Messaging publish.
        Lets a topic made after this construct (a ``DeliveryFeedback``'s) receive them."""
        if self.event_topic is not None and self.event_topic is not topic:
            raise PropError(_NAME, "event_topic", topic.node.path,
                            f"Events already go to {self.event_topic.node.path}: give one topic.")
        if topic.fifo:
            raise PropError(_NAME, "event_topic", topic.node.path,
                            "End User Messaging cannot publish to a FIFO topic: give a standard topic.")
        self.event_topic = topic
        publish_policy = self._let_sms_voice_publish(topic)
        self.configuration_set.event_destinations = [smsvoice.CfnConfigurationSet.EventDestinationProperty(
            event_destination_name="DeliveryEvents", enabled=True, matching_event_types=self._event_types,
            sns_destination=smsvoice.CfnConfigurationSet.SnsDestinationProperty(topic_arn=topic.topic_arn),
        )]
        if publish_policy is not None:
            # AWS checks it may publish when the destination is created.
            self.configuration_set.node.add_dependency(publish_policy)

    def _let_sms_voice_publish(self, topic: sns.ITopic) -> IDependable | None:
        """The topic policy (and key policy) statements AWS's user guide gives for an SNS event
        destination, for any configuration set of this account (naming this one would be a cycle:
        the set names the topic)."""
        stack = cdk.Stack.of(self)
        conditions = {
            "StringEquals": {"aws:SourceAccount": stack.account},
            "ArnLike": {"aws:SourceArn": stack.format_arn(service="sms-voice", resource="configuration-set",
                                                          resource_name="*")},
        }
        added = topic.add_to_resource_policy(iam.PolicyStatement(
            sid="SmsVoicePublishesDeliveryEvents", principals=[iam.ServicePrincipal(SERVICE_PRINCIPAL)],
            actions=["sns:Publish"], resources=[topic.topic_arn], conditions=conditions))
        if topic.master_key is not None:
            # Publishing to an encrypted topic makes the publisher use its key.
            topic.master_key.add_to_resource_policy(iam.PolicyStatement(
                sid="SmsVoiceEncryptsDeliveryEvents", principals=[iam.ServicePrincipal(SERVICE_PRINCIPAL)],
                actions=["kms:GenerateDataKey*", "kms:Decrypt"], resources=["*"], conditions=conditions))
        return added.policy_dependable

    def grant_send(self, grantee: iam.IGrantable) -> iam.Grant:
        """``sms-voice:SendTextMessage`` on the origination identity and the configuration set only
        (the action's resource types; a send through another pool or number, or with another
        configuration set, is refused)."""
        return iam.Grant.add_to_principal(grantee=grantee, actions=[SEND_TEXT_MESSAGE_ACTION],
                                          resource_arns=[self.origination_identity_arn, self.configuration_set_arn])

    def grant_read_opt_outs(self, grantee: iam.IGrantable) -> iam.Grant:
        """``sms-voice:DescribeOptedOutNumbers`` on the opt-out list (is a recipient opted out?)."""
        return iam.Grant.add_to_principal(grantee=grantee, actions=["sms-voice:DescribeOptedOutNumbers"],
                                          resource_arns=[self.opt_out_list_arn])

    def send_text_message_arguments(self) -> dict[str, str]:
        """The SendTextMessage parameters this construct fixes, for a task's arguments (add
        ``DestinationPhoneNumber``, ``MessageBody`` and ``Context``)."""
        return {"OriginationIdentity": self.origination_identity_arn,
                "ConfigurationSetName": self.configuration_set_name, "MessageType": self.message_type}


def _origination_identity_arn(stack: cdk.Stack, identity: str) -> str:
    if is_token(identity) or (isinstance(identity, str) and _IDENTITY_ARN.match(identity)):
        return identity
    if isinstance(identity, str) and _IDENTITY_ID.match(identity):
        resource = "pool" if identity.startswith("pool-") else "phone-number"
        return stack.format_arn(service="sms-voice", resource=resource, resource_name=identity)
    fix = ("IAM names a phone number by its PhoneNumberId: give that ('phone-...') or its ARN."
           if isinstance(identity, str) and _E164.match(identity) else
           "Give the ARN of a phone number, pool or sender ID, or a PhoneNumberId ('phone-...') or PoolId "
           "('pool-...').")
    raise PropError(_NAME, "origination_identity", identity, fix)
