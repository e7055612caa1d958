"""BulkSend: one message to many recipients, each sent by the notification workflow as its own
request, from a Distributed Map (issue 13 part 2)."""

from __future__ import annotations

import json
from typing import Any, cast

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from . import contract
from ._log_encryption import allow_logs_to_use_key
from ._nag import acknowledge_own_role_policy, nag_resource
from ._props import PropError, require_duration_between, require_int_between
from .delivery_log import CONDITIONAL_CHECK_FAILED, PARTITION_KEY
from .retry import DELIVERY_LOG_RETRY, DELIVERY_LOG_TRANSIENT_ERRORS
from .workflow import NotificationWorkflow

__all__ = [
    "BULK_FAILED",
    "BULK_RECORD_PREFIX",
    "DEFAULT_MAX_CONCURRENCY",
    "MAX_INLINE_RECIPIENTS",
    "RECIPIENT_NOT_SENT",
    "BulkSend",
    "bulk_record_key",
]

_NAME = "BulkSend"
#: Recipients a bulk request may carry inline (Step Functions' execution input is at most 256 KiB:
#: 500 recipients of a phone number, an address and an 80-character id fit with room for the message).
MAX_INLINE_RECIPIENTS = 500
#: A bulkId is 1 to 64 of ``A-Z a-z 0-9 _ -``, so ``<bulkId>-<index>`` stays a notificationId (at most 80).
BULK_ID_PATTERN = "^[A-Za-z0-9_-]{1,64}$"
#: The summary record's key is this prefix and the bulkId: ``#`` never occurs in a notificationId.
BULK_RECORD_PREFIX = "bulk#"
#: Concurrent recipients when the channel's send rate is not configured on the workflow.
DEFAULT_MAX_CONCURRENCY = 10
DEFAULT_TOLERATED_FAILURE_PERCENTAGE = 10
DEFAULT_TIMEOUT = cdk.Duration.days(7)
#: Error of a bulk whose recipients failed beyond the tolerance (or whose Map Run failed).
BULK_FAILED = "BulkFailed"
#: Error of one recipient's child execution whose notification was FAILED or REJECTED.
RECIPIENT_NOT_SENT = "RecipientNotSent"
_ALREADY_STARTED = "StepFunctions.ExecutionAlreadyExistsException"
_FORMATS = {"jsonl": "JSONL", "csv": "CSV"}


def bulk_record_key(bulk_id: str) -> str:
    """The delivery-log key of a bulk's summary record (``GetItem`` it with this
    ``notificationId``)."""
    return f"{BULK_RECORD_PREFIX}{bulk_id}"


class BulkSend(Construct):
    """A Standard state machine that sends one message to many recipients: a Distributed Map runs
    one child per recipient, which starts the notification workflow (``startExecution.sync:2``)
    with that recipient's request, named by its notificationId, so a bulk run twice sends nothing
    twice. A summary record (``bulk#<bulkId>``) in the delivery log counts the outcomes.

    The request, the keys, the limits and the summary are described in the README ("Bulk sends").

    :param workflow: the ``NotificationWorkflow`` each recipient is sent by (STANDARD; its
        notificationIds name the child executions, which Step Functions keeps unique).
    :param recipients_bucket: the bucket a request's ``recipientsObject`` may name (read with
        ``s3:GetObject`` under ``recipients_prefix``; an SSE-KMS key of the bucket is granted for
        decryption through S3). Default: none (recipients inline only).
    :param recipients_prefix: the key prefix lists must be under. Default: ``""`` (any key).
    :param max_concurrency: recipients sent at the same time, whatever the channel. Default: from the
        workflow's send rates (about one send a second per child): ``sms_max_parts_per_second`` for
        sms, ``ses_max_send_rate`` for email, the smaller for both; ``DEFAULT_MAX_CONCURRENCY`` (10)
        for a channel without a configured rate.
    :param tolerated_failure_percentage: the share of recipients (0 to 100) that may fail (FAILED
        or REJECTED) before the bulk stops and fails. Default: 10.
    :param timeout: the whole bulk. Default: 7 days.
    :param log_retention: retention of the bulk's execution log group. Default: one month.

    Attributes: :attr:`state_machine`, :attr:`log_group`, :attr:`max_concurrency_by_channel`.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        workflow: NotificationWorkflow,
        recipients_bucket: s3.IBucket | None = None,
        recipients_prefix: str = "",
        max_concurrency: int | None = None,
        tolerated_failure_percentage: int = DEFAULT_TOLERATED_FAILURE_PERCENTAGE,
        timeout: cdk.Duration = DEFAULT_TIMEOUT,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH,
    ) -> None:
        super().__init__(scope, construct_id)
        self._check_workflow(workflow)
        if max_concurrency is not None:
            require_int_between(_NAME, "max_concurrency", max_concurrency, 1, 10_000)
        require_int_between(_NAME, "tolerated_failure_percentage", tolerated_failure_percentage, 0, 100)
        require_duration_between(_NAME, "timeout", timeout, cdk.Duration.minutes(1), cdk.Duration.days(365))
        if not isinstance(recipients_prefix, str) or recipients_prefix.startswith("/") or "*" in recipients_prefix:
            raise PropError(_NAME, "recipients_prefix", recipients_prefix,
                            "Give a key prefix such as 'bulk/' (no leading '/', no '*').")
        self._workflow = workflow
        self._table = workflow.table
        self._bucket = recipients_bucket
        self._prefix = recipients_prefix
        self._tolerance = tolerated_failure_percentage
        #: MaxConcurrency per channel of the bulk request (sms, email, both).
        self.max_concurrency_by_channel = self._concurrency(workflow, max_concurrency)

        key = workflow.encryption_key
        log_group_name = f"/aws/vendedlogs/states/{cdk.Names.unique_id(self)}"
        allow_logs_to_use_key(self, key, [log_group_name])
        #: The bulk's execution log group (encrypted with the workflow's key).
        self.log_group = logs.LogGroup(
            self, "ExecutionLogs", log_group_name=log_group_name, retention=log_retention,
            encryption_key=key, removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        #: The bulk state machine (Standard).
        self.state_machine = sfn.StateMachine(
            self, "StateMachine",
            definition_body=sfn.DefinitionBody.from_chainable(self._definition()),
            query_language=sfn.QueryLanguage.JSONATA,
            state_machine_type=sfn.StateMachineType.STANDARD,
            timeout=timeout,
            tracing_enabled=True,
            logs=sfn.LogOptions(destination=self.log_group, level=sfn.LogLevel.ALL, include_execution_data=False),
        )
        self._grant()
        self._acknowledge_findings()

    # ---- props ---------------------------------------------------------------------------------

    @staticmethod
    def _check_workflow(workflow: NotificationWorkflow) -> None:
        if not isinstance(workflow, NotificationWorkflow):
            raise PropError(_NAME, "workflow", workflow, "Give the NotificationWorkflow to send with.")
        machine_type = cast(sfn.CfnStateMachine, workflow.state_machine.node.default_child).state_machine_type
        if machine_type == "EXPRESS":
            raise PropError(_NAME, "workflow", "EXPRESS",
                            "A bulk waits for each child execution (startExecution.sync:2) and relies on Step "
                            "Functions refusing a second execution of the same name: use a STANDARD workflow.")
        if workflow.queued_input:
            raise PropError(_NAME, "workflow", "queued_input=True",
                            "A bulk starts the workflow with a request object; a queued_input workflow reads it "
                            "too, but its records would be keyed as for a queue. Use a workflow without "
                            "queued_input.")

    @staticmethod
    def _concurrency(workflow: NotificationWorkflow, override: int | None) -> dict[str, int]:
        if override is not None:
            return {"sms": override, "email": override, "both": override}
        sms = workflow.sms_max_parts_per_second or DEFAULT_MAX_CONCURRENCY
        email = workflow.ses_max_send_rate or DEFAULT_MAX_CONCURRENCY
        return {"sms": max(1, sms), "email": max(1, email), "both": max(1, min(sms, email))}

    # ---- definition ----------------------------------------------------------------------------

    def _definition(self) -> sfn.IChainable:
        """ReadBulk -> ValidateBulk -> RecordBulkStart -> ReadRecipientsFrom -> one of SendToInlineRecipients,
        SendToJsonlRecipients, SendToCsvRecipients -> RecordBulkCompleted; a failed Map ->
        RecordBulkFailed -> BulkFailed; a rejected bulk -> RecordBulkRejection -> BulkRejected."""
        # A Choice's own Assign applies after its rules are evaluated: the bulk is read first.
        read = sfn.Pass.jsonata(self, "ReadBulk", assign={"bulk": self._bulk_expression()})
        validate = sfn.Choice.jsonata(self, "ValidateBulk")
        rejected = sfn.Fail.jsonata(self, "BulkRejected", error=contract.VALIDATION_ERROR,
                                    cause="{% $bulk.rejection %}")
        record_rejection = self._record_task("RecordBulkRejection", {
            "TableName": self._table.table_name,
            "Item": "{% " + contract.compact(
                '{"notificationId": {"S": "' + BULK_RECORD_PREFIX + '" & $bulk.bulkId}, '
                '"kind": {"S": "bulk"}, "bulkId": {"S": $bulk.bulkId}, "status": {"S": "REJECTED"}, '
                '"error": {"S": "' + contract.VALIDATION_ERROR + '"}, "reason": {"S": $bulk.rejection}, '
                '"executionArn": {"S": $states.context.Execution.Id}, '
                '"receivedAt": {"S": $states.context.State.EnteredTime}, '
                '"expiresAt": {"N": $string($floor($toMillis($states.context.State.EnteredTime) / 1000) + '
                + str(self._retention_seconds()) + ")}}") + " %}",
            # A rejected retry leaves an earlier run's summary as it was.
            "ConditionExpression": "attribute_not_exists(#id)",
            "ExpressionAttributeNames": {"#id": PARTITION_KEY},
        })
        record_rejection.add_catch(rejected, errors=[CONDITIONAL_CHECK_FAILED])
        record_rejection.next(rejected)
        validate.when(sfn.Condition.jsonata("{% $exists($bulk.rejection) %}"), record_rejection,
                      comment="not a bulk request this construct can send")

        start = self._record_task("RecordBulkStart", {
            "TableName": self._table.table_name,
            "Key": {PARTITION_KEY: {"S": "{% $bulk.key %}"}},
            "UpdateExpression": ("SET #kind = :kind, bulkId = :id, #status = :running, executionArn = :me, "
                                 "startedAt = :now, #source = :source, #total = :total, #counts = :none, "
                                 "expiresAt = :expires REMOVE #error, cause, completedAt ADD runs :one"),
            "ExpressionAttributeNames": {"#kind": "kind", "#status": "status", "#source": "source",
                                         "#total": "total", "#counts": "counts", "#error": "error"},
            "ExpressionAttributeValues": {
                ":kind": {"S": "bulk"}, ":id": {"S": "{% $bulk.bulkId %}"}, ":running": {"S": "RUNNING"},
                ":me": {"S": "{% $states.context.Execution.Id %}"},
                ":now": {"S": "{% $states.context.State.EnteredTime %}"},
                ":source": {"S": "{% $bulk.source %}"},
                # Known up front for an inline list; an S3 list's is set when the Map has read it all.
                ":total": "{% $exists($bulk.total) ? {\"N\": $string($bulk.total)} : {\"NULL\": true} %}",
                ":none": {"M": {}},
                ":expires": {"N": "{% $string($floor($toMillis($states.context.State.EnteredTime) / 1000) + "
                                  + str(self._retention_seconds()) + ") %}"},
                ":one": {"N": "1"},
            },
        }, output="{% $states.input %}")
        completed = self._record_task("RecordBulkCompleted", {
            "TableName": self._table.table_name,
            "Key": {PARTITION_KEY: {"S": "{% $bulk.key %}"}},
            "UpdateExpression": "SET #status = :completed, completedAt = :now, #total = :total",
            "ExpressionAttributeNames": {"#status": "status", "#total": "total"},
            "ExpressionAttributeValues": {
                ":completed": {"S": "COMPLETED"}, ":now": {"S": "{% $states.context.State.EnteredTime %}"},
                ":total": {"N": "{% $string($states.input.total) %}"},
            },
            "ReturnValues": "ALL_NEW",
        }, output="{% " + contract.compact(
            '{"bulkId": $bulk.bulkId, "summaryKey": $bulk.key, "status": "COMPLETED", '
            '"total": $number($states.result.Attributes.total.N), '
            '"counts": $merge([{}, $each($states.result.Attributes.counts.M, function($v, $k){{$k: $number($v.N)}})])}'
        ) + " %}")
        failed_end = sfn.Fail.jsonata(self, "BulkFailed", error=BULK_FAILED, cause="{% $states.input.Cause %}")
        record_failed = self._record_task("RecordBulkFailed", {
            "TableName": self._table.table_name,
            "Key": {PARTITION_KEY: {"S": "{% $bulk.key %}"}},
            "UpdateExpression": "SET #status = :failed, completedAt = :now, #error = :error, cause = :cause",
            "ExpressionAttributeNames": {"#status": "status", "#error": "error"},
            "ExpressionAttributeValues": {
                ":failed": {"S": "FAILED"}, ":now": {"S": "{% $states.context.State.EnteredTime %}"},
                ":error": {"S": "{% $states.input.Error %}"},
                ":cause": {"S": "{% $string($states.input.Cause) %}"},
            },
        }, output="{% $states.input %}")
        record_failed.next(failed_end)

        read_from = sfn.Choice.jsonata(self, "ReadRecipientsFrom")
        for label, condition, reader in (
            ("SendToInlineRecipients", '{% $bulk.source = "inline" %}', None),
            ("SendToJsonlRecipients", '{% $bulk.source = "jsonl" %}', "JSONL"),
            ("SendToCsvRecipients", '{% $bulk.source = "csv" %}', "CSV"),
        ):
            if reader is not None and self._bucket is None:
                continue
            fan_out = self._fan_out(label, reader)
            fan_out.add_catch(record_failed)
            read_from.when(sfn.Condition.jsonata(condition), fan_out.next(completed))
        read_from.otherwise(sfn.Fail.jsonata(self, "UnknownSource", error=contract.VALIDATION_ERROR,
                                             cause="No recipients source."))
        validate.otherwise(start.next(read_from))
        return read.next(validate)

    def _retention_seconds(self) -> int:
        return int(self._workflow._record_retention.to_seconds())

    def _bulk_expression(self) -> str:
        """The bulk read from the input: bulkId (else the execution name), the summary's key, the
        source (inline, jsonl or csv), the total of an inline list, the shared request fields, and
        ``rejection`` (the first broken rule's reason) when it cannot be sent."""
        bucket = self._bucket.bucket_name if self._bucket is not None else ""
        prefix = self._prefix
        formats = json.dumps(sorted(_FORMATS)) if self._bucket is not None else "[]"
        return "{% " + contract.compact(
            "("
            "$in := $states.input; "
            '$id := $exists($in.bulkId) ? $in.bulkId : $states.context.Execution.Name; '
            f'$idOk := $type($id) = "string" and $contains($id, /{BULK_ID_PATTERN}/); '
            '$inline := $exists($in.recipients); $object := $in.recipientsObject; '
            "$rejection := "
            f'$not($idOk) ? "bulkId must be 1 to 64 characters of A-Z a-z 0-9 _ -" : '
            '$type($in) != "object" ? "the bulk request must be a JSON object" : '
            '($inline = $exists($object)) ? "give recipients (a list) or recipientsObject, not both" : '
            f'($inline and ($type($in.recipients) != "array" or $count($in.recipients) < 1 '
            f'or $count($in.recipients) > {MAX_INLINE_RECIPIENTS})) '
            f'? "recipients must be a list of 1 to {MAX_INLINE_RECIPIENTS} recipients; '
            'put a longer list in S3 and give recipientsObject" : '
            '($not($inline) and ($type($object) != "object" '
            f'or $object.bucket != "{bucket}" or $type($object.key) != "string" '
            f'or $substring($object.key, 0, {len(prefix)}) != "{prefix}" or $length($object.key) <= {len(prefix)} '
            f"or $not($object.format in {formats}))) "
            f'? "recipientsObject must be {{bucket, key, format}} with bucket {bucket or "(none configured)"}, '
            f'a key under \\"{prefix}\\" and format jsonl or csv" : '
            '($type($in.message) != "string" or $length($in.message) = 0) ? "message must be a non-empty string" : '
            '$not($in.channel in ["sms", "email", "both"]) ? "channel must be sms, email or both" : '
            "undefined; "
            '$key := "' + BULK_RECORD_PREFIX + '" & ($idOk ? $id : $states.context.Execution.Name); '
            "$merge([{"
            '"bulkId": $idOk ? $id : $states.context.Execution.Name, "key": $key, '
            '"source": $inline ? "inline" : $object.format, '
            '"channel": $in.channel, "message": $in.message'
            "}, "
            '$inline and $type($in.recipients) = "array" ? {"total": $count($in.recipients)}, '
            '$exists($in.email) ? {"email": $in.email}, '
            '$exists($in.metadata) ? {"metadata": $in.metadata}, '
            '$exists($rejection) ? {"rejection": $rejection}'
            "])"
            ")"
        ) + " %}"

    def _fan_out(self, state_id: str, reader: str | None) -> sfn.CustomState:
        """A Distributed Map over the recipients: inline ``Items``, or an S3 object read as JSON
        Lines or CSV (header row). Each child is :meth:`_child_states`."""
        concurrency = self.max_concurrency_by_channel
        state: dict[str, Any] = {
            "Type": "Map",
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                "StartAt": "Recipient",
                "States": self._child_states(),
            },
            # Parent variables reach the children only through the ItemSelector.
            "ItemSelector": {
                "recipient": "{% $states.context.Map.Item.Value %}",
                "index": "{% $states.context.Map.Item.Index %}",
                "bulk": "{% $bulk %}",
            },
            "MaxConcurrency": (f'{{% $bulk.channel = "sms" ? {concurrency["sms"]} : '
                               f'($bulk.channel = "email" ? {concurrency["email"]} : {concurrency["both"]}) %}}'),
            "ToleratedFailurePercentage": self._tolerance,
            "Label": state_id,
            # The children's outputs are empty objects: the outcomes are counted on the summary record.
            "Output": "{% {\"total\": $count($states.result)} %}",
        }
        if reader is None:
            state["Items"] = "{% $states.input.recipients %}"
        else:
            reader_config: dict[str, Any] = {"InputType": reader}
            if reader == "CSV":
                reader_config["CSVHeaderLocation"] = "FIRST_ROW"
            state["ItemReader"] = {
                "Resource": f"arn:{cdk.Aws.PARTITION}:states:::s3:getObject",
                "ReaderConfig": reader_config,
                "Arguments": {"Bucket": "{% $states.input.recipientsObject.bucket %}",
                              "Key": "{% $states.input.recipientsObject.key %}"},
            }
        return sfn.CustomState(self, state_id, state_json=state)

    def _child_states(self) -> dict[str, Any]:
        """One recipient: Recipient (the request and the execution name) -> SendToRecipient
        (the workflow, ``startExecution.sync:2``, named by the notificationId) -> ReadOutcome (its
        record) -> CountOutcome (on the summary) -> RecipientDone, or RecipientNotSent (a failed
        child, counted against the tolerance) when the notification was not sent."""
        bulk, item = "$states.input.bulk", "$states.input.recipient"
        request = contract.compact(
            "("
            f"$r := $type({item}) = \"object\" ? {item} : {{}}; "
            # CSV leaves empty columns as empty strings: those are absent.
            '$given := function($v){$exists($v) and $v != ""}; '
            "$merge([{"
            f'"notificationId": $given($r.notificationId) ? $r.notificationId : $name, '
            f'"channel": {bulk}.channel, "message": {bulk}.message, '
            f'"metadata": $type({bulk}.metadata) = "object" or $not($exists({bulk}.metadata)) '
            f'? $merge([{{}}, {bulk}.metadata, {{"bulkId": {bulk}.bulkId}}]) : {bulk}.metadata'
            "}, "
            '$given($r.phoneNumber) ? {"phoneNumber": $r.phoneNumber}, '
            f'($exists({bulk}.email) or $given($r.email)) ? {{"email": $merge([{{}}, {bulk}.email, '
            '$given($r.email) ? {"to": $r.email}])}'
            "])"
            ")"
        )
        name = contract.compact(
            "("
            f"$own := {item}.notificationId; "
            '($type($own) = "string" and $contains($own, /^[A-Za-z0-9_-]{1,80}$/)) ? $own '
            f': {bulk}.bulkId & "-" & $string($states.input.index)'
            ")"
        )
        workflow_arn = self._workflow.state_machine.state_machine_arn
        return {
            "Recipient": {
                "Type": "Pass",
                "Comment": "The execution name: the recipient's notificationId when valid, else <bulkId>-<index>.",
                "Assign": {"name": "{% " + name + " %}", "summaryKey": f"{{% {bulk}.key %}}", "failed": False},
                "Next": "BuildRequest",
            },
            "BuildRequest": {
                "Type": "Pass",
                "Assign": {"request": "{% " + request + " %}"},
                "Next": "SendToRecipient",
            },
            "SendToRecipient": {
                "Type": "Task",
                "Resource": f"arn:{cdk.Aws.PARTITION}:states:::states:startExecution.sync:2",
                "Arguments": {"StateMachineArn": workflow_arn, "Name": "{% $name %}", "Input": "{% $request %}"},
                "Retry": [{"ErrorEquals": ["StepFunctions.ExecutionLimitExceededException",
                                           "StepFunctions.SdkClientException"],
                           "IntervalSeconds": 2, "MaxAttempts": 5, "BackoffRate": 2, "JitterStrategy": "FULL"}],
                "Catch": [
                    # The name is taken: this recipient was started before (a retried bulk).
                    {"ErrorEquals": [_ALREADY_STARTED], "Next": "CountOutcome",
                     "Assign": {"status": "DUPLICATE"}},
                    # The child execution failed (FAILED or REJECTED): its record says which.
                    {"ErrorEquals": ["States.TaskFailed"], "Next": "ReadOutcome", "Assign": {"failed": True}},
                ],
                "Output": {},
                "Next": "ReadOutcome",
            },
            "ReadOutcome": {
                "Type": "Task",
                "Resource": f"arn:{cdk.Aws.PARTITION}:states:::dynamodb:getItem",
                "Arguments": {
                    "TableName": self._table.table_name,
                    "Key": {PARTITION_KEY: {"S": "{% $name %}"}},
                    "ConsistentRead": True,
                    "ProjectionExpression": "#s, executionArn",
                    "ExpressionAttributeNames": {"#s": "status"},
                },
                # A record another execution wrote (the id was used before) is that request's.
                "Assign": {"status": "{% " + contract.compact(
                    "($item := $states.result.Item; "
                    f'$ours := $replace("{workflow_arn}", ":stateMachine:", ":execution:") & ":" & $name; '
                    "$not($exists($item)) ? ($failed ? \"FAILED\" : \"UNKNOWN\") : "
                    '$item.executionArn.S = $ours ? $item.status.S : ($failed ? "REJECTED" : "DUPLICATE"))'
                ) + " %}"},
                "Next": "CountOutcome",
            },
            "CountOutcome": {
                "Type": "Task",
                "Resource": f"arn:{cdk.Aws.PARTITION}:states:::dynamodb:updateItem",
                "Arguments": {
                    "TableName": self._table.table_name,
                    "Key": {PARTITION_KEY: {"S": "{% $summaryKey %}"}},
                    "UpdateExpression": "SET #counts.#s = if_not_exists(#counts.#s, :zero) + :one",
                    "ExpressionAttributeNames": {"#counts": "counts", "#s": "{% $status %}"},
                    "ExpressionAttributeValues": {":zero": {"N": "0"}, ":one": {"N": "1"}},
                },
                "Retry": [{"ErrorEquals": list(DELIVERY_LOG_TRANSIENT_ERRORS), "IntervalSeconds": 1,
                           "MaxAttempts": 4, "BackoffRate": 2, "JitterStrategy": "FULL"}],
                "Next": "WasSent",
            },
            "WasSent": {
                "Type": "Choice",
                "Choices": [{"Condition": "{% $failed %}", "Next": "RecipientNotSent"}],
                "Default": "RecipientDone",
            },
            "RecipientNotSent": {"Type": "Fail", "Error": RECIPIENT_NOT_SENT, "Cause": "{% $name & ': ' & $status %}"},
            "RecipientDone": {"Type": "Succeed", "Output": {}},
        }

    def _record_task(self, state_id: str, arguments: dict[str, Any], *, output: str | None = None
                     ) -> sfn.CustomState:
        resource = "putItem" if "Item" in arguments else "updateItem"
        state_json: dict[str, Any] = {
            "Type": "Task", "Resource": f"arn:{cdk.Aws.PARTITION}:states:::dynamodb:{resource}",
            "Arguments": arguments, "TimeoutSeconds": 30,
        }
        if output is not None:
            state_json["Output"] = output
        state = sfn.CustomState(self, state_id, state_json=state_json)
        DELIVERY_LOG_RETRY.apply(state, transient_errors=DELIVERY_LOG_TRANSIENT_ERRORS)
        return state

    # ---- IAM -----------------------------------------------------------------------------------

    def _grant(self) -> None:
        stack = cdk.Stack.of(self)
        role = self.state_machine
        cfn_machine = cast(sfn.CfnStateMachine, self.state_machine.node.default_child)
        workflow = self._workflow.state_machine
        # The workflow's children, and this machine's own Distributed Map children. This machine's
        # ARN would depend on its role: its generated name holds the logical id (as the workflow's key
        # condition does it).
        own_machines = stack.format_arn(service="states", resource="stateMachine",
                                        resource_name=f"*{cfn_machine.logical_id}*",
                                        arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME)
        own_executions = stack.format_arn(service="states", resource="execution",
                                          resource_name=f"*{cfn_machine.logical_id}*",
                                          arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME)
        workflow_executions = stack.format_arn(service="states", resource="execution",
                                               resource_name=f"{workflow.state_machine_name}:*",
                                               arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME)
        self._own_arns = (own_machines, own_executions)
        self._workflow_executions = workflow_executions
        role.add_to_role_policy(iam.PolicyStatement(
            actions=["states:StartExecution"], resources=[workflow.state_machine_arn, own_machines]))
        role.add_to_role_policy(iam.PolicyStatement(
            actions=["states:DescribeExecution", "states:StopExecution"],
            resources=[workflow_executions, own_executions]))
        # What .sync uses on AWS to learn that a child execution ended (as CDK's StepFunctionsStartExecution).
        role.add_to_role_policy(iam.PolicyStatement(
            actions=["events:PutTargets", "events:PutRule", "events:DescribeRule"],
            resources=[stack.format_arn(service="events", resource="rule",
                                        resource_name="StepFunctionsGetEventsForStepFunctionsExecutionRule")]))
        role.add_to_role_policy(iam.PolicyStatement(
            actions=["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"],
            resources=[self._table.table_arn]))
        table_key = self._table.encryption_key
        if table_key is not None:
            role.add_to_role_policy(iam.PolicyStatement(
                actions=["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"], resources=[table_key.key_arn],
                conditions={"StringEquals": {"kms:ViaService": f"dynamodb.{stack.region}.amazonaws.com"}}))
        # Starting (and describing) an execution of a machine encrypted with a customer-managed key
        # uses that key under the machine's ARN; this machine's own data is under the same key.
        key = self._workflow.encryption_key
        cfn_machine.encryption_configuration = sfn.CfnStateMachine.EncryptionConfigurationProperty(
            type="CUSTOMER_MANAGED_KMS_KEY", kms_key_id=key.key_arn, kms_data_key_reuse_period_seconds=300)
        role.add_to_role_policy(iam.PolicyStatement(
            actions=["kms:Decrypt", "kms:GenerateDataKey"], resources=[key.key_arn],
            conditions={"ArnLike": {"kms:EncryptionContext:aws:states:stateMachineArn": [
                workflow.state_machine_arn, own_machines]}}))
        role.add_to_role_policy(iam.PolicyStatement(
            actions=["kms:GenerateDataKey"], resources=[key.key_arn],
            conditions={"ArnLike": {"kms:EncryptionContext:SourceArn": stack.format_arn(
                service="logs", resource="*", arn_format=cdk.ArnFormat.NO_RESOURCE_NAME)}}))
        if self._bucket is not None:
            role.add_to_role_policy(iam.PolicyStatement(
                actions=["s3:GetObject"], resources=[self._bucket.arn_for_objects(f"{self._prefix}*")]))
            bucket_key = self._bucket.encryption_key
            if bucket_key is not None:
                role.add_to_role_policy(iam.PolicyStatement(
                    actions=["kms:Decrypt"], resources=[bucket_key.key_arn],
                    conditions={"StringEquals": {"kms:ViaService": f"s3.{stack.region}.amazonaws.com"}}))

    def _acknowledge_findings(self) -> None:
        role_policy = self.state_machine.role.node.find_child("DefaultPolicy")
        acknowledge_own_role_policy(role_policy, "the bulk machine's")
        acknowledged = [
            ("AwsSolutions-IAM5[Resource::*]",
             "The CloudWatch Logs delivery actions Step Functions logging uses and X-Ray tracing have no "
             "resource-level permissions."),
        ]
        own = ("The bulk machine's ARN would depend on its role, so its Distributed Map grants (StartExecution on "
               "itself, Describe/StopExecution and the key on its child executions) match its generated name, "
               "which holds its logical id.")
        for resource in self._own_arns:
            acknowledged.append((f"AwsSolutions-IAM5[Resource::{nag_resource(self, resource)}]", own))
        acknowledged.append((
            f"AwsSolutions-IAM5[Resource::{nag_resource(self, self._workflow_executions)}]",
            "The workflow's executions are named per recipient at run time; .sync describes (and may stop) them."))
        if self._bucket is not None:
            acknowledged.append((
                f"AwsSolutions-IAM5[Resource::{nag_resource(self, self._bucket.arn_for_objects(self._prefix + '*'))}]",
                "Recipient lists are objects named per bulk under the configured prefix."))
        for finding, reason in acknowledged:
            cdk.Validations.of(self.state_machine).acknowledge(cdk.Acknowledgment(id=finding, reason=reason))
