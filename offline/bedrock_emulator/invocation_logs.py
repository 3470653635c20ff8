"""Model-invocation logs in Bedrock's S3 layout: written by Converse, read back as distillation data."""

from __future__ import annotations

import base64
import gzip
import json
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from offline.bedrock_emulator.errors import BedrockError

PERMISSION_CHECK_OBJECT = "amazon-bedrock-logs-permission-check"


def split_s3_uri(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def _join(prefix: str, key: str) -> str:
    prefix = prefix.strip("/")
    return f"{prefix}/{key}" if prefix else key


def check_destination(s3: Any, s3_config: dict[str, Any], region: str) -> None:
    """What Bedrock checks on PutModelInvocationLoggingConfiguration: the bucket is in this Region and
    it can write there (it leaves a permission-check object behind)."""
    bucket = s3_config["bucketName"]
    try:
        location = s3.get_bucket_location(Bucket=bucket).get("LocationConstraint") or "us-east-1"
        if location != region:
            raise BedrockError("ValidationException", f"S3 bucket {bucket} is in {location}; it must be in {region}")
        s3.put_object(Bucket=bucket, Key=_join(s3_config.get("keyPrefix", ""), PERMISSION_CHECK_OBJECT), Body=b"")
    except ClientError as error:
        raise BedrockError(
            "ValidationException", f"Failed to validate permissions for S3 bucket {bucket}: {error}"
        ) from error


def log_key(key_prefix: str, account_id: str, region: str, timestamp: datetime) -> str:
    stamp = timestamp.strftime("%Y%m%dT%H%M%S") + f"{timestamp.microsecond // 1000:03d}Z"
    return _join(
        key_prefix,
        f"AWSLogs/{account_id}/BedrockModelInvocationLogs/{region}/{timestamp:%Y/%m/%d/%H}/"
        f"{stamp}_{uuid.uuid4().hex[:16]}.json.gz",
    )


def write_record(s3: Any, s3_config: dict[str, Any], record: dict[str, Any], timestamp: datetime) -> str:
    key = log_key(s3_config.get("keyPrefix", ""), record["accountId"], record["region"], timestamp)
    body = gzip.compress((json.dumps(record, default=_json_bytes) + "\n").encode())
    s3.put_object(Bucket=s3_config["bucketName"], Key=key, Body=body, ContentEncoding="gzip")
    return key


def _json_bytes(value: Any) -> str:
    # Converse content blocks may carry bytes (images, documents); the log holds them base64-encoded.
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def read_records(s3: Any, source_uri: str) -> Iterator[dict[str, Any]]:
    """Every record under an `invocationLogSource` URI; a missing bucket ends as a BedrockError."""
    bucket, prefix = split_s3_uri(source_uri)
    try:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for listed in page.get("Contents", []):
                # Oversized bodies live under data/ and are referenced from their records.
                if not listed["Key"].endswith(".json.gz") or "/data/" in listed["Key"]:
                    continue
                body = gzip.decompress(s3.get_object(Bucket=bucket, Key=listed["Key"])["Body"].read())
                yield from _records_in(body.decode())
    except ClientError as error:
        raise BedrockError("ValidationException", f"Cannot read invocation logs at {source_uri}: {error}") from error


def _records_in(text: str) -> Iterator[dict[str, Any]]:
    # Usually one record per line; some files hold one pretty-printed record instead.
    try:
        yield json.loads(text)
        return
    except json.JSONDecodeError:
        pass
    for line in text.splitlines():
        if line.strip():
            yield json.loads(line)


def matches_filters(filters: dict[str, Any] | None, metadata: dict[str, str]) -> bool:
    if not filters:
        return True
    if "equals" in filters:
        return all(metadata.get(key) == value for key, value in filters["equals"].items())
    if "notEquals" in filters:
        return all(metadata.get(key) != value for key, value in filters["notEquals"].items())
    if "andAll" in filters:
        return all(matches_filters(item, metadata) for item in filters["andAll"])
    return any(matches_filters(item, metadata) for item in filters["orAll"])
