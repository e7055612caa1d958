"""What AWS authorizes for one API call: the IAM action and resource ARN, plus the KMS calls the
service makes on the caller's behalf when the resource is under a customer-managed key.

A call this module does not know is refused (with a reason that says so): a new integration
must get its rule here before the local engine can claim it would be allowed.
"""

from __future__ import annotations

from collections.abc import Mapping
from email.utils import parseaddr
from typing import Any

from moto.dynamodb.models import dynamodb_backends
from moto.kms.models import kms_backends
from moto.s3.models import s3_backends
from moto.ses.models import ses_backends
from moto.sns.models import sns_backends
from moto.sqs.models import sqs_backends
from moto.stepfunctions.parser.models import stepfunctions_parser_backends

from local_aws.access.check import AccessRequest, ContextValue

#: DynamoDB item operations (all authorize on the table).
DYNAMODB_ITEM_OPERATIONS = frozenset({"PutItem", "UpdateItem", "GetItem", "DeleteItem", "Query", "Scan"})
#: SES operations that send mail (authorized on the sending identity and the configuration set).
SES_SEND_OPERATIONS = frozenset({"SendEmail", "SendRawEmail", "SendTemplatedEmail", "SendBulkEmail"})
#: SES v2 operations and what they authorize on (service authorization reference): (ARN kind, parameter).
SES_V2_RESOURCES: dict[str, tuple[str | None, str]] = {
    **{op: ("contact-list", "ContactListName") for op in (
        "GetContact", "GetContactList", "ListContacts", "CreateContact", "UpdateContact", "DeleteContact")},
    **{op: ("template", "TemplateName") for op in (
        "GetEmailTemplate", "CreateEmailTemplate", "UpdateEmailTemplate", "DeleteEmailTemplate")},
    **{op: (None, "") for op in (
        "GetSuppressedDestination", "PutSuppressedDestination", "DeleteSuppressedDestination",
        "ListSuppressedDestinations", "ListEmailTemplates")},
}
#: SQS operations of a queue's consumer, and the IAM action each authorizes as.
SQS_CONSUMER_OPERATIONS = {
    "ReceiveMessage": "ReceiveMessage",
    "DeleteMessage": "DeleteMessage",
    "DeleteMessageBatch": "DeleteMessage",
    "ChangeMessageVisibility": "ChangeMessageVisibility",
    "ChangeMessageVisibilityBatch": "ChangeMessageVisibility",
    "GetQueueAttributes": "GetQueueAttributes",
}


class UnmodelledCall(Exception):
    """The call has no rule in this module."""


def requests_for_call(
    *,
    principal: str,
    iam_prefix: str,
    operation: str,
    params: Mapping[str, Any],
    account_id: str,
    region: str,
    caller: str,
    source: Mapping[str, ContextValue] | None = None,
) -> list[AccessRequest]:
    """The authorizations for ``iam_prefix:operation`` called with the API ``params``.
    ``source`` carries ``aws:SourceArn``/``aws:SourceAccount`` when a service principal calls."""
    context = dict(source or {})
    resources = ResourceKeys(account_id, region)

    def ask(action: str, resource: str, extra: Mapping[str, ContextValue] | None = None) -> AccessRequest:
        return AccessRequest(principal, action, resource, {**context, **(extra or {})}, caller)

    action = f"{iam_prefix}:{operation}"
    if iam_prefix == "sns" and operation == "Publish":
        topic_arn = params.get("TopicArn") or params.get("TargetArn")
        if not topic_arn:
            return [ask(action, "*")]  # SMS straight to a phone number has no resource
        key = resources.sns_topic_key(topic_arn)
        return [ask(action, topic_arn), *resources.kms(
            ask, key, ("kms:GenerateDataKey", "kms:Decrypt"), "sns", {"aws:sns:topicArn": topic_arn})]
    if iam_prefix == "ses" and operation in SES_SEND_OPERATIONS:
        sender = params.get("FromEmailAddress") or params.get("Source") or ""
        identity = resources.ses_identity(sender)
        extra = {"ses:FromAddress": parseaddr(sender)[1]}
        asked = [ask(action, resources.arn("ses", f"identity/{identity}"), extra)]
        configuration_set = params.get("ConfigurationSetName")
        if configuration_set:
            asked.append(ask(action, resources.arn("ses", f"configuration-set/{configuration_set}"), extra))
        template = ((params.get("Content") or {}).get("Template") or {}).get("TemplateName")
        if template:  # a v2 send from a stored template (ListManagementOptions authorizes on nothing)
            asked.append(ask(action, resources.arn("ses", f"template/{template}"), extra))
        return asked
    if iam_prefix == "ses" and operation in SES_V2_RESOURCES:
        # SES v2 reads and writes on a contact list or a template; the account's suppression list
        # authorizes on "*" (a tenant's would be on the tenant, not modelled).
        kind, key = SES_V2_RESOURCES[operation]
        if params.get("TenantName"):
            raise UnmodelledCall(f"{action} with TenantName: no access rule for tenants")
        return [ask(action, resources.arn("ses", f"{kind}/{params[key]}") if kind else "*")]
    if iam_prefix == "dynamodb" and operation in DYNAMODB_ITEM_OPERATIONS:
        table = str(params["TableName"])
        table_arn = resources.arn("dynamodb", f"table/{table}")
        index = params.get("IndexName")
        key = resources.dynamodb_table_key(table)
        # A query of an index is authorized on the index; DynamoDB decrypts the table key with the
        # caller's permission on every item request.
        return [ask(action, f"{table_arn}/index/{index}" if index else table_arn), *resources.kms(
            ask, key, ("kms:Decrypt",), "dynamodb",
            {"aws:dynamodb:tableName": table, "aws:dynamodb:subscriberId": account_id})]
    if iam_prefix == "sqs" and operation in ("SendMessage", "SendMessageBatch"):
        queue_name = str(params["QueueUrl"]).rstrip("/").rsplit("/", 1)[-1]
        queue_arn = resources.arn("sqs", queue_name)
        key = resources.sqs_queue_key(queue_name)
        return [ask("sqs:SendMessage", queue_arn), *resources.kms(
            ask, key, ("kms:GenerateDataKey", "kms:Decrypt"), "sqs", {"aws:sqs:arn": queue_arn})]
    if iam_prefix == "sqs" and operation in SQS_CONSUMER_OPERATIONS:
        # What a consumer (an EventBridge pipe, a Lambda event source) does with its queue; a batch
        # operation authorizes as its single form, and reading an encrypted queue decrypts its key.
        queue_name = str(params["QueueUrl"]).rstrip("/").rsplit("/", 1)[-1]
        queue_arn = resources.arn("sqs", queue_name)
        asked = [ask(f"sqs:{SQS_CONSUMER_OPERATIONS[operation]}", queue_arn)]
        if operation == "ReceiveMessage":
            asked += resources.kms(ask, resources.sqs_queue_key(queue_name), ("kms:Decrypt",), "sqs",
                                   {"aws:sqs:arn": queue_arn})
        return asked
    if iam_prefix == "states" and operation in ("StartExecution", "StartSyncExecution"):
        machine_arn = str(params["stateMachineArn"])
        key = resources.state_machine_key(machine_arn)
        return [ask(action, machine_arn), *resources.kms(
            ask, key, ("kms:GenerateDataKey",), "states", {"aws:states:stateMachineArn": machine_arn})]
    if iam_prefix == "states" and operation in ("DescribeExecution", "StopExecution"):
        # A Distributed Map's role on its child executions (local_aws.access.enforce.check_distributed_map_runs).
        return [ask(action, str(params["executionArn"]))]
    if iam_prefix == "s3" and operation in ("GetObject", "PutObject"):
        # A Distributed Map's ItemReader (GetObject) and ResultWriter (PutObject). S3 decrypts an
        # SSE-KMS object with the caller's permission, under the object's ARN as encryption context
        # (the bucket's ARN when the object uses an S3 Bucket Key).
        bucket, object_key = str(params["Bucket"]), str(params["Key"])
        object_arn = f"arn:aws:s3:::{bucket}/{object_key}"
        kms_key, bucket_key = (resources.s3_object_key(bucket, object_key) if operation == "GetObject"
                               else resources.s3_default_key(bucket, params))
        kms_actions = ("kms:Decrypt",) if operation == "GetObject" else ("kms:GenerateDataKey",)
        context_arn = f"arn:aws:s3:::{bucket}" if bucket_key else object_arn
        return [ask(action, object_arn), *resources.kms(ask, kms_key, kms_actions, "s3", {"aws:s3:arn": context_arn})]
    if iam_prefix == "scheduler" and operation == "CreateSchedule":
        # The schedule, the role handed to it (iam:PassRole, to Scheduler only) and, with a
        # customer-managed key, the data key Scheduler makes with the caller's permission. Which KMS
        # actions and encryption context Scheduler uses is not documented: both are assumed here.
        group = str(params.get("GroupName") or "default")
        asked = [ask(action, resources.arn("scheduler", f"schedule/{group}/{params['Name']}"))]
        role_arn = (params.get("Target") or {}).get("RoleArn")
        if role_arn:
            asked.append(ask("iam:PassRole", str(role_arn), {"iam:PassedToService": "scheduler.amazonaws.com"}))
        return asked + resources.kms(ask, resources.key_arn(params.get("KmsKeyArn")),
                                     ("kms:GenerateDataKey", "kms:Decrypt"), "scheduler", {})
    if iam_prefix == "sms-voice":  # End User Messaging SMS: its rules live beside the emulation
        from local_aws.sms_voice import sms_voice_requests

        return sms_voice_requests(ask, resources, operation, params)
    raise UnmodelledCall(f"{action}: no access rule in local_aws.access.calls; add one before relying on it")


class ResourceKeys:
    """Reads the KMS keys and identities behind resources from moto's backends."""

    def __init__(self, account_id: str, region: str) -> None:
        self.account_id = account_id
        self.region = region

    def arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{self.region}:{self.account_id}:{resource}"

    def kms(self, ask: Any, key_arn: str | None, actions: tuple[str, ...], via: str,
            encryption_context: Mapping[str, str]) -> list[AccessRequest]:
        """The KMS requests a service makes for the caller (none without a customer-managed key)."""
        if key_arn is None:
            return []
        context: dict[str, ContextValue] = {
            "kms:ViaService": f"{via}.{self.region}.amazonaws.com",
            "kms:CallerAccount": self.account_id,
            "kms:EncryptionContextKeys": sorted(encryption_context),
            **{f"kms:EncryptionContext:{k}": v for k, v in encryption_context.items()},
        }
        return [ask(action, key_arn, context) for action in actions]

    def key_arn(self, key_reference: str | None) -> str | None:
        """The ARN of a customer-managed key from an id, ARN or alias; None for none or an AWS
        managed key (``alias/aws/...``), whose policy lets every principal of the account use it."""
        if not key_reference or str(key_reference).startswith("alias/aws/"):
            return None
        backend = kms_backends[self.account_id][self.region]
        try:
            key = backend.keys[backend.any_id_to_key_id(str(key_reference))]
        except (KeyError, TypeError, AttributeError):
            return None
        # moto resolves a service's default encryption to the ARN of its alias/aws/<service> key.
        if key.key_manager == "AWS" or any(alias.startswith("alias/aws/") for alias in key.aliases):
            return None
        return str(key.arn)

    def sns_topic_key(self, topic_arn: str) -> str | None:
        topic = sns_backends[self.account_id][self.region].topics.get(topic_arn)
        return self.key_arn(getattr(topic, "kms_master_key_id", None))

    def sqs_queue_key(self, queue_name: str) -> str | None:
        queue = sqs_backends[self.account_id][self.region].queues.get(queue_name)
        return self.key_arn(getattr(queue, "kms_master_key_id", None))

    def dynamodb_table_key(self, table_name: str) -> str | None:
        table = dynamodb_backends[self.account_id][self.region].tables.get(table_name)
        sse = getattr(table, "sse_specification", None) or {}
        if not (sse.get("Enabled") or sse.get("SSEEnabled")) or sse.get("SSEType", "KMS") != "KMS":
            return None
        return self.key_arn(sse.get("KMSMasterKeyId"))

    def state_machine_key(self, machine_arn: str) -> str | None:
        backend = stepfunctions_parser_backends[self.account_id][self.region]
        machine = next((m for m in backend.state_machines if m.arn == machine_arn), None)
        configuration = getattr(machine, "encryptionConfiguration", None) or {}
        if configuration.get("type") != "CUSTOMER_MANAGED_KMS_KEY":
            return None
        return self.key_arn(configuration.get("kmsKeyId"))

    def s3_object_key(self, bucket: str, object_key: str) -> tuple[str | None, bool]:
        """The customer-managed key an S3 object is encrypted under (None for none, SSE-S3 or the
        AWS managed key) and whether it uses an S3 Bucket Key."""
        try:
            found = s3_backends[self.account_id]["global"].get_object(bucket, object_key)
        except Exception:  # no such bucket: S3 itself answers the call
            found = None
        if found is None or getattr(found, "encryption", None) != "aws:kms":
            return None, False
        return self.key_arn(found.kms_key_id), str(found.bucket_key_enabled).lower() == "true"

    def s3_default_key(self, bucket: str, params: Mapping[str, Any]) -> tuple[str | None, bool]:
        """The customer-managed key a new object is written under: the request's, else the bucket's default."""
        rule: Mapping[str, Any] = {}
        try:
            encryption = s3_backends[self.account_id]["global"].get_bucket(bucket).encryption
            rule = (encryption or {}).get("Rule") or {}
        except Exception:
            pass
        default = rule.get("ApplyServerSideEncryptionByDefault") or {}
        algorithm = params.get("ServerSideEncryption") or default.get("SSEAlgorithm")
        if algorithm != "aws:kms":
            return None, False
        key = params.get("SSEKMSKeyId") or default.get("KMSMasterKeyID")
        bucket_key = params.get("BucketKeyEnabled", rule.get("BucketKeyEnabled", False))
        return self.key_arn(key), str(bucket_key).lower() == "true"

    def ses_identity(self, sender: str) -> str:
        """The identity SES authorizes a send on: the address when it is itself verified, else its domain."""
        address = parseaddr(sender)[1]
        identities = ses_backends[self.account_id][self.region].email_identities
        return address if address in identities else address.rsplit("@", 1)[-1]
