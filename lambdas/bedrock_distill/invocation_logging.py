"""Owning the account's Bedrock model-invocation logging configuration without losing the user's.

Logging is one setting per account and Region, and no CloudFormation resource exists for it. When we
install ours we record what was there; when we uninstall we put that back, but only if the setting is
still ours, so a configuration someone set after us is never clobbered.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from bedrock_distill.aws import LazyClient

LoggingConfiguration = dict[str, Any]


def desired_configuration(bucket_name: str, key_prefix: str) -> LoggingConfiguration:
    """Text prompts and answers to our bucket: what distillation from invocation logs reads."""
    return {
        "s3Config": {"bucketName": bucket_name, "keyPrefix": key_prefix},
        "textDataDeliveryEnabled": True,
        "imageDataDeliveryEnabled": False,
        "embeddingDataDeliveryEnabled": False,
    }


def is_ours(configuration: LoggingConfiguration | None, bucket_name: str, key_prefix: str) -> bool:
    s3_config = (configuration or {}).get("s3Config") or {}
    return s3_config.get("bucketName") == bucket_name and s3_config.get("keyPrefix", "") == key_prefix


class InvocationLoggingGateway:
    def __init__(self, bedrock: LazyClient | None = None) -> None:
        self._bedrock = bedrock or LazyClient("bedrock")

    def get(self) -> LoggingConfiguration | None:
        response = self._bedrock.client.get_model_invocation_logging_configuration()
        configuration: LoggingConfiguration | None = response.get("loggingConfig") or None
        return configuration

    def put(self, configuration: LoggingConfiguration) -> None:
        self._bedrock.client.put_model_invocation_logging_configuration(loggingConfig=configuration)

    def delete(self) -> None:
        self._bedrock.client.delete_model_invocation_logging_configuration()


@dataclass(frozen=True)
class RecordedConfiguration:
    """What the account had before we installed ours; `configuration` None means logging was off."""

    configuration: LoggingConfiguration | None


class PreviousConfigurationStore:
    """The recorded configuration, in an SSM parameter that outlives each Lambda invocation."""

    def __init__(self, parameter_name: str, ssm: LazyClient | None = None) -> None:
        self._parameter_name = parameter_name
        self._ssm = ssm or LazyClient("ssm")

    def load(self) -> RecordedConfiguration | None:
        client = self._ssm.client
        try:
            value = client.get_parameter(Name=self._parameter_name)["Parameter"]["Value"]
        except client.exceptions.ParameterNotFound:
            return None
        return RecordedConfiguration(configuration=json.loads(value)["configuration"])

    def save(self, recorded: RecordedConfiguration) -> None:
        self._ssm.client.put_parameter(
            Name=self._parameter_name,
            Type="String",
            Value=json.dumps({"configuration": recorded.configuration}, sort_keys=True),
            Description="bedrock-distill: the model-invocation logging configuration to restore on delete",
            Overwrite=False,
        )

    def delete(self) -> None:
        client = self._ssm.client
        try:
            client.delete_parameter(Name=self._parameter_name)
        except client.exceptions.ParameterNotFound:
            return


class InvocationLoggingManager:
    def __init__(self, logging: InvocationLoggingGateway, store: PreviousConfigurationStore) -> None:
        self._logging = logging
        self._store = store

    def install(self, bucket_name: str, key_prefix: str) -> None:
        # A record left by an earlier attempt holds the user's configuration; ours must not replace it.
        if self._store.load() is None:
            self._store.save(RecordedConfiguration(configuration=self._logging.get()))
        self._logging.put(desired_configuration(bucket_name, key_prefix))

    def update(self, bucket_name: str, key_prefix: str) -> None:
        self._logging.put(desired_configuration(bucket_name, key_prefix))

    def uninstall(self, bucket_name: str, key_prefix: str) -> None:
        recorded = self._store.load()
        if is_ours(self._logging.get(), bucket_name, key_prefix):
            previous = recorded.configuration if recorded else None
            if previous is None:
                self._logging.delete()
            else:
                self._logging.put(previous)
        self._store.delete()
