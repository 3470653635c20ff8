"""Starting a run from an upload: a `.jsonl` under the upload trigger prefix, with optional settings beside it.

The trigger decides only *whether* and *under which name* to start; everything about the data and the
settings is checked by the execution's own Preflight, so an invalid upload fails there, with the failure
notification, before any job exists.
"""

from __future__ import annotations

import hashlib
import re
from typing import Literal

from pydantic import BaseModel

DATASET_SUFFIX = ".jsonl"
SETTINGS_SUFFIX = ".json"
# Step Functions execution names: at most 80 characters of [a-zA-Z0-9-_].
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
    def settings_key(self) -> str:
        return self.key.removesuffix(DATASET_SUFFIX) + SETTINGS_SUFFIX

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
    stem = upload.key.rsplit("/", 1)[-1].removesuffix(DATASET_SUFFIX)
    readable = _NOT_NAME_CHARACTERS.sub("-", stem).strip("-") or "dataset"
    room = _MAX_EXECUTION_NAME - len("upload--") - len(digest)
    return f"upload-{readable[:room]}-{digest}"


def decide(upload: UploadedObject, trigger_prefix: str) -> UploadDecision:
    if not upload.key.startswith(f"{trigger_prefix.rstrip('/')}/"):
        return UploadDecision(action="ignore", reason=f"outside the upload trigger prefix {trigger_prefix}/")
    if not upload.key.endswith(DATASET_SUFFIX):
        return UploadDecision(action="ignore", reason=f"not a {DATASET_SUFFIX} dataset")
    return UploadDecision(action="start", reason="dataset uploaded", execution_name=execution_name(upload))


def execution_input(upload: UploadedObject, settings_exist: bool) -> dict[str, object]:
    """The input a user would have typed: the prompts, and the settings file if one was uploaded first."""
    document: dict[str, object] = {"trainingData": {"prompts": upload.uri}}
    if settings_exist:
        document["datasetSettings"] = upload.settings_uri
    return document
