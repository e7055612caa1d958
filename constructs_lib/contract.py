"""The request contract as data: JSONata predicates with their reasons, and the normalised request.

Each rule is a JSONata predicate over the raw input ``$i``, with helpers defined once in
``PRELUDE``. ``broken_expression`` is the Choice's test (any rule broken);
``rejection_expression`` picks the first rule broken, whose reason is recorded and raised.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

CHANNELS: tuple[str, ...] = ("sms", "email", "both")
#: Error of the Fail state a request that breaks the contract ends in.
VALIDATION_ERROR = "ValidationError"
#: Error of the Fail state a request with an unknown channel ends in.
UNSUPPORTED_CHANNEL = "UnsupportedChannel"


@dataclass(frozen=True)
class Rule:
    """A way a request can break the contract: ``violated`` is a JSONata boolean over ``$i``."""

    slug: str
    reason: str
    error: str
    violated: str


# Helpers every rule may call, defined once in the expression (JSONata functions over a value).
# No bare ``$``: Step Functions refuses ``$`` and ``$$`` references in its JSONata.
PRELUDE = (
    "$i := $states.input; "
    '$str := function($v){$type($v) = "string"}; '
    "$ne := function($v){$str($v) and $length($v) > 0}; "
    '$addrs := function($v){$ne($v) or ($type($v) = "array" and $count($v) > 0 '
    'and $count($filter($v, $ne)) = $count($v))}; '
    '$list := function($v){$type($v) = "array" and $count($filter($v, $str)) = $count($v)}; '
)


def _literal(value: object) -> str:
    return json.dumps(value)


def compact(expression: str) -> str:
    """The expression without the spaces JSONata does not need (after ``,:;([{`` and before
    ``)]}``), outside string literals: the definition is billed by nobody, but capped in size."""
    out: list[str] = []
    in_string = escaped = False
    for index, char in enumerate(expression):
        if in_string:
            out.append(char)
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
            continue
        if char == '"':
            in_string = True
        elif char == " " and ((out and out[-1] in ",:;([{") or expression[index + 1:index + 2] in (")", "]", "}")):
            continue
        out.append(char)
    return "".join(out)


def notification_id_valid(path: str = "$i.notificationId") -> str:
    # No anchored regex: engines disagree on whether "$" matches before a final newline.
    return (f'($type({path}) = "string" and $length({path}) >= 1 and $length({path}) <= 80 '
            f'and $replace({path}, /[A-Za-z0-9_-]/, "") = "")')


def rules(allowed_senders: Sequence[str], allowed_configuration_sets: Sequence[str]) -> list[Rule]:
    """The ordered rules; the first one broken decides the reason. ``$em``: the email part applies."""

    def email_field(field: str, bad: str) -> str:
        path = f"$i.email.{field}"
        return f"$em and $exists({path}) and {bad.replace('{p}', path)}"

    return [
        Rule("NotificationId", "notificationId must be 1 to 80 characters of A-Z, a-z, 0-9, _ and -", VALIDATION_ERROR,
             f"$exists($i.notificationId) and $not({notification_id_valid()})"),
        Rule("Message", "message must be a non-empty string", VALIDATION_ERROR, "$not($ne($i.message))"),
        Rule("ChannelMissing", "channel is required and must be a string: sms, email or both", VALIDATION_ERROR,
             "$not($str($i.channel))"),
        Rule("Channel", "channel must be one of: sms, email, both", UNSUPPORTED_CHANNEL,
             f"$not($i.channel in {_literal(list(CHANNELS))})"),
        Rule("PhoneNumber", "phoneNumber must be a string in E.164 form starting with + for sms and both",
             VALIDATION_ERROR,
             '$i.channel in ["sms", "both"] and $not($str($i.phoneNumber) and $substring($i.phoneNumber, 0, 1) = "+")'),
        Rule("EmailTo", "email.to must be an address or a list of addresses for email and both", VALIDATION_ERROR,
             "$em and $not($addrs($i.email.to))"),
        Rule("EmailSubject", "email.subject must be a string", VALIDATION_ERROR,
             email_field("subject", "$not($str({p}))")),
        Rule("EmailHtmlBody", "email.htmlBody must be a non-empty string", VALIDATION_ERROR,
             email_field("htmlBody", "$not($ne({p}))")),
        Rule("EmailCc", "email.cc must be a list of addresses", VALIDATION_ERROR,
             email_field("cc", "$not($list({p}))")),
        Rule("EmailBcc", "email.bcc must be a list of addresses", VALIDATION_ERROR,
             email_field("bcc", "$not($list({p}))")),
        Rule("EmailReplyTo", "email.replyTo must be an address or a list of addresses", VALIDATION_ERROR,
             email_field("replyTo", "$not($addrs({p}))")),
        Rule("EmailFrom", "email.from must be one of the allowed senders", VALIDATION_ERROR,
             email_field("from", _not_allowed_sender(allowed_senders))),
        Rule("EmailConfigurationSet", "email.configurationSet must be one of the allowed configuration sets",
             VALIDATION_ERROR,
             email_field("configurationSet", "$not({p} in " + _literal(list(allowed_configuration_sets)) + ")")),
    ]


def _not_allowed_sender(allowed_senders: Sequence[str]) -> str:
    """``{p}`` is neither an allowed address nor an address of a ``*@domain`` entry's domain."""
    exact = [s for s in allowed_senders if not s.startswith("*@")]
    domains = [s[2:] for s in allowed_senders if s.startswith("*@")]
    allowed = "{p} in " + _literal(exact)
    if domains:
        allowed += (' or ($str({p}) and $contains({p}, "@") and $length($substringBefore({p}, "@")) > 0 '
                    "and $substringAfter({p}, \"@\") in " + _literal(domains) + ")")
    return f"$not({allowed})"


def _prelude(*, sms_may_carry_email: bool) -> str:
    email_channel = '$i.channel in ["email", "both"]'
    if sms_may_carry_email:
        email_channel = f'({email_channel} or ($i.channel = "sms" and $exists($i.email)))'
    return PRELUDE + f"$em := {email_channel}; "


def broken_expression(contract: Sequence[Rule], *, sms_may_carry_email: bool = False) -> str:
    """JSONata: true when the input breaks any rule (the Choice's test)."""
    return compact("(" + _prelude(sms_may_carry_email=sms_may_carry_email) + " or ".join(
        f"({rule.violated})" for rule in contract) + ")")


def rejection_expression(contract: Sequence[Rule], *, sms_may_carry_email: bool = False,
                         otherwise: dict[str, str]) -> str:
    """JSONata: the first rule the input breaks, as ``{"error", "reason"}``; ``otherwise`` when none."""
    checks = "".join(
        f'({rule.violated}) ? {{"error": {_literal(rule.error)}, "reason": {_literal(rule.reason)}}} : '
        for rule in contract
    )
    return compact("(" + _prelude(sms_may_carry_email=sms_may_carry_email) + checks + _literal(otherwise) + ")")


def normalised_request_expression(*, sender: str, default_subject: str, configuration_set: str | None) -> str:
    """JSONata: the request with its defaults applied (``to`` and ``replyTo`` as lists), keyed by
    the notificationId when it is valid, else by the execution name, with the SES v2 SendEmail
    request built once for every email state. Safe on any input."""
    email = (
        '{"from": $exists($e.from) ? $e.from : ' + _literal(sender)
        + ', "to": $type($e.to) = "string" ? [$e.to] : $e.to'
        + ', "cc": $exists($e.cc) ? $e.cc : [], "bcc": $exists($e.bcc) ? $e.bcc : []'
        + ', "replyTo": $type($e.replyTo) = "string" ? [$e.replyTo] : ($exists($e.replyTo) ? $e.replyTo : [])'
        + ', "subject": $exists($e.subject) ? $e.subject : ' + _literal(default_subject)
        + ', "htmlBody": $e.htmlBody'
        + (', "configurationSet": $exists($e.configurationSet) ? $e.configurationSet : '
           + _literal(configuration_set) if configuration_set else "")
        + "}"
    )
    send_email = (
        '{"FromEmailAddress": $m.from, "Destination": {"ToAddresses": $m.to, "CcAddresses": $m.cc, '
        '"BccAddresses": $m.bcc}, "ReplyToAddresses": $m.replyTo, "Content": {"Simple": {"Subject": '
        '{"Data": $m.subject}, "Body": $merge([{"Text": {"Data": $i.message}}, '
        '$exists($m.htmlBody) ? {"Html": {"Data": $m.htmlBody}}])}}'
        + (', "ConfigurationSetName": $m.configurationSet' if configuration_set else "")
        + "}"
    )
    return compact(
        "($i := $states.input; $e := $i.email; $m := " + email + "; "
        '{"notificationId": ' + notification_id_valid() + " ? $i.notificationId : $states.context.Execution.Name"
        + ', "channel": $i.channel, "message": $i.message, "phoneNumber": $i.phoneNumber'
        + ', "email": $exists($e) ? $m, "sendEmail": $exists($e) ? ' + send_email
        + ', "metadata": $type($i.metadata) = "object" ? $i.metadata : {}})'
    )
