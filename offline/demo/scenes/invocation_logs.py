"""Scene 1, distillation from the invocation logs: the account's invocation logging installed by the stack's custom
resource; generated support tickets sent to the teacher through Converse with `requestMetadata`, so they land in
the logs; a held-out validation set written to the input bucket; then a run that distils from the logs through a
metadata filter, followed live: its job wait is a callback, released by the job's Completed event (the fallback
poll is an hour); and its summary."""

from __future__ import annotations

import json
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from offline.demo.follow import MAIN_RUN_JOB_STEPS, follow
from offline.demo.render import duration
from offline.demo.summary import print_job_wait, print_summary
from offline.demo.tickets import (
    METADATA_FILTER,
    OTHER_PROJECT,
    OTHER_PROJECT_PROMPTS,
    PROJECT,
    TRAINING_TICKETS,
    VALIDATION_TICKETS,
    TeacherRequest,
    conversation_records,
    filter_text,
    teacher_requests,
)
from offline.demo.world import JOB_FALLBACK_POLL_SECONDS, JOB_SECONDS, World
from offline.pipeline import LocalPipeline

TEACHER_CONCURRENCY = 8
VALIDATION_KEY = f"datasets/{PROJECT}/validation.jsonl"
EXECUTION_NAME = f"{PROJECT}-demo"


def ask_teacher(
    requests: Sequence[TeacherRequest], teacher_model_id: str, console: Console
) -> list[tuple[TeacherRequest, str]]:
    """Each request through Converse with its metadata, at most TEACHER_CONCURRENCY at a time."""
    runtime = boto3.client("bedrock-runtime")

    def converse(request: TeacherRequest) -> tuple[TeacherRequest, str]:
        response = runtime.converse(
            modelId=teacher_model_id,
            system=[{"text": request.system_text}],
            messages=[{"role": "user", "content": [{"text": request.user_text}]}],
            inferenceConfig={"maxTokens": 200, "temperature": 0.0},
            requestMetadata=request.metadata,
        )
        return request, "".join(block.get("text", "") for block in response["output"]["message"]["content"])

    with (
        Progress(
            TextColumn("Teacher answers"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            disable=not console.is_terminal,
        ) as progress,
        ThreadPoolExecutor(max_workers=TEACHER_CONCURRENCY) as pool,
    ):
        task = progress.add_task("teacher", total=len(requests))
        answered = []
        for result in pool.map(converse, requests):
            answered.append(result)
            progress.advance(task)
    return answered


def upload_validation_set(pipeline: LocalPipeline, answered: Sequence[tuple[TeacherRequest, str]]) -> str:
    """The held-out split as bedrock-conversation-2024 records, the teacher's answers as references."""
    lines = [json.dumps(record) for record in conversation_records(answered, "validation")]
    bucket = pipeline.names.input_bucket
    boto3.client("s3").put_object(Bucket=bucket, Key=VALIDATION_KEY, Body=("\n".join(lines) + "\n").encode())
    return f"s3://{bucket}/{VALIDATION_KEY}"


def play(
    world: World, console: Console, *, seed: int, output_dir: Path, hourly_rate: float
) -> tuple[bool, list[tuple[TeacherRequest, str]]]:
    """The main run; returns whether it succeeded, and the teacher's answers for the later scenes."""
    pipeline = world.pipeline
    settings = pipeline.settings
    assert settings is not None  # set by deploy()
    names = pipeline.names
    # What CloudFormation does with the stack's custom resource: its handler, as its role, installs logging.
    pipeline.invocation_logging("Create")
    console.print(f"Invocation logging installed: s3://{names.invocation_log_bucket}/{names.invocation_log_prefix}/")

    answered = ask_teacher(teacher_requests(seed), settings.default_teacher_model_id, console)
    console.print(
        f"Teacher {settings.default_teacher_model_id} answered {len(answered)} prompts through Converse with "
        f"requestMetadata: {TRAINING_TICKETS} {PROJECT}/train, {VALIDATION_TICKETS} {PROJECT}/validation, "
        f"{OTHER_PROJECT_PROMPTS} {OTHER_PROJECT}/train"
    )
    validation_prompts = upload_validation_set(pipeline, answered)
    console.print(f"Held-out validation set: {validation_prompts}")

    execution_input = {
        "trainingData": {
            # The teacher's logged answers are the training targets: no second round of teacher inference.
            "invocationLogs": {"requestMetadataFilters": METADATA_FILTER, "usePromptResponse": True}
        },
        "validationPrompts": validation_prompts,
        "validationSampleSize": VALIDATION_TICKETS,
        # A fallback only: the job's state-change event is what ends the wait.
        "pollIntervals": {"jobSeconds": JOB_FALLBACK_POLL_SECONDS},
    }
    console.rule("Distillation from the invocation logs")
    console.print(f"Starting {EXECUTION_NAME}: training data from the invocation logs matching {filter_text()}")
    console.print(
        f"The job wait is a callback: released by the job's state-change event (fallback poll every "
        f"{JOB_FALLBACK_POLL_SECONDS} s); Bedrock's clock moves {duration(JOB_SECONDS / MAIN_RUN_JOB_STEPS)} "
        "per refresh while the job runs"
    )
    execution_arn = pipeline.start_execution(execution_input, name=EXECUTION_NAME)
    description, final = follow(world, execution_arn, console, job_steps=MAIN_RUN_JOB_STEPS)
    print_summary(
        console,
        description=description,
        final=final,
        filter_text=filter_text(),
        output_dir=output_dir,
        plot_title=f"{EXECUTION_NAME}: training loss",
        hourly_rate=hourly_rate,
    )
    print_job_wait(console, world, execution_arn)
    return description["status"] == "SUCCEEDED", answered
