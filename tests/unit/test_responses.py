"""Both sides' answers to the held-out prompts: the teacher on demand (AnswerAsTeacher), the student on its
deployment or PT (ValidateModel), each into a response-lines file the judge reads."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from bedrock_distill.gateways.bedrock_runtime import BedrockRuntimeGateway
from bedrock_distill.gateways.clients import LazyClient
from bedrock_distill.gateways.s3 import S3Gateway, S3Location
from bedrock_distill.handlers import answer_as_teacher, validate_model
from bedrock_distill.workflow.errors import (
    EvaluationResultsUnreadable,
    TeacherInferenceFailed,
    ValidationInferenceFailed,
)
from bedrock_distill.workflow.reports import VALIDATION_REPORT, record_teacher_responses, record_validation
from bedrock_distill.workflow.responses import DEFAULT_CONCURRENCY, percentile, read_response_lines
from bedrock_distill.workflow.run import Run
from offline.lambda_runtime import LocalLambdaContext
from tests.unit.judging import ScriptedRuntime, conversation, echo, planned_run, put_lines, read_json, read_lines

pytestmark = pytest.mark.unit

PT = "arn:aws:bedrock:us-west-2:123456789012:provisioned-model/abcdefghij12"
LINE_KEYS = {"index", "prompt", "system", "reference", "response", "latencyMs", "inputTokens", "outputTokens", "error"}


@pytest.fixture
def run() -> Iterator[Run]:
    """A run whose five held-out prompts (the first with a system prompt) are in S3."""
    with planned_run() as planned:
        put_lines(planned.validation_prompts, [conversation(i, system=i == 0) for i in range(5)])
        yield planned


def test_the_teacher_answers_every_prompt_in_order_and_a_refused_one_is_recorded(run: Run) -> None:
    # Given a teacher that refuses prompt 2 and answers the others
    runtime = ScriptedRuntime(echo)
    # When the teacher answers
    summary = record_teacher_responses(run, runtime, S3Gateway())
    # Then every prompt has one line, in prompt order, in the contract's format
    lines = read_lines(run.teacher_responses_uri)
    assert [line["index"] for line in lines] == [0, 1, 2, 3, 4]
    assert all(set(line) == LINE_KEYS for line in lines)
    assert lines[0] == {
        "index": 0, "prompt": "question 0?", "system": "Be brief.", "reference": "answer 0.", "response": "answer 0.",
        "latencyMs": 100.0, "inputTokens": 10, "outputTokens": 20, "error": None,
    }  # fmt: skip
    # And the refused prompt carries its error and no answer, latency or tokens
    assert lines[2]["response"] is None
    assert lines[2]["latencyMs"] is None
    assert lines[2]["inputTokens"] is None
    assert "refused" in lines[2]["error"]
    # And the summary counts it as failed and leaves it out of latency and tokens
    assert (summary.prompts, summary.succeeded, summary.failed) == (5, 4, 1)
    assert (summary.input_tokens, summary.output_tokens) == (10 + 11 + 13 + 14, 20 + 21 + 23 + 24)
    assert (summary.latency_p50_ms, summary.latency_p95_ms) == (200.0, 500.0)
    assert summary.model_id == run.teacher_model_id
    assert summary.responses_uri == run.teacher_responses_uri


def test_the_teacher_is_called_through_converse_as_botocore_models_it() -> None:
    # Given one held-out prompt with a system prompt, and a real bedrock-runtime client under botocore's Stubber
    with planned_run() as run:
        put_lines(run.validation_prompts, [conversation(7, system=True)])
        client = boto3.client("bedrock-runtime", region_name="us-west-2")
        with Stubber(client) as stubber:
            stubber.add_response(
                "converse",
                {
                    "output": {"message": {"role": "assistant", "content": [{"text": "seven."}]}},
                    "stopReason": "end_turn",
                    "usage": {"inputTokens": 5, "outputTokens": 2, "totalTokens": 7},
                    "metrics": {"latencyMs": 321},
                },
                {
                    "modelId": run.teacher_model_id,
                    "messages": [{"role": "user", "content": [{"text": "question 7?"}]}],
                    "system": [{"text": "Be brief."}],
                    "inferenceConfig": {"maxTokens": run.max_response_length_for_inference, "temperature": 0.0},
                },
            )
            # When the teacher answers
            summary = record_teacher_responses(
                run, BedrockRuntimeGateway(LazyClient("bedrock-runtime", client)), S3Gateway()
            )
            # Then the request is the one botocore's model accepts, greedy and bounded, and the answer is recorded
            stubber.assert_no_pending_responses()
        assert read_lines(run.teacher_responses_uri)[0]["response"] == "seven."
        assert (summary.latency_p50_ms, summary.input_tokens, summary.output_tokens) == (321.0, 5, 2)


def test_answers_are_bounded_in_concurrency(run: Run) -> None:
    # Given twenty held-out prompts and a slow teacher
    put_lines(run.validation_prompts, [conversation(i) for i in range(20)])
    runtime = ScriptedRuntime(
        lambda request: echo({**request, "messages": [{"content": [{"text": "question 1?"}]}]}), delay=0.02
    )
    big = run.model_copy(update={"validation_sample_size": 20})
    # When the teacher answers them
    record_teacher_responses(big, runtime, S3Gateway())
    # Then no more than the bound were ever in flight at once, and more than one was (they do run in parallel)
    assert 1 < runtime.most_in_flight <= DEFAULT_CONCURRENCY
    assert len(runtime.requests) == 20


def test_a_teacher_that_answers_nothing_fails_the_run_and_still_leaves_its_answers(run: Run) -> None:
    # Given a teacher that refuses everything
    def refuse(request: dict[str, Any]) -> dict[str, Any]:
        return echo({**request, "messages": [{"content": [{"text": "question 2?"}]}]})

    # When the teacher answers, Then the run fails with TeacherInferenceFailed naming the first error and the file
    with pytest.raises(TeacherInferenceFailed, match=r"every prompt failed.*refused.*teacher\.jsonl"):
        record_teacher_responses(run, ScriptedRuntime(refuse), S3Gateway())
    # And the file says what went wrong for each prompt
    assert [line["error"] is not None for line in read_lines(run.teacher_responses_uri)] == [True] * 5


def test_no_validation_prompt_is_a_teacher_failure() -> None:
    # Given an empty held-out file
    with planned_run() as run:
        put_lines(run.validation_prompts, [])
        # When the teacher answers, Then TeacherInferenceFailed names the prompts file
        with pytest.raises(TeacherInferenceFailed, match="no validation prompts"):
            record_teacher_responses(run, ScriptedRuntime(echo), S3Gateway())


def test_validate_model_answers_on_the_given_model_and_keeps_chrf_validation(run: Run) -> None:
    # Given the student on a PT
    runtime = ScriptedRuntime(echo)
    # When it is validated
    summary = record_validation(run, PT, runtime, S3Gateway())
    # Then every Converse call went to the model it was given
    assert {request["modelId"] for request in runtime.requests} == {PT}
    # And the student's answers are in the student's response lines, the same format as the teacher's
    lines = read_lines(run.student_responses_uri)
    assert [line["response"] for line in lines] == ["answer 0.", "answer 1.", None, "answer 3.", "answer 4."]
    assert all(set(line) == LINE_KEYS for line in lines)
    # And validation.json is as before: chrF against the references (exact answers: 100) and the same results
    report = read_json(S3Location.parse(run.report_s3_uri).child(VALIDATION_REPORT).uri)
    assert report["modelId"] == PT
    assert report["summary"]["mean_similarity"] == pytest.approx(100.0)
    assert [r["output"] for r in report["results"]] == [line["response"] for line in lines]
    assert set(report["results"][0]) == {
        "index", "prompt", "output", "reference", "latency_ms", "input_tokens", "output_tokens", "similarity", "error"
    }  # fmt: skip
    # And the summary is the validation summary plus the responses summary
    assert (summary.prompts, summary.succeeded, summary.failed, summary.mean_similarity) == (5, 4, 1, 100.0)
    assert (summary.model_id, summary.responses_uri) == (PT, run.student_responses_uri)
    assert (summary.input_tokens, summary.output_tokens) == (48, 88)


def test_validate_model_fails_when_every_prompt_fails_and_leaves_the_answers(run: Run) -> None:
    def refuse(request: dict[str, Any]) -> dict[str, Any]:
        return echo({**request, "messages": [{"content": [{"text": "question 2?"}]}]})

    with pytest.raises(ValidationInferenceFailed, match=r"every validation prompt failed.*student\.jsonl"):
        record_validation(run, PT, ScriptedRuntime(refuse), S3Gateway())
    assert len(read_lines(run.student_responses_uri)) == 5


def test_the_handlers_take_the_contracts_requests_and_return_camel_case(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given both functions with a scripted Converse
    monkeypatch.setattr(validate_model, "_runtime", ScriptedRuntime(echo))
    monkeypatch.setattr(answer_as_teacher, "_runtime", ScriptedRuntime(echo))
    state = {"run": json.loads(run.model_dump_json(by_alias=True))}
    context = LocalLambdaContext(function_name="judge")
    # When ValidateModel gets {run, modelArn} and AnswerAsTeacher gets {run}
    student = validate_model.handler({**state, "modelArn": PT}, context)
    teacher = answer_as_teacher.handler(state, context)
    # Then both return the ResponsesSummary fields, and ValidateModel its validation summary too
    responses = {
        "prompts", "succeeded", "failed", "latencyP50Ms", "latencyP95Ms", "inputTokens", "outputTokens", "modelId",
        "responsesUri",
    }  # fmt: skip
    assert set(teacher) == responses
    assert set(student) == responses | {
        "meanSimilarity", "similarityMetric", "validationPromptsSource", "validationPrompts", "reportUri",
    }  # fmt: skip
    assert (student["modelId"], teacher["modelId"]) == (PT, run.teacher_model_id)
    # And the old field name is refused: the state machine passes modelArn now
    with pytest.raises(Exception, match="modelArn"):
        validate_model.handler({**state, "provisionedModelArn": PT}, context)


def test_a_malformed_response_line_is_named_by_file_line_and_field(run: Run) -> None:
    # Given a response-lines file whose second line has a latency that is not a number
    good = {"index": 0, "prompt": "q", "system": None, "reference": None, "response": "a", "latencyMs": 1.0,
            "inputTokens": 1, "outputTokens": 1, "error": None}  # fmt: skip
    put_lines(run.teacher_responses_uri, [good, {**good, "index": 1, "latencyMs": "fast"}])
    # When it is read, Then the error names the file, the line and the field
    with pytest.raises(EvaluationResultsUnreadable, match=r"teacher\.jsonl:2: latencyMs: "):
        read_response_lines(S3Location.parse(run.teacher_responses_uri), S3Gateway())


@pytest.mark.parametrize(
    ("values", "p50", "p95"),
    [([], None, None), ([7.0], 7.0, 7.0), ([1.0, 2.0], 1.0, 2.0), ([float(i) for i in range(1, 21)], 10.0, 19.0)],
)
def test_percentiles_are_nearest_rank(values: list[float], p50: float | None, p95: float | None) -> None:
    assert (percentile(values, 50), percentile(values, 95)) == (p50, p95)
