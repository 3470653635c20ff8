"""The callback that lets a 7-day job cost a handful of state transitions instead of thousands.

The state `WaitForJobEvent` hands its task token to `register_job_waiter`, which files it under the job's
name. Bedrock's "Model Customization Job State Change" event then reaches `release_job_waiter`, which sends
the token back. Exactly one of the two releases a token: taking it from the table is atomic. A job that
finished before the token was filed (its event already gone) is released at registration, and a lost event
is covered by the state's timeout, after which the workflow polls the job once and waits again.

The key is the job's name because the run chose it (`Run.job_name`, unique per execution) and the event
carries it as `detail.jobName`. Not the ARN: the user guide's example event ("Monitor Amazon Bedrock job state
changes using Amazon EventBridge" > "How EventBridge for Amazon Bedrock works") spells `jobArn` as
`...:model-customization-job/<id>`, while CreateModelCustomizationJob and GetModelCustomizationJob return
`...:model-customization-job/<base model>/<id>` (botocore's ModelCustomizationJobArn pattern). Matching one
spelling would leave every run to the fallback if the event used the other.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

from pydantic import BaseModel

from bedrock_distill.gateways.bedrock import BedrockGateway
from bedrock_distill.gateways.dynamodb import DynamoDBGateway
from bedrock_distill.gateways.stepfunctions import StepFunctionsGateway

STILL_RUNNING = "InProgress"
# Bedrock's job state-change event on the default bus (user guide, "Monitor Amazon Bedrock job state changes using
# Amazon EventBridge"): the stack's rule matches it, the relay handler reads it, the emulator emits it.
JOB_EVENT_SOURCE: Final = "aws.bedrock"
JOB_STATE_CHANGE: Final = "Model Customization Job State Change"
# A filed token outlives its task by at most this much: the table's TTL removes what nobody took.
TOKEN_RETENTION = timedelta(days=8)


class Waiter(BaseModel):
    job_name: str
    # As CreateModelCustomizationJob returned it: what the registration reads the job's status by.
    job_arn: str
    task_token: str
    execution_arn: str


class JobWaiterTable:
    """The waiters, one item per job in a DynamoDB table keyed by `jobName`; `expiresAt` is its TTL attribute."""

    def __init__(self, table: DynamoDBGateway) -> None:
        self._table = table

    def put(self, waiter: Waiter, expires_at: datetime) -> None:
        self._table.put(
            {
                "jobName": waiter.job_name,
                "jobArn": waiter.job_arn,
                "taskToken": waiter.task_token,
                "executionArn": waiter.execution_arn,
                "expiresAt": int(expires_at.timestamp()),
            }
        )

    def take(self, job_name: str) -> Waiter | None:
        """Remove and return the job's waiter; None if there is none (or someone else took it first)."""
        item = self._table.take("jobName", job_name)
        if item is None:
            return None
        return Waiter(
            job_name=item["jobName"],
            job_arn=item["jobArn"],
            task_token=item["taskToken"],
            execution_arn=item["executionArn"],
        )


class Release(BaseModel):
    job_name: str
    job_status: str
    released: bool


def release_job_waiter(
    job_name: str, job_status: str, table: JobWaiterTable, executions: StepFunctionsGateway, *, released_by: str
) -> Release:
    """Wake the execution waiting on the job named `job_name`, if any. A status still running wakes nobody."""
    if job_status == STILL_RUNNING:
        return Release(job_name=job_name, job_status=job_status, released=False)
    waiter = table.take(job_name)
    released = waiter is not None and executions.release(
        waiter.task_token, {"jobName": job_name, "status": job_status, "releasedBy": released_by}
    )
    return Release(job_name=job_name, job_status=job_status, released=released)


def register_job_waiter(
    waiter: Waiter,
    table: JobWaiterTable,
    bedrock: BedrockGateway,
    executions: StepFunctionsGateway,
    now: datetime,
) -> Release:
    """File the token, then look once: a job that already finished would otherwise wait for the fallback."""
    table.put(waiter, expires_at=now + TOKEN_RETENTION)
    job_status = str(bedrock.get_model_customization_job(waiter.job_arn)["status"])
    return release_job_waiter(waiter.job_name, job_status, table, executions, released_by="registration")
