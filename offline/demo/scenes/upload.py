"""Scene 2, an upload starts a run: the training tickets with the teacher's answers uploaded as a dataset under the
upload trigger prefix, with a settings file beside it that picks a smaller student and two model units; the
upload starts a run by itself, with those settings applied."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import boto3
from rich.console import Console

from offline.demo.follow import SHORT_RUN_JOB_STEPS, follow
from offline.demo.tickets import PROJECT, TeacherRequest, conversation_records
from offline.demo.world import World

UPLOAD_STEM = f"{PROJECT}-curated"
UPLOAD_SETTINGS: dict[str, Any] = {"studentModelId": "meta.llama3-2-1b-instruct-v1:0:128k", "provisionedModelUnits": 2}


def play(world: World, answered: Sequence[tuple[TeacherRequest, str]], console: Console) -> tuple[bool, str]:
    """Uploads a dataset and its settings under the trigger prefix; follows the run the upload starts.
    Returns whether it succeeded with the settings applied, and the dataset's URI."""
    pipeline = world.pipeline
    settings = pipeline.settings
    assert settings is not None  # set by deploy()
    say = console.print
    console.rule("An upload starts a run")
    bucket, prefix = pipeline.names.input_bucket, settings.upload_trigger_prefix
    s3 = boto3.client("s3")
    # The settings first: the run started by the dataset's upload reads them in its Preflight.
    settings_key, dataset_key = f"{prefix}/{UPLOAD_STEM}.json", f"{prefix}/{UPLOAD_STEM}.jsonl"
    s3.put_object(Bucket=bucket, Key=settings_key, Body=json.dumps(UPLOAD_SETTINGS, indent=2).encode())
    say(f"Uploaded s3://{bucket}/{settings_key}: {json.dumps(UPLOAD_SETTINGS)}")
    records = conversation_records(answered, "train")
    body = "".join(json.dumps(record) + "\n" for record in records)
    s3.put_object(Bucket=bucket, Key=dataset_key, Body=body.encode())
    dataset_uri = f"s3://{bucket}/{dataset_key}"
    say(f"Uploaded {dataset_uri}: {len(records)} records (the training tickets with the teacher's answers)")

    delivery = world.delivery_for("uploads", lambda event: event["detail"]["object"]["key"] == dataset_key)
    if not (delivery.succeeded and delivery.result.get("action") == "started"):
        say(f"The upload started no run: {json.dumps(delivery.result)}", style="bold red")
        return False, dataset_uri
    execution_arn = str(delivery.result["executionArn"])
    name = execution_arn.rsplit(":", 1)[-1]
    say(f"Upload trigger started {name} (uploads rule -> StartFromUpload)")
    description, final = follow(world, execution_arn, console, job_steps=SHORT_RUN_JOB_STEPS)

    job = world.job_of(execution_arn)
    throughput = world.provisioned_throughput_of(job)
    student = job.request["baseModelIdentifier"] if job is not None else "none"
    units = throughput.model_units if throughput is not None else 0
    say(
        f"Settings applied from {UPLOAD_STEM}.json: the job trained {student}, "
        f"its Provisioned Throughput had {units} model units"
    )
    say(f"Upload run: {description['status']} ({execution_arn}); wall time {final.wall_seconds:.1f} s")
    applied = (student, units) == (UPLOAD_SETTINGS["studentModelId"], UPLOAD_SETTINGS["provisionedModelUnits"])
    return description["status"] == "SUCCEEDED" and applied, dataset_uri
