"""distill start: checks the data here, uploads what is local, starts one execution; nothing on a problem."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from bedrock_distill.workflow.run import ExecutionInput
from distill_cli.main import main
from distill_cli.session import AwsSession
from tests.unit.cli.conftest import (
    INPUT_BUCKET,
    LOG_SOURCE,
    STUDENT,
    TEACHER,
    Deployment,
    FakeClock,
    aws_client,
    conversation,
    enable_invocation_logging,
    execution_input_of,
    log_invocations,
    s3_keys,
    write_prompts,
    write_records,
)

pytestmark = pytest.mark.unit

CONSOLE = "https://us-west-2.console.aws.amazon.com/states/home?region=us-west-2#/v2/executions/details/"


def _executions(deployment: Deployment) -> list[str]:
    listed = aws_client("stepfunctions").list_executions(stateMachineArn=deployment.state_machine_arn)
    return [item["executionArn"] for item in listed["executions"]]


@pytest.fixture
def validation_prompts(tmp_path: Path) -> Path:
    return write_records(tmp_path / "held-out.jsonl", [conversation(1000 + index) for index in range(5)])


def test_valid_local_prompts_are_uploaded_and_a_run_started(
    deployment: Deployment, clock: FakeClock, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given 120 valid prompts in a local file
    prompts = write_prompts(tmp_path / "tickets.jsonl", 120)
    # When a run is started from it
    code = main(["start", "--prompts", str(prompts), "--name", "tickets-1"])
    # Then the file is uploaded under the stack's InputLocation, in a folder of the run's name
    out = capsys.readouterr().out
    assert code == 0, out
    assert s3_keys(INPUT_BUCKET) == ["datasets/tickets-1/tickets.jsonl"]
    # And one execution was started, whose input the pipeline accepts and reads the uploaded file
    (arn,) = _executions(deployment)
    execution_input = ExecutionInput.model_validate(execution_input_of(arn))
    assert execution_input.training_data.prompts == f"s3://{INPUT_BUCKET}/datasets/tickets-1/tickets.jsonl"
    assert execution_input.teacher_model_id is None  # the stack's default applies
    # And its ARN and console link are printed, each on one line
    assert f"execution ARN: {arn}\n" in out
    assert f"console: {CONSOLE}{arn}\n" in out
    assert f"{prompts}: 120 records, 120 valid, 0 warnings" in out


def test_without_a_name_the_run_is_named_by_the_time(
    deployment: Deployment, clock: FakeClock, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # When a run is started without --name, from an S3 object already in place
    prompts = write_prompts(tmp_path / "tickets.jsonl", 120)
    aws_client("s3").upload_file(str(prompts), INPUT_BUCKET, "shared/tickets.jsonl")
    code = main(["start", "--prompts", f"s3://{INPUT_BUCKET}/shared/tickets.jsonl"])
    # Then the execution is named distill-<UTC time>-<random>, and nothing new was uploaded
    assert code == 0
    (arn,) = _executions(deployment)
    assert re.fullmatch(rf".*:distill-{clock.now():%Y%m%d-%H%M%S}-[0-9a-f]{{6}}", arn)
    assert s3_keys(INPUT_BUCKET) == ["shared/tickets.jsonl"]
    assert execution_input_of(arn)["trainingData"] == {"prompts": f"s3://{INPUT_BUCKET}/shared/tickets.jsonl"}


def test_invalid_local_prompts_start_nothing_and_name_file_line_and_field(
    deployment: Deployment, clock: FakeClock, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given 121 prompts, the 7th of which has an empty user text (120 valid: 100 after holding 20 out)
    records = [conversation(index) for index in range(121)]
    records[6]["messages"][0]["content"][0]["text"] = "   "
    prompts = write_records(tmp_path / "tickets.jsonl", records)
    # When a run is started from it
    code = main(["start", "--prompts", str(prompts), "--name", "bad"])
    # Then it exits 1, naming the file, the line and the field
    out = capsys.readouterr().out
    assert code == 1
    assert f"{prompts}:7: messages[0].content[0].text: empty or whitespace-only text" in out
    assert "not started: 1 problem(s) above; nothing was uploaded" in out
    # And nothing was uploaded or started
    assert s3_keys(INPUT_BUCKET) == []
    assert _executions(deployment) == []


def test_invalid_s3_prompts_are_streamed_and_named_by_uri(
    deployment: Deployment, clock: FakeClock, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given prompts in S3 whose 2nd record uses the documented schema typo
    records = [conversation(index) for index in range(100)]
    records[1]["schemaVersion"] = "bedrock-conversion-2024"
    aws_client("s3").upload_file(str(write_records(tmp_path / "p.jsonl", records)), INPUT_BUCKET, "p.jsonl")
    # When a run is started from it
    code = main(["start", "--prompts", f"s3://{INPUT_BUCKET}/p.jsonl"])
    # Then the problem is named by URI and line, and nothing starts
    out = capsys.readouterr().out
    assert code == 1
    assert f"s3://{INPUT_BUCKET}/p.jsonl:2: schemaVersion:" in out
    assert _executions(deployment) == []


def test_an_unsupported_model_pair_is_a_problem(
    deployment: Deployment, clock: FakeClock, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # When the teacher and student are from different families
    prompts = write_prompts(tmp_path / "tickets.jsonl", 100)
    code = main(["start", "--prompts", str(prompts), "--teacher", "amazon.nova-pro-v1:0"])
    # Then it exits 1 saying why, and starts nothing
    assert code == 1
    assert "--teacher/--student: teacher 'amazon.nova-pro-v1:0' (amazon) and student" in capsys.readouterr().out
    assert _executions(deployment) == []


def test_start_from_logs_with_a_filter_file(
    deployment: Deployment,
    clock: FakeClock,
    tmp_path: Path,
    validation_prompts: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given 110 logged teacher invocations tagged project=tickets, and 5 tagged otherwise
    enable_invocation_logging()
    log_invocations(110, {"project": "tickets"})
    log_invocations(5, {"project": "other"})
    selection = tmp_path / "filter.json"
    selection.write_text(json.dumps({"equals": {"project": "tickets"}}))
    # When a run is started from the stack's log source with that filter file
    code = main(
        ["start", "--logs", "--filter", str(selection), "--validation-prompts", str(validation_prompts), "--name", "l1"]
    )
    # Then the logs were scanned here first
    out = capsys.readouterr().out
    assert code == 0, out
    assert f"{LOG_SOURCE}: 115 logged invocations, 110 match the filter; the job would use 110 prompts" in out
    # And the execution's input distils from those logs through that filter, validating on the uploaded prompts
    (arn,) = _executions(deployment)
    execution_input = ExecutionInput.model_validate(execution_input_of(arn))
    logs = execution_input.training_data.invocation_logs
    assert logs is not None
    assert logs.source == LOG_SOURCE
    assert logs.request_metadata_filters == {"equals": {"project": "tickets"}}
    assert logs.use_prompt_response is False
    assert execution_input.validation_prompts == f"s3://{INPUT_BUCKET}/datasets/l1/validation/held-out.jsonl"
    assert s3_keys(INPUT_BUCKET) == ["datasets/l1/validation/held-out.jsonl"]


def test_start_from_logs_with_inline_json_and_too_few_matches(
    deployment: Deployment,
    clock: FakeClock,
    validation_prompts: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given only 20 logged invocations match
    enable_invocation_logging()
    log_invocations(20, {"project": "tickets", "team": "support"})
    selection = '{"andAll": [{"equals": {"project": "tickets"}}, {"equals": {"team": "support"}}]}'
    # When a run is started with the filter as inline JSON
    code = main(["start", "--logs", LOG_SOURCE, "--filter", selection, "--validation-prompts", str(validation_prompts)])
    # Then the filter is accepted, but the scan finds too few prompts: exit 1, nothing started
    out = capsys.readouterr().out
    assert code == 1
    assert "20 match the filter" in out
    assert "fewer than 100 usable prompts match (20)" in out
    assert _executions(deployment) == []
    # And with the scan skipped, the same filter starts a run (the pipeline's preflight will scan)
    code = main(
        ["start", "--logs", "--filter", selection, "--validation-prompts", str(validation_prompts), "--skip-log-scan"]
    )
    assert code == 0
    (arn,) = _executions(deployment)
    logs = ExecutionInput.model_validate(execution_input_of(arn)).training_data.invocation_logs
    assert logs is not None
    assert logs.request_metadata_filters == json.loads(selection)


def test_a_bad_filter_names_the_violation_and_starts_nothing(
    deployment: Deployment, clock: FakeClock, validation_prompts: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # When the filter has two entries in one equals (Bedrock allows exactly one)
    code = main(
        [
            "start",
            "--logs",
            "--filter",
            '{"equals": {"project": "tickets", "team": "support"}}',
            "--validation-prompts",
            str(validation_prompts),
        ]
    )
    # Then it exits 1 with the violation, and nothing is uploaded or started
    out = capsys.readouterr().out
    assert code == 1
    assert "--filter <argument>: equals: " in out
    assert s3_keys(INPUT_BUCKET) == []
    assert _executions(deployment) == []


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--logs", "--validation-prompts", "v.jsonl"], "--logs needs --filter"),
        (["--logs", "--filter", "{}"], "--logs needs --validation-prompts"),
        (["--prompts", "p.jsonl", "--filter", "{}"], "--filter and --use-prompt-response apply to --logs only"),
        (["--prompts", "p.jsonl", "--name", "has space"], "--name 'has space': use 1-80 letters"),
    ],
)
def test_usage_errors_exit_2_before_any_check(
    deployment: Deployment,
    clock: FakeClock,
    arguments: list[str],
    message: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # When the arguments cannot make a run
    code = main(["start", *arguments])
    # Then it exits 2 with one line saying why
    assert code == 2
    assert message in capsys.readouterr().err


def test_dry_run_prints_the_input_and_starts_nothing(
    deployment: Deployment, clock: FakeClock, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # When a valid run is checked with --dry-run
    prompts = write_prompts(tmp_path / "tickets.jsonl", 120)
    code = main(["start", "--prompts", str(prompts), "--name", "dry", "--model-units", "2", "--dry-run"])
    # Then the input it would send is printed, and nothing is uploaded or started
    out = capsys.readouterr().out
    assert code == 0
    document = json.loads(out.splitlines()[-1])
    assert ExecutionInput.model_validate(document).provisioned_model_units == 2
    assert document["trainingData"] == {"prompts": f"s3://{INPUT_BUCKET}/datasets/dry/tickets.jsonl"}
    assert s3_keys(INPUT_BUCKET) == []
    assert _executions(deployment) == []


@pytest.fixture
def no_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """No Region, no credentials, and any AWS client a failure: what a laptop offline looks like to `start`."""
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name)

    def no_client(*_: object, **__: object) -> None:
        raise AssertionError("start asked AWS for a client")

    monkeypatch.setattr(AwsSession, "client", no_client)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--prompts", "missing.jsonl"], "--prompts missing.jsonl: no such file"),
        (["--prompts", "{prompts}", "--validation-prompts", "gone.jsonl"], "--validation-prompts gone.jsonl: no such"),
        (["--prompts", "{prompts}", "--name", "has space"], "--name 'has space': use 1-80 letters"),
        (["--prompts", "{prompts}", "--model-units", "0"], "--model-units 0: Input should be greater"),
        (["--prompts", "{prompts}", "--validation-sample-size", "501"], "--validation-sample-size 501: Input"),
    ],
)
def test_local_problems_come_before_any_aws_error(
    no_aws: None, tmp_path: Path, arguments: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given no AWS configuration at all, and an argument that is wrong here
    prompts = write_prompts(tmp_path / "tickets.jsonl", 120)
    # When a run is started
    code = main(["start", *(argument.format(prompts=prompts) for argument in arguments)])
    # Then the local problem is the one line reported (exit 2), not a Region or credentials error
    err = capsys.readouterr().err
    assert code == 2
    assert message in err
    assert "Region" not in err


def test_invalid_local_data_is_reported_before_the_stack_is_looked_up(
    no_aws: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given invalid local prompts, the models given, and no AWS
    records = [conversation(index) for index in range(120)]
    records[2]["messages"][0]["content"][0]["text"] = ""
    prompts = write_records(tmp_path / "tickets.jsonl", records)
    # When a run (not a dry run) is started
    code = main(["start", "--prompts", str(prompts), "--teacher", TEACHER, "--student", STUDENT])
    # Then the data's problem is reported with exit 1, and AWS was never asked
    captured = capsys.readouterr()
    assert code == 1, captured.err
    assert f"{prompts}:3: messages[0].content[0].text: empty or whitespace-only text" in captured.out
    assert captured.err == ""


def test_dry_run_with_both_models_needs_no_aws(
    no_aws: None, tmp_path: Path, validation_prompts: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given valid local prompts and held-out prompts, the models given, and no AWS at all
    prompts = write_prompts(tmp_path / "tickets.jsonl", 120)
    # When the run is checked with --dry-run
    code = main(
        [
            "start",
            *("--prompts", str(prompts), "--validation-prompts", str(validation_prompts)),
            *("--teacher", TEACHER, "--student", STUDENT, "--name", "offline", "--dry-run"),
        ]
    )
    # Then it validates here and prints what it would upload, relative to the stack's InputLocation
    out = capsys.readouterr().out
    assert code == 0, out
    assert f"would upload {prompts} -> <InputLocation>offline/tickets.jsonl\n" in out
    assert f"would upload {validation_prompts} -> <InputLocation>offline/validation/held-out.jsonl\n" in out
    # And the execution input it would start, with the models given
    document = json.loads(out.splitlines()[-1])
    assert document == {
        "trainingData": {"prompts": "<InputLocation>offline/tickets.jsonl"},
        "teacherModelId": TEACHER,
        "studentModelId": STUDENT,
        "validationPrompts": "<InputLocation>offline/validation/held-out.jsonl",
        "validationSampleSize": 20,
        "maxResponseLengthForInference": 1000,
        "pollIntervals": {},
        "servingMode": "auto",
        "keepDeployment": False,
    }


def test_json_prints_one_object_for_a_run_a_dry_run_and_problems(
    deployment: Deployment, clock: FakeClock, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    prompts = write_prompts(tmp_path / "tickets.jsonl", 120)
    # When a dry run is asked for as JSON
    assert main(["start", "--prompts", str(prompts), "--name", "j0", "--dry-run", "--json"]) == 0
    # Then stdout is one object with the uploads and the input (the checks' lines are on stderr)
    captured = capsys.readouterr()
    plan = json.loads(captured.out)
    assert plan["started"] is False
    assert plan["dryRun"] is True
    assert plan["uploads"] == [{"path": str(prompts), "destination": f"s3://{INPUT_BUCKET}/datasets/j0/tickets.jsonl"}]
    assert "120 records, 120 valid" in captured.err
    # When a run is started as JSON
    assert main(["start", "--prompts", str(prompts), "--name", "j1", "--json"]) == 0
    # Then the object carries the execution's ARN and console link
    started = json.loads(capsys.readouterr().out)
    (arn,) = _executions(deployment)
    assert started["started"] is True
    assert started["executionArn"] == arn
    assert started["consoleUrl"] == f"{CONSOLE}{arn}"
    assert started["input"] == execution_input_of(arn)
    # When the data has problems
    bad = write_records(tmp_path / "bad.jsonl", [conversation(index) for index in range(3)])
    assert main(["start", "--prompts", str(bad), "--json"]) == 1
    # Then the object says nothing started, and how many problems
    outcome = json.loads(capsys.readouterr().out)
    assert outcome["started"] is False
    assert outcome["problems"] >= 1


def test_the_serving_choice_and_keep_deployment_reach_the_execution_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a Llama 3.3 70B student (deployable on demand in us-west-2), served on demand and kept
    prompts = write_prompts(tmp_path / "tickets.jsonl", 120)
    teacher = "meta.llama3-1-405b-instruct-v1:0"
    arguments = ["start", "--prompts", str(prompts), "--teacher", teacher, "--name", "llama"]
    student = ["--student", "meta.llama3-3-70b-instruct-v1:0:128k", "--dry-run", "--serving", "on-demand"]
    student.append("--keep-deployment")
    # When it is planned as a dry run
    code = main([*arguments, *student])
    # Then the execution input carries both, as Preflight will read them
    out = capsys.readouterr().out
    assert code == 0, out
    document = json.loads(out.splitlines()[-1])
    assert (document["servingMode"], document["keepDeployment"]) == ("on-demand", True)
    # And a serving mode the input does not know is refused by the parser, before anything is read
    with pytest.raises(SystemExit):
        main([*arguments, "--serving", "serverless", "--dry-run"])
