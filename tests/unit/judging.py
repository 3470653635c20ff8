"""What the judge's unit tests share: a planned run in moto S3, its held-out prompts, both sides' answers, and an
evaluation job's output files in the layout the user guide documents (model-evaluation-report-s3)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import boto3
from moto import mock_aws

from bedrock_distill.gateways.bedrock_runtime import BedrockRuntimeGateway
from bedrock_distill.gateways.s3 import S3Gateway, S3Location
from bedrock_distill.workflow.errors import BedrockRequestRejected
from bedrock_distill.workflow.evaluation import results_prefix, source_identifier
from bedrock_distill.workflow.responses import ResponseLine, write_response_lines
from bedrock_distill.workflow.run import ExecutionContext, ExecutionInput, Run, Side, plan_run
from bedrock_distill.workflow.settings import PipelineSettings
from tests.unit.settings import pipeline_settings

EXECUTION = ExecutionContext(id="arn:aws:states:us-west-2:123456789012:execution:distillation:run-1", name="run-1")
JUDGE = "us.meta.llama3-1-70b-instruct-v1:0"
ROLE = "arn:aws:iam::123456789012:role/evaluation"
TEACHER = "meta.llama3-1-70b-instruct-v1:0"
STUDENT = "meta.llama3-1-8b-instruct-v1:0:128k"


def judge_settings(**overrides: object) -> PipelineSettings:
    return pipeline_settings(**{"judge_model_id": JUDGE, "evaluation_role_arn": ROLE, **overrides})


def conversation(index: int, *, reference: bool = True, system: bool = False) -> dict[str, Any]:
    messages: list[dict[str, Any]] = [{"role": "user", "content": [{"text": f"question {index}?"}]}]
    if reference:
        messages.append({"role": "assistant", "content": [{"text": f"answer {index}."}]})
    record: dict[str, Any] = {"schemaVersion": "bedrock-conversation-2024", "messages": messages}
    if system:
        record["system"] = [{"text": "Be brief."}]
    return record


@contextmanager
def planned_run(document: Mapping[str, Any] | None = None, settings: PipelineSettings | None = None) -> Iterator[Run]:
    """A run planned in moto, with its buckets; held-out prompts (none yet) under its prefix."""
    with mock_aws():
        s3 = boto3.client("s3")
        for bucket in ("inputs", "outputs"):
            s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": s3.meta.region_name})
        requested = ExecutionInput.model_validate(document or {"trainingData": {"prompts": "s3://inputs/p.jsonl"}})
        yield plan_run(requested, EXECUTION, settings or judge_settings())


def put_lines(uri: str, records: list[dict[str, Any]]) -> None:
    location = S3Location.parse(uri)
    body = b"".join(json.dumps(record).encode() + b"\n" for record in records)
    boto3.client("s3").put_object(Bucket=location.bucket, Key=location.key, Body=body)


def read_lines(uri: str) -> list[dict[str, Any]]:
    location = S3Location.parse(uri)
    body = boto3.client("s3").get_object(Bucket=location.bucket, Key=location.key)["Body"].read()
    return [json.loads(line) for line in body.splitlines() if line.strip()]


def read_json(uri: str) -> Any:
    location = S3Location.parse(uri)
    return json.loads(boto3.client("s3").get_object(Bucket=location.bucket, Key=location.key)["Body"].read())


def answer(
    index: int, response: str | None, *, tokens: tuple[int, int] = (10, 20), latency: float = 100.0
) -> ResponseLine:
    failed = response is None
    return ResponseLine(
        index=index,
        prompt=f"question {index}?",
        system=None,
        reference=f"answer {index}.",
        response=response,
        latency_ms=None if failed else latency,
        input_tokens=None if failed else tokens[0],
        output_tokens=None if failed else tokens[1],
        error="BedrockRequestRejected: throttled for good" if failed else None,
    )


def put_answers(run: Run, side: Side, answers: list[ResponseLine]) -> None:
    write_response_lines(S3Location.parse(run.responses_uri(side)), answers, S3Gateway())


def judged_line(line: ResponseLine, identifier: str, scores: Mapping[str, float | None]) -> dict[str, Any]:
    """One output line as the user guide shows it: scores, the input record, the model's response."""
    record: dict[str, Any] = {"prompt": line.prompt, "referenceResponse": line.reference}
    responses = [{"response": line.response, "modelIdentifier": identifier}]
    return {
        "automatedEvaluationResult": {
            "scores": [
                {
                    "metricName": name,
                    "result": value,
                    "evaluatorDetails": [{"modelIdentifier": JUDGE, "explanation": "."}],
                }
                for name, value in scores.items()
            ]
        },
        "inputRecord": {**record, "modelResponses": responses},
        "modelResponses": responses,
    }


def put_results(
    run: Run, side: Side, answers: list[ResponseLine], score: Callable[[ResponseLine], Mapping[str, float | None]]
) -> list[str]:
    """The side's job output: its answered prompts judged by `score`, in two `_output.jsonl` files (the guide does
    not promise one), beside a permission-check object. Returns the output files' URIs."""
    identifier = source_identifier(side, run.student_model_id if side == "student" else run.teacher_model_id)
    lines = [judged_line(a, identifier, score(a)) for a in answers if a.succeeded]
    folder = results_prefix(run, side).child(
        f"a1b2c3d4e5f6/models/{identifier}/taskTypes/General/datasets/{side}-answers/"
    )
    half = len(lines) // 2
    uris = []
    for name, part in (("0001_output.jsonl", lines[:half]), ("0002_output.jsonl", lines[half:])):
        uri = folder.child(name).uri
        put_lines(uri, part)
        uris.append(uri)
    check = results_prefix(run, side).child("amazon-bedrock-evaluations-permission-check")
    boto3.client("s3").put_object(Bucket=check.bucket, Key=check.key, Body=b"")
    return uris


class ScriptedRuntime(BedrockRuntimeGateway):
    """Converse as a function of the request; counts the calls in flight at once."""

    def __init__(self, reply: Callable[[dict[str, Any]], dict[str, Any]], delay: float = 0.0) -> None:
        self._reply = reply
        self._delay = delay
        self._lock = threading.Lock()
        self._in_flight = 0
        self.most_in_flight = 0
        self.requests: list[dict[str, Any]] = []

    def prepare(self) -> None:
        pass

    def converse(self, request: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self._in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self._in_flight)
            self.requests.append(request)
        try:
            time.sleep(self._delay)
            return self._reply(request)
        finally:
            with self._lock:
                self._in_flight -= 1


def echo(request: dict[str, Any]) -> dict[str, Any]:
    """Answers every prompt with its question turned into a statement; 'question 2?' is refused."""
    text = request["messages"][-1]["content"][0]["text"]
    if text == "question 2?":
        raise BedrockRequestRejected("Converse: ValidationException: refused", code="ValidationException")
    number = int(text.split()[1].rstrip("?"))
    return {
        "output": {"message": {"role": "assistant", "content": [{"text": f"answer {number}."}]}},
        "usage": {"inputTokens": 10 + number, "outputTokens": 20 + number, "totalTokens": 30 + 2 * number},
        "metrics": {"latencyMs": 100 * (number + 1)},
        "stopReason": "end_turn",
    }
