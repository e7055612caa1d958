"""The request contract: JSONPath locations, validation rules and the shapes of a valid request.

The rules become one Choice state. Rules are ordered so that a path is only compared after an
earlier rule proved it present and of the right type, because comparing a missing path is a
runtime error in ASL.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from itertools import product

from aws_cdk import aws_stepfunctions as sfn

Condition = sfn.Condition

CHANNELS: tuple[str, ...] = ("sms", "email", "both")
#: Error of the Fail state a request that breaks the contract ends in.
VALIDATION_ERROR = "ValidationError"
#: Error of the Fail state a request with an unknown channel ends in.
UNSUPPORTED_CHANNEL = "UnsupportedChannel"


def _present(path: str) -> sfn.Condition:
    return Condition.is_present(path)


def _string(path: str) -> sfn.Condition:
    return Condition.and_(_present(path), Condition.is_string(path))


def _non_empty_string(path: str) -> sfn.Condition:
    return Condition.and_(_string(path), Condition.not_(Condition.string_equals(path, "")))


def _scalar_not_string(path: str) -> sfn.Condition:
    """Present but a number, a boolean or null: ASL has no IsArray/IsObject test."""
    return Condition.or_(
        Condition.is_numeric(path), Condition.is_boolean(path), Condition.is_null(path)
    )


def _channel_is(*channels: str) -> sfn.Condition:
    rules = [Condition.string_equals("$.channel", c) for c in channels]
    return rules[0] if len(rules) == 1 else Condition.or_(*rules)


def _one_of(path: str, values: Sequence[str]) -> sfn.Condition:
    if not values:
        return Condition.not_(_present(path))
    rules = [Condition.string_equals(path, v) for v in values]
    return Condition.and_(_string(path), rules[0] if len(rules) == 1 else Condition.or_(*rules))


@dataclass(frozen=True)
class Rejection:
    """A way a request can break the contract, with the error it ends in."""

    slug: str  # stable, used in state names
    reason: str
    error: str
    violated: Callable[[], sfn.Condition]


def sms_with_email() -> sfn.Condition:
    """An SMS request that also carries an email part (used for the email fallback)."""
    return Condition.and_(Condition.string_equals("$.channel", "sms"), _present("$.email"))


def rejections(
    allowed_senders: Sequence[str], allowed_configuration_sets: Sequence[str], *, sms_may_carry_email: bool = False
) -> list[Rejection]:
    """The ordered validation rules; the first violated one decides the reason. With
    ``sms_may_carry_email`` the email rules also apply to an SMS request's email part."""
    def email_channel() -> sfn.Condition:
        if sms_may_carry_email:
            return Condition.or_(_channel_is("email", "both"), sms_with_email())
        return _channel_is("email", "both")

    def email_field(field: str, bad: Callable[[str], sfn.Condition]) -> Callable[[], sfn.Condition]:
        path = f"$.email.{field}"
        return lambda: Condition.and_(email_channel(), _present(path), bad(path))

    return [
        Rejection("Message", "message must be a non-empty string", VALIDATION_ERROR,
                  lambda: Condition.not_(_non_empty_string("$.message"))),
        Rejection("ChannelMissing", "channel is required and must be a string: sms, email or both",
                  VALIDATION_ERROR, lambda: Condition.not_(_string("$.channel"))),
        Rejection("Channel", "channel must be one of: sms, email, both", UNSUPPORTED_CHANNEL,
                  lambda: Condition.not_(_channel_is(*CHANNELS))),
        Rejection("PhoneNumber", "phoneNumber must be a string in E.164 form starting with + for sms and both",
                  VALIDATION_ERROR,
                  lambda: Condition.and_(
                      _channel_is("sms", "both"),
                      Condition.not_(Condition.and_(_string("$.phoneNumber"),
                                                    Condition.string_matches("$.phoneNumber", "+*"))))),
        Rejection("EmailTo", "email.to must be an address or a list of addresses for email and both",
                  VALIDATION_ERROR,
                  lambda: Condition.and_(
                      email_channel(),
                      Condition.or_(Condition.not_(_present("$.email.to")),
                                    _scalar_not_string("$.email.to"),
                                    Condition.and_(Condition.is_string("$.email.to"),
                                                   Condition.string_equals("$.email.to", ""))))),
        Rejection("EmailSubject", "email.subject must be a string", VALIDATION_ERROR,
                  email_field("subject", lambda p: Condition.not_(Condition.is_string(p)))),
        Rejection("EmailHtmlBody", "email.htmlBody must be a non-empty string", VALIDATION_ERROR,
                  email_field("htmlBody", lambda p: Condition.not_(_non_empty_string(p)))),
        Rejection("EmailCc", "email.cc must be a list of addresses", VALIDATION_ERROR,
                  email_field("cc", lambda p: Condition.or_(Condition.is_string(p), _scalar_not_string(p)))),
        Rejection("EmailBcc", "email.bcc must be a list of addresses", VALIDATION_ERROR,
                  email_field("bcc", lambda p: Condition.or_(Condition.is_string(p), _scalar_not_string(p)))),
        Rejection("EmailReplyTo", "email.replyTo must be an address or a list of addresses", VALIDATION_ERROR,
                  email_field("replyTo", lambda p: Condition.or_(
                      _scalar_not_string(p),
                      Condition.and_(Condition.is_string(p), Condition.string_equals(p, ""))))),
        Rejection("EmailFrom", "email.from must be one of the allowed senders", VALIDATION_ERROR,
                  email_field("from", lambda p: Condition.not_(_one_of(p, allowed_senders)))),
        Rejection("EmailConfigurationSet", "email.configurationSet must be one of the allowed configuration sets",
                  VALIDATION_ERROR,
                  email_field("configurationSet",
                              lambda p: Condition.not_(_one_of(p, allowed_configuration_sets)))),
    ]


def notification_id_is_invalid() -> sfn.Condition:
    """A given notificationId must be a non-empty string: it becomes the delivery-log key."""
    return Condition.and_(_present("$.notificationId"), Condition.not_(_non_empty_string("$.notificationId")))


def has_notification_id() -> sfn.Condition:
    return _present("$.notificationId")


@dataclass(frozen=True)
class EmailShape:
    """How a valid email request is laid out; each shape gets its own preparation state,
    since JSONPath cannot test a type or leave out a key inside one state."""

    to_is_list: bool
    reply_to_is_string: bool
    has_html: bool

    @property
    def slug(self) -> str:
        parts = ["ToList" if self.to_is_list else "ToAddress"]
        if self.reply_to_is_string:
            parts.append("ReplyToAddress")
        if self.has_html:
            parts.append("Html")
        return "".join(parts)

    def condition(self) -> sfn.Condition:
        to_rule = Condition.is_string("$.email.to")
        reply_rule = _string("$.email.replyTo")
        html_rule = _present("$.email.htmlBody")
        return Condition.and_(
            Condition.not_(to_rule) if self.to_is_list else to_rule,
            reply_rule if self.reply_to_is_string else Condition.not_(reply_rule),
            html_rule if self.has_html else Condition.not_(html_rule),
        )

    def overrides(self) -> dict[str, str]:
        """Normalised fields that replace the request's own after the defaults are merged."""
        out: dict[str, str] = {}
        if not self.to_is_list:
            out["to.$"] = "States.Array($.email.to)"
        if self.reply_to_is_string:
            out["replyTo.$"] = "States.Array($.email.replyTo)"
        return out

    def body(self) -> dict[str, object]:
        body: dict[str, object] = {"Text": {"Data.$": "$.message"}}
        if self.has_html:
            body["Html"] = {"Data.$": "$.email.htmlBody"}
        return body


def email_shapes() -> Iterator[EmailShape]:
    for to_is_list, reply_is_string, has_html in product((False, True), repeat=3):
        yield EmailShape(to_is_list, reply_is_string, has_html)
