"""What the access check needs from a template and moto 5.2.5's CloudFormation drops.

- ``AWS::SQS::QueuePolicy`` and ``AWS::SNS::TopicPolicy`` are skipped, so queues and topics
  keep no resource policy; these bridges attach the policy to each queue or topic named.
- ``AWS::SNS::Subscription`` is skipped, so a topic delivers nowhere; this subscribes.
- ``AWS::StepFunctions::StateMachine``'s ``EncryptionConfiguration`` is dropped, so a machine
  under a customer-managed key looks unencrypted; this keeps it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any
from unittest import mock

import moto.cloudformation.parsing as cfn_parsing
import moto.stepfunctions.models as sfn_models

from local_aws.bridges import CloudFormationModelStub


class _AttachedPolicy(CloudFormationModelStub):
    """A CloudFormation model for a policy resource that writes onto existing resources."""

    resource_type = ""

    def __init__(self, physical_id: str) -> None:
        self.physical_resource_id = physical_id

    @classmethod
    def cloudformation_type(cls) -> str:
        return cls.resource_type

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @classmethod
    def attach(cls, document: dict[str, Any], properties: dict[str, Any], account_id: str, region_name: str) -> None:
        raise NotImplementedError

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str,
        **kwargs: Any,
    ) -> _AttachedPolicy:
        properties = cloudformation_json.get("Properties", {})
        cls.attach(dict(properties["PolicyDocument"]), properties, account_id, region_name)
        return cls(resource_name)


class _QueuePolicy(_AttachedPolicy):
    resource_type = "AWS::SQS::QueuePolicy"

    @classmethod
    def attach(cls, document: dict[str, Any], properties: dict[str, Any], account_id: str, region_name: str) -> None:
        from moto.sqs.models import sqs_backends

        backend = sqs_backends[account_id][region_name]
        for queue_url in properties.get("Queues", []):
            backend.queues[str(queue_url).rstrip("/").rsplit("/", 1)[-1]].policy = json.dumps(document)


class _TopicPolicy(_AttachedPolicy):
    resource_type = "AWS::SNS::TopicPolicy"

    @classmethod
    def attach(cls, document: dict[str, Any], properties: dict[str, Any], account_id: str, region_name: str) -> None:
        from moto.sns.models import sns_backends

        backend = sns_backends[account_id][region_name]
        for topic_arn in properties.get("Topics", []):
            backend.topics[topic_arn]._policy_json = document


class _Subscription(_AttachedPolicy):
    """``AWS::SNS::Subscription``, which moto skips: the topic gets its subscription."""

    resource_type = "AWS::SNS::Subscription"

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str,
        **kwargs: Any,
    ) -> _AttachedPolicy:
        from moto.sns.models import sns_backends

        properties = cloudformation_json.get("Properties", {})
        backend = sns_backends[account_id][region_name]
        subscription = backend.subscribe(properties["TopicArn"], properties["Endpoint"], properties["Protocol"])
        for name in ("RawMessageDelivery", "FilterPolicy", "FilterPolicyScope", "RedrivePolicy"):
            if name in properties:
                value = properties[name]
                backend.set_subscription_attributes(
                    subscription.arn, name, value if isinstance(value, str) else json.dumps(value))
        return cls(subscription.arn)


@contextmanager
def model_resource_policies_in_cloudformation() -> Iterator[None]:
    """Queue and topic policies from templates are attached to their queues and topics, and topic
    subscriptions are made."""
    original = cfn_parsing.resource_class_from_type
    models = {model.resource_type: model for model in (_QueuePolicy, _TopicPolicy, _Subscription)}

    def resource_class_from_type(resource_type: str) -> Any:
        return models.get(resource_type) or original(resource_type)

    with mock.patch.object(cfn_parsing, "resource_class_from_type", resource_class_from_type):
        yield


@contextmanager
def keep_state_machine_encryption() -> Iterator[None]:
    """A state machine made by CloudFormation keeps its ``EncryptionConfiguration``."""
    original = sfn_models.StateMachine.create_from_cloudformation_json.__func__  # type: ignore[attr-defined]

    def create(cls: Any, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str,
               **kwargs: Any) -> Any:
        machine = original(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        configuration = cloudformation_json.get("Properties", {}).get("EncryptionConfiguration")
        if configuration:
            machine.encryptionConfiguration = {
                "type": configuration["Type"],
                **({"kmsKeyId": configuration["KmsKeyId"]} if "KmsKeyId" in configuration else {}),
                **({"kmsDataKeyReusePeriodSeconds": int(configuration["KmsDataKeyReusePeriodSeconds"])}
                   if "KmsDataKeyReusePeriodSeconds" in configuration else {}),
            }
        return machine

    with ExitStack() as stack:
        stack.enter_context(mock.patch.object(
            sfn_models.StateMachine, "create_from_cloudformation_json", classmethod(create)))
        yield
