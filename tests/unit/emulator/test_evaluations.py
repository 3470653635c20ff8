"""Evaluation jobs with a model as judge over precomputed responses: the request Bedrock takes, the lifecycle on the
logical clock, the dataset rules, the result layout, scores that follow the responses, faults, and the service role
the job acts as."""

from __future__ import annotations

import json
from collections.abc import Iterator
from statistics import mean
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from offline.bedrock_emulator import BedrockEmulator, UnsupportedOperationError
from offline.iam import enforcer as iam_enforcer
from offline.iam.enforcer import Enforcer
from offline.iam.requests import World, requests_for
from offline.iam.service_roles import ServiceRole, TemplateServiceRoles
from tests.unit.emulator.builders import ACCOUNT_ID, BUCKET, JOB_SECONDS, REGION, TEACHER, distilled_model, keys_under

pytestmark = pytest.mark.unit

EVALUATION_SECONDS = 1800
EVALUATION_ROLE = f"arn:aws:iam::{ACCOUNT_ID}:role/bedrock-evaluation"
JUDGE = "us.meta.llama3-1-70b-instruct-v1:0"
METRICS = ["Builtin.Correctness", "Builtin.Completeness", "Builtin.Helpfulness"]
PROMPTS = [f"Explain how {topic} affects model latency" for topic in ("quantization", "batching", "caching", "pruning")]


@pytest.fixture
def emulator(s3: Any) -> Iterator[BedrockEmulator]:
    with BedrockEmulator(
        job_seconds=JOB_SECONDS, evaluation_seconds=EVALUATION_SECONDS, deployment_seconds=60, stopping_seconds=60
    ) as started:
        yield started


def dataset_line(prompt: str, response: str, *, source: str = "student", reference: str | None = None) -> str:
    line: dict[str, Any] = {"prompt": prompt, "modelResponses": [{"response": response, "modelIdentifier": source}]}
    if reference is not None:
        line["referenceResponse"] = reference
    return json.dumps(line)


def upload_dataset(s3: Any, lines: list[str], key: str = "evaluation/datasets/student.jsonl") -> str:
    s3.put_object(Bucket=BUCKET, Key=key, Body=("\n".join(lines) + "\n").encode())
    return f"s3://{BUCKET}/{key}"


def evaluation_request(dataset_uri: str, **overrides: Any) -> dict[str, Any]:
    request: dict[str, Any] = {
        "jobName": "distill-exec-1-student",
        "roleArn": EVALUATION_ROLE,
        "applicationType": "ModelEvaluation",
        "evaluationConfig": {
            "automated": {
                "datasetMetricConfigs": [
                    {
                        "taskType": "General",
                        "dataset": {"name": "student", "datasetLocation": {"s3Uri": dataset_uri}},
                        "metricNames": METRICS,
                    }
                ],
                "evaluatorModelConfig": {"bedrockEvaluatorModels": [{"modelIdentifier": JUDGE}]},
            }
        },
        "inferenceConfig": {"models": [{"precomputedInferenceSource": {"inferenceSourceIdentifier": "student"}}]},
        "outputDataConfig": {"s3Uri": f"s3://{BUCKET}/evaluation/output/"},
        "jobTags": [{"key": "project", "value": "bedrock-distill"}],
        "clientRequestToken": "exec-1-evaluate-student",
    }
    return request | overrides


def results(s3: Any, job_name: str = "distill-exec-1-student") -> list[dict[str, Any]]:
    [key] = [key for key in keys_under(s3, f"evaluation/output/{job_name}/") if key.endswith("_output.jsonl")]
    body = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode()
    return [json.loads(line) for line in body.splitlines()]


def metric_mean(lines: list[dict[str, Any]], metric: str) -> float:
    return mean(
        float(score["result"])
        for line in lines
        for score in line["automatedEvaluationResult"]["scores"]
        if score["metricName"] == metric
    )


def test_a_judge_job_completes_and_writes_the_documented_layout(
    bedrock: Any, s3: Any, emulator: BedrockEmulator
) -> None:
    # Given a dataset of three precomputed responses, one with a reference
    lines = [
        dataset_line(PROMPTS[0], "Quantization lowers latency.", reference="Quantization reduces model latency."),
        dataset_line(PROMPTS[1], "Batching raises throughput and latency."),
        dataset_line(PROMPTS[2], "Caching avoids repeated work."),
    ]
    uri = upload_dataset(s3, lines)
    # When a judge job is created over it
    arn = bedrock.create_evaluation_job(**evaluation_request(uri))["jobArn"]
    assert arn.startswith(f"arn:aws:bedrock:{REGION}:{ACCOUNT_ID}:evaluation-job/")
    described = bedrock.get_evaluation_job(jobIdentifier=arn)
    # Then it is an automated job InProgress, as asked, with nothing written but the permission check
    assert (described["status"], described["jobType"], described["applicationType"]) == (
        "InProgress",
        "Automated",
        "ModelEvaluation",
    )
    assert described["evaluationConfig"]["automated"]["datasetMetricConfigs"][0]["taskType"] == "General"
    job_id = arn.rsplit("/", 1)[1]
    assert keys_under(s3, "evaluation/output/") == [
        f"evaluation/output/distill-exec-1-student/{job_id}/amazon-bedrock-evaluations-permission-check"
    ]
    assert bedrock.list_tags_for_resource(resourceARN=arn)["tags"] == [{"key": "project", "value": "bedrock-distill"}]
    # When its time passes, Then it is Completed with one output file at <job-name>/<job-uuid>/models/<source>/...
    emulator.clock.advance(EVALUATION_SECONDS)
    assert bedrock.get_evaluation_job(jobIdentifier=arn)["status"] == "Completed"
    [output] = [key for key in keys_under(s3, "evaluation/output/") if key.endswith("_output.jsonl")]
    expected = f"evaluation/output/distill-exec-1-student/{job_id}/models/student/taskTypes/General/datasets/student/"
    assert output.startswith(expected)
    assert emulator.evaluation_jobs["distill-exec-1-student"].output_uris == [f"s3://{BUCKET}/{output}"]
    # And each line scores every metric in 0..1, names the judge, and carries the input and the response
    written = results(s3)
    assert [line["inputRecord"] for line in written] == [json.loads(line) for line in lines]
    for line, source in zip(written, lines, strict=True):
        assert line["modelResponses"] == json.loads(source)["modelResponses"]
        scores = line["automatedEvaluationResult"]["scores"]
        assert [score["metricName"] for score in scores] == METRICS
        for score in scores:
            assert 0.0 <= score["result"] <= 1.0
            [details] = score["evaluatorDetails"]
            assert details["modelIdentifier"] == JUDGE
            assert details["explanation"]


def test_scores_follow_the_responses(bedrock: Any, s3: Any, emulator: BedrockEmulator) -> None:
    # Given the same prompts and references answered well by one source and beside the point by the other
    references = [f"{prompt.split()[2].capitalize()} lowers latency by reducing computation." for prompt in PROMPTS]
    good = [dataset_line(p, r, reference=r) for p, r in zip(PROMPTS, references, strict=True)]
    poor = [
        dataset_line(p, "It depends on many things.", reference=r) for p, r in zip(PROMPTS, references, strict=True)
    ]
    for name, lines in (("good", good), ("poor", poor)):
        uri = upload_dataset(s3, lines, key=f"evaluation/datasets/{name}.jsonl")
        bedrock.create_evaluation_job(**evaluation_request(uri, jobName=f"eval-{name}", clientRequestToken=name))
    emulator.advance(EVALUATION_SECONDS)
    # Then every metric rates the good answers at the top of its scale and the poor ones lower
    for metric in METRICS:
        assert metric_mean(results(s3, "eval-good"), metric) == 1.0
        assert metric_mean(results(s3, "eval-poor"), metric) < 0.5


def test_a_worse_student_scores_lower_end_to_end(
    bedrock: Any, runtime: Any, s3: Any, emulator: BedrockEmulator
) -> None:
    # Given a distilled Nova model deployed on demand, and the teacher's answers to held-out prompts
    model_arn = distilled_model(s3, emulator.clock.advance)
    deployment = bedrock.create_custom_model_deployment(modelDeploymentName="student", modelArn=model_arn)[
        "customModelDeploymentArn"
    ]
    emulator.clock.advance(60)
    prompts = [
        f"Describe how {w} interacts with memory bandwidth in inference {n}" for n in range(12) for w in ("sharding",)
    ]

    def answers(model_id: str) -> list[str]:
        messages = [[{"role": "user", "content": [{"text": prompt}]}] for prompt in prompts]
        replies = [runtime.converse(modelId=model_id, messages=m) for m in messages]
        return [reply["output"]["message"]["content"][0]["text"] for reply in replies]

    def judged(name: str, responses: list[str]) -> float:
        source = "teacher" if name == "teacher" else "student"
        lines = [dataset_line(p, r, source=source) for p, r in zip(prompts, responses, strict=True)]
        uri = upload_dataset(s3, lines, key=f"evaluation/datasets/{name}.jsonl")
        request = evaluation_request(uri, jobName=f"eval-{name}", clientRequestToken=name)
        request["inferenceConfig"]["models"][0]["precomputedInferenceSource"]["inferenceSourceIdentifier"] = source
        bedrock.create_evaluation_job(**request)
        emulator.advance(EVALUATION_SECONDS)
        return metric_mean(results(s3, f"eval-{name}"), "Builtin.Correctness")

    teacher = judged("teacher", answers(TEACHER))
    faithful = judged("faithful", answers(deployment))
    emulator.faults.degrade_student(0.2)
    degraded = judged("degraded", answers(deployment))
    # Then the default student keeps most of the teacher's score and the degraded one loses most of it
    assert teacher > 0.5
    assert faithful >= 0.75 * teacher
    # (deterministic: each prompt's draw is fixed by the base model and the prompt)
    assert degraded < 0.6 * teacher
    assert degraded < faithful


def test_bedrock_refuses_what_it_does_not_take_with_nothing_created(
    bedrock: Any, s3: Any, emulator: BedrockEmulator
) -> None:
    uri = upload_dataset(s3, [dataset_line(PROMPTS[0], "Answer.")])
    automated = evaluation_request(uri)["evaluationConfig"]["automated"]
    refused: dict[str, dict[str, Any]] = {
        "unknown metric": {
            "evaluationConfig": {
                "automated": automated
                | {"datasetMetricConfigs": [automated["datasetMetricConfigs"][0] | {"metricNames": ["Builtin.Wit"]}]}
            }
        },
        "metric of jobs without a judge": {
            "evaluationConfig": {
                "automated": automated
                | {
                    "datasetMetricConfigs": [
                        automated["datasetMetricConfigs"][0] | {"metricNames": ["Builtin.Accuracy"]}
                    ]
                }
            }
        },
        "unsupported judge": {
            "evaluationConfig": {
                "automated": automated
                | {
                    "evaluatorModelConfig": {
                        "bedrockEvaluatorModels": [{"modelIdentifier": "amazon.titan-text-lite-v1"}]
                    }
                }
            }
        },
        "no judge": {"evaluationConfig": {"automated": {"datasetMetricConfigs": automated["datasetMetricConfigs"]}}},
        "two sources": {
            "inferenceConfig": {
                "models": [
                    {"precomputedInferenceSource": {"inferenceSourceIdentifier": "student"}},
                    {"precomputedInferenceSource": {"inferenceSourceIdentifier": "teacher"}},
                ]
            }
        },
        "upper-case job name (botocore's pattern)": {"jobName": "Distill-Eval"},
        "task type outside the enum and General": {
            "evaluationConfig": {
                "automated": automated
                | {"datasetMetricConfigs": [automated["datasetMetricConfigs"][0] | {"taskType": "Poetry"}]}
            }
        },
    }
    for case, overrides in refused.items():
        with pytest.raises(bedrock.exceptions.ValidationException):
            bedrock.create_evaluation_job(**evaluation_request(uri, **overrides))
        assert emulator.evaluation_jobs == {}, case
    # And kinds of job the emulator does not run are a loud gap, not a made-up answer
    with pytest.raises(UnsupportedOperationError):
        bedrock.create_evaluation_job(
            **evaluation_request(
                uri, inferenceConfig={"models": [{"bedrockModel": {"modelIdentifier": "amazon.nova-lite-v1:0"}}]}
            )
        )


def test_the_same_token_returns_the_same_job_and_a_name_is_not_reused(
    bedrock: Any, s3: Any, emulator: BedrockEmulator
) -> None:
    uri = upload_dataset(s3, [dataset_line(PROMPTS[0], "Answer.")])
    first = bedrock.create_evaluation_job(**evaluation_request(uri))["jobArn"]
    assert bedrock.create_evaluation_job(**evaluation_request(uri))["jobArn"] == first
    with pytest.raises(bedrock.exceptions.ConflictException):
        bedrock.create_evaluation_job(**evaluation_request(uri, jobDescription="changed"))
    with pytest.raises(bedrock.exceptions.ConflictException):
        bedrock.create_evaluation_job(**evaluation_request(uri, clientRequestToken="another"))
    assert list(emulator.evaluation_jobs) == ["distill-exec-1-student"]
    # A name is unique within its Region only
    west = boto3.session.Session(region_name="us-west-2").client("bedrock")
    other = west.create_evaluation_job(**evaluation_request(uri, clientRequestToken="west"))["jobArn"]
    assert other.startswith("arn:aws:bedrock:us-west-2:")
    assert bedrock.get_evaluation_job(jobIdentifier=first)["status"] == "InProgress"


@pytest.mark.parametrize(
    ("lines", "problem"),
    [
        ([dataset_line(PROMPTS[0], "Answer.", source="teacher")], "inferenceSourceIdentifier 'student'"),
        (
            [
                json.dumps(
                    {
                        "prompt": PROMPTS[0],
                        "modelResponses": [
                            {"response": "a", "modelIdentifier": "student"},
                            {"response": "b", "modelIdentifier": "student"},
                        ],
                    }
                )
            ],
            "exactly one",
        ),
        ([dataset_line(PROMPTS[0], "Answer."), "{not json"], "line 2: not a JSON object"),
        ([dataset_line(PROMPTS[0], "Answer.")] * 1001, "1001 prompts; a job takes at most 1000"),
        ([], "holds no prompts"),
    ],
)
def test_a_dataset_bedrock_cannot_judge_fails_the_job(
    bedrock: Any, s3: Any, emulator: BedrockEmulator, lines: list[str], problem: str
) -> None:
    uri = upload_dataset(s3, lines)
    arn = bedrock.create_evaluation_job(**evaluation_request(uri))["jobArn"]
    emulator.clock.advance(EVALUATION_SECONDS)
    described = bedrock.get_evaluation_job(jobIdentifier=arn)
    assert described["status"] == "Failed"
    [message] = described["failureMessages"]
    assert problem in message
    assert not [key for key in keys_under(s3, "evaluation/output/") if key.endswith("_output.jsonl")]


def test_a_stopped_job_writes_nothing(bedrock: Any, s3: Any, emulator: BedrockEmulator) -> None:
    arn = bedrock.create_evaluation_job(**evaluation_request(upload_dataset(s3, [dataset_line(PROMPTS[0], "A.")])))[
        "jobArn"
    ]
    bedrock.stop_evaluation_job(jobIdentifier=arn)
    assert bedrock.get_evaluation_job(jobIdentifier=arn)["status"] == "Stopping"
    with pytest.raises(bedrock.exceptions.ValidationException):
        bedrock.stop_evaluation_job(jobIdentifier=arn)
    emulator.clock.advance(EVALUATION_SECONDS)
    assert bedrock.get_evaluation_job(jobIdentifier=arn)["status"] == "Stopped"
    assert not [key for key in keys_under(s3, "evaluation/output/") if key.endswith("_output.jsonl")]
    with pytest.raises(bedrock.exceptions.ResourceNotFoundException):
        bedrock.stop_evaluation_job(jobIdentifier=arn.replace(arn.rsplit("/", 1)[1], "abcdefabcdef"))


def test_faults_fail_a_job_or_garble_its_output(bedrock: Any, s3: Any, emulator: BedrockEmulator) -> None:
    uri = upload_dataset(s3, [dataset_line(p, "Answer.") for p in PROMPTS])
    emulator.faults.fail_evaluation_job("Judge model throttled", job_name="eval-failed")
    emulator.faults.garble_evaluation_output(job_name="eval-garbled")
    failed = bedrock.create_evaluation_job(**evaluation_request(uri, jobName="eval-failed", clientRequestToken="f"))
    bedrock.create_evaluation_job(**evaluation_request(uri, jobName="eval-garbled", clientRequestToken="g"))
    emulator.clock.advance(EVALUATION_SECONDS)
    described = bedrock.get_evaluation_job(jobIdentifier=failed["jobArn"])
    assert (described["status"], described["failureMessages"]) == ("Failed", ["Judge model throttled"])
    assert not [key for key in keys_under(s3, "evaluation/output/eval-failed/") if key.endswith("_output.jsonl")]
    [key] = [key for key in keys_under(s3, "evaluation/output/eval-garbled/") if key.endswith("_output.jsonl")]
    *whole, cut = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode().splitlines()
    assert len(whole) == len(PROMPTS) - 1
    with pytest.raises(json.JSONDecodeError):
        json.loads(cut)


def test_list_filters_and_pages(bedrock: Any, s3: Any, emulator: BedrockEmulator) -> None:
    assert "jobSummaries" not in bedrock.list_evaluation_jobs()
    uri = upload_dataset(s3, [dataset_line(PROMPTS[0], "Answer.")])
    first = bedrock.create_evaluation_job(**evaluation_request(uri, jobName="eval-a", clientRequestToken="a"))
    emulator.clock.advance(EVALUATION_SECONDS)
    bedrock.create_evaluation_job(**evaluation_request(uri, jobName="eval-b", clientRequestToken="b"))

    def names(**filters: Any) -> list[str]:
        return [summary["jobName"] for summary in bedrock.list_evaluation_jobs(**filters).get("jobSummaries", [])]

    assert names() == ["eval-b", "eval-a"]
    assert names(statusEquals="InProgress") == ["eval-b"]
    assert names(nameContains="a", statusEquals="Completed") == ["eval-a"]
    assert names(applicationTypeEquals="RagEvaluation") == []
    [summary] = bedrock.list_evaluation_jobs(maxResults=1, sortOrder="Ascending")["jobSummaries"]
    assert summary["jobArn"] == first["jobArn"]
    assert summary["evaluationTaskTypes"] == ["General"]
    assert summary["evaluatorModelIdentifiers"] == [JUDGE]
    assert summary["inferenceConfigSummary"]["modelConfigSummary"]["precomputedInferenceSourceIdentifiers"] == [
        "student"
    ]


# The evaluation service role, as the user guide documents it ("Required service role permissions for creating a
# model evaluation job that uses a judge model"; trust from "Service role requirements for automatic model
# evaluation jobs").
TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "bedrock.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {
                "StringEquals": {"aws:SourceAccount": ACCOUNT_ID},
                "ArnEquals": {"aws:SourceArn": f"arn:aws:bedrock:{REGION}:{ACCOUNT_ID}:evaluation-job/*"},
            },
        }
    ],
}
JUDGE_GRANT = {
    "Effect": "Allow",
    "Action": "bedrock:InvokeModel",
    "Resource": [
        f"arn:aws:bedrock:{REGION}:{ACCOUNT_ID}:inference-profile/{JUDGE}",
        "arn:aws:bedrock:*::foundation-model/meta.llama3-1-70b-instruct-v1:0",
    ],
}
READ_DATASETS = {
    "Effect": "Allow",
    "Action": ["s3:GetObject", "s3:ListBucket"],
    "Resource": [f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}/evaluation/datasets/*"],
}
WRITE_OUTPUT = {"Effect": "Allow", "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{BUCKET}/evaluation/output/*"}


@pytest.fixture
def as_role(emulator: BedrockEmulator) -> Iterator[Any]:
    """Sets the evaluation role's statements (and trust) the emulator's jobs act under; yields the setter."""
    world = World(
        region=REGION,
        account_id=ACCOUNT_ID,
        profile_regions=lambda profile: ["us-east-1", "us-west-2"] if profile.startswith("us.") else [],
    )
    enforcer = Enforcer(world)
    iam_enforcer.activate(enforcer)

    def role(*statements: dict[str, Any], trust: dict[str, Any] = TRUST) -> Enforcer:
        policy = {"Version": "2012-10-17", "Statement": list(statements)}
        roles = {EVALUATION_ROLE: ServiceRole(EVALUATION_ROLE, (policy,), trust)}
        emulator.service_role_authority = TemplateServiceRoles(enforcer, roles)
        return enforcer

    try:
        yield role
    finally:
        emulator.service_role_authority = None
        iam_enforcer.deactivate()


@pytest.mark.parametrize(
    "case",
    [
        ((JUDGE_GRANT, WRITE_OUTPUT), TRUST, "s3:GetObject"),
        ((JUDGE_GRANT, READ_DATASETS), TRUST, "s3:PutObject"),
        ((READ_DATASETS, WRITE_OUTPUT), TRUST, "bedrock:InvokeModel"),
        (
            (JUDGE_GRANT, READ_DATASETS, WRITE_OUTPUT),
            json.loads(json.dumps(TRUST).replace("evaluation-job/*", "model-customization-job/*")),
            "does not let bedrock.amazonaws.com assume it",
        ),
    ],
)
def test_a_role_missing_a_grant_fails_the_job_as_aws_would(
    bedrock: Any, s3: Any, emulator: BedrockEmulator, as_role: Any, case: Any
) -> None:
    # Given the evaluation role without one of the documented grants (or trusting customization jobs only)
    statements, trust, problem = case
    enforcer = as_role(*statements, trust=trust)
    uri = upload_dataset(s3, [dataset_line(PROMPTS[0], "Answer.")])
    # When a job is created (the call itself is the caller's, and succeeds)
    arn = bedrock.create_evaluation_job(**evaluation_request(uri))["jobArn"]
    emulator.clock.advance(EVALUATION_SECONDS)
    # Then the job failed, naming what the role could not do, and wrote no results
    described = bedrock.get_evaluation_job(jobIdentifier=arn)
    assert described["status"] == "Failed"
    assert problem in described["failureMessages"][0]
    assert not [key for key in keys_under(s3, "evaluation/output/") if key.endswith("_output.jsonl")]
    assert enforcer.denials or "assume" in problem


def test_a_role_with_the_documented_grants_reads_and_writes_as_itself(
    bedrock: Any, s3: Any, emulator: BedrockEmulator, as_role: Any
) -> None:
    enforcer = as_role(JUDGE_GRANT, READ_DATASETS, WRITE_OUTPUT)
    uri = upload_dataset(s3, [dataset_line(PROMPTS[0], "Answer.")])
    arn = bedrock.create_evaluation_job(**evaluation_request(uri))["jobArn"]
    emulator.clock.advance(EVALUATION_SECONDS)
    assert bedrock.get_evaluation_job(jobIdentifier=arn)["status"] == "Completed"
    assert enforcer.denials == []
    by_role = {(a.request.action, a.request.resource.split("/")[-1]) for a in enforcer.authorizations}
    assert ("s3:GetObject", "student.jsonl") in by_role
    assert any(action == "s3:PutObject" and name.endswith("_output.jsonl") for action, name in by_role)
    assert all(a.principal.role_arn == EVALUATION_ROLE for a in enforcer.authorizations)


def test_iam_sees_each_evaluation_call_as_the_service_authorization_reference_says(
    bedrock: Any, s3: Any, emulator: BedrockEmulator
) -> None:
    world = World(region=REGION, account_id=ACCOUNT_ID, resource_tags=emulator.tags_of)
    request = evaluation_request("s3://bucket/evaluation/datasets/student.jsonl")
    # Create: on the judge's foundation model (not on an evaluation-job), TagResource on the job, PassRole
    create = requests_for("bedrock", "CreateEvaluationJob", request, world)
    assert [(r.action, r.resource) for r in create] == [
        ("bedrock:CreateEvaluationJob", f"arn:aws:bedrock:{REGION}::foundation-model/meta.llama3-1-70b-instruct-v1:0"),
        ("bedrock:TagResource", f"arn:aws:bedrock:{REGION}:{ACCOUNT_ID}:evaluation-job/*"),
        ("iam:PassRole", EVALUATION_ROLE),
    ]
    assert create[0].context == {"aws:RequestTag/project": "bedrock-distill", "aws:TagKeys": ["project"]}
    assert create[2].context == {"iam:PassedToService": "bedrock.amazonaws.com"}
    # Get and Stop: on the job's ARN with its tags; List: on *
    arn = bedrock.create_evaluation_job(**evaluation_request(upload_dataset(s3, [dataset_line(PROMPTS[0], "A.")])))[
        "jobArn"
    ]
    for operation in ("GetEvaluationJob", "StopEvaluationJob"):
        [on_job] = requests_for("bedrock", operation, {"jobIdentifier": arn}, world)
        assert (on_job.action, on_job.resource) == (f"bedrock:{operation}", arn)
        assert on_job.context == {"aws:ResourceTag/project": "bedrock-distill"}
    [listing] = requests_for("bedrock", "ListEvaluationJobs", {}, world)
    assert listing.resource == "*"
    assert emulator.resource_arn("evaluation-job", arn) == arn


def test_a_failed_create_call_is_the_callers_access_denied(bedrock: Any, s3: Any, as_role: Any) -> None:
    from offline.iam.enforcer import Principal  # noqa: PLC0415

    as_role(JUDGE_GRANT, READ_DATASETS, WRITE_OUTPUT)
    caller = Principal(f"arn:aws:iam::{ACCOUNT_ID}:role/fn", "fn", ({"Version": "2012-10-17", "Statement": []},))
    uri = upload_dataset(s3, [dataset_line(PROMPTS[0], "Answer.")])
    with Enforcer.acting_as(caller), pytest.raises(ClientError) as refused:
        bedrock.create_evaluation_job(**evaluation_request(uri))
    assert refused.value.response["Error"]["Code"] == "AccessDeniedException"
    assert "bedrock:CreateEvaluationJob" in refused.value.response["Error"]["Message"]
