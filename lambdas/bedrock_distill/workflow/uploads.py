"""Starting a run from an upload: a `.jsonl` under the upload trigger prefix, with optional settings beside it.

The trigger decides only *whether* and *under which name* to start; everything about the data and the
settings is checked by the execution's own Preflight, so an invalid upload fails there, with the failure
notification, before any job exists.

Object keys in events: S3's event notifications URL-encode the key ("red flower.jpg" arrives as
"red+flower.jpg"; S3 user guide, "Event message structure",
https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html). The EventBridge
"Object Created" event's `detail.object.key` is documented without saying either way (S3 user guide,
"EventBridge event message structure", https://docs.aws.amazon.com/AmazonS3/latest/userguide/ev-events.html;
its examples hold only "example-key"). So a key is taken in both spellings: when decoding changes it, the
decoded key is used if that object exists, else the key as sent.
"""

from __future__ import annotations

import hashlib
import re
from typing import Literal
from urllib.parse import unquote_plus

from pydantic import BaseModel

from bedrock_distill.gateways.s3 import S3Gateway, S3Location
from bedrock_distill.gateways.stepfunctions import StepFunctionsGateway

DATASET_SUFFIX = ".jsonl"  # matched case-insensitively: tickets.JSONL is a dataset too
SETTINGS_SUFFIX = ".json"
# Step Functions execution names (StartExecution `name`): 1-80 characters; with CloudWatch Logs logging, only
# 0-9, A-Z, a-z, - and _ (stricter than the characters any name must avoid). Ours keep to the stricter set.
_MAX_EXECUTION_NAME = 80
_NOT_NAME_CHARACTERS = re.compile(r"[^a-zA-Z0-9-_]+")


class UploadedObject(BaseModel):
    bucket: str
    key: str
    # Versioned buckets name every version; without one, the ETag and sequencer tell uploads apart.
    version_id: str | None = None
    etag: str | None = None
    sequencer: str | None = None

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    @property
    def is_dataset(self) -> bool:
        return self.key.lower().endswith(DATASET_SUFFIX)

    @property
    def stem(self) -> str:
        """The key without its dataset suffix, spelled as uploaded."""
        return self.key[: -len(DATASET_SUFFIX)] if self.is_dataset else self.key

    @property
    def settings_key(self) -> str:
        return self.stem + SETTINGS_SUFFIX

    @property
    def settings_uri(self) -> str:
        return f"s3://{self.bucket}/{self.settings_key}"


class UploadDecision(BaseModel):
    action: Literal["start", "ignore"]
    reason: str
    execution_name: str | None = None


def execution_name(upload: UploadedObject) -> str:
    """One name per object version: Step Functions refuses a second execution of the same name."""
    version = upload.version_id or f"{upload.etag}/{upload.sequencer}"
    identity = "\n".join([upload.bucket, upload.key, version])
    digest = hashlib.sha256(identity.encode()).hexdigest()[:16]
    stem = upload.stem.rsplit("/", 1)[-1]
    readable = _NOT_NAME_CHARACTERS.sub("-", stem).strip("-") or "dataset"
    room = _MAX_EXECUTION_NAME - len("upload--") - len(digest)
    # Stripped again after the cut, which can end on a hyphen.
    return f"upload-{readable[:room].rstrip('-')}-{digest}"


def decide(upload: UploadedObject, trigger_prefix: str) -> UploadDecision:
    if not upload.key.startswith(f"{trigger_prefix.rstrip('/')}/"):
        return UploadDecision(action="ignore", reason=f"outside the upload trigger prefix {trigger_prefix}/")
    if not upload.is_dataset:
        return UploadDecision(action="ignore", reason=f"not a {DATASET_SUFFIX} dataset")
    return UploadDecision(action="start", reason="dataset uploaded", execution_name=execution_name(upload))


def key_spellings(key: str) -> list[str]:
    """What an event's key may stand for, most likely first: URL-decoded, then as sent."""
    decoded = unquote_plus(key)
    return [decoded, key] if decoded != key else [key]


def as_stored(upload: UploadedObject, s3: S3Gateway) -> UploadedObject | None:
    """The upload under the key S3 stores it by (see the module's note on key spellings), or None when no
    spelling names an object. A key that decoding leaves alone is taken as sent, without asking S3."""
    spellings = key_spellings(upload.key)
    if len(spellings) == 1:
        return upload
    for key in spellings:
        if s3.exists(S3Location(upload.bucket, key)):
            return upload.model_copy(update={"key": key})
    return None


def execution_input(upload: UploadedObject, settings_exist: bool) -> dict[str, object]:
    """The input a user would have typed: the prompts, and the settings file if one was uploaded first."""
    document: dict[str, object] = {"trainingData": {"prompts": upload.uri}}
    if settings_exist:
        document["datasetSettings"] = upload.settings_uri
    return document


class UploadOutcome(BaseModel):
    object_uri: str
    action: Literal["started", "duplicate", "ignored"]
    reason: str
    execution_arn: str | None = None


def start_run_for(
    upload: UploadedObject,
    trigger_prefix: str,
    state_machine_arn: str,
    s3: S3Gateway,
    executions: StepFunctionsGateway,
) -> UploadOutcome:
    """Start the upload's run, unless it is no dataset or its version already has one."""
    decision = decide(upload, trigger_prefix)
    if decision.execution_name is None:
        return UploadOutcome(object_uri=upload.uri, action="ignored", reason=decision.reason)
    stored = as_stored(upload, s3)
    if stored is None:
        reason = f"no object under {' or '.join(map(repr, key_spellings(upload.key)))} (deleted since?)"
        return UploadOutcome(object_uri=upload.uri, action="ignored", reason=reason)
    upload, decision = stored, decide(stored, trigger_prefix)
    if decision.execution_name is None:
        return UploadOutcome(object_uri=upload.uri, action="ignored", reason=decision.reason)
    settings_exist = s3.exists(S3Location(upload.bucket, upload.settings_key))
    execution_arn = executions.start_execution(
        state_machine_arn, decision.execution_name, execution_input(upload, settings_exist)
    )
    if execution_arn is None:
        return UploadOutcome(
            object_uri=upload.uri, action="duplicate", reason=f"{decision.execution_name} already exists"
        )
    return UploadOutcome(object_uri=upload.uri, action="started", reason=decision.reason, execution_arn=execution_arn)
