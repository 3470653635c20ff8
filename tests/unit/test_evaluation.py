"""The judge's jobs at the gateway: every Bedrock request goes through botocore's Stubber on a real `bedrock` client,
so its shape is checked against botocore's model of CreateEvaluationJob / GetEvaluationJob / StopEvaluationJob /
ListEvaluationJobs; the datasets and results are files in moto S3."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from bedrock_distill.gateways.bedrock import BedrockGateway
from bedrock_distill.gateways.clients import LazyClient
from bedrock_distill.gateways.s3 import S3Gateway
from bedrock_distill.handlers import common, create_evaluation_jobs, evaluation_status
from bedrock_distill.workflow.errors import (
    BedrockRequestRejected,
    EvaluationJobFailed,
    EvaluationJobStopped,
    EvaluationResultsUnreadable,
    EvaluationTimedOut,
)
from bedrock_distill.workflow.evaluation import (
    JUDGE_TASK_TYPE,
    Evaluation,
    EvaluationJob,
    read_results,
    results_prefix,
    source_identifier,
)
from bedrock_distill.workflow.evaluation import create_evaluation_jobs as create_jobs
from bedrock_distill.workflow.evaluation import evaluation_status as status_of
from bedrock_distill.workflow.run import EXECUTION_TAG_KEY, PROJECT_TAG_KEY, PROJECT_TAG_VALUE, Run, Side
from offline.lambda_runtime import LocalLambdaContext
from tests.unit.judging import JUDGE, ROLE, answer, judge_settings, planned_run, put_answers, put_lines, read_lines

pytestmark = pytest.mark.unit

ARNS: dict[Side, str] = {
    "student": "arn:aws:bedrock:us-west-2:123456789012:evaluation-job/stud3nt0job1",
    "teacher": "arn:aws:bedrock:us-west-2:123456789012:evaluation-job/t3acher0job1",
}
CREATED = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


@pytest.fixture
def run() -> Iterator[Run]:
    """A run whose teacher answered prompts 0-3 and whose student answered 0, 1 and 3 (2 failed)."""
    with planned_run() as planned:
        put_answers(planned, "teacher", [answer(i, f"teacher answer {i}") for i in range(4)])
        put_answers(planned, "student", [answer(i, None if i == 2 else f"student answer {i}") for i in range(4)])
        yield planned


@pytest.fixture
def stub() -> Iterator[tuple[Stubber, BedrockGateway]]:
    client = boto3.client("bedrock", region_name="us-west-2")
    with Stubber(client) as stubber:
        yield stubber, BedrockGateway(LazyClient("bedrock", client))
        stubber.assert_no_pending_responses()


def _pattern(shape: str) -> re.Pattern[str]:
    model = boto3.client("bedrock", region_name="us-west-2").meta.service_model
    return re.compile(f"^(?:{model.shape_for(shape).metadata['pattern']})$")


def _request(run: Run, side: Side, prompts: int) -> dict[str, Any]:
    model = run.student_model_id if side == "student" else run.teacher_model_id
    return {
        "jobName": run.evaluation_job_name(side),
        "jobDescription": f"bedrock-distill: the {side} ({model}) on {prompts} held-out prompts, judged by {JUDGE}",
        "roleArn": ROLE,
        "clientRequestToken": run.evaluation_client_request_token(side),
        "applicationType": "ModelEvaluation",
        "evaluationConfig": {
            "automated": {
                "datasetMetricConfigs": [
                    {
                        "taskType": "General",
                        "dataset": {
                            "name": f"{side}-answers",
                            "datasetLocation": {"s3Uri": run.evaluation_dataset_uri(side)},
                        },
                        "metricNames": ["Builtin.Correctness", "Builtin.Completeness", "Builtin.Helpfulness"],
                    }
                ],
                "evaluatorModelConfig": {"bedrockEvaluatorModels": [{"modelIdentifier": JUDGE}]},
            }
        },
        "inferenceConfig": {
            "models": [{"precomputedInferenceSource": {"inferenceSourceIdentifier": source_identifier(side, model)}}]
        },
        "outputDataConfig": {"s3Uri": run.evaluation_output_uri},
        "jobTags": [
            {"key": PROJECT_TAG_KEY, "value": PROJECT_TAG_VALUE},
            {"key": EXECUTION_TAG_KEY, "value": run.execution_arn},
        ],
    }


def _summary(run: Run, side: Side, status: str = "InProgress") -> dict[str, Any]:
    return {
        "jobArn": ARNS[side],
        "jobName": run.evaluation_job_name(side),
        "status": status,
        "creationTime": CREATED,
        "jobType": "Automated",
        "evaluationTaskTypes": [JUDGE_TASK_TYPE],
    }


def _job(run: Run, side: Side, status: str, **extra: Any) -> dict[str, Any]:
    request = _request(run, side, 3)
    return {
        "jobName": request["jobName"],
        "status": status,
        "jobArn": ARNS[side],
        "roleArn": ROLE,
        "jobType": "Automated",
        "evaluationConfig": request["evaluationConfig"],
        "inferenceConfig": request["inferenceConfig"],
        "outputDataConfig": request["outputDataConfig"],
        "creationTime": CREATED,
        **extra,
    }


def _evaluation(run: Run) -> Evaluation:
    jobs = {
        side: EvaluationJob(job_arn=ARNS[side], job_name=run.evaluation_job_name(side), prompts=3, left_out=0)
        for side in ("student", "teacher")
    }
    return Evaluation(status="InProgress", student=jobs["student"], teacher=jobs["teacher"])


def _expect_create(stubber: Stubber, run: Run, side: Side, prompts: int) -> None:
    stubber.add_response("create_evaluation_job", {"jobArn": ARNS[side]}, _request(run, side, prompts))


def test_each_side_gets_its_own_byoi_dataset_and_judge_job(run: Run, stub: tuple[Stubber, BedrockGateway]) -> None:
    stubber, bedrock = stub
    # Given both sides' answers, and Bedrock expecting exactly these two requests (botocore validates each)
    _expect_create(stubber, run, "student", 3)
    _expect_create(stubber, run, "teacher", 4)
    # When the jobs are created
    evaluation = create_jobs(run, judge_settings(), bedrock, S3Gateway())
    # Then each side's job is in progress, with its dataset's prompt count and the prompts it left out
    assert evaluation.status == "InProgress"
    assert (evaluation.student.job_arn, evaluation.student.prompts, evaluation.student.left_out) == (
        ARNS["student"],
        3,
        1,
    )
    assert (evaluation.teacher.job_arn, evaluation.teacher.prompts, evaluation.teacher.left_out) == (
        ARNS["teacher"],
        4,
        0,
    )
    # And the student's dataset holds the BYOI lines of the prompts it answered: prompt, reference, one response
    student = read_lines(run.student_evaluation_dataset_uri)
    identifier = source_identifier("student", run.student_model_id)
    assert student[0] == {
        "prompt": "question 0?",
        "referenceResponse": "answer 0.",
        "modelResponses": [{"response": "student answer 0", "modelIdentifier": identifier}],
    }
    assert [line["prompt"] for line in student] == ["question 0?", "question 1?", "question 3?"]
    # And the label is one per job, equal to inferenceSourceIdentifier, and within botocore's pattern
    assert _pattern("EvaluationPrecomputedInferenceSourceIdentifier").match(identifier)
    assert {
        r["modelIdentifier"] for line in read_lines(run.teacher_evaluation_dataset_uri) for r in line["modelResponses"]
    } == {source_identifier("teacher", run.teacher_model_id)}
    # And the job names fit botocore's EvaluationJobName, which allows lowercase only
    assert all(_pattern("EvaluationJobName").match(run.evaluation_job_name(side)) for side in ("student", "teacher"))


def test_a_retried_invocation_sends_the_same_request_with_the_same_token(
    run: Run, stub: tuple[Stubber, BedrockGateway]
) -> None:
    stubber, bedrock = stub
    # Given Bedrock expecting the very same two requests twice (it answers a repeated token with the same job)
    for _ in range(2):
        _expect_create(stubber, run, "student", 3)
        _expect_create(stubber, run, "teacher", 4)
    # When the jobs are created, and the invocation is retried
    first = create_jobs(run, judge_settings(), bedrock, S3Gateway())
    again = create_jobs(run, judge_settings(), bedrock, S3Gateway())
    # Then the retry asked for the same jobs (name, token, datasets) and got the same answer
    assert again == first


def test_a_job_whose_name_is_taken_is_found_by_its_exact_name_not_duplicated(
    run: Run, stub: tuple[Stubber, BedrockGateway]
) -> None:
    stubber, bedrock = stub
    # Given a student's job already made under the run's name (Bedrock refuses the name again)
    name = run.evaluation_job_name("student")
    other = {**_summary(run, "student"), "jobName": f"{name}-other", "jobArn": ARNS["teacher"]}
    stubber.add_client_error("create_evaluation_job", "ConflictException", "name in use", 409)
    stubber.add_response(
        "list_evaluation_jobs", {"jobSummaries": [other, _summary(run, "student")]}, {"nameContains": name}
    )
    _expect_create(stubber, run, "teacher", 4)
    # When the jobs are created
    evaluation = create_jobs(run, judge_settings(), bedrock, S3Gateway())
    # Then the student's job is the one of exactly that name (not the one whose name only contains it)
    assert (evaluation.student.job_arn, evaluation.teacher.job_arn) == (ARNS["student"], ARNS["teacher"])


def test_a_conflict_with_no_job_of_that_name_is_not_swallowed(run: Run, stub: tuple[Stubber, BedrockGateway]) -> None:
    stubber, bedrock = stub
    stubber.add_client_error("create_evaluation_job", "ConflictException", "token reused", 409)
    stubber.add_response("list_evaluation_jobs", {}, {"nameContains": run.evaluation_job_name("student")})
    with pytest.raises(BedrockRequestRejected, match="ConflictException"):
        create_jobs(run, judge_settings(), bedrock, S3Gateway())


def test_a_rejected_create_is_not_swallowed(run: Run, stub: tuple[Stubber, BedrockGateway]) -> None:
    stubber, bedrock = stub
    stubber.add_client_error("create_evaluation_job", "AccessDeniedException", "no PassRole", 403)
    with pytest.raises(BedrockRequestRejected, match="AccessDeniedException"):
        create_jobs(run, judge_settings(), bedrock, S3Gateway())


def test_more_than_1000_prompts_are_refused_naming_the_count_and_nothing_is_created(
    stub: tuple[Stubber, BedrockGateway],
) -> None:
    _, bedrock = stub
    # Given a student that answered 1,001 prompts (Stubber has no response queued: any Bedrock call would fail)
    with planned_run() as run:
        put_answers(run, "student", [answer(i, "x") for i in range(1001)])
        # When the jobs are created, Then the run fails naming the count and the limit
        with pytest.raises(EvaluationJobFailed, match=r"1,001 prompts; a judge job takes at most 1,000"):
            create_jobs(run, judge_settings(), bedrock, S3Gateway())
        # And no dataset was written
        assert "Contents" not in boto3.client("s3").list_objects_v2(Bucket="outputs", Prefix="jobs/run-1/evaluation/")


def test_a_side_with_no_answer_has_no_job(stub: tuple[Stubber, BedrockGateway]) -> None:
    _, bedrock = stub
    with planned_run() as run:
        put_answers(run, "student", [answer(0, None)])
        with pytest.raises(EvaluationJobFailed, match="the student answered none of its 1 prompts"):
            create_jobs(run, judge_settings(), bedrock, S3Gateway())


@pytest.mark.parametrize(
    ("student", "teacher", "overall"),
    [("Completed", "Completed", "Completed"), ("InProgress", "Completed", "InProgress")],
)
def test_the_evaluation_is_completed_when_both_jobs_are(
    run: Run, stub: tuple[Stubber, BedrockGateway], student: str, teacher: str, overall: str
) -> None:
    stubber, bedrock = stub
    stubber.add_response("get_evaluation_job", _job(run, "student", student), {"jobIdentifier": ARNS["student"]})
    stubber.add_response("get_evaluation_job", _job(run, "teacher", teacher), {"jobIdentifier": ARNS["teacher"]})
    evaluation = status_of(_evaluation(run), judge_settings(), bedrock, now=CREATED + timedelta(hours=1))
    assert (evaluation.status, evaluation.student.status, evaluation.teacher.status) == (overall, student, teacher)


def test_a_failed_job_ends_the_run_with_bedrocks_failure_messages(
    run: Run, stub: tuple[Stubber, BedrockGateway]
) -> None:
    stubber, bedrock = stub
    stubber.add_response("get_evaluation_job", _job(run, "student", "InProgress"), {"jobIdentifier": ARNS["student"]})
    failed = _job(run, "teacher", "Failed", failureMessages=["judge not accessible", "role cannot read dataset"])
    stubber.add_response("get_evaluation_job", failed, {"jobIdentifier": ARNS["teacher"]})
    with pytest.raises(EvaluationJobFailed, match=r"teacher's evaluation job .* judge not accessible; role cannot"):
        status_of(_evaluation(run), judge_settings(), bedrock, now=CREATED)


@pytest.mark.parametrize("status", ["Stopping", "Stopped", "Deleting"])
def test_a_stopped_job_ends_the_run(run: Run, stub: tuple[Stubber, BedrockGateway], status: str) -> None:
    stubber, bedrock = stub
    stubber.add_response("get_evaluation_job", _job(run, "student", status), {"jobIdentifier": ARNS["student"]})
    stubber.add_response("get_evaluation_job", _job(run, "teacher", "Completed"), {"jobIdentifier": ARNS["teacher"]})
    with pytest.raises(EvaluationJobStopped, match=f"student's evaluation job .* is {status}"):
        status_of(_evaluation(run), judge_settings(), bedrock, now=CREATED)


def test_jobs_past_the_limit_are_stopped_and_the_run_times_out(run: Run, stub: tuple[Stubber, BedrockGateway]) -> None:
    stubber, bedrock = stub
    # Given a student job still running 25 hours after creation (limit 24 h) and a teacher job done
    stubber.add_response("get_evaluation_job", _job(run, "student", "InProgress"), {"jobIdentifier": ARNS["student"]})
    stubber.add_response("get_evaluation_job", _job(run, "teacher", "Completed"), {"jobIdentifier": ARNS["teacher"]})
    # Then only the unfinished job is stopped
    stubber.add_response("stop_evaluation_job", {}, {"jobIdentifier": ARNS["student"]})
    # When the status is read
    with pytest.raises(EvaluationTimedOut, match=r"25\.0 h, past .* 24\.0 h .* stopped the student's"):
        status_of(_evaluation(run), judge_settings(), bedrock, now=CREATED + timedelta(hours=25))


def test_the_handlers_carry_the_evaluation_in_the_contracts_shape(
    run: Run, stub: tuple[Stubber, BedrockGateway], monkeypatch: pytest.MonkeyPatch
) -> None:
    stubber, bedrock = stub
    for name, value in judge_settings().to_environment().items():
        monkeypatch.setenv(name, value)
    common.settings.cache_clear()
    monkeypatch.setattr(create_evaluation_jobs, "_bedrock", bedrock)
    monkeypatch.setattr(evaluation_status, "_bedrock", bedrock)
    _expect_create(stubber, run, "student", 3)
    _expect_create(stubber, run, "teacher", 4)
    state_run = json.loads(run.model_dump_json(by_alias=True))
    context = LocalLambdaContext(function_name="judge")
    # When CreateEvaluationJobs runs
    created = create_evaluation_jobs.handler({"run": state_run}, context)
    # Then its output is {status, student: {jobArn, jobName, ...}, teacher: {...}}
    assert created["status"] == "InProgress"
    assert created["student"]["jobArn"] == ARNS["student"]
    assert created["teacher"]["jobName"] == run.evaluation_job_name("teacher")
    assert created["student"]["leftOut"] == 1
    # And EvaluationStatus reads it back as it comes, and answers in the same shape
    stubber.add_response("get_evaluation_job", _job(run, "student", "Completed"), {"jobIdentifier": ARNS["student"]})
    stubber.add_response("get_evaluation_job", _job(run, "teacher", "Completed"), {"jobIdentifier": ARNS["teacher"]})
    read = evaluation_status.handler({"run": state_run, "evaluation": created}, context)
    assert read == {**created, "status": "Completed", "student": {**created["student"], "status": "Completed"},
                    "teacher": {**created["teacher"], "status": "Completed"}}  # fmt: skip
    common.settings.cache_clear()


# Results ----------------------------------------------------------------------------------------------------


def _output(run: Run, side: Side, lines: list[Any]) -> str:
    uri = (
        results_prefix(run, side)
        .child(f"u1/models/{side}/taskTypes/General/datasets/{side}-answers/f1_output.jsonl")
        .uri
    )
    put_lines(uri, lines)
    return uri


GOOD = {
    "automatedEvaluationResult": {"scores": [{"metricName": "Builtin.Correctness", "result": 0.75}]},
    "inputRecord": {
        "prompt": "q",
        "referenceResponse": "r",
        "modelResponses": [{"response": "a", "modelIdentifier": "s"}],
    },
}


def test_results_are_read_from_every_output_file_under_the_jobs_folder(run: Run) -> None:
    # Given a job folder with an output file, a permission-check object and an unrelated file
    uri = _output(run, "student", [GOOD, {**GOOD, "automatedEvaluationResult": {"scores": [
        {"metricName": "Builtin.Correctness", "result": None}]}}])  # fmt: skip
    put_lines(results_prefix(run, "student").child("u1/custom_metrics/definitions.json").uri, [{}])
    # When the results are read
    results = read_results(run, "student", S3Gateway())
    # Then only the *_output.jsonl file is read, and "not applicable" (null) stays no score
    assert results.files == [uri]
    assert [line.scores for line in results.lines] == [{"Builtin.Correctness": 0.75}, {"Builtin.Correctness": None}]
    assert (results.lines[0].prompt, results.lines[0].reference, results.lines[0].response) == ("q", "r", "a")


@pytest.mark.parametrize(
    ("line", "field"),
    [
        pytest.param("not json", r"\(line\): not JSON", id="not JSON"),
        pytest.param([1], r"\(line\): not a JSON object", id="not an object"),
        pytest.param(
            {**GOOD, "automatedEvaluationResult": {}}, "automatedEvaluationResult.scores: missing", id="no scores"
        ),
        pytest.param(
            {**GOOD, "automatedEvaluationResult": {"scores": [{"metricName": "m", "result": "high"}]}},
            r"automatedEvaluationResult.scores\[0\].result: not a number or null: 'high'",
            id="score not a number",
        ),
        pytest.param(
            {**GOOD, "automatedEvaluationResult": {"scores": [{"result": 1}]}},
            r"automatedEvaluationResult.scores\[0\].metricName: missing",
            id="no metric name",
        ),
        pytest.param({**GOOD, "inputRecord": {}}, "inputRecord.prompt: missing", id="no prompt"),
        pytest.param({**GOOD, "inputRecord": {"prompt": "q"}}, "modelResponses: missing or empty", id="no response"),
    ],
)
def test_an_unreadable_result_names_file_line_and_field(run: Run, line: Any, field: str) -> None:
    # Given an output file whose second line is malformed
    uri = _output(run, "teacher", [GOOD])
    raw = line if isinstance(line, str) else json.dumps(line)
    from bedrock_distill.gateways.s3 import S3Location  # noqa: PLC0415

    location = S3Location.parse(uri)
    boto3.client("s3").put_object(
        Bucket=location.bucket, Key=location.key, Body=(json.dumps(GOOD) + "\n" + raw).encode()
    )
    # When it is read, Then the error names the file, line 2 and the field
    with pytest.raises(EvaluationResultsUnreadable, match=f"{re.escape(uri)}:2: {field}"):
        read_results(run, "teacher", S3Gateway())


def test_a_job_folder_without_output_files_is_unreadable(run: Run) -> None:
    with pytest.raises(EvaluationResultsUnreadable, match=r"no \*_output.jsonl under the student's evaluation job"):
        read_results(run, "student", S3Gateway())
