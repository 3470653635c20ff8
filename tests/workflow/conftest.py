"""The offline pipeline for workflow tests: moto (executing state machines) plus the Bedrock emulator."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from bedrock_emulator import BedrockEmulator, bedrock_emulator
from offline.pipeline import LocalPipeline


@pytest.fixture
def emulator() -> Iterator[BedrockEmulator]:
    with (
        mock_aws(config={"stepfunctions": {"execute_state_machine": True}}),
        bedrock_emulator(seconds_per_status_read=3600, job_seconds=6 * 3600, provisioning_seconds=600) as bedrock,
    ):
        yield bedrock


@pytest.fixture
def pipeline(emulator: BedrockEmulator) -> Iterator[LocalPipeline]:
    with LocalPipeline() as deployed:
        yield deployed


def conversation_record(index: int, *, answer: bool = True) -> dict[str, Any]:
    messages: list[dict[str, Any]] = [
        {
            "role": "user",
            "content": [{"text": f"Summarise support ticket {index}: the printer jams on page {index % 7}."}],
        }
    ]
    if answer:
        messages.append({"role": "assistant", "content": [{"text": f"Ticket {index}: printer jam, page {index % 7}."}]})
    return {
        "schemaVersion": "bedrock-conversation-2024",
        "system": [{"text": "You summarise support tickets in one line."}],
        "messages": messages,
    }


def upload_prompts(bucket: str, key: str, records: list[dict[str, Any]]) -> str:
    body = "".join(json.dumps(record) + "\n" for record in records)
    boto3.client("s3").put_object(Bucket=bucket, Key=key, Body=body.encode())
    return f"s3://{bucket}/{key}"
