"""distill status (and --watch) and distill list, against moto's Step Functions and the Bedrock emulator."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from distill_cli.main import main
from offline.bedrock_emulator import BedrockEmulator
from tests.unit.cli.conftest import (
    Deployment,
    FakeClock,
    aws_client,
    create_run_job,
    create_run_throughput,
    finish_execution,
    start_date,
    start_execution,
)

pytestmark = pytest.mark.unit

SUCCESS_OUTPUT = {
    "metrics": {"trainingSteps": 30, "finalTrainingLoss": 0.4661, "validationLoss": 0.5661},
    "serving": {"validation": {"prompts": 5, "succeeded": 5, "failed": 0, "meanSimilarity": 13.4}},
    "deletion": {"deleted": True, "modelUnits": 1, "aliveSeconds": 7200.0},
}


def test_status_shows_state_job_pt_and_elapsed_time(
    deployment: Deployment, emulator: BedrockEmulator, clock: FakeClock, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a running execution whose job has been training for 2 of its 3 hours, and whose PT is not yet bought
    arn = start_execution(deployment, "run-1")
    create_run_job(arn, "run-1")
    emulator.clock.advance(2 * 3600)
    clock.moment = start_date(arn) + timedelta(hours=2, minutes=5, seconds=7)
    # When its status is asked for by name
    code = main(["status", "run-1"])
    # Then the execution, its state, the job's status and phase, the PT and the elapsed time are shown
    out = capsys.readouterr().out
    assert code == 0
    assert "execution: run-1 RUNNING\n" in out
    assert f"arn: {arn}\n" in out
    assert "state: " in out
    assert "elapsed: 2h 05m 07s (running)\n" in out
    assert "job: distill-run-1-" in out
    assert ": InProgress (training)\n" in out
    assert "provisioned throughput: distill-pt-run-1-" in out
    assert ": none\n" in out


def test_status_reads_the_pt_from_bedrock_and_defaults_to_the_newest_run(
    deployment: Deployment, emulator: BedrockEmulator, clock: FakeClock, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given an older execution and a newer one whose PT is being created
    start_execution(deployment, "older")
    arn = start_execution(deployment, "newer")
    create_run_job(arn, "newer")
    emulator.clock.advance(3 * 3600 + 1)
    create_run_throughput(arn, "newer")
    clock.moment = start_date(arn) + timedelta(minutes=1)
    # When the status is asked for without naming an execution, as JSON
    code = main(["status", "--json"])
    # Then it is the newest execution's, with the job completed and the PT creating
    document = json.loads(capsys.readouterr().out)
    assert code == 0
    assert document["name"] == "newer"
    assert document["job"]["status"] == "Completed"
    assert document["job"]["outputModelArn"]
    assert document["provisionedThroughput"]["status"] == "Creating"
    assert document["provisionedThroughput"]["modelUnits"] == 1
    assert document["elapsedSeconds"] == 60.0


def test_status_of_a_failed_run_exits_1_and_warns_of_a_pt_left_behind(
    deployment: Deployment, emulator: BedrockEmulator, clock: FakeClock, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given an execution that failed while its PT still exists (say its cleanup could not run)
    arn = start_execution(deployment, "broken")
    create_run_throughput(arn, "broken")
    finish_execution(arn, "FAILED", error="ProvisionedThroughputFailed", cause="Insufficient capacity")
    # When its status is asked for by ARN
    code = main(["status", arn])
    # Then it exits 1 with the error and a loud warning that the PT is still billing
    out = capsys.readouterr().out
    assert code == 1
    assert "execution: broken FAILED\n" in out
    assert "elapsed: 3h 00m 00s\n" in out
    assert "error: ProvisionedThroughputFailed: Insufficient capacity\n" in out
    assert "its Provisioned Throughput still exists: delete it" in out


def test_watch_refreshes_until_the_execution_ends(
    deployment: Deployment, emulator: BedrockEmulator, clock: FakeClock, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a running execution with a job in progress
    arn = start_execution(deployment, "watched")
    create_run_job(arn, "watched")
    clock.moment = start_date(arn)
    # And, while it is watched, the job completes, a PT is bought, and then the run succeeds and deletes it
    throughput: list[str] = []

    def pt_deleted_and_run_succeeded() -> None:
        aws_client("bedrock").delete_provisioned_model_throughput(provisionedModelId=throughput[0])
        finish_execution(arn, "SUCCEEDED", output=SUCCESS_OUTPUT, after=timedelta(minutes=2))

    clock.on_sleep = [
        lambda: emulator.clock.advance(3 * 3600 + 1),
        lambda: throughput.append(create_run_throughput(arn, "watched")),
        lambda: None,  # nothing changes: no new line
        pt_deleted_and_run_succeeded,
    ]
    # When it is watched every 30 seconds
    code = main(["status", "watched", "--watch", "--interval", "30"])
    # Then it slept 4 times, printed one line per change, and stopped when the execution ended
    out = capsys.readouterr().out.splitlines()
    assert code == 0
    assert clock.sleeps == [30.0, 30.0, 30.0, 30.0]
    changes = [line for line in out if " +" in line and "execution " in line]
    assert len(changes) == 4
    assert "execution RUNNING" in changes[0]
    assert "job InProgress (validation), PT none" in changes[0]
    assert "job Completed, PT none" in changes[1]
    assert "job Completed, PT Creating" in changes[2]
    assert "execution SUCCEEDED" in changes[3]
    assert changes[3].endswith("PT deleted")
    assert "+2m 00s" in changes[3]
    # And the final status is printed in full
    assert "execution: watched SUCCEEDED" in out


def test_list_shows_recent_runs_with_their_outcome(
    deployment: Deployment, clock: FakeClock, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a succeeded, a failed and a running execution
    succeeded = start_execution(deployment, "good-run")
    finish_execution(succeeded, "SUCCEEDED", output=SUCCESS_OUTPUT)
    failed = start_execution(deployment, "bad-run")
    finish_execution(failed, "FAILED", error="PreflightFailed", cause="3 problem(s); full report: s3://x/report")
    start_execution(deployment, "busy-run")
    clock.moment = start_date(succeeded) + timedelta(hours=4)
    # When the runs are listed
    code = main(["list"])
    # Then each is a row with its outcome, newest first
    out = capsys.readouterr().out
    assert code == 0
    rows = [line for line in out.splitlines() if "-run" in line]
    assert [row.split()[0] for row in rows] == ["busy-run", "bad-run", "good-run"]
    assert "running" in rows[0]
    assert "PreflightFailed: 3 problem(s); full report: s3://x/report" in rows[1]
    assert "final loss 0.466, validation 5/5 prompts, similarity 13.4, PT deleted" in rows[2]
    assert "3h 00m 00s" in rows[2]
    # And --json gives the same, with a status filter
    main(["list", "--json", "--status", "FAILED"])
    (document,) = json.loads(capsys.readouterr().out)
    assert document["name"] == "bad-run"
    assert document["outcome"].startswith("PreflightFailed")


def test_status_of_an_unknown_execution_is_exit_2(
    deployment: Deployment, clock: FakeClock, capsys: pytest.CaptureFixture[str]
) -> None:
    # When the execution does not exist
    code = main(["status", "nope"])
    # Then one line says so
    assert code == 2
    assert "no execution arn:aws:states:us-west-2:123456789012:execution:distillation:nope" in capsys.readouterr().err


def test_watch_with_json_prints_only_the_final_status(
    deployment: Deployment, clock: FakeClock, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a running execution that is aborted while watched
    arn = start_execution(deployment, "aborted")
    clock.moment = start_date(arn)
    clock.on_sleep = [lambda: finish_execution(arn, "ABORTED", after=timedelta(seconds=5))]
    # When it is watched with --json
    code = main(["status", "aborted", "--watch", "--interval", "5", "--json"])
    # Then one JSON object, the final status, is printed, and the exit code says the run did not succeed
    document = json.loads(capsys.readouterr().out)
    assert code == 1
    assert document["status"] == "ABORTED"
    assert document["elapsedSeconds"] == 5.0
