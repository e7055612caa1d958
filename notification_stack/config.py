"""Settings of one deployment environment, checked before any construct is built.

``app.py`` reads them from the ``notify-cdk`` context in cdk.json; this module only turns that
dictionary into typed settings and says precisely what is wrong with it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn

from constructs_lib._props import is_email

_ENV_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,30}$")
_R = logs.RetentionDays
_RETENTION: dict[int, logs.RetentionDays] = {
    1: _R.ONE_DAY, 3: _R.THREE_DAYS, 5: _R.FIVE_DAYS, 7: _R.ONE_WEEK, 14: _R.TWO_WEEKS,
    30: _R.ONE_MONTH, 60: _R.TWO_MONTHS, 90: _R.THREE_MONTHS, 120: _R.FOUR_MONTHS,
    150: _R.FIVE_MONTHS, 180: _R.SIX_MONTHS, 365: _R.ONE_YEAR, 400: _R.THIRTEEN_MONTHS,
    545: _R.EIGHTEEN_MONTHS, 731: _R.TWO_YEARS, 1827: _R.FIVE_YEARS, 3653: _R.TEN_YEARS,
}
_WORKFLOW_TYPES = {"STANDARD": sfn.StateMachineType.STANDARD, "EXPRESS": sfn.StateMachineType.EXPRESS}


class ConfigError(ValueError):
    """cdk.json context that cannot be deployed."""


@dataclass(frozen=True)
class EnvironmentSettings:
    name: str
    sender: str
    email_identities: tuple[str, ...]
    allowed_senders: tuple[str, ...]
    workflow_type: sfn.StateMachineType
    log_retention: logs.RetentionDays
    alarm_email: str | None
    account: str | None
    region: str | None
    api: bool = True
    delivery_feedback: bool = True
    buffered_ingress: bool = False
    max_send_delay_days: int | None = None
    sms_max_parts_per_second: int | None = None
    ses_max_send_rate: int | None = None
    templates_directory: str | None = None
    recipient_preferences: bool = False
    preference_time_zones: tuple[str, ...] = ("UTC",)
    email_unsubscribe_topics: tuple[str, ...] | None = None
    check_suppression_list: bool = False
    sms_origination_identity: str | None = None
    sms_opt_out_list_name: str = "Default"


def _fail(where: str, value: Any, fix: str) -> ConfigError:
    return ConfigError(f"cdk.json context {where}: {value!r} is not valid. {fix}")


def _email(where: str, value: Any) -> str:
    if not is_email(value):
        raise _fail(where, value, "Give an e-mail address such as 'notifications@example.com'.")
    return value


def _string_list(where: str, value: Any, *, required: bool) -> tuple[str, ...]:
    if value is None and not required:
        return ()
    if not isinstance(value, list) or (required and not value) or not all(
        isinstance(v, str) and v for v in value
    ):
        raise _fail(where, value, "Give a list of non-empty strings, e.g. [\"example.com\"].")
    return tuple(value)


def environment_settings(name: str, raw: Any) -> EnvironmentSettings:
    where = f"notify-cdk.environments.{name}"
    if not _ENV_NAME.match(name):
        raise _fail("notify-cdk.environments", name,
                    "Name environments with a letter then letters, digits or '-' (at most 31).")
    if not isinstance(raw, Mapping):
        raise _fail(where, raw, "Give an object with at least sender and emailIdentities.")
    known = {"sender", "emailIdentities", "allowedSenders", "workflowType", "logRetentionDays",
             "alarmEmail", "account", "region", "api", "deliveryFeedback", "bufferedIngress", "maxSendDelayDays",
             "smsMaxPartsPerSecond", "sesMaxSendRate", "templatesDirectory", "recipientPreferences",
             "preferenceTimeZones", "emailUnsubscribeTopics", "checkSuppressionList", "smsOriginationIdentity",
             "smsOptOutListName"}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise _fail(where, unknown, f"Remove the unknown keys or fix their spelling; known keys: {sorted(known)}.")
    buffered = raw.get("bufferedIngress", False)
    if not isinstance(buffered, bool):
        raise _fail(f"{where}.bufferedIngress", buffered, "Use true or false.")
    # The buffered path starts executions at the queue's pace: Express unless chosen otherwise.
    workflow_type = raw.get("workflowType", "EXPRESS" if buffered else "STANDARD")
    if workflow_type not in _WORKFLOW_TYPES:
        raise _fail(f"{where}.workflowType", workflow_type, "Use STANDARD or EXPRESS.")
    retention = raw.get("logRetentionDays", 30)
    if isinstance(retention, bool) or retention not in _RETENTION:
        raise _fail(f"{where}.logRetentionDays", retention,
                    f"Use one of the CloudWatch Logs retention periods: {sorted(_RETENTION)}.")
    alarm_email = raw.get("alarmEmail")
    account, region = raw.get("account"), raw.get("region")
    if account is not None and not (isinstance(account, str) and re.fullmatch(r"\d{12}", account)):
        raise _fail(f"{where}.account", account, "Give a 12-digit account id or null.")
    if region is not None and not (isinstance(region, str) and re.fullmatch(r"[a-z]{2}(-[a-z]+)+-\d", region)):
        raise _fail(f"{where}.region", region, "Give a region such as 'eu-west-1' or null.")
    max_send_delay_days = raw.get("maxSendDelayDays")
    if max_send_delay_days is not None:
        if isinstance(max_send_delay_days, bool) or not isinstance(max_send_delay_days, int) \
                or not 1 <= max_send_delay_days <= 364:
            raise _fail(f"{where}.maxSendDelayDays", max_send_delay_days,
                        "Give a whole number of days from 1 to 364 (a Standard execution lasts at most a year), "
                        "or null to turn scheduled sends off.")
    rates = {key: raw.get(key) for key in ("smsMaxPartsPerSecond", "sesMaxSendRate")}
    for key, rate in rates.items():
        if rate is not None and (isinstance(rate, bool) or not isinstance(rate, int) or not 1 <= rate <= 10_000):
            raise _fail(f"{where}.{key}", rate, "Give a whole number of sends a second from 1 to 10000 (your "
                                                "account's quota), or null for no limit.")
    switches = {key: raw.get(key, True) for key in ("api", "deliveryFeedback")}
    switches.update({key: raw.get(key, False) for key in ("recipientPreferences", "checkSuppressionList")})
    for key, value in switches.items():
        if not isinstance(value, bool):
            raise _fail(f"{where}.{key}", value, "Use true or false.")
    texts = {key: raw.get(key) for key in ("templatesDirectory", "smsOriginationIdentity", "smsOptOutListName")}
    for key, value in texts.items():
        if value is not None and not (isinstance(value, str) and value.strip()):
            raise _fail(f"{where}.{key}", value, "Give a non-empty string, or null.")
    topics = raw.get("emailUnsubscribeTopics")
    return EnvironmentSettings(
        name=name,
        api=switches["api"],
        delivery_feedback=switches["deliveryFeedback"],
        buffered_ingress=buffered,
        max_send_delay_days=max_send_delay_days,
        sms_max_parts_per_second=rates["smsMaxPartsPerSecond"],
        ses_max_send_rate=rates["sesMaxSendRate"],
        templates_directory=texts["templatesDirectory"],
        recipient_preferences=switches["recipientPreferences"],
        preference_time_zones=_string_list(f"{where}.preferenceTimeZones", raw.get("preferenceTimeZones"),
                                           required=False) or ("UTC",),
        email_unsubscribe_topics=None if topics is None else _string_list(
            f"{where}.emailUnsubscribeTopics", topics, required=True),
        check_suppression_list=switches["checkSuppressionList"],
        sms_origination_identity=texts["smsOriginationIdentity"],
        sms_opt_out_list_name=texts["smsOptOutListName"] or "Default",
        sender=_email(f"{where}.sender", raw.get("sender")),
        email_identities=_string_list(f"{where}.emailIdentities", raw.get("emailIdentities"), required=True),
        allowed_senders=tuple(
            _email(f"{where}.allowedSenders", a)
            for a in _string_list(f"{where}.allowedSenders", raw.get("allowedSenders"), required=False)
        ),
        workflow_type=_WORKFLOW_TYPES[workflow_type],
        log_retention=_RETENTION[retention],
        alarm_email=None if alarm_email is None else _email(f"{where}.alarmEmail", alarm_email),
        account=account,
        region=region,
    )


def settings_from_context(context: Any, only: str | None = None) -> list[EnvironmentSettings]:
    """All environments in the ``notify-cdk`` context, or just ``only``."""
    if not isinstance(context, Mapping) or not isinstance(context.get("environments"), Mapping) \
            or not context["environments"]:
        raise _fail("notify-cdk", context, "Add notify-cdk.environments with at least one environment.")
    environments = context["environments"]
    if only is not None:
        if only not in environments:
            raise _fail("environment", only, f"Choose one of {sorted(environments)} (cdk -c environment=NAME).")
        return [environment_settings(only, environments[only])]
    return [environment_settings(name, raw) for name, raw in environments.items()]
