"""Bedrock's "Model Customization Job State Change" events, as EventBridge delivers them to a rule's target.

Shape from the Amazon Bedrock user guide, "How EventBridge for Amazon Bedrock works" (linked from
"Monitor Amazon Bedrock job state changes using Amazon EventBridge"):
https://docs.aws.amazon.com/bedrock/latest/userguide/monitoring-eventbridge-how-it-works.html

    {"version": "0", "id": ..., "detail-type": "Model Customization Job State Change", "source": "aws.bedrock",
     "account": ..., "time": "2023-08-11T12:34:56Z", "region": ..., "resources": [<jobArn>],
     "detail": {"version": "0.0", "jobName", "jobArn", "outputModelName", "outputModelArn", "roleArn",
                "jobStatus", "failureMessage", "creationTime", "lastModifiedTime", "endTime", "baseModelArn",
                "hyperParameters", "trainingDataConfig", "validationDataConfig", "outputDataConfig"}}

Only those detail fields are emitted, and only when the job has a value for them: `outputModelArn` once
Completed, `failureMessage` once Failed, `endTime` once ended, `hyperParameters` and `validationDataConfig`
when the request had them. The guide says the detail fields are GetModelCustomizationJob's, so the configs
are the request's own (its sample writes `validationDataConfig` as `{"s3Uri": ...}`, the API as
`{"validators": [...]}`: we pass the request through). Timestamps are UTC seconds with a Z, as in the sample.
The status is `detail.jobStatus`, not `status`. Delivery is best-effort: consumers must not rely on every
event arriving (see `Faults.lose_job_events`).
"""

from __future__ import annotations

import copy
import json
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING, Any

import boto3

from bedrock_distill.workflow.job_waiter import JOB_EVENT_SOURCE, JOB_STATE_CHANGE

if TYPE_CHECKING:
    from offline.bedrock_emulator.jobs import Job

SOURCE = JOB_EVENT_SOURCE

Event = dict[str, Any]
EventSink = Callable[[Event], None]
"""Receives every event the emulator emits, one call each, in order; it may call boto3 (moto or Bedrock)."""


def job_state_change_event(job: Job, *, account_id: str, base_model_arn: str, at: datetime) -> Event:
    """The event Bedrock puts on the default bus when `job` has just changed to its current status at `at`.

    Built at the moment of the transition: it snapshots the job, so later changes do not leak into it.
    """
    request = job.request
    detail: dict[str, Any] = {
        "version": "0.0",
        "jobName": job.name,
        "jobArn": job.arn,
        "outputModelName": request["customModelName"],
        "outputModelArn": job.output_model_arn,
        "roleArn": request["roleArn"],
        "jobStatus": job.status,
        "failureMessage": job.failure_message,
        "creationTime": _timestamp(job.created_at),
        "lastModifiedTime": _timestamp(job.last_modified or at),
        "endTime": _timestamp(job.end_time) if job.end_time else None,
        "baseModelArn": base_model_arn,
        "hyperParameters": copy.deepcopy(request.get("hyperParameters")),
        "trainingDataConfig": copy.deepcopy(request["trainingDataConfig"]),
        "validationDataConfig": copy.deepcopy(request.get("validationDataConfig")),
        "outputDataConfig": copy.deepcopy(request["outputDataConfig"]),
    }
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": JOB_STATE_CHANGE,
        "source": SOURCE,
        "account": account_id,
        "time": _timestamp(at),
        "region": job.region,
        "resources": [job.arn],
        "detail": {key: value for key, value in detail.items() if value is not None},
    }


def eventbridge_sink(region: str | None = None) -> EventSink:
    """A sink that puts each event on the default EventBridge bus (moto's, inside `mock_aws()`), so rules
    matching `{"source": ["aws.bedrock"], "detail-type": ["Model Customization Job State Change"]}` route it
    to their targets as AWS would.

    `region` is the bus's Region; by default each event goes to the bus of the job's own Region, as Bedrock's
    do. EventBridge assigns the delivered event its own `id`; everything else comes from the event. Raises if
    EventBridge refuses the entry, so a broken set-up is not mistaken for a lost event.
    """
    clients: dict[str, Any] = {}
    lock = threading.Lock()

    def put(event: Event) -> None:
        bus_region = region or event["region"]
        with lock:
            if bus_region not in clients:
                clients[bus_region] = _session().client("events", region_name=bus_region)
            events = clients[bus_region]
        response = events.put_events(
            Entries=[
                {
                    "Source": event["source"],
                    "DetailType": event["detail-type"],
                    "Detail": json.dumps(event["detail"]),
                    "Resources": list(event["resources"]),
                    "Time": datetime.strptime(event["time"], _TIME_FORMAT).replace(tzinfo=UTC),
                    "EventBusName": "default",
                }
            ]
        )
        if response.get("FailedEntryCount"):
            raise RuntimeError(f"EventBridge refused the {event['detail-type']} event: {response['Entries']}")

    return put


_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def _timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(_TIME_FORMAT)


@cache
def _session() -> boto3.session.Session:
    # Created at first use, inside moto's mock, like the emulator's own S3 session.
    return boto3.session.Session()
