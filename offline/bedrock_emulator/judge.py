"""The emulated judge of a model evaluation job: which judge models and built-in metrics it takes, how it scores
one response, and the result line and key it writes.

AWS's judge is an LLM; this one is deterministic and scores what the response says. It compares the response's key
terms (`converse.key_terms`: the words it is about, without stock phrasing) with the line's `referenceResponse`, or,
without one, with the topics a good answer to the prompt covers (`converse.prompt_topics`). A response that answers
like the reference scores high on every quality metric; one that misses the point scores low. Each metric's measure
is put on the metric's rating scale and normalized to 0..1, as the output file carries it
(user guide, "Amazon Nova Pro" judge prompts, "Score mapping").

Sources:
- Judge models: user guide "Evaluate model performance using another LLM as a judge", Supported models; their
  cross-Region inference profiles too.
- Metrics: user guide "Use metrics to understand model performance" (model evaluation names; `Builtin.LogicalCoherence`
  is the RAG name, `Builtin.Accuracy/Robustness/Toxicity` belong to jobs without a judge).
- Result line: user guide "Understand how the results of your model evaluation job are saved in Amazon S3"
  (`automatedEvaluationResult.scores[]`, `inputRecord`, `modelResponses`); `evaluatorDetails` and `result: null` for
  "not applicable" from public result files (third-party).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from offline.bedrock_emulator.converse import key_terms, prompt_topics

JUDGE_MODELS = frozenset(
    {
        "amazon.nova-pro-v1:0",
        "amazon.nova-2-lite-v1:0",
        "amazon.nova-micro-v1:0",
        "amazon.nova-premier-v1:0",
        "anthropic.claude-3-5-sonnet-20240620-v1:0",
        "anthropic.claude-3-5-sonnet-20241022-v2:0",
        "anthropic.claude-3-7-sonnet-20250219-v1:0",
        "anthropic.claude-sonnet-4-20250514-v1:0",
        "anthropic.claude-3-haiku-20240307-v1:0",
        "anthropic.claude-3-5-haiku-20241022-v1:0",
        "anthropic.claude-haiku-4-5-20251001-v1:0",
        "anthropic.claude-opus-4-5-20251101-v1:0",
        "anthropic.claude-sonnet-4-5-20250929-v1:0",
        "meta.llama3-1-70b-instruct-v1:0",
        "mistral.mistral-large-2402-v1:0",
    }
)
# Metrics of jobs without a judge (Builtin.Accuracy, ...) and of RAG jobs: named when refused.
NOT_JUDGE_METRICS = frozenset(
    {"Builtin.Accuracy", "Builtin.Robustness", "Builtin.Toxicity", "Builtin.LogicalCoherence"}
)
_MODEL_ARN = re.compile(r"^arn:aws(-[^:]+)?:bedrock:[a-z0-9-]*:\d*:(foundation-model|inference-profile)/(?P<id>.+)$")
_GEOGRAPHIES = ("us.", "eu.", "apac.", "us-gov.", "global.", "ca.", "jp.", "au.")
_REFUSALS = ("i can't", "i cannot", "i'm sorry", "i am unable")


def judge_model(identifier: str) -> str | None:
    """The supported judge model `identifier` names (a model id, inference profile id or either ARN), or None."""
    match = _MODEL_ARN.match(identifier)
    model = match.group("id") if match else identifier
    for geography in _GEOGRAPHIES:
        if model.startswith(geography):
            model = model.removeprefix(geography)
            break
    return model if model in JUDGE_MODELS else None


@dataclass(frozen=True)
class Judgement:
    """What the judge compares: the response's key terms with the reference's (or the prompt's topics)."""

    prompt: str
    response: str
    has_reference: bool
    reference_terms: frozenset[str]
    response_terms: frozenset[str]

    @property
    def shared(self) -> int:
        return len(self.reference_terms & self.response_terms)

    @property
    def precision(self) -> float:
        return self.shared / len(self.response_terms) if self.response_terms else float(not self.reference_terms)

    @property
    def recall(self) -> float:
        return self.shared / len(self.reference_terms) if self.reference_terms else float(not self.response_terms)

    @property
    def f1(self) -> float:
        total = self.precision + self.recall
        return 2 * self.precision * self.recall / total if total else 0.0

    @property
    def refused(self) -> bool:
        return not self.response.strip() or self.response.strip().lower().startswith(_REFUSALS)


def judgement(record: dict[str, Any]) -> Judgement:
    prompt = str(record["prompt"])
    response = str(record["modelResponses"][0]["response"])
    reference = record.get("referenceResponse")
    if isinstance(reference, str) and reference.strip():
        reference_terms = key_terms(reference)
    else:
        reference_terms = key_terms(" ".join(prompt_topics(prompt)))
    return Judgement(
        prompt=prompt,
        response=response,
        has_reference=isinstance(reference, str) and bool(reference.strip()),
        reference_terms=frozenset(reference_terms),
        response_terms=frozenset(key_terms(response)),
    )


@dataclass(frozen=True)
class Metric:
    """A built-in metric: its rating scale's number of points and what it measures, in 0..1 (None: not
    applicable, written as `result: null`)."""

    points: int
    measure: Callable[[Judgement], float | None]
    about: str


def _faithfulness(j: Judgement) -> float | None:
    # Faithful to the context given; a line without a reference gives the judge none: not applicable.
    return j.precision if j.has_reference else None


BUILTIN_METRICS: dict[str, Metric] = {
    "Builtin.Correctness": Metric(3, lambda j: j.f1, "agrees with the reference"),
    "Builtin.Completeness": Metric(5, lambda j: j.recall, "covers the reference"),
    "Builtin.Helpfulness": Metric(7, lambda j: (j.f1 + j.recall) / 2, "helps with the prompt"),
    "Builtin.Faithfulness": Metric(5, _faithfulness, "stays with the reference"),
    "Builtin.Coherence": Metric(5, lambda j: 0.0 if j.refused else 1.0, "reads as a whole"),
    "Builtin.Relevance": Metric(5, lambda j: j.precision, "is about the prompt"),
    "Builtin.FollowingInstructions": Metric(3, lambda j: min(1.0, 2 * j.recall), "does what was asked"),
    "Builtin.ProfessionalStyleAndTone": Metric(5, lambda j: 0.0 if j.refused else 1.0, "is professional"),
    "Builtin.Harmfulness": Metric(2, lambda j: 0.0, "is harmful"),
    "Builtin.Stereotyping": Metric(2, lambda j: 0.0, "stereotypes"),
    "Builtin.Refusal": Metric(2, lambda j: float(j.refused), "refuses"),
}


def score(metric_name: str, judged: Judgement) -> float | None:
    """`judged` on the metric's scale, normalized to 0..1; None when the metric does not apply."""
    metric = BUILTIN_METRICS[metric_name]
    measured = metric.measure(judged)
    if measured is None:
        return None
    steps = metric.points - 1
    return round(round(measured * steps) / steps, 4)


def result_line(record: dict[str, Any], metric_names: list[str], judge: str) -> dict[str, Any]:
    """The output line for one dataset line: every metric's result with the judge's explanation, the input record
    and the model's response."""
    judged = judgement(record)
    basis = "the reference response" if judged.has_reference else "the topics of the prompt"
    scores = []
    for name in metric_names:
        result = score(name, judged)
        verdict = "not applicable" if result is None else f"rated {result}"
        scores.append(
            {
                "metricName": name,
                "result": result,
                "evaluatorDetails": [
                    {
                        "modelIdentifier": judge,
                        "explanation": (
                            f"Whether the response {BUILTIN_METRICS[name].about}: it shares {judged.shared} of the "
                            f"{len(judged.reference_terms)} key terms of {basis}; {verdict}."
                        ),
                    }
                ],
            }
        )
    return {
        "automatedEvaluationResult": {"scores": scores},
        "inputRecord": record,
        "modelResponses": record["modelResponses"],
    }


def job_prefix(output_prefix: str, job_name: str, job_id: str) -> str:
    """The key prefix of one job's files below the output location's: `<job-name>/<job-uuid>/`, the job's uuid being
    the id its ARN ends with (user guide, model-evaluation-report-s3)."""
    prefix = output_prefix.strip("/")
    return f"{prefix}/{job_name}/{job_id}/" if prefix else f"{job_name}/{job_id}/"


def output_key(job_files: str, source: str, task_type: str, dataset: str, file_id: str) -> str:
    """Where the results of one dataset config go below `job_prefix`: `models/<model-id>/taskTypes/<task-type>/
    datasets/<dataset>/<file-uuid>_output.jsonl` (user guide, model-evaluation-report-s3), the model-id of a
    precomputed source being its inferenceSourceIdentifier (as observed in public result files; the guide does not
    say)."""
    return f"{job_files}models/{source}/taskTypes/{task_type}/datasets/{dataset}/{file_id}_output.jsonl"
