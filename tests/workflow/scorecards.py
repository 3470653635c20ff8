"""A run's scorecard held against the evaluation jobs' output files, read straight from S3."""

from __future__ import annotations

import json
import statistics
from typing import Any

import boto3
import pytest


def _s3_json(uri: str) -> Any:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return json.loads(boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())


def _output_files(output_uri: str, job_name: str) -> dict[str, list[dict[str, Any]]]:
    """The result files an evaluation job wrote, read straight from S3 by the layout AWS documents (user guide,
    "Understand how the results of your model evaluation job are saved in Amazon S3"): every `*_output.jsonl` under
    `<output>/<job name>/`."""
    bucket, _, prefix = output_uri.removeprefix("s3://").partition("/")
    s3 = boto3.client("s3")
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=f"{prefix}{job_name}/").get("Contents", [])
    files = {}
    for item in listed:
        if item["Key"].endswith("_output.jsonl"):
            body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read().decode()
            files[f"s3://{bucket}/{item['Key']}"] = [json.loads(line) for line in body.splitlines() if line]
    return files


def _scores(lines: list[dict[str, Any]]) -> dict[str, dict[str, float | None]]:
    """prompt -> metric -> the judge's score, as the output lines give them."""
    return {
        line["inputRecord"]["prompt"]: {
            score["metricName"]: score["result"] for score in line["automatedEvaluationResult"]["scores"]
        }
        for line in lines
    }


def _expected_metrics(
    student: dict[str, dict[str, float | None]], teacher: dict[str, dict[str, float | None]]
) -> dict[str, dict[str, float]]:
    """Each metric's means over the prompts the judge scored on both sides, the student's share of the teacher's
    mean, and its win rate (a tie counts half), computed here from the output files' scores alone."""
    expected = {}
    for metric in {name for scores in teacher.values() for name in scores}:
        both = [
            (s, t)
            for prompt in teacher.keys() & student.keys()
            if (s := student[prompt].get(metric)) is not None and (t := teacher[prompt].get(metric)) is not None
        ]
        teacher_mean = statistics.fmean(t for _, t in both)
        student_mean = statistics.fmean(s for s, _ in both)
        wins = sum(1.0 if s > t else 0.5 if s == t else 0.0 for s, t in both)
        expected[metric] = {
            "teacherMean": teacher_mean,
            "studentMean": student_mean,
            "studentShare": student_mean / teacher_mean,
            "studentWinRate": wins / len(both),
            "judgedPrompts": len(both),
        }
    return expected


def assert_traceable_to_the_output_files(output: dict[str, Any]) -> dict[str, Any]:
    """The scorecard's metrics are the output files' scores, and it names exactly those files as its sources."""
    run = output["run"]
    scorecard = _s3_json(output["scorecard"]["scorecardUri"])
    student_files = _output_files(run["evaluationOutputUri"], run["studentEvaluationJobName"])
    teacher_files = _output_files(run["evaluationOutputUri"], run["teacherEvaluationJobName"])
    assert student_files
    assert teacher_files
    assert sorted(scorecard["sources"]) == sorted([*student_files, *teacher_files])
    expected = _expected_metrics(
        _scores([line for lines in student_files.values() for line in lines]),
        _scores([line for lines in teacher_files.values() for line in lines]),
    )
    assert {metric["name"] for metric in scorecard["metrics"]} == set(expected)
    for metric in scorecard["metrics"]:
        for field, value in expected[metric["name"]].items():
            assert metric[field] == pytest.approx(value, abs=1e-3), (metric["name"], field)
    decided = next(m for m in scorecard["metrics"] if m["name"] == scorecard["decision"]["metric"])
    assert scorecard["decision"]["share"] == pytest.approx(decided["studentShare"], abs=1e-3)
    assert output["scorecard"]["decision"] == scorecard["decision"]["outcome"]
    return dict(scorecard)
