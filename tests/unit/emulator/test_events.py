"""Bedrock's "Model Customization Job State Change" events: shape, order, exactly-once, loss, EventBridge."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from offline.bedrock_emulator import BedrockEmulator, Event, bedrock_emulator, eventbridge_sink
from tests.unit.emulator.builders import (
    ACCOUNT_ID,
    BUCKET,
    JOB_SECONDS,
    REGION,
    ROLE_ARN,
    STUDENT,
    client,
    distillation_request,
    upload_prompts,
)

pytestmark = pytest.mark.unit

# The envelope and detail fields of the sample event in the Bedrock user guide (see bedrock_emulator.events).
ENVELOPE = {"version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"}
DETAIL = {
    "version",
    "jobName",
    "jobArn",
    "outputModelName",
    "outputModelArn",
    "roleArn",
    "jobStatus",
    "failureMessage",
    "creationTime",
    "lastModifiedTime",
    "endTime",
    "baseModelArn",
    "hyperParameters",
    "trainingDataConfig",
    "validationDataConfig",
    "outputDataConfig",
}
STOPPING_SECONDS = 60  # the emulator's default


def _statuses(events: list[Event]) -> list[str]:
    return [event["detail"]["jobStatus"] for event in events]


def _iso(moment: Any) -> str:
    return str(moment.strftime("%Y-%m-%dT%H:%M:%SZ"))


def _create(bedrock: Any, s3: Any, **overrides: Any) -> str:
    request = distillation_request({"s3Uri": upload_prompts(s3, 120)}, **overrides)
    job_arn: str = bedrock.create_model_customization_job(**request)["jobArn"]
    return job_arn


def test_a_completed_job_emits_in_progress_then_completed_in_the_documented_shape(
    bedrock: Any, s3: Any, emulator: BedrockEmulator
) -> None:
    # Given a subscribed sink
    received: list[Event] = []
    emulator.subscribe(received.append)
    # When a job with hyperparameters is created and the clock passes its duration
    job_arn = _create(bedrock, s3, hyperParameters={"epochCount": "2"})
    created = emulator.emitted_events
    emulator.advance(JOB_SECONDS)
    # Then the sink got InProgress on creation, then Completed, and nothing else
    assert _statuses(created) == ["InProgress"]
    assert _statuses(received) == ["InProgress", "Completed"]
    assert received == emulator.emitted_events
    job = bedrock.get_model_customization_job(jobIdentifier=job_arn)
    in_progress, completed = received
    for event in received:
        # And each carries the documented envelope, from aws.bedrock, naming the job in resources and detail
        assert set(event) == ENVELOPE
        assert set(event["detail"]) <= DETAIL
        assert event["version"] == "0"
        assert event["detail-type"] == "Model Customization Job State Change"
        assert event["source"] == "aws.bedrock"
        assert (event["account"], event["region"]) == (ACCOUNT_ID, REGION)
        assert event["resources"] == [job_arn]
        detail = event["detail"]
        assert detail["version"] == "0.0"
        assert (detail["jobArn"], detail["jobName"], detail["roleArn"]) == (job_arn, "distill-job-1", ROLE_ARN)
        assert detail["outputModelName"] == "distilled-model-1"
        assert detail["baseModelArn"] == f"arn:aws:bedrock:{REGION}::foundation-model/{STUDENT}"
        assert detail["hyperParameters"] == {"epochCount": "2"}
        assert detail["trainingDataConfig"] == job["trainingDataConfig"]
        assert detail["outputDataConfig"] == {"s3Uri": f"s3://{BUCKET}/output/"}
        assert detail["creationTime"] == _iso(job["creationTime"])
        assert "status" not in detail
    assert len({event["id"] for event in received}) == 2
    # And InProgress is stamped at creation, Completed at the end with the output model
    assert in_progress["time"] == in_progress["detail"]["creationTime"] == _iso(job["creationTime"])
    assert {"outputModelArn", "endTime", "failureMessage"}.isdisjoint(in_progress["detail"])
    assert completed["time"] == completed["detail"]["endTime"] == _iso(job["endTime"])
    assert completed["detail"]["lastModifiedTime"] == _iso(job["lastModifiedTime"])
    assert completed["detail"]["outputModelArn"] == job["outputModelArn"]
    assert "failureMessage" not in completed["detail"]


def test_a_failed_job_emits_failed_with_its_failure_message_and_no_output_model(
    bedrock: Any, s3: Any, emulator: BedrockEmulator
) -> None:
    # Given the next job is to fail
    emulator.faults.fail_job("Training diverged")
    # When it runs its course
    _create(bedrock, s3)
    emulator.advance(JOB_SECONDS)
    # Then InProgress then Failed, the latter with the failure message and an end time
    assert _statuses(emulator.emitted_events) == ["InProgress", "Failed"]
    failed = emulator.emitted_events[-1]["detail"]
    assert failed["failureMessage"] == "Training diverged"
    assert "endTime" in failed
    assert "outputModelArn" not in failed


def test_a_stopped_job_emits_stopping_then_stopped(bedrock: Any, s3: Any, emulator: BedrockEmulator) -> None:
    # Given a running job
    job_arn = _create(bedrock, s3)
    emulator.advance(JOB_SECONDS / 2)
    # When it is stopped, Then Stopping is emitted at once
    bedrock.stop_model_customization_job(jobIdentifier=job_arn)
    assert _statuses(emulator.emitted_events) == ["InProgress", "Stopping"]
    # And Stopped once the stop has taken effect, with no output model
    emulator.advance(STOPPING_SECONDS)
    assert _statuses(emulator.emitted_events) == ["InProgress", "Stopping", "Stopped"]
    stopped = emulator.emitted_events[-1]
    assert stopped["time"] == stopped["detail"]["endTime"]
    assert "outputModelArn" not in stopped["detail"]


@pytest.mark.parametrize("how", ["advance", "polling reads", "advance then polling reads"])
def test_each_transition_is_emitted_exactly_once_however_it_is_reached(
    bedrock: Any, s3: Any, emulator: BedrockEmulator, how: str
) -> None:
    # Given a job, created twice with the same client token (one job)
    job_arn = _create(bedrock, s3)
    _create(bedrock, s3)
    # When its end is reached by advancing, by moving the bare clock and polling, or both
    if how == "polling reads":
        emulator.clock.advance(JOB_SECONDS)
        assert _statuses(emulator.emitted_events) == ["InProgress"]  # nothing read the job yet
    else:
        emulator.advance(JOB_SECONDS)
    if how != "advance":
        for _ in range(3):
            bedrock.get_model_customization_job(jobIdentifier=job_arn)
            bedrock.list_model_customization_jobs()
            emulator.settle()
            assert emulator.jobs["distill-job-1"].status == "Completed"
    # Then InProgress and Completed were each emitted once
    assert _statuses(emulator.emitted_events) == ["InProgress", "Completed"]


def test_a_polling_pipeline_gets_the_completed_event_by_the_time_it_reads_completed(s3: Any) -> None:
    # Given an emulator that moves an hour per status read, with a sink given at construction
    received: list[Event] = []
    with bedrock_emulator(job_seconds=JOB_SECONDS, seconds_per_status_read=3600, event_sinks=[received.append]):
        bedrock = client("bedrock")
        job_arn = _create(bedrock, s3)
        # When a poller reads until the job completes
        reads = 0
        while bedrock.get_model_customization_job(jobIdentifier=job_arn)["status"] != "Completed":
            reads += 1
            # Then no Completed event comes before the job reads Completed
            assert _statuses(received) == ["InProgress"]
        # And exactly one comes by then
        assert reads > 1
        assert _statuses(received) == ["InProgress", "Completed"]


def test_one_settle_emits_several_jobs_transitions_in_time_order(
    bedrock: Any, s3: Any, emulator: BedrockEmulator
) -> None:
    # Given a healthy job, and a later one whose training data is missing (it fails early, in validation)
    _create(bedrock, s3)
    emulator.advance(60)
    bedrock.create_model_customization_job(
        **distillation_request(
            {"s3Uri": f"s3://{BUCKET}/train/missing.jsonl"}, jobName="distill-job-2", clientRequestToken="token-2"
        )
    )
    # When one advance passes both ends
    emulator.advance(JOB_SECONDS)
    # Then the later job's early failure comes before the first job's completion
    events = emulator.emitted_events
    assert [(event["detail"]["jobName"], event["detail"]["jobStatus"]) for event in events] == [
        ("distill-job-1", "InProgress"),
        ("distill-job-2", "InProgress"),
        ("distill-job-2", "Failed"),
        ("distill-job-1", "Completed"),
    ]
    assert [event["time"] for event in events] == sorted(event["time"] for event in events)


def test_lost_events_are_dropped_and_recorded_while_the_job_moves_on(
    bedrock: Any, s3: Any, emulator: BedrockEmulator
) -> None:
    # Given the next Completed event is to be lost
    emulator.faults.lose_job_events(status="Completed")
    received: list[Event] = []
    emulator.subscribe(received.append)
    # When two jobs run to completion
    job_arn = _create(bedrock, s3)
    _create(bedrock, s3, jobName="distill-job-2", clientRequestToken="token-2")
    emulator.advance(JOB_SECONDS)
    # Then the first Completed event never reached the sink but was recorded as dropped; the second did
    assert [(event["detail"]["jobName"], event["detail"]["jobStatus"]) for event in received] == [
        ("distill-job-1", "InProgress"),
        ("distill-job-2", "InProgress"),
        ("distill-job-2", "Completed"),
    ]
    assert received == emulator.emitted_events
    assert [(event["detail"]["jobName"], event["detail"]["jobStatus"]) for event in emulator.dropped_events] == [
        ("distill-job-1", "Completed")
    ]
    # And the job itself completed: a poll finds what the event would have said
    assert bedrock.get_model_customization_job(jobIdentifier=job_arn)["status"] == "Completed"


def test_lose_every_event_of_one_job_until_cleared(bedrock: Any, s3: Any, emulator: BedrockEmulator) -> None:
    # Given every event of distill-job-2 is to be lost
    emulator.faults.lose_job_events(times=None, job_name="distill-job-2")
    # When both jobs run, Then only distill-job-1's events are delivered
    _create(bedrock, s3)
    _create(bedrock, s3, jobName="distill-job-2", clientRequestToken="token-2")
    emulator.advance(JOB_SECONDS)
    assert {event["detail"]["jobName"] for event in emulator.emitted_events} == {"distill-job-1"}
    assert _statuses(emulator.dropped_events) == ["InProgress", "Completed"]
    # And once cleared, its events flow again
    emulator.faults.clear()
    _create(bedrock, s3, jobName="distill-job-2b", clientRequestToken="token-2b")
    assert emulator.emitted_events[-1]["detail"]["jobName"] == "distill-job-2b"


@pytest.mark.parametrize(("times", "status"), [(0, None), (1, "Running")])
def test_lose_job_events_refuses_what_could_never_match(emulator: BedrockEmulator, times: int, status: str) -> None:
    with pytest.raises(ValueError, match=r"times|status"):
        emulator.faults.lose_job_events(times=times, status=status)


def test_a_sink_may_call_boto3_and_the_emulator_from_another_thread_inside_delivery(
    bedrock: Any, s3: Any, emulator: BedrockEmulator
) -> None:
    # Given a sink that, on InProgress, reads the job from another thread (it would wait forever on a held
    # lock), writes to moto, and stops the job from inside delivery
    sqs = client("sqs")
    queue_url = sqs.create_queue(QueueName="seen")["QueueUrl"]
    seen: list[str] = []

    def sink(event: Event) -> None:
        status = event["detail"]["jobStatus"]
        seen.append(status)
        if status == "InProgress":
            pool = ThreadPoolExecutor(max_workers=1)
            try:
                read = pool.submit(bedrock.get_model_customization_job, jobIdentifier=event["detail"]["jobArn"])
                assert read.result(timeout=10)["status"] == "InProgress"
            finally:
                pool.shutdown(wait=False)  # on a timeout, fail instead of waiting on the blocked thread
            sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(event))
            bedrock.stop_model_customization_job(jobIdentifier=event["detail"]["jobArn"])

    emulator.subscribe(sink)
    # When the job is created
    _create(bedrock, s3)
    # Then delivery finished without deadlock, and the Stopping it caused came after InProgress
    assert seen == ["InProgress", "Stopping"]
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages"])
    assert attributes["Attributes"]["ApproximateNumberOfMessages"] == "1"
    emulator.advance(STOPPING_SECONDS)
    assert seen == ["InProgress", "Stopping", "Stopped"]


def test_eventbridge_sink_reaches_a_rule_on_the_default_bus_and_its_sqs_target(
    bedrock: Any, s3: Any, emulator: BedrockEmulator
) -> None:
    # Given a rule on the default bus for Bedrock's job events, with an SQS target, and one for other events
    sqs, events = client("sqs"), client("events")
    queues = {name: sqs.create_queue(QueueName=name)["QueueUrl"] for name in ("job-events", "other")}
    patterns = {
        "job-events": {"source": ["aws.bedrock"], "detail-type": ["Model Customization Job State Change"]},
        "other": {"source": ["aws.bedrock"], "detail-type": ["Batch Inference Job State Change"]},
    }
    for name, pattern in patterns.items():
        events.put_rule(Name=name, EventPattern=json.dumps(pattern))
        queue_arn = sqs.get_queue_attributes(QueueUrl=queues[name], AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        events.put_targets(Rule=name, Targets=[{"Id": "queue", "Arn": queue_arn}])
    emulator.subscribe(eventbridge_sink())
    # When a job runs to completion
    job_arn = _create(bedrock, s3)
    emulator.advance(JOB_SECONDS)
    # Then the matching queue holds both events, whose bodies parse to the events emitted
    messages = sqs.receive_message(QueueUrl=queues["job-events"], MaxNumberOfMessages=10)["Messages"]
    bodies = [json.loads(message["Body"]) for message in messages]
    assert [body["detail"]["jobStatus"] for body in bodies] == ["InProgress", "Completed"]
    for body, emitted in zip(bodies, emulator.emitted_events, strict=True):
        assert body["source"] == "aws.bedrock"
        assert body["detail-type"] == "Model Customization Job State Change"
        assert body["resources"] == [job_arn]
        assert body["time"] == emitted["time"]
        assert body["region"] == REGION  # moto 5.2's default target input leaves out "account"; AWS keeps it
        assert body["detail"] == emitted["detail"]
    # And the other rule's queue got nothing
    assert "Messages" not in sqs.receive_message(QueueUrl=queues["other"], MaxNumberOfMessages=10)
