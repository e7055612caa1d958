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
from collections.abc import Mapping, Sequence
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
#: A channel's outcome when its data breaks a rule, and when the recipient's preferences leave it
#: out (``critical`` overrides those); ``SKIPPED_OPT_OUT`` (a legal opt-out: SES unsubscribe or
#: suppression, an SMS opt-out list) is found by the send path and nothing overrides it.
REJECTED, SKIPPED_PREFERENCE, SKIPPED_OPT_OUT = "REJECTED", "SKIPPED_PREFERENCE", "SKIPPED_OPT_OUT"
#: A recipient's id (``recipientId``): the key of the preferences table.
RECIPIENT_ID_PATTERN = "^[A-Za-z0-9_.@+:-]{1,128}$"
#: A notification category (``category``): a key of a recipient's ``optOut``.
CATEGORY_PATTERN = "^[a-z0-9_-]{1,64}$"


@dataclass(frozen=True)
class Rule:
    """A way a request can break the contract: ``violated`` is a JSONata boolean. ``reason_text``,
    when given, is a JSONata string that names what is wrong (a missing template variable);
    ``reason`` then describes it. A rule whose ``outcome`` is ``SKIPPED_PREFERENCE`` does not break
    the contract: it leaves its channel out, as the recipient asked."""

    slug: str
    reason: str
    error: str
    violated: str
    part: str = REQUEST
    reason_text: str | None = None
    outcome: str = REJECTED




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


def _with_bindings(body: str, bindings: Mapping[str, str]) -> str:
    """``body`` after the bindings it refers to, each after those it refers to itself."""
    used: list[str] = []

    def use(text: str) -> None:
        for name in _REFERENCE.findall(text):
            if name in bindings and name not in used:
                use(bindings[name])
                used.append(name)

    use(body)
    return "".join(f"${name} := {bindings[name]}; " for name in used) + body


def _expression(body: str, bindings: Mapping[str, str] | None = None) -> str:
    return "{% " + compact("(" + _with_bindings(body, {**BINDINGS, **(bindings or {})}) + ")") + " %}"


#: The workflow variable holding the request's template, rendered (``rendering_expression``).
RENDERED = "rendered"
#: The workflow variable holding the recipient's preferences item, as plain JSON.
RECIPIENT = "recipient"


def recipient_bindings(*, templates: bool, preferences: bool, quiet_hours: str | None = None) -> dict[str, str]:
    """The bindings a workflow with templates (``$rendered`` assigned before ``ValidateRequest``)
    and/or preferences (``$recipient``) reads instead of, or beside, ``BINDINGS``: the message a
    template renders, contact points the request leaves out, and the send time quiet hours set
    (``quiet_hours``: JSONata giving when the recipient's quiet hours end, in epoch milliseconds,
    when they are in them)."""
    bindings: dict[str, str] = {}
    if templates:
        bindings["rd"] = f"${RENDERED}"
        bindings["msg"] = f"$exists($r.template) ? $rd.sms : ({BINDINGS['msg']})"
    if preferences:
        bindings["rc"] = f"${RECIPIENT}"
        bindings["ph"] = ("$exists($r.phoneNumber) ? $r.phoneNumber : "
                          "$exists($r.user_phone) ? $r.user_phone : $rc.phoneNumber")
        bindings["e"] = (f"($e0 := {BINDINGS['e']}; $exists($e0.to) or $not($exists($rc.email)) ? $e0 "
                         ': $merge([{}, $e0, {"to": $rc.email}]))')
        bindings["crit"] = "$r.critical = true"
        bindings["cat"] = '$type($r.category) = "string" ? $r.category : "default"'
        # The recipient left this channel out: for every category, or for the request's.
        bindings["out"] = ('function($ch){$not($crit) and ($ch in $lookup($rc.optOut, "*") '
                           "or $ch in $lookup($rc.optOut, $cat))}")
        if quiet_hours is not None:
            # JSONata has no "undefined" literal (it would read a field of that name): no else instead.
            bindings["qt"] = f'$not($crit) ? ($u := {quiet_hours}; $type($u) = "number" ? $u)'
            bindings["at"] = ("$sok ? ($exists($r.sendAt) ? $toMillis($r.sendAt) : "
                              "$exists($r.delaySeconds) ? $st + $r.delaySeconds * 1000 : $qt)")
    return bindings


def template_rules(template_names: Sequence[str]) -> list[Rule]:
    """The rules of a templated request (``$rd``: the rendering). A template that cannot render a
    channel rejects that channel, with the variables it lacks named."""
    names = ", ".join(template_names)
    return [
        Rule("Template", f"template must be an object whose name is one of: {names}, and whose data is an object",
             VALIDATION_ERROR, '$exists($r.template) and ($type($r.template) != "object" or $not($exists($rd.name)) '
             'or ($exists($r.template.data) and $type($r.template.data) != "object"))'),
        Rule("TemplateSms", "the template has no SMS body", VALIDATION_ERROR,
             "$exists($r.template) and $not($exists($rd.smsText))", SMS),
        Rule("TemplateSmsData", "template.data lacks variables of the SMS body", VALIDATION_ERROR,
             "$count($rd.smsMissing) > 0", SMS,
             reason_text='"template.data lacks " & $join($rd.smsMissing, ", ") & " (sms)"'),
        Rule("TemplateEmail", "the template has no email body", VALIDATION_ERROR,
             "$exists($r.template) and $not($exists($rd.emailTemplate))", EMAIL),
        Rule("TemplateEmailData", "template.data lacks variables of the email", VALIDATION_ERROR,
             "$count($rd.emailMissing) > 0", EMAIL,
             reason_text='"template.data lacks " & $join($rd.emailMissing, ", ") & " (email)"'),
    ]


def _matches(field: str, pattern: str, *, optional: bool) -> str:
    """JSONata: ``field`` is given and not a string matching ``pattern`` (a newline never matches:
    Python's ``$`` also matches before a final newline, JavaScript's does not)."""
    bad = f'$not($str({field}) and $contains({field}, /{pattern}/) and $not($contains({field}, "\\n")))'
    return f"$exists({field}) and {bad}" if optional else bad


def preference_rules() -> list[Rule]:
    """The rules of recipient-aware requests (``$rc``: the recipient's preferences): the fields'
    forms, and the channels the recipient left out for the request's category."""
    return [
        Rule("RecipientId", f"recipientId must match {RECIPIENT_ID_PATTERN}", VALIDATION_ERROR,
             _matches("$r.recipientId", RECIPIENT_ID_PATTERN, optional=True)),
        Rule("Category", f"category must match {CATEGORY_PATTERN}", VALIDATION_ERROR,
             _matches("$r.category", CATEGORY_PATTERN, optional=True)),
        Rule("Critical", "critical must be true or false", VALIDATION_ERROR,
             '$exists($r.critical) and $type($r.critical) != "boolean"'),
        Rule("OptedOutSms", "the recipient opted out of sms for this category", SKIPPED_PREFERENCE,
             '$out("sms")', SMS, outcome=SKIPPED_PREFERENCE),
        Rule("OptedOutEmail", "the recipient opted out of email for this category", SKIPPED_PREFERENCE,
             '$out("email")', EMAIL, outcome=SKIPPED_PREFERENCE),
    ]


def rules(allowed_senders: Sequence[str], allowed_configuration_sets: Sequence[str], *,
          templates: bool = False) -> list[Rule]:
    """The ordered rules; the first one broken decides the reason (``templates``: a templated
    request has no message of its own)."""

    def email(slug: str, reason: str, violated: str) -> Rule:
        return Rule(slug, reason, VALIDATION_ERROR, violated, EMAIL)

    return [
        Rule("NotificationId", "notificationId must be 1 to 80 characters of A-Z, a-z, 0-9, _ and -",
             VALIDATION_ERROR, "$exists($r.notificationId) and $not($vid)"),
        Rule("Message", "message must be a non-empty string", VALIDATION_ERROR,
             "$not($exists($r.template)) and $not($ne($msg))" if templates else "$not($ne($msg))"),
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


def _of(contract: Sequence[Rule], part: str, outcome: str) -> list[Rule]:
    return [rule for rule in contract if rule.part == part and rule.outcome == outcome]


def _broken(contract: Sequence[Rule], part: str, outcome: str = REJECTED) -> str:
    """Whether a rule of ``part`` is broken; ``false`` when ``part`` has none."""
    return " or ".join(f"({rule.violated})" for rule in _of(contract, part, outcome)) or "false"


def _first_broken(contract: Sequence[Rule], part: str, outcome: str = REJECTED) -> str:
    """The reason of the first rule of ``part`` broken; undefined when none is (the last condition
    has no else)."""
    return " : ".join(f"({rule.violated}) ? {rule.reason_text or _literal(rule.reason)}"
                      for rule in _of(contract, part, outcome)) or '(false ? "")'


def _as_rejection(contract: Sequence[Rule]) -> str:
    """A JSONata function: the ``{"error", "reason"}`` of a reason (most errors are ValidationError)."""
    others = {rule.reason: rule.error for rule in contract
              if rule.error != VALIDATION_ERROR and rule.outcome == REJECTED}
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
    #: Every requested channel is left out by the recipient's preferences (only with preferences).
    skipped: str | None = None


def route(contract: Sequence[Rule], *, sms_may_carry_email: bool = False, scheduling: bool = False,
          scheduler: bool = False, bindings: Mapping[str, str] | None = None) -> Route:
    skipping = any(rule.outcome != REJECTED for rule in contract)
    channels = (f'$ps := $c in ["sms", "both"] and ({_broken(contract, SMS)}); '
                f"$es := {_email_applies(sms_may_carry_email)} and ({_broken(contract, EMAIL)}); ")
    if skipping:
        channels += (f'$pk := $c in ["sms", "both"] and $not($ps) and ({_broken(contract, SMS, SKIPPED_PREFERENCE)}); '
                     '$ek := $c in ["email", "both"] and $not($es) '
                     f'and ({_broken(contract, EMAIL, SKIPPED_PREFERENCE)}); ')
        # Nothing left to send: rejected when a channel broke a rule, else skipped.
        nothing = '($c = "both" ? (($ps or $pk) and ($es or $ek)) : ($ps or $es or $pk or $ek))'
        reject = f"$q := {_broken(contract, REQUEST)}; {channels}$q or ({nothing} and ($ps or $es))"
    else:
        reject = f'$q := {_broken(contract, REQUEST)}; {channels}$q or ($c = "both" ? ($ps and $es) : ($ps or $es))'
    sms_left_out = f"{_broken(contract, SMS)} or {_broken(contract, SMS, SKIPPED_PREFERENCE)}" if skipping \
        else _broken(contract, SMS)
    email_left_out = f"{_broken(contract, EMAIL)} or {_broken(contract, EMAIL, SKIPPED_PREFERENCE)}" if skipping \
        else _broken(contract, EMAIL)
    return Route(
        reject=_expression(reject, bindings),
        # Not rejected: an sms request's phone number is valid, so an invalid one is a both's.
        email_only=_expression(f'$c = "email" or {sms_left_out}', bindings),
        # Neither: an sms request, or a both with a valid phone number.
        sms_only=_expression(f'$c = "sms" or {email_left_out}', bindings),
        skipped=_expression(channels + nothing, bindings) if skipping else None,
        # A comparison with an undefined $at is undefined, not false: a Choice refuses that.
        # An execution its schedule started sends: the schedule's firing is the send time.
        scheduled=(_expression(f"$exists($at) and $at > $millis() + {SCHEDULE_THRESHOLD_SECONDS * 1000}"
                               + (f" and $not($exists($r.{SCHEDULE_TOKEN_FIELD}))" if scheduler else ""), bindings)
                   if scheduling else None),
        fired=(_expression(f"$exists($r.{SCHEDULE_TOKEN_FIELD}) and $not($exists($r.{SCHEDULED_RECORD_FIELD}))",
                           bindings) if scheduler else None),
    )


def request_expression(contract: Sequence[Rule], *, sender: str, default_subject: str,
                       configuration_set: str | None, sms_may_carry_email: bool,
                       plain_recipients: bool, retention_seconds: int, scheduling: bool = False,
                       scheduler: bool = False, bindings: Mapping[str, str] | None = None,
                       templates: bool = False, list_management: str | None = None) -> str:
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
    * with ``templates``: a templated request's email is SES's stored template with the data
      (``$rd``); with ``list_management`` (JSONata: SES's ``ListManagementOptions``) every email
      carries it.
    * with rules whose outcome is ``SKIPPED_PREFERENCE``: ``rejected`` holds the channels the
      recipient left out too, and a request with nothing left to send is recorded
      ``SKIPPED_PREFERENCE`` (``skipped``: true).
    """
    skipping = any(rule.outcome != REJECTED for rule in contract)
    simple = ('{"Simple": {"Subject": {"Data": $exists($e.subject) ? $e.subject : '
              + _literal(default_subject) + '}, "Body": {"Text": {"Data": $msg}, '
              '"Html": $exists($e.htmlBody) ? {"Data": $e.htmlBody}}}}')
    content = ('$exists($r.template) ? {"Template": {"TemplateName": $rd.emailTemplate, "TemplateData": $rd.data}} : '
               + simple) if templates else simple
    # Absent optional fields stay absent (JSONata drops undefined values).
    send_email = (
        '{"FromEmailAddress": $exists($e.from) ? $e.from : ' + _literal(sender)
        + ', "Destination": {"ToAddresses": $to, "CcAddresses": $e.cc, "BccAddresses": $e.bcc}'
        + ', "ReplyToAddresses": $type($e.replyTo) = "string" ? [$e.replyTo] : $e.replyTo'
        + ', "Content": ' + content
        + (f', "ListManagementOptions": {list_management}' if list_management else "")
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
        + (f"$pk := $sm and $not($exists($ps)) ? ({_first_broken(contract, SMS, SKIPPED_PREFERENCE)}); "
           '$ek := $c in ["email", "both"] and $not($exists($es)) '
           f"? ({_first_broken(contract, EMAIL, SKIPPED_PREFERENCE)}); "
           '$none := $c = "both" ? (($exists($ps) or $exists($pk)) and ($exists($es) or $exists($ek))) '
           ": ($exists($ps) or $exists($es) or $exists($pk) or $exists($ek)); "
           "$no := $exists($q) ? $q : ($none and ($exists($ps) or $exists($es))) ? ($exists($ps) ? $ps : $es); "
           "$skip := $not($exists($no)) and $none; "
           if skipping else
           '$no := $exists($q) ? $q : ($c = "both" ? ($exists($ps) and $exists($es)) '
           ": ($exists($ps) or $exists($es))) ? ($exists($ps) ? $ps : $es); ")
        + '$to := $type($e.to) = "string" ? [$e.to] : $e.to; '
        "$id := $vid ? $r.notificationId : $states.context.Execution.Name; "
        # When the execution started: a scheduled request passes here again at its send time.
        "$t := $states.context.Execution.StartTime; "
        '$rejected := function($x){{"status": "REJECTED", "messageId": "", "error": $reject($x).error, "cause": $x}}; '
        + (f'$left := function($x){{{{"status": "{SKIPPED_PREFERENCE}", "messageId": "", "error": "", "cause": $x}}}}; '
           if skipping else "")
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
        '"rejected": $merge([{}, $exists($ps) ? {"sms": $rejected($ps)}, $exists($es) ? {"email": $rejected($es)}'
        + (', $exists($pk) ? {"sms": $left($pk)}, $exists($ek) ? {"email": $left($ek)}' if skipping else "")
        + ']), '
        + ('"skipped": $skip, ' if skipping else "")
        + '"record": $merge([{"notificationId": {"S": $id}, "executionArn": {"S": $states.context.Execution.Id}, '
        '"receivedAt": {"S": $t}, '
        f'"expiresAt": {{"N": $string($floor($toMillis($t) / 1000) + {retention_seconds})}}, '
        f'"dialect": {{"S": {legacy} ? "{LEGACY}" : "{CANONICAL}"}}}}, '
        # Who sent it, as the API identified the caller: GET answers only that caller.
        '$ne($r.caller) ? {"caller": {"S": $r.caller}}, '
        '$exists($no) ? {"status": {"S": "REJECTED"}, "error": {"S": $reject($no).error}, "reason": {"S": $no}, '
        '"completedAt": {"S": $t}} : '
        + (f'$skip ? {{"status": {{"S": "{SKIPPED_PREFERENCE}"}}, "reason": {{"S": $exists($pk) ? $pk : $ek}}, '
           '"channel": {"S": $c}, "completedAt": {"S": $t}} : ' if skipping else "")
        + '{"status": {"S": '
        + ('$ahead ? "SCHEDULED" : ' if scheduler else '$exists($at) and $at > $millis() ? "SCHEDULED" : '
           if scheduling else "")
        + '"PROCESSING"}, "channel": {"S": $c}}'
        + (f', $exists($tok) and $ahead ? {{"{SCHEDULE_TOKEN_FIELD}": {{"S": $tok}}}}' if scheduler else "")
        + (', $exists($sa) ? {"sendAt": {"S": $sa}}, '
           f'$sift($r.{SCHEDULED_RECORD_FIELD}, function($v, $k){{$k in {_literal(list(DUPLICATE_ATTRIBUTES))}}})'
           if scheduling else "")
        + "])}"
    )
    return _expression(body, bindings)
