"""Cleanup outside the workflow, against the Bedrock emulator: only this project's, only what is due."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from bedrock_distill.gateways.bedrock import BedrockGateway
from bedrock_distill.gateways.stepfunctions import MISSING
from bedrock_distill.workflow.cleanup import clean_up_execution, sweep
from bedrock_distill.workflow.errors import ThrottlingException
from bedrock_distill.workflow.run import (
    EXECUTION_TAG_KEY,
    KEEP_ON_SUCCESS_TAG_KEY,
    KEEP_ON_SUCCESS_TAG_VALUE,
    PROJECT_TAG_KEY,
    PROJECT_TAG_VALUE,
)
from offline.bedrock_emulator import BedrockEmulator, bedrock_emulator
from tests.unit.cleanup_builders import deployment, distilled_on_demand_model, evaluation_job, live_deployments

pytestmark = pytest.mark.unit

EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:distillation:run-1"
OTHER_EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:distillation:run-2"
MODEL = "meta.llama3-1-8b-instruct-v1:0"
KEEP = {KEEP_ON_SUCCESS_TAG_KEY: KEEP_ON_SUCCESS_TAG_VALUE}


@pytest.fixture
def emulator() -> Iterator[BedrockEmulator]:
    with mock_aws(), bedrock_emulator(provisioning_seconds=600) as bedrock:
        yield bedrock


def _throughput(name: str, tags: dict[str, str]) -> str:
    response: dict[str, Any] = boto3.client("bedrock").create_provisioned_model_throughput(
        modelUnits=1,
        provisionedModelName=name,
        modelId=MODEL,
        tags=[{"key": key, "value": value} for key, value in tags.items()],
    )
    return str(response["provisionedModelArn"])


def _ours(execution_arn: str) -> dict[str, str]:
    return {PROJECT_TAG_KEY: PROJECT_TAG_VALUE, EXECUTION_TAG_KEY: execution_arn}


def _live(emulator: BedrockEmulator) -> set[str]:
    return {pt.arn for pt in emulator.live_provisioned_throughputs()}


def test_cleaning_up_an_execution_deletes_only_its_pts(emulator: BedrockEmulator) -> None:
    # Given PTs of this execution, of another execution, and of another project with the same execution tag
    mine = _throughput("mine", _ours(EXECUTION))
    others = _throughput("others", _ours(OTHER_EXECUTION))
    foreign = _throughput("foreign", {PROJECT_TAG_KEY: "someone-else", EXECUTION_TAG_KEY: EXECUTION})
    # When the execution is cleaned up, twice (the rule may deliver the event again)
    report = clean_up_execution(EXECUTION, BedrockGateway())
    again = clean_up_execution(EXECUTION, BedrockGateway())
    # Then only its own PT is gone, and the second run found nothing left to do
    assert report.deleted_provisioned_throughputs == [mine]
    assert again.deleted_provisioned_throughputs == []
    assert _live(emulator) == {others, foreign}


def test_sweep_deletes_pts_of_finished_executions_and_overdue_ones(emulator: BedrockEmulator) -> None:
    # Given a PT of a running execution, one of a timed-out execution, and one of another project
    running = _throughput("running", _ours(EXECUTION))
    orphan = _throughput("orphan", _ours(OTHER_EXECUTION))
    foreign = _throughput("foreign", {PROJECT_TAG_KEY: "someone-else"})
    statuses = {EXECUTION: "RUNNING", OTHER_EXECUTION: "TIMED_OUT"}
    # When the sweeper runs within the maximum lifetime
    report = sweep(BedrockGateway(), statuses.__getitem__, emulator.clock.now(), timedelta(hours=12))
    # Then only the orphan is deleted
    assert report.deleted_provisioned_throughputs == [orphan]
    assert report.kept_provisioned_throughputs == [running]
    assert report.overdue_provisioned_throughputs == []
    assert _live(emulator) == {running, foreign}
    # And once the running execution's PT outlives the maximum lifetime, it goes too
    later = emulator.clock.now() + timedelta(hours=13)
    overdue = sweep(BedrockGateway(), statuses.__getitem__, later, timedelta(hours=12))
    assert overdue.deleted_provisioned_throughputs == [running]
    # And it is reported as overdue (the alarm's metric), with its age
    assert overdue.overdue_provisioned_throughputs == [running]
    assert overdue.oldest_age_seconds >= 13 * 3600
    assert _live(emulator) == {foreign}


def test_cleaning_up_an_execution_stops_its_running_job_only(emulator: BedrockEmulator) -> None:
    # Given two running distillation jobs, one per execution
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="data", CreateBucketConfiguration={"LocationConstraint": s3.meta.region_name})
    record = (
        '{"schemaVersion": "bedrock-conversation-2024", "messages": [{"role": "user", "content": [{"text": "hi"}]}]}'
    )
    s3.put_object(Bucket="data", Key="prompts.jsonl", Body=("\n".join([record] * 120)).encode())
    bedrock = boto3.client("bedrock")
    arns = {}
    for name, execution in (("job-mine", EXECUTION), ("job-other", OTHER_EXECUTION)):
        arns[name] = bedrock.create_model_customization_job(
            jobName=name,
            customModelName=f"{name}-model",
            roleArn="arn:aws:iam::123456789012:role/distillation",
            baseModelIdentifier=f"{MODEL}:128k",
            customizationType="DISTILLATION",
            trainingDataConfig={"s3Uri": "s3://data/prompts.jsonl"},
            outputDataConfig={"s3Uri": "s3://data/out/"},
            customizationConfig={
                "distillationConfig": {
                    "teacherModelConfig": {"teacherModelIdentifier": "meta.llama3-1-70b-instruct-v1:0"}
                }
            },
            jobTags=[{"key": key, "value": value} for key, value in _ours(execution).items()],
        )["jobArn"]
    # When one execution is cleaned up
    report = clean_up_execution(EXECUTION, BedrockGateway())
    # Then its job is stopping and the other one runs on
    assert report.stopped_jobs == [arns["job-mine"]]
    assert emulator.jobs["job-mine"].status in {"Stopping", "Stopped"}
    assert emulator.jobs["job-other"].status == "InProgress"


def _delete_attempts(emulator: BedrockEmulator) -> list[str]:
    return [
        call.params["provisionedModelId"]
        for call in emulator.calls
        if call.operation == "DeleteProvisionedModelThroughput"
    ]


def test_a_pt_that_cannot_be_deleted_yet_does_not_keep_the_executions_other_pt(emulator: BedrockEmulator) -> None:
    # Given two PTs of the execution, the one listed first (the newest) still being created: its deletion conflicts
    second = _throughput("older", _ours(EXECUTION))
    emulator.advance(60)
    first = _throughput("creating", _ours(EXECUTION))
    emulator.faults.conflict_on_delete("creating", times=None)
    # When the execution is cleaned up
    report = clean_up_execution(EXECUTION, BedrockGateway())
    # Then the first was tried first and failed, and the second was still deleted in the same pass
    assert _delete_attempts(emulator) == [first, second]
    assert report.deleted_provisioned_throughputs == [second]
    (failure,) = report.failures
    assert (failure.arn, failure.operation) == (first, "DeleteProvisionedModelThroughput")
    assert "ConflictException" in failure.error
    assert _live(emulator) == {first}
    # And the next attempt, once the PT can be deleted, deletes it
    emulator.faults.clear()
    again = clean_up_execution(EXECUTION, BedrockGateway())
    assert (again.deleted_provisioned_throughputs, again.failures) == ([first], [])
    assert _live(emulator) == set()


def test_a_sweep_deletes_every_orphan_it_can_and_reports_the_rest(emulator: BedrockEmulator) -> None:
    # Given two PTs of an ended execution, the one listed first refusing deletion
    second = _throughput("older", _ours(OTHER_EXECUTION))
    emulator.advance(60)
    first = _throughput("creating", _ours(OTHER_EXECUTION))
    emulator.faults.conflict_on_delete("creating", times=None)
    # When the sweeper runs
    report = sweep(BedrockGateway(), lambda _: "ABORTED", emulator.clock.now(), timedelta(hours=12))
    # Then it deleted the other one in the same pass and reports the one left for its next pass
    assert _delete_attempts(emulator) == [first, second]
    assert report.deleted_provisioned_throughputs == [second]
    assert [failure.arn for failure in report.failures] == [first]
    assert _live(emulator) == {first}


def test_a_pt_deleted_between_listing_and_reading_its_tags_is_no_failure(emulator: BedrockEmulator) -> None:
    # Given a PT of the execution, and the tags read of another PT failing because it is already gone
    mine = _throughput("mine", _ours(EXECUTION))
    emulator.advance(60)
    gone = _throughput("gone", _ours(EXECUTION))
    emulator.faults.raise_on("ListTagsForResource", "ResourceNotFoundException", nth=1)
    # When the execution is cleaned up (the newest, "gone", is read first)
    report = clean_up_execution(EXECUTION, BedrockGateway())
    # Then the vanished PT is skipped without a failure and the other one is deleted
    assert report.failures == []
    assert report.deleted_provisioned_throughputs == [mine]
    assert _live(emulator) == {gone}


# Custom model deployments and evaluation jobs ---------------------------------------------------------------------


@pytest.fixture
def custom_model(emulator: BedrockEmulator) -> str:
    return distilled_on_demand_model(emulator)


def test_cleaning_up_an_execution_deletes_its_deployments_kept_or_not_and_stops_its_judge_jobs(
    emulator: BedrockEmulator, custom_model: str
) -> None:
    # Given deployments of this execution (one tagged keep-on-success), of another execution and of another project,
    # and a running evaluation job of each execution
    mine = deployment(custom_model, "mine", _ours(EXECUTION))
    kept = deployment(custom_model, "mine-kept", _ours(EXECUTION) | KEEP)
    others = deployment(custom_model, "others", _ours(OTHER_EXECUTION))
    foreign = deployment(custom_model, "foreign", {PROJECT_TAG_KEY: "someone-else", EXECUTION_TAG_KEY: EXECUTION})
    my_judge = evaluation_job("judge-mine", _ours(EXECUTION))
    evaluation_job("judge-other", _ours(OTHER_EXECUTION))
    # When the execution, which did not succeed, is cleaned up, twice (the rule may deliver the event again)
    report = clean_up_execution(EXECUTION, BedrockGateway())
    again = clean_up_execution(EXECUTION, BedrockGateway())
    # Then both its deployments are gone, the keep tag notwithstanding (a failed run keeps nothing), and only those
    assert sorted(report.deleted_model_deployments) == sorted([mine, kept])
    assert live_deployments(emulator) == {others, foreign}
    # And its judge job is stopping, the other execution's runs on
    assert report.stopped_evaluation_jobs == [my_judge]
    assert emulator.evaluation_jobs["judge-mine"].status in {"Stopping", "Stopped"}
    assert emulator.evaluation_jobs["judge-other"].status == "InProgress"
    # And the second pass found nothing left to do, and nothing failed
    assert (again.deleted_model_deployments, again.stopped_evaluation_jobs) == ([], [])
    assert report.failures == again.failures == []


def test_sweep_deletes_deployments_of_ended_runs_and_keeps_a_successful_runs_kept_one(
    emulator: BedrockEmulator, custom_model: str
) -> None:
    # Given a deployment of a running execution, one kept by a running execution (it is judging), one of a failed
    # execution (tagged keep, which does not count on failure), one kept by a succeeded execution, one kept by an
    # execution Step Functions has forgotten, one of a succeeded execution that did not ask to keep it, and one of
    # another project
    running_execution, judging, failed, succeeded, forgotten, done = (f"{EXECUTION}-{n}" for n in range(6))
    statuses = {
        running_execution: "RUNNING",
        judging: "RUNNING",
        failed: "FAILED",
        succeeded: "SUCCEEDED",
        forgotten: MISSING,
        done: "SUCCEEDED",
    }
    running = deployment(custom_model, "running", _ours(running_execution))
    kept_while_judging = deployment(custom_model, "judging", _ours(judging) | KEEP)
    failed_kept = deployment(custom_model, "failed", _ours(failed) | KEEP)
    kept = deployment(custom_model, "kept", _ours(succeeded) | KEEP)
    kept_long_ago = deployment(custom_model, "kept-long-ago", _ours(forgotten) | KEEP)
    not_kept = deployment(custom_model, "not-kept", _ours(done))
    foreign = deployment(custom_model, "foreign", {PROJECT_TAG_KEY: "someone-else"})
    # When the sweeper runs within the maximum lifetime
    report = sweep(BedrockGateway(), statuses.__getitem__, emulator.clock.now(), timedelta(hours=12))
    # Then the failed run's and the not-kept one are deleted, the running and kept ones stay, nothing is overdue
    assert sorted(report.deleted_model_deployments) == sorted([failed_kept, not_kept])
    assert sorted(report.kept_model_deployments) == sorted([running, kept_while_judging, kept, kept_long_ago])
    assert report.overdue_model_deployments == []
    assert report.deleted_provisioned_throughputs == []
    assert live_deployments(emulator) == {running, kept_while_judging, kept, kept_long_ago, foreign}
    # And once the running execution's deployment outlives the maximum lifetime it goes too, reported overdue,
    # while the kept ones stay however old they are (they cost nothing idle; judging may outlast the lifetime)
    later = emulator.clock.now() + timedelta(days=30)
    overdue = sweep(BedrockGateway(), statuses.__getitem__, later, timedelta(hours=12))
    assert overdue.deleted_model_deployments == overdue.overdue_model_deployments == [running]
    assert live_deployments(emulator) == {kept_while_judging, kept, kept_long_ago, foreign}


def test_a_deployment_that_cannot_be_deleted_yet_does_not_stop_the_pass(
    emulator: BedrockEmulator, custom_model: str
) -> None:
    # Given an ended execution's PT and two deployments, the deployment listed first refusing deletion
    pt = _throughput("pt", _ours(OTHER_EXECUTION))
    older = deployment(custom_model, "older", _ours(OTHER_EXECUTION))
    emulator.advance(60)
    creating = deployment(custom_model, "creating", _ours(OTHER_EXECUTION))
    emulator.faults.conflict_on_model_deployment_delete("creating", times=None)
    # When the sweeper runs
    report = sweep(BedrockGateway(), lambda _: "ABORTED", emulator.clock.now(), timedelta(hours=12))
    # Then the PT and the other deployment are deleted in the same pass, and the refused one is reported
    assert report.deleted_provisioned_throughputs == [pt]
    assert report.deleted_model_deployments == [older]
    (failure,) = report.failures
    assert (failure.arn, failure.operation) == (creating, "DeleteCustomModelDeployment")
    assert "ConflictException" in failure.error
    assert live_deployments(emulator) == {creating}
    # And the next pass, once Bedrock lets it, deletes it
    emulator.faults.clear()
    again = sweep(BedrockGateway(), lambda _: "ABORTED", emulator.clock.now(), timedelta(hours=12))
    assert (again.deleted_model_deployments, again.failures) == ([creating], [])


def test_an_execution_whose_status_cannot_be_read_leaves_its_resources_for_the_next_pass(
    emulator: BedrockEmulator, custom_model: str
) -> None:
    # Given a kept deployment and a PT of an execution whose status read is throttled, and an ended execution's PT
    kept = deployment(custom_model, "kept", _ours(EXECUTION) | KEEP)
    unknown_pt = _throughput("unknown", _ours(EXECUTION))
    orphan = _throughput("orphan", _ours(OTHER_EXECUTION))

    def status(execution_arn: str) -> str:
        if execution_arn == EXECUTION:
            raise ThrottlingException("DescribeExecution: ThrottlingException: slow down")
        return "ABORTED"

    # When the sweeper runs
    report = sweep(BedrockGateway(), status, emulator.clock.now(), timedelta(hours=12))
    # Then the orphan is deleted, the execution's PT and kept deployment are left (it may have succeeded), and the
    # unreadable status is a failure of this pass, so the invocation fails and is retried
    assert report.deleted_provisioned_throughputs == [orphan]
    assert report.deleted_model_deployments == []
    assert _live(emulator) == {unknown_pt}
    assert live_deployments(emulator) == {kept}
    assert {(failure.arn, failure.operation) for failure in report.failures} == {
        (unknown_pt, "DescribeExecution"),
        (kept, "DescribeExecution"),
    }


def test_a_listing_that_fails_does_not_keep_the_executions_pt_alive(emulator: BedrockEmulator) -> None:
    # Given a PT of the execution, and evaluation jobs that cannot be listed (say, a permission not yet granted)
    mine = _throughput("mine", _ours(EXECUTION))
    emulator.faults.raise_on("ListEvaluationJobs", "AccessDeniedException")
    # When the execution is cleaned up
    report = clean_up_execution(EXECUTION, BedrockGateway())
    # Then its PT is deleted all the same, and the listing is the pass's failure
    assert report.deleted_provisioned_throughputs == [mine]
    assert [(failure.arn, failure.operation) for failure in report.failures] == [("*", "ListEvaluationJobs")]
