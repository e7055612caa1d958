"""The request contract as data: JSONata predicates with their reasons, and the normalised request.

Each rule is a JSONata predicate over the input, read through ``BINDINGS`` (``$c`` the channel,
``$msg``, ``$ph``, ``$e`` the email part: the canonical field, else the older dialect's). A rule
belongs to the request as a whole or to one channel: a ``both`` request whose phone number or
email part breaks a rule still goes out on the other channel, and only a request that no requested
channel can carry is rejected.

The Choice cannot read what its own ``Assign`` computes, so its conditions (``route``) evaluate the
rules as booleans, and ``request_expression`` evaluates them once more for their reasons.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

CHANNELS: tuple[str, ...] = ("sms", "email", "both")
#: Error of the Fail state a request that breaks the contract ends in.
VALIDATION_ERROR = "ValidationError"
#: Error of the Fail state a request with an unknown channel ends in.
UNSUPPORTED_CHANNEL = "UnsupportedChannel"
#: Where a scheduled execution carries its record past the wait (the API's model refuses the field).
SCHEDULED_RECORD_FIELD = "scheduledRecord"
#: The secret a schedule (EventBridge Scheduler) passes to the execution it starts, which alone may
#: then take over the SCHEDULED record (the API's model refuses the field; an execution ARN is no
#: secret: the API answers it to the caller).
SCHEDULE_TOKEN_FIELD = "scheduleToken"
#: What a duplicate request writes on the original record (kept when a scheduled send claims it).
DUPLICATE_ATTRIBUTES = ("duplicateCount", "lastDuplicateExecutionArn", "lastDuplicateAt")
#: A pipe's batch of one (``BufferedIngress``) as a request: the message's request, keyed by the
#: SQS message id when it has no ``notificationId`` (redeliveries then claim the same record). A
#: body that is not an object becomes a request without a message, so it is rejected and recorded.
QUEUED_REQUEST = ('{% $type($states.input) = "array" ? ($m := $states.input[0]; '
                  '$merge([{"notificationId": $m.messageId}, '
                  '$type($m.request) = "object" ? $m.request : {"queued": $m.request}])) : $states.input %}')
#: The send-rate units a request takes (``$request`` in scope). SMS: message parts, as carriers
#: count them (GSM-7 up to 160 characters, else 153 a part; taken as non-GSM, UCS-2, when any
#: character is outside printable ASCII: 70, else 67 a part). Email: recipients, as SES counts
#: its sending rate (To, Cc and Bcc).
SMS_PARTS = ('($m := $request.message; $l := $length($m); $contains($m, /^[ -~\\n\\r]*$/) '
             '? ($l <= 160 ? 1 : $ceil($l / 153)) : ($l <= 70 ? 1 : $ceil($l / 67)))')
EMAIL_RECIPIENTS = ('($d := $request.sendEmail.Destination; '
                    '$count($d.ToAddresses) + $count($d.CcAddresses) + $count($d.BccAddresses))')
#: SES refuses a message with more than this many recipients in To, Cc and Bcc together.
MAX_EMAIL_RECIPIENTS = 50
#: The older request dialect: its ``delivery_mode`` values, and its fields as canonical ones.
LEGACY_DELIVERY_MODES = {"text": "sms", "mail": "email", "dual": "both"}
LEGACY_FIELDS = {"delivery_mode": "channel", "message_content": "message", "user_phone": "phoneNumber",
                 "user_email": "email.to"}
#: The record's ``dialect``: ``legacy`` when the request has any field of the older dialect.
CANONICAL, LEGACY = "canonical", "legacy"
#: What a rule checks: the request as a whole, or one channel's data.
REQUEST, SMS, EMAIL = "request", "sms", "email"


@dataclass(frozen=True)
class Rule:
    """A way a request can break the contract: ``violated`` is a JSONata boolean."""

    slug: str
    reason: str
    error: str
    violated: str
    part: str = REQUEST


# ISO 8601 with seconds and an offset; days valid for their month (Feb 29 in leap years), 2000-2099.
_SEND_AT = ("^20([0-9]{2}-(02-(0[1-9]|1[0-9]|2[0-8])|(0[13-9]|1[0-2])-(0[1-9]|[12][0-9]|30)|(0[13578]|1[02])-31)"
            "|([02468][048]|[13579][26])-02-29)T([01][0-9]|2[0-3])(:[0-5][0-9]){2}([.][0-9]{1,3})?"
            "(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$")
#: A send time at most this far in the past is sent right away (clocks differ); earlier is refused.
SEND_AT_GRACE_SECONDS = 60
#: A send time less than this far ahead is sent right away rather than scheduled.
SCHEDULE_THRESHOLD_SECONDS = 1

# What an expression may refer to. Each expression defines only what it uses, in dependency order
# (the definition is capped in size). No bare ``$``: Step Functions refuses ``$`` and ``$$``.
BINDINGS = {
    "r": "$states.input",
    "d": "$r.delivery_mode",
    "c": ("$exists($r.channel) ? $r.channel : "
          + "".join(f'$d = "{old}" ? "{new}" : ' for old, new in LEGACY_DELIVERY_MODES.items()) + "$d"),
    "msg": "$exists($r.message) ? $r.message : $r.message_content",
    "ph": "$exists($r.phoneNumber) ? $r.phoneNumber : $r.user_phone",
    "e": '$exists($r.email) ? $r.email : ($exists($r.user_email) ? {"to": $r.user_email})',
    "str": 'function($v){$type($v) = "string"}',
    "ne": "function($v){$str($v) and $length($v) > 0}",
    "addrs": ('function($v){$ne($v) or ($type($v) = "array" and $count($v) > 0 '
              "and $count($filter($v, $ne)) = $count($v))}"),
    "list": 'function($v){$type($v) = "array" and $count($filter($v, $str)) = $count($v)}',
    # An optional field that is given but not ``$ok``.
    "bad": "function($v, $ok){$exists($v) and $not($ok($v))}",
    # As the API checks them. Python's "$" also matches before a final newline, JavaScript's does
    # not: a newline is refused outright, so both engines agree.
    "e164": 'function($v){$str($v) and $contains($v, /^\\+[1-9][0-9]{6,14}$/) and $not($contains($v, "\\n"))}',
    # The notificationId names the execution and keys the record.
    "vid": ('$str($r.notificationId) and $contains($r.notificationId, /^[A-Za-z0-9_-]{1,80}$/) '
            'and $not($contains($r.notificationId, "\\n"))'),
    # Scheduled sends: ``sendAt`` (a real calendar time, this century: every engine parses it
    # alike) or ``delaySeconds``, not both; ``at``: the send time in epoch milliseconds, if any.
    "sok": ('($not($exists($r.sendAt)) or ($str($r.sendAt) and $contains($r.sendAt, /' + _SEND_AT + '/) '
            'and $not($contains($r.sendAt, "\\n")))) and ($not($exists($r.delaySeconds)) or '
            '($type($r.delaySeconds) = "number" and $r.delaySeconds >= 0 '
            'and $r.delaySeconds = $floor($r.delaySeconds))) '
            'and $not($exists($r.sendAt) and $exists($r.delaySeconds))'),
    "st": "$toMillis($states.context.Execution.StartTime)",
    "at": ("$sok ? ($exists($r.sendAt) ? $toMillis($r.sendAt) : "
           "$exists($r.delaySeconds) ? $st + $r.delaySeconds * 1000)"),
}
_REFERENCE = re.compile(r"\$(\w+)")


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


def _with_bindings(body: str) -> str:
    """``body`` after the bindings it refers to, each after those it refers to itself."""
    used: list[str] = []

    def use(text: str) -> None:
        for name in _REFERENCE.findall(text):
            if name in BINDINGS and name not in used:
                use(BINDINGS[name])
                used.append(name)

    use(body)
    return "".join(f"${name} := {BINDINGS[name]}; " for name in used) + body


def _expression(body: str) -> str:
    return "{% " + compact("(" + _with_bindings(body) + ")") + " %}"


def rules(allowed_senders: Sequence[str], allowed_configuration_sets: Sequence[str]) -> list[Rule]:
    """The ordered rules; the first one broken decides the reason."""

    def email(slug: str, reason: str, violated: str) -> Rule:
        return Rule(slug, reason, VALIDATION_ERROR, violated, EMAIL)

    return [
        Rule("NotificationId", "notificationId must be 1 to 80 characters of A-Z, a-z, 0-9, _ and -",
             VALIDATION_ERROR, "$exists($r.notificationId) and $not($vid)"),
        Rule("Message", "message must be a non-empty string", VALIDATION_ERROR, "$not($ne($msg))"),
        Rule("ChannelMissing", "channel is required and must be a string: sms, email or both", VALIDATION_ERROR,
             "$not($str($c))"),
        Rule("Channel", "channel must be one of: sms, email, both", UNSUPPORTED_CHANNEL,
             f"$not($c in {_literal(list(CHANNELS))})"),
        Rule("PhoneNumber", "phoneNumber must be in E.164 form: + then 7 to 15 digits", VALIDATION_ERROR,
             "$not($e164($ph))", SMS),
        email("EmailTo", "email.to must be an address or a non-empty list of addresses", "$not($addrs($e.to))"),
        email("EmailSubject", "email.subject must be a string", "$bad($e.subject, $str)"),
        email("EmailHtmlBody", "email.htmlBody must be a non-empty string", "$bad($e.htmlBody, $ne)"),
        email("EmailCc", "email.cc must be a list of addresses", "$bad($e.cc, $list)"),
        email("EmailBcc", "email.bcc must be a list of addresses", "$bad($e.bcc, $list)"),
        email("EmailRecipients", f"email.to, cc and bcc together must hold at most {MAX_EMAIL_RECIPIENTS} addresses",
              f"$count($e.to) + $count($e.cc) + $count($e.bcc) > {MAX_EMAIL_RECIPIENTS}"),
        email("EmailReplyTo", "email.replyTo must be an address or a list of addresses", "$bad($e.replyTo, $addrs)"),
        email("EmailFrom", "email.from must be one of the allowed senders",
              f"$bad($e.from, function($v){{{_allowed_sender(allowed_senders)}}})"),
        email("EmailConfigurationSet", "email.configurationSet must be one of the allowed configuration sets",
              f"$bad($e.configurationSet, function($v){{$v in {_literal(list(allowed_configuration_sets))}}})"),
    ]


def schedule_rules(max_delay_seconds: int) -> list[Rule]:
    """The request rules of scheduled sends (a workflow with scheduled sends adds them). An
    execution its schedule started may run late (Scheduler retries): its time is not too old."""
    days = max_delay_seconds / 86400
    ahead = f"{days:g} days" if days >= 1 else f"{max_delay_seconds} seconds"
    return [
        Rule("SendAt", "sendAt must be an ISO 8601 time with seconds and an offset, such as "
             "2026-12-01T09:00:00+01:00, or delaySeconds a whole number of seconds; not both",
             VALIDATION_ERROR, "$not($sok)"),
        Rule("SendWindow", f"the send time must be from {SEND_AT_GRACE_SECONDS} seconds ago to {ahead} ahead",
             VALIDATION_ERROR,
             f"$exists($at) and (($at < $st - {SEND_AT_GRACE_SECONDS * 1000} "
             f"and $not($exists($r.{SCHEDULE_TOKEN_FIELD}))) or $at > $st + {max_delay_seconds * 1000})"),
    ]


def _allowed_sender(allowed_senders: Sequence[str]) -> str:
    """``$v`` is an allowed address, or an address of a ``*@domain`` entry's domain."""
    exact = [s for s in allowed_senders if not s.startswith("*@")]
    domains = [s[2:] for s in allowed_senders if s.startswith("*@")]
    allowed = "$v in " + _literal(exact)
    if domains:
        allowed += (' or ($str($v) and $contains($v, "@") and $length($substringBefore($v, "@")) > 0 '
                    "and $substringAfter($v, \"@\") in " + _literal(domains) + ")")
    return allowed


def _email_applies(sms_may_carry_email: bool) -> str:
    """The channels whose requests must carry a valid email part (an sms one too, to fall back)."""
    applies = '$c in ["email", "both"]'
    return f'({applies} or ($c = "sms" and $exists($e)))' if sms_may_carry_email else applies


def _broken(contract: Sequence[Rule], part: str) -> str:
    return " or ".join(f"({rule.violated})" for rule in contract if rule.part == part)


def _first_broken(contract: Sequence[Rule], part: str) -> str:
    """The reason of the first rule of ``part`` broken; undefined when none is (the last condition
    has no else)."""
    return " : ".join(f"({rule.violated}) ? {_literal(rule.reason)}" for rule in contract if rule.part == part)


def _as_rejection(contract: Sequence[Rule]) -> str:
    """A JSONata function: the ``{"error", "reason"}`` of a reason (most errors are ValidationError)."""
    others = {rule.reason: rule.error for rule in contract if rule.error != VALIDATION_ERROR}
    error = "".join(f"$x = {_literal(reason)} ? {_literal(e)} : " for reason, e in others.items())
    return f'function($x){{{{"error": {error}{_literal(VALIDATION_ERROR)}, "reason": $x}}}}'


@dataclass(frozen=True)
class Route:
    """The Choice's conditions, in order, each assuming the ones before were false: reject (no
    requested channel can be attempted); email only (an email request, or a ``both`` whose phone
    number is invalid); sms only (an sms request, or a ``both`` whose email part is invalid). What
    is left is a ``both`` whose channels are both valid."""

    reject: str
    email_only: str
    sms_only: str
    #: A valid request whose send time is ahead (only with scheduled sends): it waits first. After
    #: the wait the same Choice routes it again, and the time is no longer ahead.
    scheduled: str | None = None
    #: An execution a schedule started, before it has taken its record over (only with schedules
    #: through EventBridge Scheduler); first of all, so a cancelled send is never routed.
    fired: str | None = None


def route(contract: Sequence[Rule], *, sms_may_carry_email: bool = False, scheduling: bool = False,
          scheduler: bool = False) -> Route:
    reject = (f"$q := {_broken(contract, REQUEST)}; "
              f'$ps := $c in ["sms", "both"] and ({_broken(contract, SMS)}); '
              f"$es := {_email_applies(sms_may_carry_email)} and ({_broken(contract, EMAIL)}); "
              '$q or ($c = "both" ? ($ps and $es) : ($ps or $es))')
    return Route(
        reject=_expression(reject),
        # Not rejected: an sms request's phone number is valid, so an invalid one is a both's.
        email_only=_expression(f'$c = "email" or {_broken(contract, SMS)}'),
        # Neither: an sms request, or a both with a valid phone number.
        sms_only=_expression(f'$c = "sms" or {_broken(contract, EMAIL)}'),
        # A comparison with an undefined $at is undefined, not false: a Choice refuses that.
        # An execution its schedule started sends: the schedule's firing is the send time.
        scheduled=(_expression(f"$exists($at) and $at > $millis() + {SCHEDULE_THRESHOLD_SECONDS * 1000}"
                               + (f" and $not($exists($r.{SCHEDULE_TOKEN_FIELD}))" if scheduler else ""))
                   if scheduling else None),
        fired=(_expression(f"$exists($r.{SCHEDULE_TOKEN_FIELD}) and $not($exists($r.{SCHEDULED_RECORD_FIELD}))")
               if scheduler else None),
    )


def request_expression(contract: Sequence[Rule], *, sender: str, default_subject: str,
                       configuration_set: str | None, sms_may_carry_email: bool,
                       plain_recipients: bool, retention_seconds: int, scheduling: bool = False,
                       scheduler: bool = False) -> str:
    """JSONata: the request as every later state reads it (``$request``). Safe on any input.

    * ``notificationId``: the request's when it is valid, else the execution name;
    * ``channel``, ``message``, ``phoneNumber``, ``metadata`` (JSON text);
    * ``sendEmail``: the SES v2 SendEmail request with the defaults applied (``to`` and ``replyTo``
      as lists), built once for every email state;
    * ``recipients`` (only with ``plain_recipients``): each valid recipient as given (a hash of a
      phone number is no protection: the numbers are few enough to try them all);
    * ``rejection``: ``{"error", "reason"}`` of the first rule broken when no requested channel can
      be attempted, else absent; ``rejected``: the result of each requested channel whose data
      breaks a rule (``REJECTED`` with its reason);
    * ``record``: the delivery-log item written first (``PROCESSING``, or ``REJECTED``), with the
      ``caller`` the API put in the input, and
      ``expiresAt`` (epoch seconds, the table's TTL) ``retention_seconds`` after it was received;
    * with ``scheduling``: ``sendAt``, the send time (UTC) when the request has one; the record
      then has it too, and is ``SCHEDULED`` while that time is ahead.
    * with ``scheduler`` (schedules through EventBridge Scheduler): ``scheduleToken``, the one the
      input carries, else a new one when the send time is ahead; a SCHEDULED record keeps it.
    """
    # Absent optional fields stay absent (JSONata drops undefined values).
    send_email = (
        '{"FromEmailAddress": $exists($e.from) ? $e.from : ' + _literal(sender)
        + ', "Destination": {"ToAddresses": $to, "CcAddresses": $e.cc, "BccAddresses": $e.bcc}'
        + ', "ReplyToAddresses": $type($e.replyTo) = "string" ? [$e.replyTo] : $e.replyTo'
        + ', "Content": {"Simple": {"Subject": {"Data": $exists($e.subject) ? $e.subject : '
        + _literal(default_subject) + '}, "Body": {"Text": {"Data": $msg}, '
        '"Html": $exists($e.htmlBody) ? {"Data": $e.htmlBody}}}}'
        + (', "ConfigurationSetName": $exists($e.configurationSet) ? $e.configurationSet : '
           + _literal(configuration_set) if configuration_set else "")
        + "}"
    )
    legacy = " or ".join(f"$exists($r.{field})" for field in LEGACY_FIELDS)
    body = (
        f"$reject := {_as_rejection(contract)}; "
        f"$q := {_first_broken(contract, REQUEST)}; "
        f'$sm := $c in ["sms", "both"]; $em := {_email_applies(sms_may_carry_email)}; '
        f"$ps := $sm ? ({_first_broken(contract, SMS)}); "
        f"$es := $em ? ({_first_broken(contract, EMAIL)}); "
        '$no := $exists($q) ? $q : ($c = "both" ? ($exists($ps) and $exists($es)) '
        ": ($exists($ps) or $exists($es))) ? ($exists($ps) ? $ps : $es); "
        '$to := $type($e.to) = "string" ? [$e.to] : $e.to; '
        "$id := $vid ? $r.notificationId : $states.context.Execution.Name; "
        # When the execution started: a scheduled request passes here again at its send time.
        "$t := $states.context.Execution.StartTime; "
        '$rejected := function($x){{"status": "REJECTED", "messageId": "", "error": $reject($x).error, "cause": $x}}; '
        + ('$sa := $exists($at) ? $fromMillis($at); ' if scheduling else "")
        + (f'$ahead := $exists($at) and $at > $millis() and $not($exists($r.{SCHEDULE_TOKEN_FIELD})); '
           f'$tok := $exists($r.{SCHEDULE_TOKEN_FIELD}) ? $r.{SCHEDULE_TOKEN_FIELD} : ($ahead ? $uuid()); '
           if scheduler else "")
        + '{"notificationId": $id, "channel": $c, "message": $msg, "phoneNumber": $ph, '
        f'"sendEmail": $exists($e) ? {send_email}, '
        '"metadata": $string($type($r.metadata) = "object" ? $r.metadata : {}), '
        + ('"recipients": $merge([{}, $sm and $not($exists($ps)) ? {"sms": $ph}, '
           '$em and $not($exists($es)) ? {"email": $string($to)}]), ' if plain_recipients else "")
        + ('"sendAt": $sa, ' if scheduling else "")
        + (f'"{SCHEDULE_TOKEN_FIELD}": $tok, ' if scheduler else "")
        + '"rejection": $exists($no) ? $reject($no), '
        '"rejected": $merge([{}, $exists($ps) ? {"sms": $rejected($ps)}, $exists($es) ? {"email": $rejected($es)}]), '
        '"record": $merge([{"notificationId": {"S": $id}, "executionArn": {"S": $states.context.Execution.Id}, '
        '"receivedAt": {"S": $t}, '
        f'"expiresAt": {{"N": $string($floor($toMillis($t) / 1000) + {retention_seconds})}}, '
        f'"dialect": {{"S": {legacy} ? "{LEGACY}" : "{CANONICAL}"}}}}, '
        # Who sent it, as the API identified the caller: GET answers only that caller.
        '$ne($r.caller) ? {"caller": {"S": $r.caller}}, '
        '$exists($no) ? {"status": {"S": "REJECTED"}, "error": {"S": $reject($no).error}, "reason": {"S": $no}, '
        '"completedAt": {"S": $t}} : {"status": {"S": '
        + ('$ahead ? "SCHEDULED" : ' if scheduler else '$exists($at) and $at > $millis() ? "SCHEDULED" : '
           if scheduling else "")
        + '"PROCESSING"}, "channel": {"S": $c}}'
        + (f', $exists($tok) and $ahead ? {{"{SCHEDULE_TOKEN_FIELD}": {{"S": $tok}}}}' if scheduler else "")
        + (', $exists($sa) ? {"sendAt": {"S": $sa}}, '
           f'$sift($r.{SCHEDULED_RECORD_FIELD}, function($v, $k){{$k in {_literal(list(DUPLICATE_ATTRIBUTES))}}})'
           if scheduling else "")
        + "])}"
    )
    return _expression(body)
