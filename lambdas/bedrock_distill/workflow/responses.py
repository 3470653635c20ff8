"""One model's answers to the run's held-out prompts, through Converse, recorded prompt by prompt.

The student (on its deployment or PT, in ValidateModel) and the teacher (on demand, in AnswerAsTeacher) answer
the same prompts the same way; each side's answers go to one response-lines file (`Run.student_responses_uri`,
`Run.teacher_responses_uri`), the input of the evaluation jobs (workflow/evaluation.py) and of the scorecard's
latency and token figures (workflow/scorecard.py).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic.alias_generators import to_camel

from bedrock_distill.gateways.bedrock_runtime import BedrockRuntimeGateway
from bedrock_distill.gateways.s3 import S3Gateway, S3Location
from bedrock_distill.threads import ContextThreadPoolExecutor
from bedrock_distill.workflow.errors import EvaluationResultsUnreadable, FatalError
from bedrock_distill.workflow.run import Run

# At most this many Converse calls in flight per function: the account's on-demand requests-per-minute quota is
# shared with everything else the account runs, and a PT of one model unit serves only a few at once.
DEFAULT_CONCURRENCY: Final = 4


class ValidationPrompt(BaseModel):
    system: str | None = None
    messages: list[dict[str, Any]]
    reference: str | None = None

    @property
    def text(self) -> str:
        """The last user turn: what the prompt asks (the evaluation dataset's `prompt`)."""
        return str(self.messages[-1]["content"][0]["text"])


def prompts_from_conversation_records(lines: Iterable[bytes], limit: int) -> list[ValidationPrompt]:
    """Prompts from `bedrock-conversation-2024` records: the turns up to the last user turn, and the
    assistant's answer after it as the reference when present."""
    prompts: list[ValidationPrompt] = []
    for line in lines:
        if len(prompts) >= limit:
            break
        if not line.strip():
            continue
        record = json.loads(line)
        messages = record["messages"]
        last_user = max(i for i, message in enumerate(messages) if message["role"] == "user")
        answer = messages[last_user + 1] if last_user + 1 < len(messages) else None
        system = record.get("system") or []
        prompts.append(
            ValidationPrompt(
                system=system[0]["text"] if system else None,
                messages=messages[: last_user + 1],
                reference=answer["content"][0]["text"] if answer else None,
            )
        )
    return prompts


def validation_prompts(run: Run, s3: S3Gateway) -> list[ValidationPrompt]:
    """The run's validation prompts: given, or held out of its training prompts by Preflight. Never
    records the job trained on. Both sides answer exactly these, in this order."""
    lines = s3.iter_lines(S3Location.parse(run.validation_prompts))
    return prompts_from_conversation_records(islice(lines, run.validation_sample_size * 2), run.validation_sample_size)


def converse_request(model_id: str, prompt: ValidationPrompt, max_tokens: int) -> dict[str, Any]:
    """Greedy decoding (temperature 0), so that a rerun scores the same answers."""
    request: dict[str, Any] = {
        "modelId": model_id,
        "messages": prompt.messages,
        "inferenceConfig": {"maxTokens": max_tokens, "temperature": 0.0},
    }
    if prompt.system:
        request["system"] = [{"text": prompt.system}]
    return request


def percentile(sorted_values: list[float], percent: int) -> float | None:
    """Nearest-rank percentile: defined for any number of samples, and always an observed latency."""
    if not sorted_values:
        return None
    rank = max(1, -(-percent * len(sorted_values) // 100))
    return sorted_values[rank - 1]


class ResponseLine(BaseModel):
    """One line of a response-lines file: one prompt and one model's answer to it (or why there is none)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", strict=True)

    index: int
    prompt: str
    system: str | None
    reference: str | None
    response: str | None
    latency_ms: float | None
    input_tokens: int | None
    output_tokens: int | None
    error: str | None

    @property
    def succeeded(self) -> bool:
        return self.error is None and self.response is not None


class ResponsesSummary(BaseModel):
    """What the state carries of one side's answers; the answers themselves are in `responses_uri`."""

    prompts: int
    succeeded: int
    failed: int
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    input_tokens: int
    output_tokens: int
    model_id: str
    responses_uri: str


def answer_prompts(
    model_id: str,
    prompts: list[ValidationPrompt],
    max_tokens: int,
    runtime: BedrockRuntimeGateway,
    concurrency: int = DEFAULT_CONCURRENCY,
) -> list[ResponseLine]:
    """Each prompt through Converse on `model_id`, at most `concurrency` at once, in prompt order. A prompt
    whose call fails with a named fatal error is recorded with that error; a transient one (after botocore's own
    retries) ends the function, for the state machine to retry."""

    def answer(indexed: tuple[int, ValidationPrompt]) -> ResponseLine:
        index, prompt = indexed
        started = time.perf_counter()
        try:
            response = runtime.converse(converse_request(model_id, prompt, max_tokens))
        except FatalError as named:
            return ResponseLine(
                index=index, prompt=prompt.text, system=prompt.system, reference=prompt.reference, response=None,
                latency_ms=None, input_tokens=None, output_tokens=None, error=str(named),
            )  # fmt: skip
        elapsed_ms = (time.perf_counter() - started) * 1000
        usage = response.get("usage", {})
        return ResponseLine(
            index=index,
            prompt=prompt.text,
            system=prompt.system,
            reference=prompt.reference,
            response="".join(block.get("text", "") for block in response["output"]["message"]["content"]),
            # Converse's own measure (ConverseMetrics.latencyMs) when it sends one: without our network and queueing.
            latency_ms=float(response.get("metrics", {}).get("latencyMs", elapsed_ms)),
            input_tokens=usage.get("inputTokens"),
            output_tokens=usage.get("outputTokens"),
            error=None,
        )

    runtime.prepare()
    with ContextThreadPoolExecutor(max_workers=concurrency) as pool:
        return list(pool.map(answer, enumerate(prompts)))


def summarize(model_id: str, lines: list[ResponseLine], responses_uri: str) -> ResponsesSummary:
    """The counts, latency percentiles and token totals of one side's answers (the failed prompts count only
    as failed)."""
    succeeded = [line for line in lines if line.succeeded]
    latencies = sorted(line.latency_ms for line in succeeded if line.latency_ms is not None)
    return ResponsesSummary(
        prompts=len(lines),
        succeeded=len(succeeded),
        failed=len(lines) - len(succeeded),
        latency_p50_ms=percentile(latencies, 50),
        latency_p95_ms=percentile(latencies, 95),
        input_tokens=sum(line.input_tokens or 0 for line in succeeded),
        output_tokens=sum(line.output_tokens or 0 for line in succeeded),
        model_id=model_id,
        responses_uri=responses_uri,
    )


def write_response_lines(location: S3Location, lines: list[ResponseLine], s3: S3Gateway) -> None:
    s3.upload_chunks(location, (line.model_dump_json(by_alias=True).encode() + b"\n" for line in lines))


def read_response_lines(location: S3Location, s3: S3Gateway) -> list[ResponseLine]:
    """A response-lines file as written; anything else raises EvaluationResultsUnreadable naming file, line and
    field (the judge's inputs are part of its results)."""
    return list(_parsed(location.uri, s3.iter_lines(location)))


def _parsed(uri: str, lines: Iterator[bytes]) -> Iterator[ResponseLine]:
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            yield ResponseLine.model_validate_json(line)
        except ValidationError as invalid:
            error = invalid.errors()[0]
            field = ".".join(str(part) for part in error["loc"]) or "(line)"
            raise EvaluationResultsUnreadable(f"{uri}:{number}: {field}: {error['msg']}") from invalid


def record_responses(
    model_id: str,
    prompts: list[ValidationPrompt],
    *,
    max_tokens: int,
    location: S3Location,
    runtime: BedrockRuntimeGateway,
    s3: S3Gateway,
) -> tuple[list[ResponseLine], ResponsesSummary]:
    """The prompts through the model, every answer (and every failure) into the response-lines file at
    `location`, whether or not any succeeded: the file says what went wrong."""
    lines = answer_prompts(model_id, prompts, max_tokens, runtime)
    write_response_lines(location, lines, s3)
    return lines, summarize(model_id, lines, location.uri)
