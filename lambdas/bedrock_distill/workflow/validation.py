"""Validation inference: held-out prompts through Converse on the Provisioned Throughput.

Similarity to reference answers is chrF (character n-gram F-score, Popović 2015) as computed by
sacrebleu, the reference implementation used by WMT.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel
from sacrebleu.metrics.chrf import CHRF

from bedrock_distill.gateways.bedrock_runtime import BedrockRuntimeGateway
from bedrock_distill.gateways.s3 import S3Gateway, S3Location
from bedrock_distill.threads import ContextThreadPoolExecutor
from bedrock_distill.workflow.errors import FatalError, ValidationInferenceFailed
from bedrock_distill.workflow.run import Run, ValidationPromptsSource

DEFAULT_CONCURRENCY = 4
SIMILARITY_METRIC = "chrF (sacrebleu)"


class ValidationPrompt(BaseModel):
    system: str | None = None
    messages: list[dict[str, Any]]
    reference: str | None = None


class PromptResult(BaseModel):
    index: int
    prompt: str
    output: str | None
    reference: str | None
    latency_ms: float | None
    input_tokens: int | None
    output_tokens: int | None
    similarity: float | None
    error: str | None = None


class ValidationPromptsOrigin(BaseModel):
    """Where the validation prompts came from, said in validation.json, the state output and the outcome."""

    source: ValidationPromptsSource
    uri: str
    description: str

    @classmethod
    def of(cls, run: Run) -> ValidationPromptsOrigin:
        split = run.held_out
        if run.validation_prompts_source == "held-out" and split is not None:
            description = (
                f"held out: {split.held_out_records:,} of the {split.dataset_records:,} records of "
                f"{split.dataset_uri}, chosen before the job and not trained on (the job trained on the other "
                f"{split.training_records:,})"
            )
        elif run.validation_prompts_source == "held-out":
            description = f"held out of {run.training_source_uri} before the job and not trained on"
        else:
            description = f"given: {run.validation_prompts}"
        return cls(source=run.validation_prompts_source, uri=run.validation_prompts, description=description)


class ValidationSummary(BaseModel):
    prompts: int
    succeeded: int
    failed: int
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    mean_similarity: float | None
    similarity_metric: str
    validation_prompts_source: ValidationPromptsSource
    validation_prompts: str
    report_uri: str


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


def run_validation(
    *,
    model_id: str,
    prompts: list[ValidationPrompt],
    origin: ValidationPromptsOrigin,
    max_tokens: int,
    report_location: S3Location,
    runtime: BedrockRuntimeGateway,
    s3: S3Gateway,
    concurrency: int = DEFAULT_CONCURRENCY,
) -> ValidationSummary:
    if not prompts:
        raise ValidationInferenceFailed(f"no validation prompts in {origin.uri} ({origin.description})")
    chrf = CHRF()

    def infer(indexed: tuple[int, ValidationPrompt]) -> PromptResult:
        index, prompt = indexed
        text = prompt.messages[-1]["content"][0]["text"]
        started = time.perf_counter()
        try:
            response = runtime.converse(converse_request(model_id, prompt, max_tokens))
        except FatalError as named:
            return PromptResult(
                index=index, prompt=text, output=None, reference=prompt.reference, latency_ms=None,
                input_tokens=None, output_tokens=None, similarity=None, error=str(named),
            )  # fmt: skip
        elapsed_ms = (time.perf_counter() - started) * 1000
        output = "".join(block.get("text", "") for block in response["output"]["message"]["content"])
        usage = response.get("usage", {})
        return PromptResult(
            index=index,
            prompt=text,
            output=output,
            reference=prompt.reference,
            latency_ms=float(response.get("metrics", {}).get("latencyMs", elapsed_ms)),
            input_tokens=usage.get("inputTokens"),
            output_tokens=usage.get("outputTokens"),
            similarity=chrf.sentence_score(output, [prompt.reference]).score if prompt.reference else None,
        )

    with ContextThreadPoolExecutor(max_workers=concurrency) as pool:
        results = list(pool.map(infer, enumerate(prompts)))
    succeeded = [r for r in results if r.error is None]
    if not succeeded:
        raise ValidationInferenceFailed(f"every validation prompt failed; first error: {results[0].error}")
    latencies = sorted(r.latency_ms for r in succeeded if r.latency_ms is not None)
    similarities = [r.similarity for r in succeeded if r.similarity is not None]
    summary = ValidationSummary(
        prompts=len(results),
        succeeded=len(succeeded),
        failed=len(results) - len(succeeded),
        latency_p50_ms=_percentile(latencies, 50),
        latency_p95_ms=_percentile(latencies, 95),
        mean_similarity=statistics.fmean(similarities) if similarities else None,
        similarity_metric=SIMILARITY_METRIC,
        validation_prompts_source=origin.source,
        validation_prompts=origin.description,
        report_uri=report_location.uri,
    )
    s3.put_json(
        report_location,
        {
            "modelId": model_id,
            "validationPrompts": origin.model_dump(),
            "summary": summary.model_dump(),
            "results": [r.model_dump() for r in results],
        },
    )
    return summary


def _percentile(sorted_values: list[float], percent: int) -> float | None:
    """Nearest-rank percentile: defined for any number of samples, and always an observed latency."""
    if not sorted_values:
        return None
    rank = max(1, -(-percent * len(sorted_values) // 100))
    return sorted_values[rank - 1]
