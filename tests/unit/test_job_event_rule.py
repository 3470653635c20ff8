"""The job-event rule reaches the relay for this project's jobs only: EventBridge matches the job name's prefix
(moto evaluates the same event-pattern language, `prefix` included)."""

from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws

from bedrock_distill.workflow.job_waiter import JOB_EVENT_SOURCE, JOB_STATE_CHANGE
from bedrock_distill.workflow.run import resource_names
from stacks.pipeline_spec import job_end_pattern

pytestmark = pytest.mark.unit

EXECUTION_ARN = "arn:aws:states:us-west-2:123456789012:execution:BedrockDistill-distillation:run-1"


def _delivered_job_names(job_names: list[str]) -> list[str]:
    with mock_aws():
        events, sqs = boto3.client("events"), boto3.client("sqs")
        queue_url = sqs.create_queue(QueueName="relay")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events.put_rule(Name="job-events", EventPattern=json.dumps(job_end_pattern()))
        events.put_targets(Rule="job-events", Targets=[{"Id": "relay", "Arn": queue_arn}])
        for job_name in job_names:
            detail = {
                "jobName": job_name,
                "jobArn": f"arn:aws:bedrock:us-west-2:123456789012:model-customization-job/{job_name}",
                "jobStatus": "Completed",
            }
            events.put_events(
                Entries=[{"Source": JOB_EVENT_SOURCE, "DetailType": JOB_STATE_CHANGE, "Detail": json.dumps(detail)}]
            )
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        return [json.loads(message["Body"])["detail"]["jobName"] for message in messages]


def test_only_the_projects_jobs_reach_the_relay() -> None:
    # Given a job this project's run creates, and other teams' jobs, one named like ours but for the prefix
    ours = resource_names("run-1", EXECUTION_ARN).job_name
    others = ["fine-tune-support-bot", "distilled-model-job", "other-distill-run"]
    # When each one's state-change event reaches the default bus
    delivered = _delivered_job_names([*others, ours])
    # Then the rule delivers ours only
    assert delivered == [ours]
