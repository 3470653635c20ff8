"""Validation prompts held out of the training prompts when a run gives none (workflow/hold_out.py).

The model must be scored on prompts it did not train on: every valid record ends up in exactly one of the
two files, the choice is the execution's own (a retried Preflight makes the same one), and a dataset too
small to spare them fails Preflight before anything exists in Bedrock.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from rich.console import Console

from bedrock_distill.gateways.s3 import S3Gateway, S3Location
from bedrock_distill.gateways.stepfunctions import Execution as ExecutionRecord
from bedrock_distill.preflight import SourceError
from bedrock_distill.preflight.dataset import MIN_VALID_RECORDS
from bedrock_distill.workflow.dataset_settings import DatasetSettings
from bedrock_distill.workflow.errors import PreflightFailed
from bedrock_distill.workflow.hold_out import held_out_indices, hold_out_problem, split_dataset
from bedrock_distill.workflow.preflight import PREFLIGHT_REPORT, run_preflight
from bedrock_distill.workflow.run import ExecutionContext, ExecutionInput, HeldOutSplit, Run, plan_run
from bedrock_distill.workflow.settings import PipelineSettings
from bedrock_distill.workflow.validation import ValidationPromptsOrigin
from distill_cli.console import print_report
from distill_cli.report import RunReport
from distill_cli.stack import INPUT_LOCATION, STUDENT_MODEL_ID, TEACHER_MODEL_ID, Stack
from distill_cli.start import Findings, StartAws, StartOptions, plan_start
from tests.unit.settings import pipeline_settings

pytestmark = pytest.mark.unit

ARN = "arn:aws:states:us-west-2:123456789012:execution:distillation:run-1"
EXECUTION = ExecutionContext(id=ARN, name="run-1")
INPUTS = "inputs"
OUTPUTS = "outputs"
DATASET = f"s3://{INPUTS}/datasets/tickets.jsonl"


def _settings() -> PipelineSettings:
    return pipeline_settings(output_bucket=OUTPUTS)


def _record(index: int) -> bytes:
    record = {
        "schemaVersion": "bedrock-conversation-2024",
        "messages": [
            {"role": "user", "content": [{"text": f"Summarise ticket {index}."}]},
            {"role": "assistant", "content": [{"text": f"Ticket {index}."}]},
        ],
    }
    return json.dumps(record).encode()


@pytest.fixture
def s3() -> Iterator[S3Gateway]:
    with mock_aws():
        client = boto3.client("s3")
        region = os.environ["AWS_DEFAULT_REGION"]
        for bucket in (INPUTS, OUTPUTS):
            if region == "us-east-1":
                client.create_bucket(Bucket=bucket)
            else:
                client.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})
        yield S3Gateway(client)


def _put(s3: S3Gateway, uri: str, body: bytes) -> None:
    location = S3Location.parse(uri)
    s3.upload_chunks(location, [body])


def _read(s3: S3Gateway, uri: str) -> bytes:
    return b"".join(s3.read_chunks(S3Location.parse(uri)))


def _keys(s3: S3Gateway, bucket: str) -> list[str]:
    return list(s3.list_keys(S3Location(bucket, "")))


def _planned(**execution_input: Any) -> Run:
    document = {"trainingData": {"prompts": DATASET}, **execution_input}
    return plan_run(ExecutionInput.model_validate(document), EXECUTION, _settings())


# --- The choice ----------------------------------------------------------------------------------------


def test_the_held_out_records_are_the_executions_own_choice() -> None:
    # Given a 120-record dataset and 20 to hold out
    chosen = held_out_indices(ARN, 120, 20)
    # Then exactly 20 distinct positions of the file are chosen
    assert len(chosen) == 20
    assert chosen <= set(range(120))
    # And a retried Preflight (the same execution) chooses the same ones
    assert held_out_indices(ARN, 120, 20) == chosen
    # And they are a sample of the whole file, not its first records
    assert chosen != set(range(20))
    assert max(chosen) >= 60
    # And another execution of the same file holds out another sample
    assert held_out_indices(f"{ARN}-again", 120, 20) != chosen


@pytest.mark.parametrize(("valid", "size"), [(120, 20), (MIN_VALID_RECORDS + 1, 1), (15_000, 500)])
def test_enough_records_leave_at_least_the_minimum_to_train_on(valid: int, size: int) -> None:
    assert valid - size >= MIN_VALID_RECORDS
    assert hold_out_problem(DATASET, valid, size) is None


def test_too_few_records_to_hold_out_is_refused_naming_file_counts_and_remedies() -> None:
    # Given 110 valid records and the default validationSampleSize of 20, which would leave 90
    problem = hold_out_problem(DATASET, 110, 20)
    # Then it is an error on the whole file that names the counts and each way out
    assert problem is not None
    rendered = problem.render()
    assert rendered.startswith(f"{DATASET}:0: (file): no validationPrompts given")
    assert "validationSampleSize=20" in rendered
    assert "leaving 90 of the 110 valid records to train on" in rendered
    assert f"at least {MIN_VALID_RECORDS}" in rendered
    assert "give validationPrompts" in rendered
    assert "add at least 10 valid records" in rendered
    assert "lower validationSampleSize to at most 10" in rendered


def test_below_the_minimum_even_without_holding_out_no_smaller_sample_is_offered() -> None:
    problem = hold_out_problem(DATASET, 95, 20)
    assert problem is not None
    assert "leaving 75 of the 95 valid records" in problem.reason
    assert "add at least 25 valid records" in problem.reason
    assert "lower validationSampleSize" not in problem.reason


# --- The split -----------------------------------------------------------------------------------------


def test_every_record_lands_in_exactly_one_file_in_its_original_order(s3: S3Gateway) -> None:
    # Given 120 records with blank lines among them (the validator warns, Bedrock skips) and no final newline
    records = [_record(index) for index in range(120)]
    body = b"\n".join(records[:50]) + b"\n\n   \n" + b"\n".join(records[50:])
    _put(s3, DATASET, body)
    training = S3Location(OUTPUTS, "jobs/run-1/data/training.jsonl")
    held_out = S3Location(OUTPUTS, "jobs/run-1/data/held-out.jsonl")
    # When 20 are held out
    split = split_dataset(
        DATASET, execution_arn=ARN, records=120, held_out_size=20, training=training, held_out=held_out, s3=s3
    )
    # Then the counts add up to the dataset's records
    assert split == HeldOutSplit(dataset_uri=DATASET, dataset_records=120, training_records=100, held_out_records=20)
    trained = _read(s3, training.uri).splitlines()
    validated = _read(s3, held_out.uri).splitlines()
    # And the held-out file holds exactly the chosen records, the training file all the others, both in file order
    chosen = sorted(held_out_indices(ARN, 120, 20))
    assert validated == [records[index] for index in chosen]
    assert trained == [record for index, record in enumerate(records) if index not in chosen]
    # And both are JSONL: one record a line, each ending in a newline, no blank lines carried over
    assert _read(s3, training.uri).endswith(b"\n")
    assert _read(s3, held_out.uri).endswith(b"\n")


def test_a_retried_split_writes_the_same_files(s3: S3Gateway) -> None:
    _put(s3, DATASET, b"\n".join(_record(index) for index in range(130)))
    training = S3Location(OUTPUTS, "a/training.jsonl")
    held_out = S3Location(OUTPUTS, "a/held-out.jsonl")
    written = []
    for _ in range(2):
        split_dataset(
            DATASET, execution_arn=ARN, records=130, held_out_size=7, training=training, held_out=held_out, s3=s3
        )
        written.append((_read(s3, training.uri), _read(s3, held_out.uri)))
    assert written[0] == written[1]


def test_a_file_that_changed_after_validation_is_not_split_silently(s3: S3Gateway) -> None:
    # Given a file with one record more than Preflight's validation counted
    _put(s3, DATASET, b"\n".join(_record(index) for index in range(121)))
    # Then the split refuses rather than drop or add a record unseen
    with pytest.raises(SourceError, match=r"held 120 valid records when validated and 121 when split"):
        split_dataset(
            DATASET,
            execution_arn=ARN,
            records=120,
            held_out_size=20,
            training=S3Location(OUTPUTS, "t.jsonl"),
            held_out=S3Location(OUTPUTS, "h.jsonl"),
            s3=s3,
        )


def test_a_split_larger_than_one_upload_part_streams_through_multipart(s3: S3Gateway) -> None:
    # Given records totalling more than s3transfer's 8 MiB multipart threshold
    padding = "x" * 20_000
    records = [json.dumps({"i": index, "text": padding}).encode() for index in range(600)]
    _put(s3, DATASET, b"\n".join(records) + b"\n")
    training = S3Location(OUTPUTS, "big/training.jsonl")
    split_dataset(
        DATASET,
        execution_arn=ARN,
        records=600,
        held_out_size=10,
        training=training,
        held_out=S3Location(OUTPUTS, "big/held-out.jsonl"),
        s3=s3,
    )
    # Then the remainder arrives whole, as one multipart object
    head = boto3.client("s3").head_object(Bucket=OUTPUTS, Key=training.key)
    assert head["ETag"].strip('"').endswith("-2")
    assert len(_read(s3, training.uri).splitlines()) == 590


# --- In the run: plan, Preflight, validation -----------------------------------------------------------


def test_an_upload_whose_settings_filter_trains_from_logs_validates_on_the_whole_upload() -> None:
    # Given an upload's input with a settings filter: the run trains from logs, not from the upload
    execution_input = ExecutionInput.model_validate(
        {"trainingData": {"prompts": DATASET}, "datasetSettings": f"s3://{INPUTS}/datasets/tickets.json"}
    )
    applied = DatasetSettings(filter={"equals": {"project": "t"}}).apply_to(execution_input)
    run = plan_run(applied, EXECUTION, _settings())
    # Then nothing is held out: the upload was never trained on, and all of it is there to validate on
    assert run.training_source_kind == "invocationLogs"
    assert (run.validation_prompts, run.validation_prompts_source) == (DATASET, "given")


def test_a_settings_filter_with_both_prompts_and_validation_prompts_is_refused() -> None:
    # Given prompts, validationPrompts and a settings filter: the prompts would be neither trained nor validated on
    execution_input = ExecutionInput.model_validate(
        {
            "trainingData": {"prompts": DATASET},
            "validationPrompts": f"s3://{INPUTS}/datasets/held-out.jsonl",
            "datasetSettings": f"s3://{INPUTS}/datasets/tickets.json",
        }
    )
    settings = DatasetSettings(filter={"equals": {"project": "t"}})
    with pytest.raises(ValueError, match=r"tickets\.json: filter: .*neither trained nor validated on"):
        settings.apply_to(execution_input)


def test_preflight_writes_both_files_and_reports_the_split(s3: S3Gateway) -> None:
    # Given 120 valid records and a run without validationPrompts holding out 20
    _put(s3, DATASET, b"\n".join(_record(index) for index in range(120)))
    run = _planned()
    # When Preflight runs
    summary = run_preflight(run, s3)
    # Then the job will train on 100, and validation will run on 20
    assert summary.training_records == 100
    assert summary.held_out == HeldOutSplit(
        dataset_uri=DATASET, dataset_records=120, training_records=100, held_out_records=20
    )
    assert len(_read(s3, run.training_data_config["s3Uri"]).splitlines()) == 100
    assert len(_read(s3, run.validation_prompts).splitlines()) == 20
    # And preflight.json holds the counts, both files and how the records were chosen
    report = json.loads(_read(s3, f"{run.report_s3_uri}{PREFLIGHT_REPORT}"))
    assert report["problems"] == []
    assert report["heldOut"]["datasetRecords"] == report["trainingData"]["valid"] == 120
    assert (report["heldOut"]["trainingRecords"], report["heldOut"]["heldOutRecords"]) == (100, 20)
    assert report["heldOut"]["trainingUri"] == run.training_data_config["s3Uri"]
    assert report["heldOut"]["heldOutUri"] == run.validation_prompts
    assert "execution ARN" in report["heldOut"]["selection"]


def test_preflight_fails_a_dataset_too_small_to_hold_out_and_writes_no_data(s3: S3Gateway) -> None:
    # Given 110 valid records: enough to train on, not after holding out 20
    _put(s3, DATASET, b"\n".join(_record(index) for index in range(110)))
    run = _planned()
    # When Preflight runs, then it fails naming the file, the counts and what to do
    with pytest.raises(PreflightFailed) as failed:
        run_preflight(run, s3)
    assert "leaving 90 of the 110 valid records to train on" in str(failed.value)
    assert f"{DATASET}:0: (file):" in str(failed.value)
    # And nothing was written for the job: only the preflight report
    assert _keys(s3, OUTPUTS) == [f"jobs/run-1/report/{PREFLIGHT_REPORT}"]


def test_preflight_writes_no_split_of_an_invalid_dataset(s3: S3Gateway) -> None:
    _put(s3, DATASET, b"\n".join([*(_record(index) for index in range(120)), b'{"schemaVersion": 1}']))
    with pytest.raises(PreflightFailed, match="1 invalid records"):
        run_preflight(_planned(), s3)
    assert _keys(s3, OUTPUTS) == [f"jobs/run-1/report/{PREFLIGHT_REPORT}"]


def test_the_validation_report_says_where_its_prompts_came_from() -> None:
    split = HeldOutSplit(dataset_uri=DATASET, dataset_records=120, training_records=100, held_out_records=20)
    held_out = ValidationPromptsOrigin.of(_planned().model_copy(update={"held_out": split}))
    assert held_out.source == "held-out"
    assert held_out.description.startswith(f"held out: 20 of the 120 records of {DATASET}, chosen before the job")
    assert "the job trained on the other 100" in held_out.description
    given = ValidationPromptsOrigin.of(_planned(validationPrompts=f"s3://{INPUTS}/v.jsonl"))
    assert (given.source, given.description) == ("given", f"given: s3://{INPUTS}/v.jsonl")


# --- The operator's view: `distill start` and `distill report` ----------------------------------------


def _start_findings(tmp_path: Path, records: int, **options: Any) -> list[str]:
    prompts = tmp_path / "tickets.jsonl"
    prompts.write_bytes(b"\n".join(_record(index) for index in range(records)) + b"\n")
    stack = Stack(
        name="BedrockDistill",
        region="us-west-2",
        status="CREATE_COMPLETE",
        outputs={
            INPUT_LOCATION: f"s3://{INPUTS}/datasets/",
            TEACHER_MODEL_ID: _settings().default_teacher_model_id,
            STUDENT_MODEL_ID: _settings().default_student_model_id,
        },
    )
    problems: list[str] = []
    findings = Findings(on_problem=problems.append, on_note=lambda _: None)
    aws = StartAws(stack=lambda: stack, s3=S3Gateway, region=lambda: stack.region)
    plan_start(StartOptions(prompts=str(prompts), name="r", **options), aws, datetime.now(UTC), findings)
    return problems


def test_distill_start_refuses_prompts_too_few_to_hold_validation_prompts_out_of(tmp_path: Path) -> None:
    # Given 110 local records and no --validation-prompts: the pipeline would hold 20 out and train on 90
    problems = _start_findings(tmp_path, 110)
    # Then `distill start` says so before uploading anything, as Preflight would
    assert any("leaving 90 of the 110 valid records to train on" in line for line in problems), problems
    # And with fewer held out, or with validation prompts of its own, that problem is gone
    assert not any("validationSampleSize" in line for line in _start_findings(tmp_path, 110, validation_sample_size=10))
    validation = tmp_path / "held-out.jsonl"
    validation.write_bytes(_record(1000) + b"\n")
    given = _start_findings(tmp_path, 110, validation_prompts=str(validation))
    assert not any("validationSampleSize" in line for line in given)


def test_distill_report_says_where_the_validation_prompts_came_from() -> None:
    # Given a run whose Preflight held 20 of 120 records out, and whose validation ran on them
    origin = ValidationPromptsOrigin.of(
        _planned().model_copy(
            update={
                "held_out": HeldOutSplit(
                    dataset_uri=DATASET, dataset_records=120, training_records=100, held_out_records=20
                )
            }
        )
    )
    report = RunReport(
        execution=ExecutionRecord(arn=ARN, name="run-1", status="SUCCEEDED", start=datetime.now(UTC)),
        run_prefix=f"s3://{OUTPUTS}/jobs/run-1/",
        job={},
        metrics=None,
        validation={"modelId": "pt", "validationPrompts": origin.model_dump(), "summary": {}, "results": []},
        preflight={
            "problems": [],
            "trainingData": {"valid": 120},
            "heldOut": {"datasetRecords": 120, "trainingRecords": 100, "heldOutRecords": 20},
        },
        outcome={},
    )
    console = Console(record=True, width=400)
    # When its report is printed
    print_report(console, report)
    text = console.export_text()
    # Then it says how many records trained, how many were held out, and where validation's prompts came from
    assert "preflight: 100 training records, 20 held out for validation (of 120), 0 problems" in text
    assert f"validation prompts: held out: 20 of the 120 records of {DATASET}" in text
