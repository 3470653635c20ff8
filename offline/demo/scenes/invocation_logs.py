"""Distillation from the invocation logs, played once per pair: the account's invocation logging installed by the
stack's custom resource; a day of generated support tickets sent to the teacher through Converse with
`requestMetadata`, so they land in the logs; a held-out validation set written to the input bucket; then a run that
distils from the logs through a metadata filter, followed live: its job wait is a callback, released by the job's
Completed event (the fallback poll is an hour); its student served as the Region allows (on demand or on
Provisioned Throughput) and judged against its teacher; and its summary and scorecard."""

from __future__ import annotations

import json
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from bedrock_distill.workflow.scorecard import Scorecard
from offline.bedrock_emulator import BedrockEmulator
from offline.demo.follow import MAIN_RUN_JOB_STEPS, follow
from offline.demo.render import duration
from offline.demo.summary import print_job_wait, print_scorecard, print_summary
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
TITLE = "Distillation from the invocation logs"
# The teacher's traffic spans a logical day, so the logs show a rate the scorecard's monthly saving scales from.
TRAFFIC_SECONDS = 24 * 3600


def ask_teacher(
    requests: Sequence[TeacherRequest],
    teacher_model_id: str,
    console: Console,
    bedrock: BedrockEmulator | None = None,
) -> list[tuple[TeacherRequest, str]]:
    """Each request through Converse with its metadata, at most TEACHER_CONCURRENCY at a time; with `bedrock`,
    its clock moves on by an equal share of TRAFFIC_SECONDS after each answer."""
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
            if bedrock is not None:
                bedrock.advance(TRAFFIC_SECONDS / len(requests))
    return answered


def upload_validation_set(pipeline: LocalPipeline, answered: Sequence[tuple[TeacherRequest, str]]) -> str:
    """The held-out split as bedrock-conversation-2024 records, the teacher's answers as references."""
    lines = [json.dumps(record) for record in conversation_records(answered, "validation")]
    bucket = pipeline.names.input_bucket
    boto3.client("s3").put_object(Bucket=bucket, Key=VALIDATION_KEY, Body=("\n".join(lines) + "\n").encode())
    return f"s3://{bucket}/{VALIDATION_KEY}"


def play(
    world: World,
    console: Console,
    *,
    seed: int,
    output_dir: Path,
    hourly_rate: float,
    execution_name: str = EXECUTION_NAME,
    title: str = TITLE,
    job_steps: int = MAIN_RUN_JOB_STEPS,
    file_suffix: str = "",
) -> tuple[bool, list[tuple[TeacherRequest, str]], Scorecard | None]:
    """One pair's run; returns whether it succeeded, the teacher's answers for the later scenes, and the run's
    scorecard. Its charts go to `output_dir`: training-loss`file_suffix`.png and scorecard`file_suffix`.png."""
    pipeline = world.pipeline
    settings = pipeline.settings
    assert settings is not None  # set by deploy()
    names = pipeline.names
    # What CloudFormation does with the stack's custom resource: its handler, as its role, installs logging.
    pipeline.invocation_logging("Create")
    console.print(f"Invocation logging installed: s3://{names.invocation_log_bucket}/{names.invocation_log_prefix}/")

    answered = ask_teacher(teacher_requests(seed), settings.default_teacher_model_id, console, world.bedrock)
    console.print(
        f"Teacher {settings.default_teacher_model_id} answered {len(answered)} prompts through Converse with "
        f"requestMetadata over {duration(TRAFFIC_SECONDS)} of logical time: {TRAINING_TICKETS} {PROJECT}/train, "
        f"{VALIDATION_TICKETS} {PROJECT}/validation, {OTHER_PROJECT_PROMPTS} {OTHER_PROJECT}/train"
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
    console.rule(title)
    console.print(f"Starting {execution_name}: training data from the invocation logs matching {filter_text()}")
    console.print(
        f"The job wait is a callback: released by the job's state-change event (fallback poll every "
        f"{JOB_FALLBACK_POLL_SECONDS} s); Bedrock's clock moves {duration(JOB_SECONDS / job_steps)} "
        "per refresh while the job runs"
    )
    execution_arn = pipeline.start_execution(execution_input, name=execution_name)
    description, final = follow(world, execution_arn, console, job_steps=job_steps)
    print_summary(
        console,
        description=description,
        final=final,
        filter_text=filter_text(),
        output_dir=output_dir,
        plot_title=f"{execution_name}: training loss",
        png_name=f"training-loss{file_suffix}.png",
        hourly_rate=hourly_rate,
    )
    scorecard = print_scorecard(
        console,
        description,
        output_dir / f"scorecard{file_suffix}.png",
        f"{execution_name} ({world.region}): judged by {settings.judge_model_id}",
    )
    print_job_wait(console, world, execution_arn)
    return description["status"] == "SUCCEEDED", answered, scorecard
