"""`make demo` end to end, its printed figures held against the worlds' own records.

The demo runs once, in this process (`offline.demo.main.run_demo`, on moto and the Bedrock emulator, with the
hermetic environment of tests/conftest.py), printing as it does without a terminal. It plays two worlds, us-west-2
(the Llama pair on Provisioned Throughput) and us-east-1 (the Nova pair on demand). Every figure it prints about
jobs, Provisioned Throughputs, deployments, the judge, training data, validation and IAM is compared with what each
world's emulator recorded independently (its jobs, Provisioned Throughputs, deployments, evaluation jobs, every
Bedrock call it answered) and with every request the IAM enforcer authorized: a figure the demo gets wrong, or a
deletion that did not happen, fails here whatever the demo prints. `python -m offline.demo` itself, as `make demo`
runs it, is checked for its entry point and the environment it sets before boto3 loads.
"""

from __future__ import annotations

import importlib
import io
import json
import math
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bedrock_distill.workflow.run import EXECUTION_TAG_KEY
from offline.bedrock_emulator import BedrockEmulator, Job, ProvisionedThroughput
from offline.bedrock_emulator.deployments import ModelDeployment
from offline.bedrock_emulator.evaluations import EvaluationJob
from offline.demo.environment import FORCED, isolate
from offline.demo.main import WorldRecords, demo_console, parse_arguments, run_demo
from offline.demo.world import ILLUSTRATIVE_PRICES_USD, ON_DEMAND_REGION, PROVISIONED_REGION, cold_functions
from offline.iam.enforcer import Enforcer

pytestmark = pytest.mark.e2e

REPOSITORY = Path(__file__).resolve().parents[2]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SPARK_CHARACTERS = set("▁▂▃▄▅▆▇█")
MAIN_RUN_NAME = "support-summaries-demo"
NOVA_RUN_NAME = "support-summaries-nova"
FORGOTTEN_RUN_NAME = "support-summaries-forgotten-pt"
UPLOADED_STUDENT = "meta.llama3-2-1b-instruct-v1:0:128k"
TRAINING_SPLIT = {"project": "support-summaries", "split": "train"}
CREATE_PT = "CreateProvisionedModelThroughput"
DELETE_PT = "DeleteProvisionedModelThroughput"
CREATE_DEPLOYMENT = "CreateCustomModelDeployment"
DELETE_DEPLOYMENT = "DeleteCustomModelDeployment"


@dataclass(frozen=True)
class World:
    """One world's records: lookups of its emulator's and its enforcer's own."""

    bedrock: BedrockEmulator
    enforcer: Enforcer

    def job_of(self, execution_name: str) -> Job:
        """The one job the emulator holds for an execution, by the execution tag the workflow put on it."""
        jobs = [
            job
            for job in self.bedrock.jobs.values()
            if self.bedrock.tags_of(job.arn).get(EXECUTION_TAG_KEY, "").endswith(f":{execution_name}")
        ]
        assert len(jobs) == 1, f"{len(jobs)} jobs for {execution_name}"
        return jobs[0]

    def throughput_of(self, job: Job) -> ProvisionedThroughput:
        """The one Provisioned Throughput the emulator holds on the job's custom model."""
        throughputs = [
            pt for pt in self.bedrock.provisioned_throughputs.values() if pt.model_arn == job.output_model_arn
        ]
        assert len(throughputs) == 1, f"{len(throughputs)} PTs for {job.arn}"
        return throughputs[0]

    def deployment_of(self, job: Job) -> ModelDeployment:
        """The one custom model deployment the emulator holds of the job's custom model."""
        deployments = [d for d in self.bedrock.model_deployments.values() if d.model_arn == job.output_model_arn]
        assert len(deployments) == 1, f"{len(deployments)} deployments for {job.arn}"
        return deployments[0]

    def evaluation_jobs_of(self, execution_name: str) -> dict[str, EvaluationJob]:
        """The judge's jobs the emulator holds for an execution, by their precomputed inference source."""
        jobs = {
            job.source: job
            for job in self.bedrock.evaluation_jobs.values()
            if self.bedrock.tags_of(job.arn).get(EXECUTION_TAG_KEY, "").endswith(f":{execution_name}")
        }
        assert len(jobs) == 2, f"{sorted(jobs)} evaluation jobs for {execution_name}"
        return jobs

    def calls(self, operation: str) -> list[dict[str, Any]]:
        return [call.params for call in self.bedrock.calls if call.operation == operation]

    def call_indexes(self, operation: str) -> list[int]:
        """Where the calls of `operation` stand in the order the emulator answered every call."""
        return [i for i, call in enumerate(self.bedrock.calls) if call.operation == operation]

    def deletions_of(self, arn: str, operation: str = DELETE_PT) -> list[str]:
        """The functions whose `operation` (a delete) of `arn` IAM authorized, in order."""
        return [
            authorization.principal.session_name.rsplit("-", 1)[-1]
            for authorization in self.enforcer.authorizations
            if authorization.request.action == f"bedrock:{operation}" and authorization.request.resource == arn
        ]


@dataclass(frozen=True)
class Demo:
    """What the demo printed and returned, and each world's records."""

    stdout: str
    output_dir: Path
    exit_code: int
    worlds: dict[str, WorldRecords]

    @property
    def llama(self) -> World:
        """us-west-2: the Llama pair on Provisioned Throughput, the upload and the forgotten PT."""
        records = self.worlds[PROVISIONED_REGION]
        return World(records.bedrock, records.enforcer)

    @property
    def nova(self) -> World:
        """us-east-1: the Nova pair on demand."""
        records = self.worlds[ON_DEMAND_REGION]
        return World(records.bedrock, records.enforcer)

    # Most tests read the us-west-2 world.
    @property
    def bedrock(self) -> BedrockEmulator:
        return self.llama.bedrock

    @property
    def enforcer(self) -> Enforcer:
        return self.llama.enforcer

    def job_of(self, execution_name: str) -> Job:
        return self.llama.job_of(execution_name)

    def throughput_of(self, job: Job) -> ProvisionedThroughput:
        return self.llama.throughput_of(job)

    def calls(self, operation: str) -> list[dict[str, Any]]:
        return self.llama.calls(operation)

    def deletions_of(self, pt: ProvisionedThroughput) -> list[str]:
        return self.llama.deletions_of(pt.arn)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    output_dir = tmp_path_factory.mktemp("demo-output")
    printed = io.StringIO()  # not a terminal: plain lines, as in CI logs
    run = run_demo(parse_arguments(["--output-dir", str(output_dir)]), demo_console(printed))
    return Demo(printed.getvalue(), output_dir, run.exit_code, run.worlds)


def _line(stdout: str, pattern: str) -> re.Match[str]:
    match = re.search(pattern, stdout, re.MULTILINE)
    assert match, f"no line matches {pattern!r} in:\n{stdout}"
    return match


RULE = re.compile(r"^─+ (.+?) ─+$", re.MULTILINE)
MAIN_RUN = "Distillation from the invocation logs"
UPLOAD = "An upload starts a run"
FORGOTTEN_PT = "A forgotten Provisioned Throughput"
CHECK = f"Check: {PROVISIONED_REGION}"
NOVA_CHECK = f"Check: {ON_DEMAND_REGION}"
NOVA_RUN = f"Amazon Nova Pro -> Nova Lite, served on demand ({ON_DEMAND_REGION})"
MAIN_SUMMARY = f"Summary: {MAIN_RUN_NAME}"
NOVA_SUMMARY = f"Summary: {NOVA_RUN_NAME}"


def _section(stdout: str, title: str) -> str:
    """The lines between the rule titled `title` and the next rule."""
    rules = list(RULE.finditer(stdout))
    for rule, following in zip(rules, [*rules[1:], None], strict=True):
        if rule.group(1) == title:
            return stdout[rule.end() : following.start() if following else len(stdout)]
    raise AssertionError(f"no section {title!r} in:\n{stdout}")


def test_every_provisioned_throughput_the_demo_counts_was_created_and_deleted_in_the_emulator(demo: Demo) -> None:
    # Given the demo's three runs, when it has ended
    assert demo.exit_code == 0, demo.stdout
    _line(demo.stdout, rf"^Execution: SUCCEEDED \(arn:aws:states:\S+:execution:\S+:{MAIN_RUN_NAME}\)$")
    check = _section(demo.stdout, CHECK)
    checked = _line(
        check,
        r"^Checked: no Provisioned Throughput left \((\d+) created, (\d+) deleted\); no custom model deployment left "
        r"\(0 created, 0 deleted, none kept\); no evaluation job running \((\d+) created, (\d+) completed\)$",
    )
    _line(_section(demo.stdout, NOVA_CHECK), r"^Demo finished in [\d.]+ s wall time, exit code 0$")
    created, deleted = int(checked.group(1)), int(checked.group(2))
    # And the judge's jobs it counts are the emulator's: two per judged run (the stopped run was never judged)
    judges = list(demo.bedrock.evaluation_jobs.values())
    assert int(checked.group(3)) == int(checked.group(4)) == len(judges) == 4
    assert all(job.status == "Completed" for job in judges)
    assert demo.bedrock.model_deployments == {}

    # Then its counts are the emulator's: one PT bought per run, through one create call each, and every one
    # of them gone through a delete call of its own
    throughputs = list(demo.bedrock.provisioned_throughputs.values())
    jobs = list(demo.bedrock.jobs.values())
    executions = sorted(demo.bedrock.tags_of(job.arn)[EXECUTION_TAG_KEY].rsplit(":", 1)[-1] for job in jobs)
    assert len(demo.calls("CreateModelCustomizationJob")) == len(jobs) == 3
    main_run, forgotten_run, upload_run = executions
    assert (main_run, forgotten_run) == (MAIN_RUN_NAME, FORGOTTEN_RUN_NAME)
    assert upload_run.startswith("upload-")
    assert sorted(pt.arn for pt in throughputs) == sorted(demo.throughput_of(job).arn for job in jobs)
    assert created == len(throughputs) == len({call["provisionedModelName"] for call in demo.calls(CREATE_PT)}) == 3
    deleted_by_call = {
        pt.arn
        for pt in throughputs
        for call in demo.calls(DELETE_PT)
        if call["provisionedModelId"] in (pt.arn, pt.name)
    }
    assert deleted == sum(pt.deleted for pt in throughputs) == len(deleted_by_call) == 3
    assert demo.bedrock.live_provisioned_throughputs() == []


@pytest.mark.parametrize(("region", "check"), [(PROVISIONED_REGION, CHECK), (ON_DEMAND_REGION, NOVA_CHECK)])
def test_every_call_of_the_demo_was_authorized_against_the_synthesized_roles(
    demo: Demo, region: str, check: str
) -> None:
    _line(demo.stdout, rf"^Synthesized the stack for {region} \(\d+ resources, \d+ IAM roles, cdk-nag clean\)")
    iam = _line(
        _section(demo.stdout, check),
        r"^IAM: (\d+) requests authorized against the synthesized policies of (\d+) callers .*, (\d+) denied$",
    )
    authorized, callers, denied = (int(iam.group(i)) for i in (1, 2, 3))
    # The figures are the world's enforcer's: every function that ran, and the service roles the distillation and
    # evaluation jobs ran as, were checked
    enforcer = demo.worlds[region].enforcer
    assert authorized == len(enforcer.authorizations) > 100
    assert callers == len({a.principal.session_arn for a in enforcer.authorizations}) >= 12
    assert denied == len(enforcer.denials) == 0, [d.message for d in enforcer.denials]


def test_the_job_wait_is_released_by_the_jobs_event_not_by_polling(demo: Demo) -> None:
    _line(
        demo.stdout,
        r"^Job wait: released by the job's Completed event \(job-events rule -> RelayJobEvent, released: True\)$",
    )
    cost = _line(
        demo.stdout,
        r"^Job wait cost (\d+) state transitions \(WaitForJobEvent (\d+), GetJobStatus (\d+), JobCompleted\? (\d+)\) "
        r"for (\d+)h (\d+)m of training; the fallback poll \(every 3600 s\) fired (\d+) times$",
    )
    # One round of the cycle for an 8-hour job: one wait, one status read, one choice; no fallback poll.
    assert [int(cost.group(i)) for i in (1, 2, 3, 4, 7)] == [3, 1, 1, 1, 0]
    job = demo.job_of(MAIN_RUN_NAME)
    assert job.end_time is not None
    trained_minutes = int((job.end_time - job.created_at).total_seconds()) // 60
    assert int(cost.group(5)) * 60 + int(cost.group(6)) == trained_minutes == 8 * 60


def test_an_upload_starts_a_run_with_the_settings_uploaded_beside_it(demo: Demo) -> None:
    upload = _section(demo.stdout, UPLOAD)
    settings = _line(upload, r"^Uploaded s3://\S+/datasets/incoming/(\S+)\.json: (\{.*\})$")
    dataset = _line(upload, r"^Uploaded s3://\S+/datasets/incoming/(\S+)\.jsonl: (\d+) records ")
    assert settings.group(1) == dataset.group(1)
    assert settings.start() < dataset.start()  # the settings first, so the run finds them
    started = _line(upload, r"^Upload trigger started (upload-(\S+)-[0-9a-f]{16}) \(uploads rule -> StartFromUpload\)$")
    assert started.group(2) == dataset.group(1)
    applied = _line(
        upload,
        r"^Settings applied from \S+\.json: the job trained (\S+), its Provisioned Throughput had (\d+) model units$",
    )
    finished = _line(upload, r"^Upload run: (\w+) \(arn:aws:states:[^)]+:execution:[^:]+:(\S+)\); wall time")
    assert (finished.group(1), finished.group(2)) == ("SUCCEEDED", started.group(1))

    # The emulator ran the started execution's job on the uploaded settings' student, served by their units
    job = demo.job_of(started.group(1))
    throughput = demo.throughput_of(job)
    assert applied.group(1) == job.request["baseModelIdentifier"] == UPLOADED_STUDENT
    assert int(applied.group(2)) == throughput.model_units == 2
    # Every uploaded record reached the job, or the validation of its model, as a held-out prompt
    validated = [call for call in demo.calls("Converse") if call["modelId"] == throughput.arn]
    assert int(dataset.group(2)) == job.training_records + len(validated) >= 100


def test_a_stopped_runs_pt_is_deleted_by_the_execution_end_rule_and_the_sweep_finds_nothing(demo: Demo) -> None:
    scene = _section(demo.stdout, FORGOTTEN_PT)
    bought = _line(
        scene, r"^Provisioned Throughput bought: (arn:aws:bedrock:\S+:provisioned-model/\S+) \(\w+, (\d+) model unit"
    )
    stopped = _line(scene, rf"^Stopped {FORGOTTEN_RUN_NAME} with StopExecution: ABORTED;")
    cleanup = _line(
        scene,
        r"^execution-ends rule \(its ABORTED status change\) -> CleanUpExecution: deleted (\d+) Provisioned "
        r"Throughput\(s\) \[\"(\S+)\"\], stopped (\d+) job\(s\); the PT is now Deleted$",
    )
    outcome = _line(
        scene,
        r"^Outcome message \(SNS\): ABORTED, cleanup deleted_provisioned_throughputs \[\"(\S+)\"\]; next step: .+$",
    )
    sweep = _line(scene, r"^Sweep \(its hourly schedule, fired once now\): deleted (\d+), kept (\d+): nothing left$")
    assert bought.start() < stopped.start() < cleanup.start() < outcome.start() < sweep.start()

    # The PT shown is the one the emulator sold the stopped run, and the emulator deleted it
    throughput = demo.throughput_of(demo.job_of(FORGOTTEN_RUN_NAME))
    assert bought.group(1) == cleanup.group(2) == outcome.group(1) == throughput.arn
    assert int(bought.group(2)) == throughput.model_units
    assert throughput.deleted
    # by one delete, which IAM authorized for the execution-end rule's function (the workflow, stopped, did not)
    assert int(cleanup.group(1)) == len(demo.deletions_of(throughput)) == 1
    assert demo.deletions_of(throughput) == ["CleanUpExecution"]
    # The job had ended: nothing stopped it. The sweep found nothing: it deleted no PT of any run.
    assert int(cleanup.group(3)) == len(demo.calls("StopModelCustomizationJob")) == 0
    swept = [
        pt
        for pt in demo.bedrock.provisioned_throughputs.values()
        if "SweepProvisionedThroughputs" in demo.deletions_of(pt)
    ]
    assert (int(sweep.group(1)), int(sweep.group(2))) == (len(swept), 0) == (0, 0)


def test_each_run_sends_one_outcome_message(demo: Demo) -> None:
    # The workflow reports its own two ends; the stopped run's is reported once, by the cleanup.
    messages = _line(_section(demo.stdout, CHECK), r"^Outcome messages on the topic: (.+)$").group(1)
    assert re.fullmatch(
        rf"SUCCEEDED {MAIN_RUN_NAME} x1, SUCCEEDED upload-\S+ x1, ABORTED {FORGOTTEN_RUN_NAME} x1", messages
    ), messages


def test_summary_names_the_job_and_the_custom_model_it_produced(demo: Demo) -> None:
    printed = _line(demo.stdout, r"^Job: (arn:aws:bedrock:[^:]+:\d{12}:model-customization-job/\S+) \((\w+)\)$")
    model = _line(demo.stdout, r"^Custom model: (arn:aws:bedrock:[^:]+:\d{12}:custom-model/\S+)$")
    job = demo.job_of(MAIN_RUN_NAME)
    assert (printed.group(1), printed.group(2)) == (job.arn, job.status) == (job.arn, "Completed")
    assert model.group(1) == job.output_model_arn


def test_the_metadata_filter_selects_part_of_the_logged_traffic(demo: Demo) -> None:
    data = _line(demo.stdout, r"^Training data: (\d+) logged invocations, (\d+) match the filter .*, (\d+) used$")
    logged, matching, used = (int(data.group(i)) for i in (1, 2, 3))
    # The logged traffic is the Converse calls made with request metadata; the filter keeps the training split
    # of one project; the job trained on exactly those, with other splits and another team's prompts left out
    tagged = [call["requestMetadata"] for call in demo.calls("Converse") if call.get("requestMetadata")]
    assert logged == len(tagged)
    assert matching == sum(metadata == TRAINING_SPLIT for metadata in tagged)
    assert used == demo.job_of(MAIN_RUN_NAME).training_records == matching
    assert 100 <= matching < logged


def test_training_loss_curve_is_a_png_and_a_sparkline(demo: Demo) -> None:
    printed = Path(_line(demo.stdout, r"^Training-loss curve: (.+)$").group(1))
    assert printed == (demo.output_dir / "training-loss.png").resolve()
    image = printed.read_bytes()
    assert image.startswith(PNG_SIGNATURE)
    assert len(image) > 5_000  # a drawn chart, not an empty canvas
    width, height = int.from_bytes(image[16:20], "big"), int.from_bytes(image[20:24], "big")  # IHDR
    assert width > 100
    assert height > 100

    losses = _line(demo.stdout, r"^Training loss: ([\d.]+) -> ([\d.]+) over (\d+) steps$")
    assert float(losses.group(2)) < float(losses.group(1))
    spark = _line(demo.stdout, r"^  ([▁▂▃▄▅▆▇█]+)$").group(1)
    assert set(spark) <= SPARK_CHARACTERS
    assert len(spark) == min(int(losses.group(3)), 60)
    assert spark[0] == "█"  # the curve starts at its highest loss


def test_validation_figures_come_from_the_provisioned_model(demo: Demo) -> None:
    validation = _line(
        demo.stdout,
        r"^Validation: (\d+)/(\d+) prompts succeeded, latency p50 (\d+) ms, p95 (\d+) ms, "
        r"mean similarity ([\d.]+) \((.+)\) against the teacher's answers$",
    )
    succeeded, prompts, p50, p95 = (int(validation.group(i)) for i in (1, 2, 3, 4))
    # Each prompt was one Converse call the emulator answered from the run's Provisioned Throughput
    throughput = demo.throughput_of(demo.job_of(MAIN_RUN_NAME))
    served = [call for call in demo.calls("Converse") if call["modelId"] == throughput.arn]
    assert succeeded == prompts == len(served) > 0
    assert 0 < p50 <= p95
    assert 0 < float(validation.group(5)) <= 100
    assert validation.group(6).startswith("chrF")


def test_cost_estimate_states_its_assumed_rate(demo: Demo) -> None:
    cost = _line(
        demo.stdout,
        r"^Estimated Provisioned Throughput cost: \$([\d.]+) \(([\d.]+) h alive, billed per started hour, "
        r"x (\d+) model unit\(s\) x \$([\d.]+)/h: assumed rate; see the Bedrock pricing page\)$",
    )
    usd, hours, units, rate = float(cost.group(1)), float(cost.group(2)), int(cost.group(3)), float(cost.group(4))
    assert units == demo.throughput_of(demo.job_of(MAIN_RUN_NAME)).model_units
    assert hours > 0
    assert usd == math.ceil(hours) * units * rate > 0


PROGRESS_LINE = re.compile(
    r"^\[\s*[\d.]+ s \| logical (?P<hours>\d+)h (?P<minutes>\d+)m\] execution (?P<execution>\w+), "
    r"state (?P<state>\S+), job (?P<job>.+), PT (?P<pt>[^,]+), deployment (?P<deployment>[^,]+), "
    r"judge (?P<judge>.+)$",
    re.MULTILINE,
)


def test_progress_without_a_terminal_is_plain_lines_in_logical_time_order(demo: Demo) -> None:
    stdout = demo.stdout
    assert "\x1b[" not in stdout  # no cursor movement or colour codes in CI logs
    # Each world's Bedrock has one clock, running through every scene of that world: never backwards.
    nova_starts = stdout.index(f"Synthesized the stack for {ON_DEMAND_REGION}")
    for world in (stdout[:nova_starts], stdout[nova_starts:]):
        every_line = [match.groupdict() for match in PROGRESS_LINE.finditer(world)]
        assert every_line
        assert [_minutes(line) for line in every_line] == sorted(_minutes(line) for line in every_line)
    progress = [match.groupdict() for match in PROGRESS_LINE.finditer(_section(stdout, MAIN_RUN))]
    assert progress, stdout
    logical_minutes = [_minutes(line) for line in progress]
    assert logical_minutes[-1] > 0
    # While the execution waits for the job's event, the job's progress shows step by step.
    waiting = [line["job"] for line in progress if line["state"] == "WaitForJobEvent"]
    running = [job for job in waiting if job.startswith("InProgress (")]
    assert len(running) >= 5
    # The job may end a refresh before its event releases the wait: then the last waiting lines show it ended
    ended = waiting[len(running) :]
    assert waiting[: len(running)] == running
    assert all(job.startswith("Completed") for job in ended), waiting
    last = progress[-1]
    assert (last["execution"], last["state"], last["job"], last["pt"], last["deployment"], last["judge"]) == (
        "SUCCEEDED",
        "Succeeded",
        "Completed",
        "Deleted",
        "not created",
        "Completed",
    )


def _minutes(line: dict[str, str]) -> int:
    return int(line["hours"]) * 60 + int(line["minutes"])


def test_python_m_offline_demo_is_the_entry_point_make_demo_runs() -> None:
    # `make demo` runs `python -m offline.demo`: the package's __main__ parses the demo's own arguments
    finished = subprocess.run(
        [sys.executable, "-m", "offline.demo", "--help"],
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.startswith("usage: python -m offline.demo ")
    assert "--hourly-rate" in finished.stdout
    assert "--output-dir" in finished.stdout


def test_the_demo_never_reaches_a_real_account_whatever_the_shell_holds(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a shell holding real credentials, a profile and a Region
    shell = {
        "AWS_ACCESS_KEY_ID": "AKIAREALKEY",
        "AWS_SECRET_ACCESS_KEY": "real-secret",
        "AWS_PROFILE": "production",
        "AWS_ROLE_ARN": "arn:aws:iam::111122223333:role/admin",
        "AWS_DEFAULT_REGION": "eu-west-1",
    }
    monkeypatch.setattr(os, "environ", dict(shell))
    # When the demo's entry point sets its environment
    isolate()
    # Then fake credentials and no profile or role; the shell's Region is kept
    assert {name: os.environ[name] for name in FORCED} == FORCED
    assert "AWS_PROFILE" not in os.environ
    assert "AWS_ROLE_ARN" not in os.environ
    assert os.environ["AWS_DEFAULT_REGION"] == "eu-west-1"


def test_the_nova_run_is_served_on_demand_buys_no_pt_and_leaves_no_deployment(demo: Demo) -> None:
    scene = _section(demo.stdout, NOVA_SUMMARY)
    nova = demo.nova
    job = nova.job_of(NOVA_RUN_NAME)
    # The run says why it is served on demand
    _line(
        scene,
        r"^Serving: on-demand: on demand: AWS deploys a custom amazon\.nova-lite-v1:0:300k for on-demand inference in "
        r"us-east-1 \(user guide: Deploy a custom model for on-demand inference\); billed per token, nothing per hour$",
    )
    # And the emulator sold it no Provisioned Throughput: not one create call in its world
    assert nova.calls(CREATE_PT) == []
    assert nova.bedrock.provisioned_throughputs == {}
    # It deployed the run's custom model once, and the workflow's own DeleteModelDeployment deleted it
    deployment = nova.deployment_of(job)
    (created,) = nova.calls(CREATE_DEPLOYMENT)
    assert created["modelArn"] == job.output_model_arn
    assert deployment.deleted
    assert nova.deletions_of(deployment.arn, DELETE_DEPLOYMENT) == ["DeleteModelDeployment"]
    assert nova.bedrock.live_model_deployments() == []
    # The student's held-out answers came from that deployment, before it was deleted and before the judge ran
    served = [i for i, call in enumerate(nova.bedrock.calls) if call.operation == "Converse"
              and call.params["modelId"] == deployment.arn]  # fmt: skip
    (deleted,) = nova.call_indexes(DELETE_DEPLOYMENT)
    judged = nova.call_indexes("CreateEvaluationJob")
    assert len(served) == 15
    assert max(served) < deleted < min(judged)
    # And the check of its world counts exactly that
    _line(
        _section(demo.stdout, NOVA_CHECK),
        r"^Checked: no Provisioned Throughput left \(0 created, 0 deleted\); no custom model deployment left "
        r"\(1 created, 1 deleted, none kept\); no evaluation job running \(2 created, 2 completed\)$",
    )


def test_the_llama_run_deletes_its_pt_before_the_judge_runs(demo: Demo) -> None:
    llama = demo.llama
    throughput = llama.throughput_of(llama.job_of(MAIN_RUN_NAME))
    _line(
        _section(demo.stdout, MAIN_SUMMARY),
        r"^Serving: provisioned: Provisioned Throughput: meta\.llama3-1-8b-instruct-v1:0:128k is not a base model AWS "
        r"offers on-demand deployment for",
    )
    # The workflow deleted the PT (by its name) as soon as the student had answered, before creating the judge
    assert llama.deletions_of(throughput.arn) == ["DeleteProvisionedThroughput"]
    deletions = [
        i for i, call in enumerate(llama.bedrock.calls)
        if call.operation == DELETE_PT and call.params["provisionedModelId"] in (throughput.arn, throughput.name)
    ]  # fmt: skip
    names = {job.name for job in llama.evaluation_jobs_of(MAIN_RUN_NAME).values()}
    created = [
        i for i, call in enumerate(llama.bedrock.calls)
        if call.operation == "CreateEvaluationJob" and call.params["jobName"] in names
    ]  # fmt: skip
    assert deletions
    assert created
    assert max(deletions) < min(created)


SCORECARD_HEADLINE = re.compile(
    r"^scorecard: (?P<outcome>promote|hold): the student keeps (?P<share>\d+)% of the teacher's "
    r"(?P<metric>\w+) score \(threshold (?P<threshold>\d+)%\)$",
    re.MULTILINE,
)


@dataclass(frozen=True)
class JudgedPair:
    world: str  # Demo's property
    section: str
    execution_name: str
    file_suffix: str
    outcome: str


JUDGED_PAIRS = (
    # The Llama student answers as its teacher on fewer prompts (the emulator's fidelity, a demo setting): held.
    JudgedPair("llama", MAIN_SUMMARY, MAIN_RUN_NAME, "", "hold"),
    JudgedPair("nova", NOVA_SUMMARY, NOVA_RUN_NAME, "-nova", "promote"),
)


@pytest.mark.parametrize("pair", JUDGED_PAIRS, ids=[pair.world for pair in JUDGED_PAIRS])
def test_each_pair_is_judged_and_its_scorecard_comes_from_its_evaluation_jobs(demo: Demo, pair: JudgedPair) -> None:
    world: World = getattr(demo, pair.world)
    scene = _section(demo.stdout, pair.section)
    execution_name, suffix, outcome = pair.execution_name, pair.file_suffix, pair.outcome
    document = json.loads((demo.output_dir / f"scorecard{suffix}.json").read_text())
    # The judge ran as the emulator records it: one Completed evaluation job per side, tagged with the execution
    judges = world.evaluation_jobs_of(execution_name)
    assert {judge.status for judge in judges.values()} == {"Completed"}
    assert document["teacher"]["evaluationJobArn"] in {judge.arn for judge in judges.values()}
    assert document["student"]["evaluationJobArn"] in {judge.arn for judge in judges.values()}
    assert document["teacher"]["evaluationJobArn"] != document["student"]["evaluationJobArn"]
    # Every score in the scorecard is traceable to the output files those jobs wrote
    written = {uri for judge in judges.values() for uri in judge.output_uris}
    assert document["sources"]
    assert set(document["sources"]) <= written
    # The printed decision is the file's, and a worse student (the Llama one, at a lower fidelity) is held
    headline = SCORECARD_HEADLINE.search(scene)
    assert headline, scene
    decision = document["decision"]
    assert headline["outcome"] == decision["outcome"] == outcome
    assert int(headline["share"]) == round(100 * decision["share"])
    assert int(headline["threshold"]) == round(100 * decision["threshold"])
    assert f"  reason: {decision['reason']}" in scene
    # Each metric's printed means are the file's, over the held-out prompts both sides answered
    for metric in document["metrics"]:
        assert metric["judgedPrompts"] == 15
        _line(
            scene,
            rf"^  {re.escape(metric['name'])}: teacher {metric['teacherMean']:.3f}, student "
            rf"{metric['studentMean']:.3f} \(",
        )
    # The prices are the demo's illustrative ones, labelled as such
    assert (
        document["prices"]["teacher"]["inputPerMillionTokens"]
        == (ILLUSTRATIVE_PRICES_USD[document["teacher"]["modelId"]]["inputPerMillionTokens"])
    )
    _line(scene, r"^  \(prices: illustrative prices set in the demo's deploy context \(modelPricesUsd\), not AWS's")
    # And the chart beside it is a drawn PNG
    image = (demo.output_dir / f"scorecard{suffix}.png").read_bytes()
    assert image.startswith(PNG_SIGNATURE)
    assert len(image) > 5_000


def test_each_world_starts_its_functions_cold_and_gives_the_process_its_own_modules_back() -> None:
    # Given a handler module this process imported (as a test that patches its gateway would) and one it did not
    package = importlib.import_module("bedrock_distill.handlers")
    notify = importlib.import_module("bedrock_distill.handlers.notify")
    sys.modules.pop("bedrock_distill.handlers.score", None)
    if hasattr(package, "score"):
        delattr(package, "score")
    # When a world imports its handlers (its functions' first invocations)
    with cold_functions():
        world_notify = importlib.import_module("bedrock_distill.handlers.notify")
        world_score = importlib.import_module("bedrock_distill.handlers.score")
        # Then they are fresh modules, with boto3 clients of their own Region to make
        assert world_notify is not notify
    # And afterwards the process has its own module back, by import and by attribute, and none of the world's
    from bedrock_distill.handlers import notify as notify_again  # noqa: PLC0415 - the import is what is tested

    assert notify_again is notify is importlib.import_module("bedrock_distill.handlers.notify")
    assert "bedrock_distill.handlers.score" not in sys.modules
    assert not hasattr(package, "score")
    assert importlib.import_module("bedrock_distill.handlers.score") is not world_score
