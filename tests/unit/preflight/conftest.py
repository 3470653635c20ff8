"""Builders for datasets and invocation-log trees, and a moto S3 bucket."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import orjson
import pytest
from moto import mock_aws

BUCKET = "preflight-test-bucket"
ACCOUNT = "123456789012"
REGION = "us-east-1"
LOG_HOUR = f"AWSLogs/{ACCOUNT}/BedrockModelInvocationLogs/{REGION}/2025/01/02/03"
TEACHER = "amazon.nova-pro-v1:0"


@pytest.fixture(autouse=True)
def fake_aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test may reach AWS: fake credentials and a fixed Region."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture
def s3_client() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3", region_name=REGION)
        client.create_bucket(Bucket=BUCKET)
        yield client


# --- Datasets -----------------------------------------------------------------------------------------


def conversation(
    *turns: str, system: str | None = "You are concise.", schema: str = "bedrock-conversation-2024"
) -> dict[str, Any]:
    """A record whose messages alternate user/assistant over the given texts."""
    record: dict[str, Any] = {"schemaVersion": schema}
    if system is not None:
        record["system"] = [{"text": system}]
    record["messages"] = [
        {"role": ("user", "assistant")[index % 2], "content": [{"text": text}]} for index, text in enumerate(turns)
    ]
    return record


def valid_lines(count: int, prefix: str = "question") -> list[bytes]:
    return [orjson.dumps(conversation(f"{prefix} {index}?", f"answer {index}.")) for index in range(count)]


def write_jsonl(path: Path, lines: list[bytes]) -> str:
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    return str(path)


# --- Invocation logs ----------------------------------------------------------------------------------


def log_record(
    prompt: str = "Summarise the ticket.",
    *,
    model_id: str = TEACHER,
    metadata: dict[str, str] | None = None,
    answer: str | None = "A summary.",
    error_code: str | None = None,
    messages: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    record: dict[str, Any] = {
        "schemaType": "ModelInvocationLog",
        "schemaVersion": "1.0",
        "timestamp": "2025-01-02T03:04:05Z",
        "accountId": ACCOUNT,
        "region": REGION,
        "requestId": "11111111-2222-4333-8444-555555555555",
        "operation": "Converse",
        "modelId": model_id,
        "input": {
            "inputContentType": "application/json",
            "inputBodyJson": {
                "messages": messages or [{"role": "user", "content": [{"text": prompt}]}],
                "system": [{"text": "Be brief."}],
            },
        },
        "requestMetadata": metadata if metadata is not None else {"project": "alpha"},
    }
    if error_code is not None:
        record["errorCode"] = error_code
    elif answer is not None:
        record["output"] = {
            "outputContentType": "application/json",
            "outputBodyJson": {"output": {"message": {"role": "assistant", "content": [{"text": answer}]}}},
        }
    return record


def gzip_lines(records: list[dict[str, Any]]) -> bytes:
    return gzip.compress(b"".join(orjson.dumps(record) + b"\n" for record in records))


def write_log_file(root: Path, name: str, records: list[dict[str, Any]]) -> Path:
    path = root / LOG_HOUR / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip_lines(records))
    return path
