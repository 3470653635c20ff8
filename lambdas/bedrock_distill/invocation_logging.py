"""Owning the account's Bedrock model-invocation logging configuration without losing the user's.

Logging is one setting per account and Region, and no CloudFormation resource exists for it. When we
install ours we record what was there; when we uninstall we put that back, but only if the setting is
still ours, so a configuration someone set after us is never clobbered.

A CloudWatch Logs delivery already in the setting is kept: ours is that configuration with our
`s3Config` in place of its own (one `s3Config` per setting), so while the stack exists the account keeps
logging to its log group, and every data type it delivered, and text also reaches our bucket. Bedrock
assumes the delivery's role to write the log group (user guide, "Monitor model invocation using
CloudWatch Logs and Amazon S3", "Set up a CloudWatch Logs destination": the role trusts
bedrock.amazonaws.com), so every put that names it, ours and the restore alike, needs `iam:PassRole` on
that role. The deploy names the one role the stack may pass (`ROLE_CONTEXT_KEY`); a create or update
that would have to pass another is refused before anything changes. An uninstall never fails: if the
recorded configuration cannot be put back, ours stays (it still holds the CloudWatch delivery) and the
record is kept for a manual restore.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Final

from bedrock_distill.gateways.bedrock import BedrockGateway
from bedrock_distill.gateways.ssm import SsmGateway
from bedrock_distill.workflow.errors import WorkflowError

LoggingConfiguration = dict[str, Any]

# The deploy-time context key that names the CloudWatch delivery role the stack may pass (stacks/config.py).
ROLE_CONTEXT_KEY: Final = "invocationLoggingRoleArn"
# botocore `bedrock` shape RoleArn (CloudWatchConfig.roleArn), with the account the role lives in required:
# iam:PassRole is granted on the exact ARN.
ROLE_ARN_PATTERN: Final = re.compile(r"arn:aws(-[^:]+)?:iam::[0-9]{12}:role/.+")


@dataclass(frozen=True)
class OurLogging:
    """Where our configuration delivers, and the CloudWatch delivery role the stack may pass (None: none)."""

    bucket_name: str
    key_prefix: str
    passable_role_arn: str | None = None


class LoggingRoleNotPassableError(Exception):
    """A configuration to put delivers to CloudWatch Logs as a role the stack may not pass."""


def cloud_watch_role(configuration: LoggingConfiguration | None) -> str | None:
    role: str | None = ((configuration or {}).get("cloudWatchConfig") or {}).get("roleArn")
    return role


def desired_configuration(ours: OurLogging, current: LoggingConfiguration | None) -> LoggingConfiguration:
    """Text prompts and answers to our bucket (what distillation from invocation logs reads), keeping
    the current configuration's CloudWatch delivery and the data types it delivers, if it has one."""
    s3_config = {"bucketName": ours.bucket_name, "keyPrefix": ours.key_prefix}
    if current is None or "cloudWatchConfig" not in current:
        return {
            "s3Config": s3_config,
            "textDataDeliveryEnabled": True,
            "imageDataDeliveryEnabled": False,
            "embeddingDataDeliveryEnabled": False,
        }
    return current | {"s3Config": s3_config, "textDataDeliveryEnabled": True}


def unpassable_delivery(configuration: LoggingConfiguration | None, ours: OurLogging) -> str | None:
    """Why putting `configuration` would need a role the stack may not pass, or None if it would not."""
    role = cloud_watch_role(configuration)
    if configuration is None or role is None or role == ours.passable_role_arn:
        return None
    allowed = f"only {ours.passable_role_arn}" if ours.passable_role_arn else "no role"
    return (
        f"it delivers to CloudWatch Logs (log group {configuration['cloudWatchConfig'].get('logGroupName')}) "
        f"as role {role}, and the stack may pass {allowed} to Bedrock"
    )


def is_ours(configuration: LoggingConfiguration | None, ours: OurLogging) -> bool:
    s3_config = (configuration or {}).get("s3Config") or {}
    return s3_config.get("bucketName") == ours.bucket_name and s3_config.get("keyPrefix", "") == ours.key_prefix


@dataclass(frozen=True)
class RecordedConfiguration:
    """What the account had before we installed ours; `configuration` None means logging was off."""

    configuration: LoggingConfiguration | None


class PreviousConfigurationStore:
    """The recorded configuration, in an SSM parameter that outlives each Lambda invocation."""

    def __init__(self, parameter_name: str, ssm: SsmGateway | None = None) -> None:
        self._parameter_name = parameter_name
        self._ssm = ssm or SsmGateway()

    @property
    def parameter_name(self) -> str:
        return self._parameter_name

    def load(self) -> RecordedConfiguration | None:
        value = self._ssm.get(self._parameter_name)
        if value is None:
            return None
        return RecordedConfiguration(configuration=json.loads(value)["configuration"])

    def save(self, recorded: RecordedConfiguration) -> None:
        self._ssm.create(
            self._parameter_name,
            json.dumps({"configuration": recorded.configuration}, sort_keys=True),
            description="bedrock-distill: the model-invocation logging configuration to restore on delete",
        )

    def delete(self) -> None:
        self._ssm.delete(self._parameter_name)


class InvocationLoggingManager:
    def __init__(self, bedrock: BedrockGateway, store: PreviousConfigurationStore) -> None:
        self._bedrock = bedrock
        self._store = store

    def handle(self, request_type: str, ours: OurLogging) -> str | None:
        """The custom resource's Create, Update or Delete; returns what a Delete could not restore, if anything
        (a Delete that raised would leave the stack DELETE_FAILED)."""
        match request_type:
            case "Create":
                self.install(ours)
            case "Update":
                self.update(ours)
            case "Delete":
                return self.uninstall(ours)
            case _:
                raise ValueError(f"unknown custom resource request type {request_type!r}")
        return None

    def install(self, ours: OurLogging) -> None:
        current = self._bedrock.invocation_logging()
        desired = self._passable_desired(ours, current)
        # A record left by an earlier attempt holds the user's configuration; ours must not replace it.
        if self._store.load() is None:
            self._store.save(RecordedConfiguration(configuration=current))
        if desired != current:
            self._bedrock.put_invocation_logging(desired)

    def update(self, ours: OurLogging) -> None:
        current = self._bedrock.invocation_logging()
        desired = self._passable_desired(ours, current)
        # Unchanged (as in an update's rollback): no put, so no role is passed while grants are changing.
        if desired != current:
            self._bedrock.put_invocation_logging(desired)

    def uninstall(self, ours: OurLogging) -> str | None:
        """Puts the recorded configuration back if the setting is still ours. A restore that Bedrock or
        IAM refuses does not raise: ours stays, the record is kept, and the returned text says what to do."""
        try:
            recorded = self._store.load()
            if is_ours(self._bedrock.invocation_logging(), ours):
                self._restore(recorded.configuration if recorded else None, ours)
        except (LoggingRoleNotPassableError, WorkflowError) as error:
            return (
                f"The previous model-invocation logging configuration was not restored: {error}. Ours stays "
                f"in place; the previous one is kept in SSM parameter {self._store.parameter_name}. Put its "
                f"'configuration' back with `aws bedrock put-model-invocation-logging-configuration "
                f"--logging-config <configuration>`, then delete the parameter."
            )
        self._store.delete()
        return None

    def _restore(self, previous: LoggingConfiguration | None, ours: OurLogging) -> None:
        if previous is None:
            self._bedrock.delete_invocation_logging()
            return
        if problem := unpassable_delivery(previous, ours):
            raise LoggingRoleNotPassableError(f"the recorded configuration cannot be put back: {problem}")
        self._bedrock.put_invocation_logging(previous)

    @staticmethod
    def _passable_desired(ours: OurLogging, current: LoggingConfiguration | None) -> LoggingConfiguration:
        desired = desired_configuration(ours, current)
        if problem := unpassable_delivery(desired, ours):
            raise LoggingRoleNotPassableError(
                f"The account's model-invocation logging cannot be kept: {problem}. Deploy with "
                f"-c {ROLE_CONTEXT_KEY}={cloud_watch_role(desired)} so the stack can keep that delivery. "
                f"Nothing was changed."
            )
        return desired
