"""The task-token table: exactly one release per filed token, and stale tokens are not errors."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import boto3
import pytest
from moto import mock_aws

from bedrock_distill.gateways.dynamodb import DynamoDBGateway
from bedrock_distill.gateways.stepfunctions import StepFunctionsGateway
from bedrock_distill.workflow.job_waiter import JobWaiterTable, Waiter, release_job_waiter

pytestmark = pytest.mark.unit

TABLE = "job-waiters"
JOB_NAME = "distill-run-1-0123456789"
JOB_ARN = "arn:aws:bedrock:us-east-1:123456789012:model-customization-job/student/abc123"


@pytest.fixture
def table() -> Iterator[JobWaiterTable]:
    # moto's executing Step Functions backend refuses unknown task tokens, as AWS does.
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        boto3.client("dynamodb").create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "jobName", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "jobName", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield JobWaiterTable(DynamoDBGateway(TABLE))


def _file(table: JobWaiterTable, token: str = "token-1") -> None:
    table.put(
        Waiter(job_name=JOB_NAME, job_arn=JOB_ARN, task_token=token, execution_arn="arn:execution"),
        expires_at=datetime.now(UTC),
    )


def test_a_token_is_taken_once(table: JobWaiterTable) -> None:
    _file(table)
    taken = table.take(JOB_NAME)
    assert taken is not None
    assert (taken.task_token, taken.job_arn) == ("token-1", JOB_ARN)
    assert table.take(JOB_NAME) is None


def test_a_newer_wait_replaces_the_token_of_a_timed_out_one(table: JobWaiterTable) -> None:
    _file(table, "old")
    _file(table, "new")
    taken = table.take(JOB_NAME)
    assert taken is not None
    assert taken.task_token == "new"


def test_a_running_status_wakes_nobody_and_leaves_the_token(table: JobWaiterTable) -> None:
    _file(table)
    release = release_job_waiter(JOB_NAME, "InProgress", table, StepFunctionsGateway(), released_by="event")
    assert release.released is False
    assert table.take(JOB_NAME) is not None


def test_a_token_nobody_waits_on_any_more_is_consumed_without_error(table: JobWaiterTable) -> None:
    # Given a token whose task already timed out (Step Functions no longer knows it)
    _file(table, "stale-token")
    # When the job's end event arrives
    release = release_job_waiter(JOB_NAME, "Completed", table, StepFunctionsGateway(), released_by="event")
    # Then nothing was released, nothing raised, and the stale token is gone
    assert release.released is False
    assert table.take(JOB_NAME) is None


def test_an_event_for_a_job_nobody_waits_on_is_ignored(table: JobWaiterTable) -> None:
    release = release_job_waiter(JOB_NAME, "Completed", table, StepFunctionsGateway(), released_by="event")
    assert release.released is False
