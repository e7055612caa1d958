"""NotificationApi: a REST API in front of the workflow and the delivery log, with no Lambda.

``POST /notifications`` starts an execution (direct ``states:StartExecution`` integration) or,
with ``queue``, queues the request for ``BufferedIngress`` (direct ``sqs:SendMessage``
integration), ``GET /notifications/{id}`` reads the delivery-log record (direct
``dynamodb:GetItem``) and, when the workflow has scheduled sends, ``DELETE /notifications/{id}``
cancels one (direct ``dynamodb:UpdateItem``). Request and response mapping is done in API
Gateway's Velocity (VTL) templates, defined below so they can be rendered and tested on their own.

Responses of ``POST``: 202 ``{"notificationId", "executionArn"}``; 400 when the body breaks the
request model (API Gateway's validator) or Step Functions refuses the input; 409 when the
notificationId was used before (a Standard workflow keeps execution names for 90 days; a retry
with the same id and body while the first execution still runs gets that execution's 202 again);
429 when Step Functions throttles; 502 when it fails. With ``queue``: 202 ``{"notificationId"}``
(queued: the pipe starts the workflow later), 400 for the model or a message SQS refuses, 429, 502,
and no 409 (the workflow's claim finds a repeated id). ``GET``: 200 with the record, 404, 429, 502.
``DELETE``: 200 ``{"notificationId", "status": "CANCELLED"}``; 404 when there is no scheduled send
of the caller's with that id (none, another caller's, or no longer ``SCHEDULED``: one answer);
400 for an id that cannot be a notificationId; 429, 502.

With ``bulk_summaries``, ``GET /bulks/{bulkId}`` reads a bulk's summary record (direct
``dynamodb:GetItem``): 200 with its status and counts, 404, 400 for an id that cannot be a bulkId,
429, 502. With ``preferences_table``, ``GET /recipients/{recipientId}/preferences`` reads a
recipient's preferences (``dynamodb:GetItem``: 200, 404) and ``PUT`` replaces them
(``dynamodb:UpdateItem`` returning the stored item: 200 with it; 400 for the model), both 400 for an
id that cannot be a recipientId, 429, 502.
"""

from __future__ import annotations

import json
import re
import zoneinfo
from collections.abc import Sequence
from typing import TYPE_CHECKING, cast

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct, IConstruct

from ._log_encryption import allow_logs_to_use_key, retained_log_group
from ._nag import nag_resource
from ._props import _EMAIL, PropError, is_token, require_int_between, require_number_between, require_workflow_or
from .bulk import BULK_ID_PATTERN, BULK_RECORD_PREFIX
from .contract import MAX_EMAIL_RECIPIENTS
from .delivery_log import CANCELLED, PARTITION_KEY, SCHEDULED
from .feedback import LOG_ENCRYPTION_FINDINGS

if TYPE_CHECKING:
    from .workflow import NotificationWorkflow

__all__ = [
    "CATEGORY_PATTERN",
    "ID_PATTERN",
    "LOCALE_PATTERN",
    "NotificationApi",
    "PHONE_PATTERN",
    "PREFERENCE_CHANNELS",
    "RECIPIENT_ID_PATTERN",
    "TEMPLATE_NAME_PATTERN",
    "TIME_OF_DAY_PATTERN",
    "bulk_summary_request_template",
    "cancel_request_template",
    "get_item_request_template",
    "preferences_response_template",
    "read_preferences_request_template",
    "record_response_template",
    "send_message_request_template",
    "start_execution_request_template",
    "write_preferences_request_template",
]

_NAME = "NotificationApi"
_STAGE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,128}$")

#: notificationId: safe as a Step Functions execution name (at most 80 of these characters).
ID_PATTERN = r"^[A-Za-z0-9_-]{1,80}$"
#: E.164 phone number.
PHONE_PATTERN = r"^\+[1-9][0-9]{6,14}$"
#: recipientId: the key of a recipient's preferences (an id of the caller's, or an address or number).
RECIPIENT_ID_PATTERN = r"^[A-Za-z0-9_.@+:-]{1,128}$"
#: A notification category (a request's ``category``, a key of a recipient's ``optOut``).
CATEGORY_PATTERN = r"^[a-z0-9_-]{1,64}$"
#: A template's name.
TEMPLATE_NAME_PATTERN = r"^[a-z0-9-]{1,64}$"
#: A locale: a language, or a language and a region (``en``, ``pt-BR``).
LOCALE_PATTERN = r"^[a-z]{2,3}(-[A-Z]{2})?$"
#: A time of day, 24-hour ``HH:MM`` (quiet hours' ``start`` and ``end``).
TIME_OF_DAY_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"
#: The channels a recipient may opt out of.
PREFERENCE_CHANNELS = ("sms", "email")
# An optOut key: a category, or * for every category.
_OPT_OUT_KEY_PATTERN = r"^([a-z0-9_-]{1,64}|\*)$"
# Categories a recipient may list in optOut: far more than an application has.
_MAX_OPT_OUT_CATEGORIES = 100
# RFC 5321: an address is at most 254 characters.
_MAX_ADDRESS = 254
# Message text and HTML body: far above any real notification (an SMS is cut into 160-character
# parts; email text of this size is already a document), so larger text is an abuse or a mistake.
# Step Functions still refuses an input over 256 KB.
_MAX_TEXT = 100_000
# RFC 5322: a header line is at most 998 characters.
_MAX_SUBJECT = 998

JSON = "application/json"
_PACKS = ("NIST.800.53.R5", "HIPAA.Security")
# A send time as ISO 8601 is at most 29 characters (2026-12-01T09:00:00.000+01:00); the workflow
# checks its form, the API only caps its size.
_MAX_SEND_AT = 40


def _acknowledge(scope: IConstruct, rule: str, reason: str) -> None:
    cdk.Validations.of(scope).acknowledge(cdk.Acknowledgment(id=rule, reason=reason))


# ---- mapping templates ------------------------------------------------------------------------
# Velocity 1.7 as API Gateway runs it. Two of its habits shape these templates:
# * $util.escapeJavaScript also escapes ' as \' which JSON does not allow; replaceAll("\\'", "'")
#   undoes it (Velocity passes the backslashes of a string literal through to the Java regex).
# * #set with a null value keeps the old value, so values that may be absent are read as
#   "$!{...}" strings, which are empty either way.

_UNESCAPE_QUOTE = """.replaceAll("\\\\'", "'")"""


# The caller as IAM authorization identified it; an assumed role's sessions are one caller, so
# the session name is dropped. Empty without IAM authorization.
_CALLER = (
    "#set($caller = \"$!context.identity.userArn\")\n"
    "#set($caller = $caller.replaceAll('^(arn:[^:]+:sts::[0-9]+:assumed-role/[^/]+)/.*$', '$1'))\n"
)


# $id: the request's notificationId, else the API request id; $fields: "caller" and, when the
# body has no notificationId, that id, inserted after the body's opening brace; _REQUEST_JSON is
# the body with them, escaped for a JSON string.
_REQUEST_WITH_CALLER_AND_ID = (
    "#set($id = \"$!input.path('$.notificationId')\")\n"
    + _CALLER
    + "## Fields inserted after the body's opening brace (the model guarantees a non-empty object).\n"
    "#set($q = '\"')\n"
    "#set($fields = '')\n"
    "#if($caller != '')#set($fields = \"${q}caller${q}:${q}$caller${q},\")#end\n"
    "#if($id == '')#set($id = $context.requestId)"
    "#set($fields = \"$fields${q}notificationId${q}:${q}$id${q},\")#end\n"
    "#set($body = $input.json('$'))\n"
    "#set($afterBrace = $body.indexOf('{') + 1)\n"
)
_REQUEST_JSON = "{$util.escapeJavaScript($fields)$util.escapeJavaScript($body.substring($afterBrace))" + _UNESCAPE_QUOTE


def start_execution_request_template(state_machine_arn: str) -> str:
    """StartExecution: name = the request's notificationId, else the API request id; the input is
    the body with that same id in it, so the delivery-log key equals the execution name, and with
    ``caller``, the caller's identity, which the record keeps for :meth:`NotificationApi.grant_read_own`
    (the request model refuses a body that names a caller itself)."""
    return (
        _REQUEST_WITH_CALLER_AND_ID
        + "{\"stateMachineArn\": \"" + state_machine_arn + "\",\n"
        " \"name\": \"$util.escapeJavaScript($id)" + _UNESCAPE_QUOTE + "\",\n"
        " \"input\": \"" + _REQUEST_JSON + "\"}\n"
    )


def send_message_request_template(queue_url: str) -> str:
    """SQS ``SendMessageBatch`` (AWS JSON protocol) with one entry: the message body is the request
    with ``caller`` and ``notificationId`` set as :func:`start_execution_request_template` sets them,
    so the record is keyed by that id; the entry's ``Id`` is the same id (the model's pattern is
    SQS's for an entry id), and SQS answers it back, so the 202 can name it. A batch of one rather
    than ``SendMessage``: that answer holds no field of the request."""
    return (
        _REQUEST_WITH_CALLER_AND_ID
        + "{\"QueueUrl\": \"" + queue_url + "\",\n"
        " \"Entries\": [{\"Id\": \"$util.escapeJavaScript($id)" + _UNESCAPE_QUOTE + "\",\n"
        "  \"MessageBody\": \"" + _REQUEST_JSON + "\"}]}\n"
    )


# The execution ARN ends in ...:execution:<machine>:<name> (Standard) or
# ...:express:<machine>:<name>:<uuid> (Express): the name is the eighth field.
STARTED_RESPONSE_TEMPLATE = (
    "#set($arn = \"$!input.path('$.executionArn')\")\n"
    "#set($id = $arn.replaceAll('^(?:[^:]*:){7}([^:]*).*$', '$1'))\n"
    "{\"notificationId\": \"$util.escapeJavaScript($id)" + _UNESCAPE_QUOTE + "\", "
    "\"executionArn\": \"$util.escapeJavaScript($arn)" + _UNESCAPE_QUOTE + "\"}\n"
)

_THROTTLED = "$type.contains('Throttl') || $type.contains('LimitExceeded') || $type.contains('ThroughputExceeded')"


def _client_error_template(what: str, first_branches: str = "") -> str:
    """A 4xx from the service (HTTP 400 with a JSON ``__type``): the status is refined here, since
    a selection pattern only sees the status code. ``first_branches`` starts with ``#if``."""
    return (
        "#set($type = \"$!input.path('$.__type')\")\n"
        "#set($type = $type.replaceAll('^.*[^A-Za-z0-9_]', ''))\n"
        + first_branches
        + ("#elseif(" if first_branches else "#if(") + _THROTTLED + ")\n"
        "#set($context.responseOverride.status = 429)\n"
        "{\"message\": \"too many requests; retry later\"}\n"
        "#else\n"
        "{\"message\": \"" + what + "\", \"error\": \"$util.escapeJavaScript($type)" + _UNESCAPE_QUOTE + "\"}\n"
        "#end\n"
    )


# Step Functions answers a reused name with HTTP 400, __type "...#ExecutionAlreadyExists" and the
# message "Execution Already Exists: '<execution ARN>'"; the id is read back from that ARN.
START_CLIENT_ERROR_TEMPLATE = _client_error_template(
    "the notification was not accepted",
    "#if($type == 'ExecutionAlreadyExists')\n"
    "#set($context.responseOverride.status = 409)\n"
    "#set($message = \"$!input.path('$.message')\")\n"
    "#set($id = $message.replaceAll('^.*:execution:[^:]+:([A-Za-z0-9_-]+).*$', '$1'))\n"
    "#if($id != $message)\n"
    "{\"message\": \"notification $id already exists\"}\n"
    "#else\n"
    "{\"message\": \"notification already exists\"}\n"
    "#end\n",
)
START_SERVER_ERROR_TEMPLATE = "{\"message\": \"the workflow service failed; retry later\"}\n"

# SendMessageBatch answers 200 even when its one entry failed: the entry is then under Failed,
# with SQS's code and whether the sender caused it.
QUEUED_RESPONSE_TEMPLATE = (
    "#set($id = \"$!input.path('$.Successful[0].Id')\")\n"
    "#if($id != '')\n"
    "{\"notificationId\": \"$util.escapeJavaScript($id)" + _UNESCAPE_QUOTE + "\"}\n"
    "#else\n"
    "#set($type = \"$!input.path('$.Failed[0].Code')\")\n"
    "#if(" + _THROTTLED + ")\n"
    "#set($context.responseOverride.status = 429)\n"
    "{\"message\": \"too many requests; retry later\"}\n"
    "#elseif($input.path('$.Failed[0].SenderFault') == true)\n"
    "#set($context.responseOverride.status = 400)\n"
    "{\"message\": \"the notification was not accepted\", \"error\": \"$util.escapeJavaScript($type)"
    + _UNESCAPE_QUOTE + "\"}\n"
    "#else\n"
    "#set($context.responseOverride.status = 502)\n"
    "{\"message\": \"the queue failed; retry later\"}\n"
    "#end\n"
    "#end\n"
)
QUEUE_CLIENT_ERROR_TEMPLATE = _client_error_template("the notification was not accepted")
QUEUE_SERVER_ERROR_TEMPLATE = "{\"message\": \"the queue failed; retry later\"}\n"


def get_item_request_template(table_name: str) -> str:
    return (
        "{\"TableName\": \"" + table_name + "\",\n"
        " \"Key\": {\"notificationId\": {\"S\": \"$util.escapeJavaScript($input.params('id'))"
        + _UNESCAPE_QUOTE + "\"}},\n"
        " \"ConsistentRead\": true}\n"
    )


# Recipients and message text are left out: the record may hold them (hashed or plain), the API does not.
_RECORD_FIELDS = ["status", "channel", "dialect", "caller", "receivedAt", "completedAt", "executionArn", "error",
                  "reason", "fallback", "lastDuplicateAt"]
_SCHEDULE_FIELDS = ["sendAt", "cancelledAt"]
_RESULT_FIELDS = ["status", "messageId", "error", "cause", "deliveryStatus", "deliveryDetail", "deliveryUpdatedAt"]


def _velocity_list(values: Sequence[str]) -> str:
    return "[" + ", ".join(f"'{v}'" for v in values) + "]"


def _item_strings(fields: Sequence[str], root: str = "$.Item") -> str:
    """``,"field": "value"`` for each of ``fields`` that is a non-empty string attribute of the
    typed item at ``root``."""
    return (
        "#foreach($field in " + _velocity_list(fields) + ")\n"
        "#set($path = \"" + root + ".${field}.S\")\n"
        "#if(\"$!input.path($path)\" != \"\"),\"$field\": $input.json($path)#end\n"
        "#end\n"
    )


def record_response_template(*, callers_own_only: bool = False, scheduling: bool = False) -> str:
    """GetItem's typed item -> plain JSON; absent and empty fields are left out. String values go
    through $input.json, which writes them JSON-encoded. ``callers_own_only``: a record another
    caller created answers 404, as one that does not exist (nothing tells the two apart).
    ``scheduling``: a scheduled send's ``sendAt`` and ``cancelledAt`` are shown too."""
    others = ("\"$!input.path('$.Item.caller.S')\" != $caller || " if callers_own_only else "")
    fields = _RECORD_FIELDS + (_SCHEDULE_FIELDS if scheduling else [])
    return (
        (_CALLER if callers_own_only else "")
        + "#if(" + others + "\"$!input.path('$.Item.notificationId.S')\" == \"\")\n"
        "#set($context.responseOverride.status = 404)\n"
        "{\"message\": \"notification not found\"}\n"
        "#else\n"
        "{\"notificationId\": $input.json('$.Item.notificationId.S')\n"
        + _item_strings(fields) +
        "#if(\"$!input.path('$.Item.duplicateCount.N')\" != \"\"),"
        "\"duplicateCount\": $input.path('$.Item.duplicateCount.N')#end\n"
        "## metadata is stored as the JSON text of the request's metadata object.\n"
        "#if(\"$!input.path('$.Item.metadata.S')\" != \"\"),\"metadata\": $input.path('$.Item.metadata.S')#end\n"
        ",\"results\": {\n"
        "#if(\"$!input.path('$.Item.results.M')\" != \"\")\n"
        "#set($separator = \"\")\n"
        "#foreach($channel in $input.path('$.Item.results.M').keySet())\n"
        "$separator\"$channel\": {\n"
        "#set($fieldSeparator = \"\")\n"
        "#foreach($field in " + _velocity_list(_RESULT_FIELDS) + ")\n"
        "#set($path = \"$.Item.results.M.${channel}.M.${field}.S\")\n"
        "#if(\"$!input.path($path)\" != \"\")$fieldSeparator\"$field\": $input.json($path)"
        "#set($fieldSeparator = \",\")#end\n"
        "#end\n"
        "}\n"
        "#set($separator = \",\")\n"
        "#end\n"
        "#end\n"
        "}}\n"
        "#end\n"
    )


READ_CLIENT_ERROR_TEMPLATE = _client_error_template("the notification could not be read")
READ_SERVER_ERROR_TEMPLATE = "{\"message\": \"the delivery log failed; retry later\"}\n"

# An id outside ID_PATTERN names no record the API created (POST takes a notificationId of that
# form, or the request id): it is answered 400 and never used as a key. DynamoDB refuses an empty
# key without writing anything.
def _path_id(parameter: str, pattern: str) -> str:
    """``$id``: the path parameter when it matches ``pattern``, else empty."""
    return (
        "#set($id = \"$!input.params('" + parameter + "')\")\n"
        "#if(!$id.matches('" + pattern + "'))#set($id = '')#end\n"
    )


_PATH_ID = _path_id("id", ID_PATTERN)
# $context.requestTime is dd/MMM/yyyy:HH:mm:ss +hhmm; records keep ISO 8601 times.
_REQUEST_TIME_ISO = (
    "#set($months = {'Jan': '01', 'Feb': '02', 'Mar': '03', 'Apr': '04', 'May': '05', 'Jun': '06', "
    "'Jul': '07', 'Aug': '08', 'Sep': '09', 'Oct': '10', 'Nov': '11', 'Dec': '12'})\n"
    "#set($at = \"$context.requestTime\")\n"
    "#set($month = $months.get($at.replaceAll('^[0-9]{2}/([A-Za-z]{3})/.*$', '$1')))\n"
    "#set($at = $at.replaceAll('^([0-9]{2})/[A-Za-z]{3}/([0-9]{4}):([0-9:]{8}) ([+-][0-9]{2})([0-9]{2})$', "
    "'$2-MM-$1T$3$4:$5').replaceAll('-MM-', \"-$!month-\").replaceAll('[+]00:00$', 'Z'))\n"
)


def cancel_request_template(table_name: str) -> str:
    """UpdateItem: the record becomes ``CANCELLED`` (with ``cancelledAt``, the request time) only
    while it is ``SCHEDULED`` and only when the caller sent it, as POST identified the caller (an
    API without IAM authorization has one anonymous caller: the records without one)."""
    return (
        _PATH_ID + _CALLER + _REQUEST_TIME_ISO
        + "{\"TableName\": \"" + table_name + "\",\n"
        " \"Key\": {\"notificationId\": {\"S\": \"$id\"}},\n"
        " \"UpdateExpression\": \"SET #status = :cancelled, cancelledAt = :at\",\n"
        "#if($caller != '')\n"
        " \"ConditionExpression\": \"#status = :scheduled AND caller = :caller\",\n"
        "#else\n"
        " \"ConditionExpression\": \"#status = :scheduled AND attribute_not_exists(caller)\",\n"
        "#end\n"
        " \"ExpressionAttributeNames\": {\"#status\": \"status\"},\n"
        " \"ExpressionAttributeValues\": {\":cancelled\": {\"S\": \"" + CANCELLED + "\"}, "
        "\":scheduled\": {\"S\": \"" + SCHEDULED + "\"}, \":at\": {\"S\": \"$util.escapeJavaScript($at)"
        + _UNESCAPE_QUOTE + "\"}"
        "#if($caller != ''), \":caller\": {\"S\": \"$util.escapeJavaScript($caller)" + _UNESCAPE_QUOTE + "\"}#end},\n"
        " \"ReturnValues\": \"NONE\"}\n"
    )


CANCELLED_RESPONSE_TEMPLATE = (
    _PATH_ID + "{\"notificationId\": \"$id\", \"status\": \"" + CANCELLED + "\"}\n"
)
#: Not found, another caller's and no longer SCHEDULED fail the same condition: one answer.
NOT_CANCELLABLE_MESSAGE = "No scheduled notification with this id"


def _id_client_error_template(what: str, parameter: str, pattern: str, id_rule: str, more_branches: str = "") -> str:
    """:func:`_client_error_template` that first answers an invalid path id with ``id_rule``;
    ``more_branches`` start with ``#elseif``."""
    return _client_error_template(what, _path_id(parameter, pattern) + "#if($id == '')\n"
                                  "{\"message\": \"the " + parameter + " must be " + id_rule + "\"}\n"
                                  + more_branches)


CANCEL_CLIENT_ERROR_TEMPLATE = _id_client_error_template(
    "the notification could not be cancelled", "id", ID_PATTERN, "1 to 80 characters of A-Z a-z 0-9 _ -",
    "#elseif($type == 'ConditionalCheckFailedException')\n"
    "#set($context.responseOverride.status = 404)\n"
    "{\"message\": \"" + NOT_CANCELLABLE_MESSAGE + "\"}\n",
)


# ---- bulk summaries and recipient preferences -------------------------------------------------


def _escaped(expression: str) -> str:
    """``expression`` written into a JSON string of the template."""
    return "$util.escapeJavaScript(" + expression + ")" + _UNESCAPE_QUOTE


def _get_item_by_path_id(table_name: str, parameter: str, pattern: str, key_attribute: str,
                         key_prefix: str = "") -> str:
    """GetItem keyed by ``key_prefix`` and the path parameter (see :func:`_key_of_valid_id`)."""
    return (
        _path_id(parameter, pattern)
        + "{\"TableName\": \"" + table_name + "\",\n"
        + _key_of_valid_id(key_attribute, key_prefix)
        + " \"ConsistentRead\": true}\n"
    )


def _key_of_valid_id(attribute: str, prefix: str = "") -> str:
    """``"Key"`` from ``$id`` (:func:`_path_id`). An id outside its pattern names no item the API
    or the workflow wrote: the request then has no ``Key``, so DynamoDB refuses it (400) and reads
    and writes nothing. (AWS refuses an empty key too, but moto 5.2.5 takes one for UpdateItem.)"""
    # The prefix is a single-quoted literal: Velocity reads nothing in it (bulk# holds a #).
    return (
        "#set($keyPrefix = '" + prefix + "')\n"
        "#if($id != '')\n"
        " \"Key\": {\"" + attribute + "\": {\"S\": \"$keyPrefix$id\"}},\n"
        "#end\n"
    )


def bulk_summary_request_template(table_name: str) -> str:
    """GetItem of a bulk's summary record, ``bulk#<bulkId>`` (see ``bulk_record_key``)."""
    return _get_item_by_path_id(table_name, "bulkId", BULK_ID_PATTERN, PARTITION_KEY, BULK_RECORD_PREFIX)


# A bulk summary as BulkSend keeps it; kind and expiresAt are the table's own.
_BULK_FIELDS = ["status", "source", "executionArn", "receivedAt", "startedAt", "completedAt", "error", "cause",
                "reason"]
_BULK_NUMBERS = ["total", "runs"]

#: The summary as plain JSON: ``counts`` holds the recipients per final status (empty until one
#: ends), ``total`` is left out until known (an S3 list's is counted as the bulk ends).
BULK_SUMMARY_RESPONSE_TEMPLATE = (
    "#if(\"$!input.path('$.Item.kind.S')\" != \"bulk\" || \"$!input.path('$.Item.bulkId.S')\" == \"\")\n"
    "#set($context.responseOverride.status = 404)\n"
    "{\"message\": \"bulk not found\"}\n"
    "#else\n"
    "{\"bulkId\": $input.json('$.Item.bulkId.S')\n"
    + _item_strings(_BULK_FIELDS)
    + "#foreach($field in " + _velocity_list(_BULK_NUMBERS) + ")\n"
    "#set($path = \"$.Item.${field}.N\")\n"
    "#if(\"$!input.path($path)\" != \"\"),\"$field\": $input.path($path)#end\n"
    "#end\n"
    ",\"counts\": {\n"
    "#if(\"$!input.path('$.Item.counts.M')\" != \"\")\n"
    "#set($counts = $input.path('$.Item.counts.M'))\n"
    "#set($separator = \"\")\n"
    "#foreach($status in $counts.keySet())\n"
    "$separator\"" + _escaped("$status") + "\": $counts.get($status).N\n"
    "#set($separator = \",\")\n"
    "#end\n"
    "#end\n"
    "}}\n"
    "#end\n"
)
BULK_CLIENT_ERROR_TEMPLATE = _id_client_error_template(
    "the bulk could not be read", "bulkId", BULK_ID_PATTERN, "1 to 64 characters of A-Z a-z 0-9 _ -")

_PREFERENCE_STRINGS = ["phoneNumber", "email", "locale"]
# What PUT replaces (recipientId is the key, updatedAt the API's).
_PREFERENCE_FIELDS = [*_PREFERENCE_STRINGS, "optOut", "quietHours"]
_QUIET_HOURS_FIELDS = ["start", "end", "timeZone"]
_RECIPIENT_ID_RULE = "1 to 128 characters of A-Z a-z 0-9 _ . @ + : -"


def read_preferences_request_template(table_name: str) -> str:
    """GetItem of the recipient's preferences (partition key ``recipientId``)."""
    return _get_item_by_path_id(table_name, "recipientId", RECIPIENT_ID_PATTERN, "recipientId")


def write_preferences_request_template(table_name: str) -> str:
    """UpdateItem that replaces a recipient's preferences: each field the body gives (the request
    model checked them) is set and each it leaves out removed, ``updatedAt`` is the request time,
    and the stored item comes back (``ALL_NEW``). Not PutItem: it returns no more than the item it
    replaced, and a response template cannot read the request body, so the answer could not show
    what was stored."""
    given = {field: "\"$!input.path('$." + field + "')\" != ''" for field in _PREFERENCE_FIELDS}
    # Every name is set or removed, so ExpressionAttributeNames holds none that is unused.
    set_or_remove = "".join(
        "#if(" + given[field] + ")#set($sets = \"$sets, ${h}" + field + " = :" + field + "\")"
        "#else#set($removes = \"$removes, ${h}" + field + "\")#end\n" for field in _PREFERENCE_FIELDS)
    names = ", ".join("\"${h}" + name + "\": \"" + name + "\"" for name in ["updatedAt", *_PREFERENCE_FIELDS])
    strings = "".join(
        "#if(" + given[field] + "), \":" + field + "\": {\"S\": \"" + _escaped("$input.path('$." + field + "')")
        + "\"}#end\n" for field in _PREFERENCE_STRINGS)
    quiet_hours = ", ".join(
        "\"" + field + "\": {\"S\": \"" + _escaped("$input.path('$.quietHours." + field + "')") + "\"}"
        for field in _QUIET_HOURS_FIELDS)
    return (
        _path_id("recipientId", RECIPIENT_ID_PATTERN) + _REQUEST_TIME_ISO
        # Names as ${h}name: no # in the template's text, where Velocity looks for directives.
        + "#set($h = '#')\n"
        "#set($sets = '')\n"
        "#set($removes = '')\n"
        + set_or_remove
        + "{\"TableName\": \"" + table_name + "\",\n"
        + _key_of_valid_id("recipientId")
        + " \"UpdateExpression\": \"SET ${h}updatedAt = :updatedAt$sets"
        "#if($removes != '') REMOVE $removes.substring(2)#end\",\n"
        " \"ExpressionAttributeNames\": {" + names + "},\n"
        " \"ExpressionAttributeValues\": {\":updatedAt\": {\"S\": \"" + _escaped("$at") + "\"}\n"
        + strings
        + "## optOut: category -> list of channels.\n"
        "#if(" + given["optOut"] + ")\n"
        ", \":optOut\": {\"M\": {\n"
        "#set($optOut = $input.path('$.optOut'))\n"
        "#set($separator = '')\n"
        "#foreach($category in $optOut.keySet())\n"
        "$separator\"" + _escaped("$category") + "\": {\"L\": [\n"
        "#set($channelSeparator = '')\n"
        "#foreach($channel in $optOut.get($category))$channelSeparator{\"S\": \"" + _escaped("$channel") + "\"}"
        "#set($channelSeparator = ', ')#end\n"
        "]}\n"
        "#set($separator = ', ')\n"
        "#end\n"
        "}}\n"
        "#end\n"
        "#if(" + given["quietHours"] + "), \":quietHours\": {\"M\": {" + quiet_hours + "}}#end\n"
        "},\n"
        " \"ReturnValues\": \"ALL_NEW\"}\n"
    )


def preferences_response_template(source: str = "Item") -> str:
    """The typed item under ``source`` (GetItem's ``Item``, UpdateItem's ``Attributes``) -> the
    preferences as plain JSON (absent fields left out); 404 without one."""
    root = "$." + source
    return (
        "#if(\"$!input.path('" + root + ".recipientId.S')\" == \"\")\n"
        "#set($context.responseOverride.status = 404)\n"
        "{\"message\": \"no preferences for this recipient\"}\n"
        "#else\n"
        "{\"recipientId\": $input.json('" + root + ".recipientId.S')\n"
        + _item_strings([*_PREFERENCE_STRINGS, "updatedAt"], root)
        + "#if(\"$!input.path('" + root + ".optOut.M')\" != \"\")\n"
        ",\"optOut\": {\n"
        "#set($optOut = $input.path('" + root + ".optOut.M'))\n"
        "#set($separator = \"\")\n"
        "#foreach($category in $optOut.keySet())\n"
        "$separator\"" + _escaped("$category") + "\": [\n"
        "#set($channelSeparator = \"\")\n"
        "#foreach($channel in $optOut.get($category).L)$channelSeparator\"" + _escaped("$channel.S") + "\""
        "#set($channelSeparator = \",\")#end\n"
        "]\n"
        "#set($separator = \",\")\n"
        "#end\n"
        "}\n"
        "#end\n"
        "#if(\"$!input.path('" + root + ".quietHours.M')\" != \"\")\n"
        ",\"quietHours\": {\n"
        "#set($separator = \"\")\n"
        "#foreach($field in " + _velocity_list(_QUIET_HOURS_FIELDS) + ")\n"
        "#set($path = \"" + root + ".quietHours.M.${field}.S\")\n"
        "#if(\"$!input.path($path)\" != \"\")$separator\"$field\": $input.json($path)"
        "#set($separator = \",\")#end\n"
        "#end\n"
        "}\n"
        "#end\n"
        "}\n"
        "#end\n"
    )


READ_PREFERENCES_CLIENT_ERROR_TEMPLATE = _id_client_error_template(
    "the preferences could not be read", "recipientId", RECIPIENT_ID_PATTERN, _RECIPIENT_ID_RULE)
WRITE_PREFERENCES_CLIENT_ERROR_TEMPLATE = _id_client_error_template(
    "the preferences could not be stored", "recipientId", RECIPIENT_ID_PATTERN, _RECIPIENT_ID_RULE)

_ACCESS_LOG_FIELDS = {
    "requestId": "$context.requestId",
    "extendedRequestId": "$context.extendedRequestId",
    "requestTime": "$context.requestTime",
    "httpMethod": "$context.httpMethod",
    "resourcePath": "$context.resourcePath",
    "status": "$context.status",
    "protocol": "$context.protocol",
    "responseLength": "$context.responseLength",
    "ip": "$context.identity.sourceIp",
    "caller": "$context.identity.caller",
    "userArn": "$context.identity.userArn",
    "errorType": "$context.error.responseType",
    "integrationStatus": "$context.integration.status",
    "integrationLatency": "$context.integration.latency",
    "xrayTraceId": "$context.xrayTraceId",
}


# A read's answers (and DELETE's): found, a bad id, not found, throttled, the service failed.
_READ_ANSWERS = ("200", "400", "404", "429", "502")


def _integration_responses(ok_status: str, ok_template: str, client_error_template: str,
                           server_error_template: str) -> list[apigw.IntegrationResponse]:
    """The service's answer by its HTTP status: ``ok_status`` by default, 400 for a 4xx (the
    template may refine the status), 502 for a 5xx."""
    return [
        apigw.IntegrationResponse(status_code=ok_status, response_templates={JSON: ok_template}),
        # Selection patterns of an AWS integration match the service's HTTP status.
        apigw.IntegrationResponse(status_code="400", selection_pattern=r"4\d{2}",
                                  response_templates={JSON: client_error_template}),
        apigw.IntegrationResponse(status_code="502", selection_pattern=r"5\d{2}",
                                  response_templates={JSON: server_error_template}),
    ]


class NotificationApi(Construct):
    """An API Gateway REST API to send notifications and read their delivery-log records.

    Every prop is keyword-only.

    :param workflow: the notification workflow: ``POST /notifications`` starts its state machine
        (granted its ``encryption_key``), ``GET /notifications/{id}`` reads its delivery log and,
        with its ``max_send_delay``, ``DELETE /notifications/{id}`` cancels a scheduled send.
        Default: none (then give ``state_machine`` and ``table``).
    :param state_machine: the state machine to start, when no ``workflow`` is given.
        Default: the workflow's.
    :param table: the delivery log (partition key ``notificationId``) to read, when no
        ``workflow`` is given. Default: the workflow's.
    :param authorization: ``IAM`` (SigV4-signed requests; grant callers with
        :meth:`grant_invoke`) or ``NONE`` (then the stack must acknowledge the cdk-nag findings in
        :attr:`unacknowledged_findings`, the WAF ones too unless ``web_acl_arn`` is given).
        Default: ``IAM``.
    :param throttling_rate_limit: steady-state requests per second for every method of the stage.
        Default: 50.
    :param throttling_burst_limit: burst for every method of the stage. Default: 100.
    :param access_log_retention: retention of the access and execution log groups. Default: one
        month.
    :param stage_name: the deployment stage, the first path segment of :attr:`url`.
        Default: ``"v1"``.
    :param cloud_watch_role: create the role API Gateway uses to write execution logs, and set it
        on the account (``AWS::ApiGateway::Account`` is one per account and Region: leave this on
        in one stack only, and ``False`` where the account already has the role). Default: ``True``.
    :param web_acl_arn: a regional AWS WAF web ACL to associate with the stage. Default: none
        (IAM authorization already refuses unsigned requests before any integration runs).
    :param state_machine_key: the customer-managed key the state machine is encrypted with, when
        no ``workflow`` is given: starting an execution then needs ``kms:GenerateDataKey`` on it.
        Default: the workflow's ``encryption_key``, else none (an AWS-owned key).
    :param encryption_key: customer-managed key for the access and execution log groups (a
        ``kms.Key`` gets a key-policy statement letting CloudWatch Logs use it for those groups; an
        imported key must allow it already). Default: none (CloudWatch Logs' own encryption; the
        NIST 800-53 and HIPAA packs then report it, see :attr:`unacknowledged_findings`).
    :param api_key_required: every method also requires an API key (``x-api-key`` header), and a
        usage plan on the stage throttles each key on its own with ``per_key_throttling``: the
        per-caller limit (stage throttling is shared by all callers). API Gateway throttles per
        key, not per IAM principal, so with IAM authorization give each caller its own key
        (:meth:`add_caller_key`) as well as :meth:`grant_invoke`; the key only identifies the
        caller for throttling, SigV4 still authenticates. Default: ``False``.
    :param per_key_throttling: requests per second (``rate_limit``) and burst (``burst_limit``)
        for each API key, both required and at most the stage's limits; only with
        ``api_key_required``. Default: none.
    :param max_send_delay: the workflow's ``max_send_delay``, when no ``workflow`` is given: the
        request model then accepts ``sendAt`` and ``delaySeconds`` (0 to this many seconds), and
        ``DELETE /notifications/{id}`` cancels a scheduled send of the caller's (grant it with
        :meth:`grant_cancel`). Default: the workflow's, else none (no scheduling: the model
        refuses those fields and there is no ``DELETE``).
    :param queue: the ``BufferedIngress`` queue in front of the workflow (``ingress.queue``):
        ``POST /notifications`` then queues the request (``sqs:SendMessage``, through a role that
        may only send to this queue and use its key for that) instead of starting an execution,
        and answers 202 once SQS has it; the pipe starts the workflow later, and GET shows the
        record from then on. There is no 409 on this path: a repeated ``notificationId`` is found
        by the workflow's claim (recorded as a duplicate, nothing sent again). Refused with a
        workflow built without ``queued_input`` (no pipe would start it with the queued requests).
        ``NotificationService(buffered_ingress=True, api=True)`` gives it.
        Default: none (POST starts the workflow).
    :param bulk_summaries: ``GET /bulks/{bulkId}`` reads a ``BulkSend`` summary record from the
        delivery log (its status and counts per final status; grant it with
        :meth:`grant_read_bulk`). A summary does not record who started the bulk, so any caller
        granted the route reads any bulk. Default: ``False``.
    :param preferences_table: the recipients' preferences (partition key ``recipientId``, e.g.
        ``RecipientPreferences``' table): ``GET`` and ``PUT /recipients/{recipientId}/preferences``
        read and replace one recipient's (:meth:`grant_read_preferences`,
        :meth:`grant_write_preferences`), through roles that may only ``GetItem`` or ``UpdateItem``
        that table and use its key through DynamoDB. Default: none (no such routes).
    :param preference_time_zones: the IANA time zones quiet hours may name (the model refuses
        others); only with ``preferences_table``. Default: ``("UTC",)``.

    Attributes: :attr:`api`, :attr:`url`, :attr:`access_log_group`, :attr:`execution_log_group`,
    :attr:`start_method`, :attr:`read_method`, :attr:`read_all_method`, :attr:`cancel_method`
    (``None`` without scheduling), :attr:`read_bulk_method` (``None`` without ``bulk_summaries``),
    :attr:`read_preferences_method` and :attr:`write_preferences_method` (``None`` without
    ``preferences_table``), :attr:`request_model`, :attr:`preferences_model`,
    :attr:`request_validator`, :attr:`usage_plan`,
    :attr:`unacknowledged_findings` (cdk-nag findings left to the stack: none with the defaults
    and an ``encryption_key``) and :attr:`invoke_grant_finding`.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        workflow: NotificationWorkflow | None = None,
        state_machine: sfn.IStateMachine | None = None,
        table: dynamodb.ITable | None = None,
        authorization: apigw.AuthorizationType = apigw.AuthorizationType.IAM,
        throttling_rate_limit: float = 50,
        throttling_burst_limit: int = 100,
        access_log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH,
        stage_name: str = "v1",
        cloud_watch_role: bool = True,
        web_acl_arn: str | None = None,
        state_machine_key: kms.IKey | None = None,
        encryption_key: kms.IKey | None = None,
        api_key_required: bool = False,
        per_key_throttling: apigw.ThrottleSettings | None = None,
        max_send_delay: cdk.Duration | None = None,
        queue: sqs.IQueue | None = None,
        bulk_summaries: bool = False,
        preferences_table: dynamodb.ITable | None = None,
        preference_time_zones: Sequence[str] | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        require_workflow_or(_NAME, workflow, {
            "state_machine": state_machine, "table": table, "state_machine_key": state_machine_key,
            "max_send_delay": max_send_delay,
        }, required=("table",) if queue is not None else ("state_machine", "table"))
        self._check_queue(queue, workflow, state_machine, state_machine_key)
        if workflow is not None:
            state_machine, table = workflow.state_machine, workflow.table
            state_machine_key = workflow.encryption_key
            max_send_delay = workflow.max_send_delay
        assert table is not None  # require_workflow_or checked it
        self._check_props(
            authorization=authorization,
            throttling_rate_limit=throttling_rate_limit,
            throttling_burst_limit=throttling_burst_limit,
            stage_name=stage_name,
        )
        self._check_per_key_throttling(api_key_required, per_key_throttling, throttling_rate_limit,
                                       throttling_burst_limit)
        time_zones = self._check_preferences(preferences_table, preference_time_zones)
        self._authorization = authorization
        self._api_key_required = api_key_required

        #: JSON access logs of the API stage.
        self.access_log_group = retained_log_group(
            self, "AccessLogs", purpose="access", retention=access_log_retention, encryption_key=encryption_key
        )
        #: The REST API (``POST /notifications``, ``GET /notifications/{id}``).
        self.api = apigw.RestApi(
            self,
            "Api",
            description="Send notifications (SMS, email) and read their delivery records",
            endpoint_types=[apigw.EndpointType.REGIONAL],
            cloud_watch_role=cloud_watch_role,
            # The account keeps pointing at the role after this stack is gone; keep the role too.
            cloud_watch_role_removal_policy=cdk.RemovalPolicy.RETAIN if cloud_watch_role else None,
            fail_on_warnings=True,
            deploy_options=apigw.StageOptions(
                stage_name=stage_name,
                access_log_destination=apigw.LogGroupLogDestination(self.access_log_group),
                access_log_format=apigw.AccessLogFormat.custom(json.dumps(_ACCESS_LOG_FIELDS)),
                logging_level=apigw.MethodLoggingLevel.INFO,
                # Request and response bodies hold phone numbers and addresses.
                data_trace_enabled=False,
                tracing_enabled=True,
                throttling_rate_limit=throttling_rate_limit,
                throttling_burst_limit=throttling_burst_limit,
            ),
        )
        #: Execution logs of the stage, created here so they expire and are encrypted like the access
        #: logs (API Gateway would otherwise create this group itself, unencrypted and kept forever).
        self.execution_log_group = self._execution_log_group(stage_name, access_log_retention, encryption_key)
        #: Validates request bodies against ``request_model``.
        self.request_validator = self.api.add_request_validator(
            "RequestValidator", validate_request_body=True, validate_request_parameters=True
        )
        #: JSON schema of a notification request (rejects malformed bodies with 400).
        self.request_model = self.api.add_model(
            "NotificationRequest",
            content_type=JSON,
            description="A notification request (the workflow's canonical contract)",
            schema=_request_schema(max_send_delay),
        )
        self._integration_roles: list[iam.Role] = []
        notifications = self.api.root.add_resource("notifications")
        answers: tuple[str, ...]
        if queue is None:
            assert state_machine is not None  # require_workflow_or checked it
            send = self._start_integration(state_machine, state_machine_key)
            answers = ("202", "400", "409", "429", "502")
        else:
            # No 409: a repeated notificationId is queued too, and the workflow's claim finds it.
            send, answers = self._queue_integration(queue), ("202", "400", "429", "502")
        #: ``POST /notifications``: StartExecution with the notification id as the execution name,
        #: or with ``queue`` SendMessageBatch of one message to it.
        self.start_method = self._add_method(notifications, "POST", send, answers, model=self.request_model)
        read_role = self._read_role(table)
        scheduling = max_send_delay is not None

        def read(resource: apigw.IResource, *, callers_own_only: bool) -> apigw.Method:
            return self._add_method(
                resource.add_resource("{id}"), "GET",
                self._read_integration(table, read_role, callers_own_only=callers_own_only, scheduling=scheduling),
                _READ_ANSWERS, parameter="id")

        #: ``GET /notifications/{id}``: the delivery-log record, when the caller created it (else 404).
        self.read_method = read(notifications, callers_own_only=True)
        #: ``GET /all-notifications/{id}``: any delivery-log record (:meth:`grant_read_all`).
        self.read_all_method = read(self.api.root.add_resource("all-notifications"), callers_own_only=False)
        #: ``DELETE /notifications/{id}``: cancels a scheduled send of the caller's
        #: (:meth:`grant_cancel`); ``None`` without scheduling.
        self.cancel_method = self._add_method(
            self.read_method.resource, "DELETE", self._cancel_integration(table), _READ_ANSWERS, parameter="id",
        ) if scheduling else None
        #: ``GET /bulks/{bulkId}``: a bulk's summary (:meth:`grant_read_bulk`); ``None`` without
        #: ``bulk_summaries``.
        self.read_bulk_method = self._add_method(
            self.api.root.add_resource("bulks").add_resource("{bulkId}"), "GET",
            self._table_integration("GetItem", read_role, bulk_summary_request_template(table.table_name),
                                    BULK_SUMMARY_RESPONSE_TEMPLATE, BULK_CLIENT_ERROR_TEMPLATE),
            _READ_ANSWERS, parameter="bulkId",
        ) if bulk_summaries else None
        #: JSON schema of a recipient's preferences (``PUT``); ``None`` without ``preferences_table``.
        self.preferences_model: apigw.Model | None = None
        #: ``GET /recipients/{recipientId}/preferences`` (:meth:`grant_read_preferences`) and
        #: ``PUT`` (:meth:`grant_write_preferences`); ``None`` without ``preferences_table``.
        self.read_preferences_method: apigw.Method | None = None
        self.write_preferences_method: apigw.Method | None = None
        if preferences_table is not None:
            self._add_preferences(preferences_table, time_zones)
        if web_acl_arn is not None:
            wafv2.CfnWebACLAssociation(
                self, "WebAcl", resource_arn=self.api.deployment_stage.stage_arn, web_acl_arn=web_acl_arn
            )

        #: Throttles each API key on its own (``api_key_required``), else ``None``.
        self.usage_plan = self.api.add_usage_plan(
            "PerCallerUsagePlan",
            description="Per-caller throttling: each API key gets these limits of its own",
            throttle=per_key_throttling,
            api_stages=[apigw.UsagePlanPerApiStage(api=self.api, stage=self.api.deployment_stage)],
        ) if api_key_required else None

        #: cdk-nag findings a stack must acknowledge itself (choices this construct cannot own).
        self.unacknowledged_findings: list[str] = [] if encryption_key else list(LOG_ENCRYPTION_FINDINGS)
        self._acknowledge_findings(cloud_watch_role=cloud_watch_role, web_acl=web_acl_arn is not None)

    def _execution_log_group(self, stage_name: str, retention: logs.RetentionDays,
                             encryption_key: kms.IKey | None) -> logs.LogGroup:
        # The name API Gateway writes execution logs to; it cannot be changed.
        name = f"API-Gateway-Execution-Logs_{self.api.rest_api_id}/{stage_name}"
        if encryption_key is not None:
            allow_logs_to_use_key(self, encryption_key, [name])
        group = logs.LogGroup(self, "ExecutionLogs", log_group_name=name, retention=retention,
                              encryption_key=encryption_key, removal_policy=cdk.RemovalPolicy.RETAIN)
        # The group exists before the stage can log to it.
        self.api.deployment_stage.node.add_dependency(group)
        return group

    def _add_method(self, resource: apigw.IResource, http_method: str, integration: apigw.Integration,
                    answers: Sequence[str], *, parameter: str | None = None,
                    model: apigw.IModel | None = None) -> apigw.Method:
        """A method under the API's authorization, API keys and validator: ``parameter`` is the
        path parameter it requires, ``model`` the body's."""
        return resource.add_method(
            http_method,
            integration,
            authorization_type=self._authorization,
            api_key_required=self._api_key_required,
            request_validator=self.request_validator,
            request_parameters={f"method.request.path.{parameter}": True} if parameter else None,
            request_models={JSON: model} if model else None,
            method_responses=[apigw.MethodResponse(status_code=code) for code in answers],
        )

    def _add_preferences(self, table: dynamodb.ITable, time_zones: tuple[str, ...]) -> None:
        self.preferences_model = self.api.add_model(
            "PreferencesRequest",
            content_type=JSON,
            description="A recipient's preferences (contact points, opt-outs, quiet hours)",
            schema=_preferences_schema(time_zones),
        )
        preferences = self.api.root.add_resource("recipients").add_resource("{recipientId}").add_resource(
            "preferences")
        read_role = self._table_role(
            "ReadPreferencesRole", "API Gateway reads recipients' preferences (GetItem on the table only)",
            table, "GetItem", key_through_dynamodb=True)
        write_role = self._table_role(
            "WritePreferencesRole", "API Gateway replaces recipients' preferences (UpdateItem on the table only)",
            table, "UpdateItem", key_through_dynamodb=True)
        self.read_preferences_method = self._add_method(
            preferences, "GET",
            self._table_integration("GetItem", read_role, read_preferences_request_template(table.table_name),
                                    preferences_response_template("Item"), READ_PREFERENCES_CLIENT_ERROR_TEMPLATE),
            _READ_ANSWERS, parameter="recipientId")
        self.write_preferences_method = self._add_method(
            preferences, "PUT",
            self._table_integration("UpdateItem", write_role, write_preferences_request_template(table.table_name),
                                    preferences_response_template("Attributes"),
                                    WRITE_PREFERENCES_CLIENT_ERROR_TEMPLATE),
            ("200", "400", "429", "502"), parameter="recipientId", model=self.preferences_model)

    # ---- integrations ---------------------------------------------------------------------------

    def _integration_role(self, construct_id: str, description: str) -> iam.Role:
        """A role API Gateway assumes for one integration; each gets only its own grant. Only this
        API may assume it: API Gateway acting for another API (or account) is a confused deputy."""
        stack = cdk.Stack.of(self)
        this_api = stack.format_arn(service="execute-api", resource=self.api.rest_api_id, resource_name="*")
        api_gateway = iam.ServicePrincipal("apigateway.amazonaws.com", conditions={
            "ArnLike": {"aws:SourceArn": this_api},
            "StringEquals": {"aws:SourceAccount": stack.account},
        })
        role = iam.Role(self, construct_id, assumed_by=api_gateway, description=description)
        self._integration_roles.append(role)
        return role

    def _start_integration(self, state_machine: sfn.IStateMachine,
                           state_machine_key: kms.IKey | None) -> apigw.AwsIntegration:
        role = self._integration_role(
            "StartExecutionRole", "API Gateway starts the notification workflow (StartExecution on it only)"
        )
        state_machine.grant_start_execution(role)
        if state_machine_key is not None:
            # Step Functions encrypts the execution input with the state machine's key.
            state_machine_key.grant(role, "kms:GenerateDataKey")
        return apigw.AwsIntegration(
            service="states",
            action="StartExecution",
            integration_http_method="POST",
            options=apigw.IntegrationOptions(
                credentials_role=role,
                passthrough_behavior=apigw.PassthroughBehavior.NEVER,
                request_templates={JSON: start_execution_request_template(state_machine.state_machine_arn)},
                integration_responses=_integration_responses("202", STARTED_RESPONSE_TEMPLATE,
                                                             START_CLIENT_ERROR_TEMPLATE, START_SERVER_ERROR_TEMPLATE),
            ),
        )

    def _queue_integration(self, queue: sqs.IQueue) -> apigw.AwsIntegration:
        role = self._integration_role(
            "SendToQueueRole", "API Gateway queues notification requests (SendMessage on the queue only)"
        )
        iam.Grant.add_to_principal(grantee=role, actions=["sqs:SendMessage"], resource_arns=[queue.queue_arn])
        if queue.encryption_master_key is not None:
            # SQS encrypts the message with a data key of the queue's key, for the sender.
            queue.encryption_master_key.grant(role, "kms:GenerateDataKey", "kms:Decrypt")
        return apigw.AwsIntegration(
            service="sqs",
            # The queue's own path (the form AWS documents for SQS integrations); the body names it too.
            path=f"{queue.env.account}/{queue.queue_name}",
            integration_http_method="POST",
            options=apigw.IntegrationOptions(
                credentials_role=role,
                passthrough_behavior=apigw.PassthroughBehavior.NEVER,
                # SQS's AWS JSON protocol: JSON in, JSON out (the Query protocol answers XML).
                request_parameters={
                    "integration.request.header.Content-Type": "'application/x-amz-json-1.0'",
                    "integration.request.header.X-Amz-Target": "'AmazonSQS.SendMessageBatch'",
                },
                request_templates={JSON: send_message_request_template(queue.queue_url)},
                integration_responses=_integration_responses("202", QUEUED_RESPONSE_TEMPLATE,
                                                             QUEUE_CLIENT_ERROR_TEMPLATE, QUEUE_SERVER_ERROR_TEMPLATE),
            ),
        )

    def _table_role(self, construct_id: str, description: str, table: dynamodb.ITable, action: str,
                    conditions: dict[str, dict[str, object]] | None = None, *,
                    key_through_dynamodb: bool = False) -> iam.Role:
        """An integration role with one DynamoDB action on the table, and the table's key to decrypt
        (``key_through_dynamodb``: only as DynamoDB uses it for the role, ``kms:ViaService``)."""
        role = self._integration_role(construct_id, description)
        iam.Grant.add_to_principal(grantee=role, actions=[f"dynamodb:{action}"], resource_arns=[table.table_arn],
                                   conditions=conditions)
        key = table.encryption_key
        if key is not None and key_through_dynamodb:
            iam.Grant.add_to_principal(grantee=role, actions=["kms:Decrypt"], resource_arns=[key.key_arn], conditions={
                "StringEquals": {"kms:ViaService": f"dynamodb.{cdk.Stack.of(self).region}.amazonaws.com"}})
        elif key is not None:
            key.grant_decrypt(role)
        return role

    @staticmethod
    def _table_integration(action: str, role: iam.Role, request_template: str, answer_template: str,
                           client_error_template: str) -> apigw.AwsIntegration:
        """A DynamoDB action: 200 with ``answer_template``, 4xx through ``client_error_template``
        (which refines the status), a static 502."""
        return apigw.AwsIntegration(
            service="dynamodb",
            action=action,
            integration_http_method="POST",
            options=apigw.IntegrationOptions(
                credentials_role=role,
                passthrough_behavior=apigw.PassthroughBehavior.NEVER,
                request_templates={JSON: request_template},
                integration_responses=_integration_responses("200", answer_template, client_error_template,
                                                             READ_SERVER_ERROR_TEMPLATE),
            ),
        )

    def _read_role(self, table: dynamodb.ITable) -> iam.Role:
        return self._table_role("ReadRecordRole", "API Gateway reads delivery-log records (GetItem on the table only)",
                                table, "GetItem")

    def _read_integration(self, table: dynamodb.ITable, role: iam.Role, *,
                          callers_own_only: bool, scheduling: bool) -> apigw.AwsIntegration:
        return self._table_integration(
            "GetItem", role, get_item_request_template(table.table_name),
            record_response_template(callers_own_only=callers_own_only, scheduling=scheduling),
            READ_CLIENT_ERROR_TEMPLATE)

    def _cancel_integration(self, table: dynamodb.ITable) -> apigw.AwsIntegration:
        role = self._table_role(
            "CancelScheduledRole",
            "API Gateway cancels scheduled sends (UpdateItem on the table only, of status and cancelledAt)",
            table, "UpdateItem", conditions={
                # The attributes the request names (key, update and condition) and no others;
                # nothing of the record is returned.
                "ForAllValues:StringEquals": {"dynamodb:Attributes": ["notificationId", "status", "cancelledAt",
                                                                      "caller"]},
                "StringEqualsIfExists": {"dynamodb:ReturnValues": "NONE"},
            })
        return self._table_integration("UpdateItem", role, cancel_request_template(table.table_name),
                                       CANCELLED_RESPONSE_TEMPLATE, CANCEL_CLIENT_ERROR_TEMPLATE)

    # ---- cdk-nag --------------------------------------------------------------------------------

    def _acknowledge_findings(self, *, cloud_watch_role: bool, web_acl: bool) -> None:
        """Findings that follow from this construct's design, acknowledged where they arise.
        The NIST 800-53 and HIPAA ids matter where a stack runs those packs too."""
        if cloud_watch_role:
            role = self.api.node.find_child("CloudWatchRole")
            _acknowledge(role, "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                               "AmazonAPIGatewayPushToCloudWatchLogs]",
                         "API Gateway execution logging needs an account-level role; the AWS-managed policy is "
                         "the one API Gateway documents for it and grants logs actions only.")
        stage = self.api.deployment_stage
        waf_rules = ("AwsSolutions-APIG3", "NIST.800.53.R5-APIGWAssociatedWithWAF")
        if not web_acl and self._authorization == apigw.AuthorizationType.IAM:
            for rule in waf_rules:
                _acknowledge(stage, rule,
                             "Every method requires SigV4 (IAM), so unsigned requests are refused before any "
                             "integration runs; stage throttling bounds callers. Pass web_acl_arn to associate "
                             "a WAF web ACL.")
        elif not web_acl:
            # An open API without a web ACL is the stack's risk to accept, not this construct's.
            self.unacknowledged_findings += waf_rules
        for pack in _PACKS:
            _acknowledge(stage, f"{pack}-APIGWSSLEnabled",
                         "Client certificates let a back end authenticate API Gateway; both integrations are "
                         "AWS service APIs that authenticate it by SigV4 with the integration role, over TLS.")
            _acknowledge(stage, f"{pack}-APIGWCacheEnabledAndEncrypted",
                         "Nothing is cached: POST must reach the workflow every time and GET must show the "
                         "current delivery status, so there is no cache to encrypt.")
            for role in self._integration_roles:
                _acknowledge(role, f"{pack}-IAMNoInlinePolicy",
                             "The integration role's only statement is attached as a policy of that one role; "
                             "a managed policy would only make it shareable.")
        if self._authorization == apigw.AuthorizationType.IAM:
            for method in self._methods:
                _acknowledge(method, "AwsSolutions-COG4",
                             "Callers are AWS principals (services, jobs) authorized by IAM SigV4, not end users "
                             "of a Cognito user pool.")
        else:
            self.unacknowledged_findings += ["AwsSolutions-APIG4", "AwsSolutions-COG4"]

    # ---- public helpers -------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The stage URL, ending in ``/`` (``https://<id>.execute-api.<region>.amazonaws.com/<stage>/``)."""
        return self.api.url

    def grant_send(self, grantee: iam.IGrantable) -> iam.Grant:
        """Lets ``grantee`` send notifications (``POST /notifications``)."""
        return self._grant(grantee, self.start_method)

    def grant_read_own(self, grantee: iam.IGrantable) -> iam.Grant:
        """Lets ``grantee`` read the records of the notifications it sent (``GET
        /notifications/{id}``; another caller's record answers 404). The resource ends in ``/*``
        (any id), which cdk-nag reports on the grantee's policy as :attr:`invoke_grant_finding`;
        acknowledge it on the grantee."""
        return self._grant(grantee, self.read_method)

    def grant_read_all(self, grantee: iam.IGrantable) -> iam.Grant:
        """Lets ``grantee`` read any record (``GET /all-notifications/{id}``), e.g. an operator;
        cdk-nag reports it as :attr:`read_all_grant_finding`."""
        return self._grant(grantee, self.read_all_method)

    def grant_cancel(self, grantee: iam.IGrantable) -> iam.Grant:
        """Lets ``grantee`` cancel the scheduled sends it made (``DELETE /notifications/{id}``;
        another caller's answers 404); only with scheduling. cdk-nag reports it as
        :attr:`cancel_grant_finding`."""
        return self._grant(grantee, self._cancel_method_or_fail())

    def grant_invoke(self, grantee: iam.IGrantable) -> iam.Grant:
        """:meth:`grant_send` and :meth:`grant_read_own` in one grant (not :meth:`grant_cancel`)."""
        return self._grant(grantee, self.start_method, self.read_method)

    def grant_read_bulk(self, grantee: iam.IGrantable) -> iam.Grant:
        """Lets ``grantee`` read the summary of any bulk (``GET /bulks/{bulkId}``; a summary does not
        record who started the bulk); only with ``bulk_summaries``. cdk-nag reports it as
        :attr:`read_bulk_grant_finding`."""
        return self._grant(grantee, self._read_bulk_method_or_fail())

    def grant_read_preferences(self, grantee: iam.IGrantable) -> iam.Grant:
        """Lets ``grantee`` read any recipient's preferences (``GET
        /recipients/{recipientId}/preferences``); only with ``preferences_table``. cdk-nag reports
        it as :attr:`read_preferences_grant_finding`."""
        return self._grant(grantee, self._preferences_method_or_fail(self.read_preferences_method))

    def grant_write_preferences(self, grantee: iam.IGrantable) -> iam.Grant:
        """Lets ``grantee`` replace any recipient's preferences (``PUT
        /recipients/{recipientId}/preferences``; not reading them without the answer to a PUT);
        only with ``preferences_table``. cdk-nag reports it as :attr:`write_preferences_grant_finding`."""
        return self._grant(grantee, self._preferences_method_or_fail(self.write_preferences_method))

    @property
    def _methods(self) -> list[apigw.Method]:
        optional = (self.cancel_method, self.read_bulk_method, self.read_preferences_method,
                    self.write_preferences_method)
        return [self.start_method, self.read_method, self.read_all_method, *(m for m in optional if m is not None)]

    def _cancel_method_or_fail(self) -> apigw.Method:
        if self.cancel_method is None:
            raise PropError(_NAME, "max_send_delay", None,
                            "Cancelling needs scheduled sends: give a workflow with max_send_delay "
                            "(or max_send_delay= with state_machine= and table=).")
        return self.cancel_method

    def _read_bulk_method_or_fail(self) -> apigw.Method:
        if self.read_bulk_method is None:
            raise PropError(_NAME, "bulk_summaries", False, "Set bulk_summaries=True for GET /bulks/{bulkId}.")
        return self.read_bulk_method

    @staticmethod
    def _preferences_method_or_fail(method: apigw.Method | None) -> apigw.Method:
        if method is None:
            raise PropError(_NAME, "preferences_table", None,
                            "Give preferences_table= (partition key recipientId) for the preferences routes.")
        return method

    @staticmethod
    def _grant(grantee: iam.IGrantable, *methods: apigw.Method) -> iam.Grant:
        return iam.Grant.add_to_principal(grantee=grantee, actions=["execute-api:Invoke"],
                                          resource_arns=[m.method_arn for m in methods])

    def add_caller_key(self, construct_id: str, *, description: str | None = None) -> apigw.IApiKey:
        """A new API key for one caller, throttled on its own by the usage plan (needs
        ``api_key_required``). Hand the caller its value (``x-api-key`` header) out of band."""
        if self.usage_plan is None:
            raise PropError(_NAME, "api_key_required", False,
                            "Set api_key_required=True (with per_key_throttling) to give callers keys.")
        key = apigw.ApiKey(self, construct_id, description=description)
        self.usage_plan.add_api_key(key)
        return key

    @property
    def invoke_grant_finding(self) -> str:
        """The cdk-nag finding id :meth:`grant_read_own` (and :meth:`grant_invoke`) raises on a grantee's policy."""
        return self._grant_finding(self.read_method)

    @property
    def read_all_grant_finding(self) -> str:
        """The cdk-nag finding id :meth:`grant_read_all` raises on a grantee's policy."""
        return self._grant_finding(self.read_all_method)

    @property
    def cancel_grant_finding(self) -> str:
        """The cdk-nag finding id :meth:`grant_cancel` raises on a grantee's policy."""
        return self._grant_finding(self._cancel_method_or_fail())

    @property
    def read_bulk_grant_finding(self) -> str:
        """The cdk-nag finding id :meth:`grant_read_bulk` raises on a grantee's policy."""
        return self._grant_finding(self._read_bulk_method_or_fail())

    @property
    def read_preferences_grant_finding(self) -> str:
        """The cdk-nag finding id :meth:`grant_read_preferences` raises on a grantee's policy."""
        return self._grant_finding(self._preferences_method_or_fail(self.read_preferences_method))

    @property
    def write_preferences_grant_finding(self) -> str:
        """The cdk-nag finding id :meth:`grant_write_preferences` raises on a grantee's policy."""
        return self._grant_finding(self._preferences_method_or_fail(self.write_preferences_method))

    def _grant_finding(self, method: apigw.Method) -> str:
        # A path parameter is * in the method ARN.
        return f"AwsSolutions-IAM5[Resource::{nag_resource(self, method.method_arn)}]"

    # ---- prop checks ----------------------------------------------------------------------------

    @staticmethod
    def _check_queue(queue: sqs.IQueue | None, workflow: NotificationWorkflow | None,
                     state_machine: sfn.IStateMachine | None, state_machine_key: kms.IKey | None) -> None:
        queued_input = workflow is not None and workflow.queued_input
        if queue is None:
            return  # a workflow with queued_input reads a request started directly as well
        if workflow is not None and not queued_input:
            raise PropError(_NAME, "queue", queue.node.path,
                            "POST would queue requests no pipe starts this workflow with: build the workflow "
                            "with queued_input=True and a BufferedIngress on that queue, or drop queue=.")
        for prop, value in (("state_machine", state_machine), ("state_machine_key", state_machine_key)):
            if value is not None:
                raise PropError(_NAME, prop, value,
                                f"With queue= POST sends to the queue and starts nothing: drop {prop}=.")

    @staticmethod
    def _check_preferences(table: dynamodb.ITable | None, time_zones: Sequence[str] | None) -> tuple[str, ...]:
        """The time zones quiet hours may name."""
        keys = [k.name for k in table.schema_v2().partition_keys] if isinstance(table, dynamodb.Table) else None
        if keys is not None and keys != ["recipientId"]:
            raise PropError(_NAME, "preferences_table", keys,
                            "Give a table whose partition key is recipientId (a string).")
        if time_zones is None:
            return ("UTC",)
        if table is None:
            raise PropError(_NAME, "preference_time_zones", time_zones,
                            "Time zones are for the preferences routes: give preferences_table= too, or drop them.")
        zones = tuple(time_zones) if not isinstance(time_zones, str) else ()
        known = zoneinfo.available_timezones()
        if not zones or len(set(zones)) != len(zones) or not all(isinstance(z, str) and z in known for z in zones):
            raise PropError(_NAME, "preference_time_zones", time_zones,
                            "Give distinct IANA time zone names, e.g. ['UTC', 'Europe/Paris', 'America/New_York'].")
        return zones

    @staticmethod
    def _check_per_key_throttling(api_key_required: bool, throttling: apigw.ThrottleSettings | None,
                                  stage_rate_limit: float, stage_burst_limit: int) -> None:
        if throttling is None:
            if api_key_required:
                raise PropError(_NAME, "per_key_throttling", None,
                                "With api_key_required, give per_key_throttling=apigw.ThrottleSettings("
                                "rate_limit=..., burst_limit=...): the limits each caller gets.")
            return
        if not api_key_required:
            raise PropError(_NAME, "per_key_throttling", throttling,
                            "Per-key limits need API keys: set api_key_required=True, or drop per_key_throttling.")
        rate_limit, burst_limit = throttling.rate_limit, throttling.burst_limit
        if rate_limit is None or burst_limit is None:
            # A missing limit is no limit at all for the key.
            raise PropError(_NAME, "per_key_throttling", throttling,
                            "Give both rate_limit and burst_limit.")
        # A key's limits above the stage's would never apply: the stage throttles first.
        require_number_between(_NAME, "per_key_throttling.rate_limit", rate_limit, 1, stage_rate_limit)
        # A float is refused by the check itself; the cast only tells mypy.
        require_int_between(_NAME, "per_key_throttling.burst_limit", cast(int, burst_limit), 1, stage_burst_limit)

    @staticmethod
    def _check_props(
        *,
        authorization: apigw.AuthorizationType,
        throttling_rate_limit: float,
        throttling_burst_limit: int,
        stage_name: str,
    ) -> None:
        if authorization not in (apigw.AuthorizationType.IAM, apigw.AuthorizationType.NONE):
            raise PropError(_NAME, "authorization", authorization,
                            "Use AuthorizationType.IAM (default) or NONE; Cognito and custom authorizers "
                            "need an authorizer, which this construct does not take.")
        require_number_between(_NAME, "throttling_rate_limit", throttling_rate_limit, 1, 10_000)
        require_int_between(_NAME, "throttling_burst_limit", throttling_burst_limit, 1, 5_000)
        if not is_token(stage_name) and (not isinstance(stage_name, str) or not _STAGE_NAME.match(stage_name)):
            raise PropError(_NAME, "stage_name", stage_name,
                            "Use 1-128 letters, digits, '_' or '-', e.g. 'v1'.")


def _request_schema(max_send_delay: cdk.Duration | None = None) -> apigw.JsonSchema:
    """The request contract as JSON Schema draft 4, for both dialects. It refuses what no channel
    could carry; a ``both`` with one channel's contact data invalid passes (the workflow sends the
    other channel and records this one REJECTED). With a ``recipientId`` a channel's contact data
    (``phoneNumber``, ``email.to``) may be left out, not given invalid: the workflow looks it up.
    A ``template`` stands for the message. The workflow checks everything again.
    ``max_send_delay``: ``sendAt`` or ``delaySeconds`` (not both) are accepted too."""
    js, t = apigw.JsonSchema, apigw.JsonSchemaType
    address = js(type=t.STRING, min_length=3)
    addresses = js(type=t.ARRAY, items=address)
    # SES takes at most 50 recipients per message. The counts are the email channel's contact data:
    # too many make that channel unusable, so a ``both`` can still go out by SMS.
    within_ses_limit = js(type=t.ARRAY, max_items=MAX_EMAIL_RECIPIENTS)
    one_or_more = js(one_of=[address, js(type=t.ARRAY, items=address, min_items=1, max_items=MAX_EMAIL_RECIPIENTS)])
    phone = js(properties={"phoneNumber": js(pattern=PHONE_PATTERN)}, required=["phoneNumber"])
    email_to = js(properties={"email": js(required=["to"], properties={
        "to": one_or_more, "cc": within_ses_limit, "bcc": within_ses_limit})}, required=["email"])
    # The older dialect's fields count only where the canonical field is absent (canonical wins).
    old_phone = js(any_of=[phone, js(properties={"user_phone": js(pattern=PHONE_PATTERN)}, required=["user_phone"],
                                     not_=js(required=["phoneNumber"]))])
    old_email_to = js(any_of=[email_to, js(required=["user_email"], not_=js(required=["email"]))])

    # A recipientId stands for the contact data left out (the canonical fields only).
    looked_up_phone = js(required=["recipientId"], not_=js(required=["phoneNumber"]))
    looked_up_email = js(required=["recipientId"], properties={"email": js(
        not_=js(required=["to"]), properties={"cc": within_ses_limit, "bcc": within_ses_limit})})

    def carried(channel_field: str, modes: list[str], contact: apigw.JsonSchema) -> apigw.JsonSchema:
        """A request whose channel field is one of ``modes``, with ``contact`` data valid."""
        return js(properties={channel_field: js(enum=modes)}, required=[channel_field], all_of=[contact])

    only_old = js(not_=js(required=["channel"]))
    carriers = [
        carried("channel", ["sms", "both"], js(any_of=[phone, looked_up_phone])),
        carried("channel", ["email", "both"], js(any_of=[email_to, looked_up_email])),
        js(all_of=[carried("delivery_mode", ["text", "dual"], old_phone), only_old]),
        js(all_of=[carried("delivery_mode", ["mail", "dual"], old_email_to), only_old]),
    ]
    message_text = js(type=t.STRING, min_length=1, max_length=_MAX_TEXT)
    # Scheduled sends: the workflow checks the time's form and window; the model caps the sizes
    # and refuses both fields together.
    schedule = {} if max_send_delay is None else {
        "sendAt": js(type=t.STRING, max_length=_MAX_SEND_AT),
        "delaySeconds": js(type=t.INTEGER, minimum=0,
                           maximum=None if max_send_delay.is_unresolved() else int(max_send_delay.to_seconds())),
    }
    # Every field the workflow reads, and no others: a misspelt field is refused, not ignored.
    return _closed_object_schema(
        "NotificationRequest",
        {
            "notificationId": js(type=t.STRING, pattern=ID_PATTERN),
            "channel": js(type=t.STRING, enum=["sms", "email", "both"]),
            "message": message_text,
            "phoneNumber": js(type=t.STRING),
            "email": js(
                type=t.OBJECT,
                additional_properties=False,
                properties={
                    "to": js(one_of=[js(type=t.STRING), js(type=t.ARRAY)]),
                    "subject": js(type=t.STRING, max_length=_MAX_SUBJECT),
                    "from": address,
                    "cc": addresses,
                    "bcc": addresses,
                    "replyTo": js(one_of=[address, addresses]),
                    "htmlBody": js(type=t.STRING, max_length=_MAX_TEXT),
                    "configurationSet": js(type=t.STRING),
                    "messageType": js(type=t.STRING),
                },
            ),
            "metadata": js(type=t.OBJECT),
            # The older dialect (see the README).
            "delivery_mode": js(type=t.STRING, enum=["text", "mail", "dual"]),
            "message_content": message_text,
            "user_phone": js(type=t.STRING),
            "user_email": address,
            **schedule,
            # Recipients, templates and preferences (issue 14).
            "recipientId": js(type=t.STRING, pattern=RECIPIENT_ID_PATTERN),
            "template": js(
                type=t.OBJECT,
                additional_properties=False,
                required=["name"],
                properties={
                    "name": js(type=t.STRING, pattern=TEMPLATE_NAME_PATTERN),
                    "data": js(type=t.OBJECT),
                    "locale": js(type=t.STRING, pattern=LOCALE_PATTERN),
                },
            ),
            "category": js(type=t.STRING, pattern=CATEGORY_PATTERN),
            "critical": js(type=t.BOOLEAN),
        },
        all_of=[
            js(any_of=[js(required=["message"]), js(required=["message_content"]), js(required=["template"])]),
            # At least one requested channel has valid contact data.
            js(any_of=carriers),
            *([js(not_=js(required=list(schedule)))] if schedule else []),
        ],
    )


def _preferences_schema(time_zones: Sequence[str]) -> apigw.JsonSchema:
    """A recipient's preferences as PUT takes them (JSON Schema draft 4): the item without its key
    and ``updatedAt``, which the path and the API give. Every field is optional; a field left out
    is removed from the stored preferences."""
    js, t = apigw.JsonSchema, apigw.JsonSchemaType
    time_of_day = js(type=t.STRING, pattern=TIME_OF_DAY_PATTERN)
    return _closed_object_schema(
        "RecipientPreferences",
        {
            "phoneNumber": js(type=t.STRING, pattern=PHONE_PATTERN),
            # The prop checks' pattern: an address's shape, no more.
            "email": js(type=t.STRING, max_length=_MAX_ADDRESS, pattern=_EMAIL.pattern),
            "locale": js(type=t.STRING, pattern=LOCALE_PATTERN),
            # category (or * for every category) -> the channels opted out of.
            "optOut": js(
                type=t.OBJECT,
                max_properties=_MAX_OPT_OUT_CATEGORIES,
                additional_properties=False,
                pattern_properties={_OPT_OUT_KEY_PATTERN: js(
                    type=t.ARRAY, min_items=1, unique_items=True,
                    items=js(type=t.STRING, enum=list(PREFERENCE_CHANNELS)))},
            ),
            "quietHours": js(
                type=t.OBJECT,
                additional_properties=False,
                required=["start", "end", "timeZone"],
                properties={"start": time_of_day, "end": time_of_day,
                            "timeZone": js(type=t.STRING, enum=list(time_zones))},
            ),
        },
    )


def _closed_object_schema(title: str, properties: dict[str, apigw.JsonSchema],
                          all_of: list[apigw.JsonSchema] | None = None) -> apigw.JsonSchema:
    """A JSON Schema draft 4 object of these properties and no others."""
    return apigw.JsonSchema(schema=apigw.JsonSchemaVersion.DRAFT4, title=title, type=apigw.JsonSchemaType.OBJECT,
                            additional_properties=False, properties=properties, all_of=all_of)
