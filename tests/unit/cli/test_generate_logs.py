"""distill generate-logs: every prompt once, with its metadata, at most N in flight, through throttling,
and resumable after a fatal error or Ctrl-C without calling Converse twice for one prompt."""

from __future__ import annotations

import _thread
import json
import random
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from bedrock_distill.gateways.bedrock_runtime import BedrockRuntimeGateway
from bedrock_distill.gateways.clients import LazyClient
from distill_cli.generate import (
    GenerateSettings,
    ProgressFile,
    generate_logs,
    prompt_keys,
    read_prompts,
)
from distill_cli.main import main
from offline.bedrock_emulator import BedrockEmulator
from tests.unit.cli.conftest import (
    LOG_BUCKET,
    TEACHER,
    Deployment,
    aws_client,
    conversation,
    enable_invocation_logging,
    write_records,
)

pytestmark = pytest.mark.unit

METADATA = {"project": "tickets", "run": "2025-01"}


def _text_prompts(path: Path, count: int) -> Path:
    path.write_text("".join(f"Summarise support ticket {index}.\n" for index in range(count)))
    return path


def _converse_texts(emulator: BedrockEmulator) -> Counter[str]:
    return Counter(
        call.params["messages"][-1]["content"][0]["text"] for call in emulator.calls if call.operation == "Converse"
    )


def _progress_entries(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()[1:]]


def _logged(prefix: str = "bedrock/AWSLogs/") -> int:
    listed = aws_client("s3").list_objects_v2(Bucket=LOG_BUCKET, Prefix=prefix).get("Contents", [])
    return sum(1 for item in listed if item["Key"].endswith(".json.gz"))


def _arguments(prompts: Path, *extra: str) -> list[str]:
    return [
        "generate-logs",
        "--prompts",
        str(prompts),
        "--teacher",
        TEACHER,
        "--metadata",
        "project=tickets",
        "--metadata",
        "run=2025-01",
        "--no-progress",
        *extra,
    ]


class CountingGateway(BedrockRuntimeGateway):
    """The real gateway (the emulator answers), counting how many calls are in flight at once."""

    def __init__(self) -> None:
        super().__init__(LazyClient("bedrock-runtime"))
        self._lock = threading.Lock()
        self.in_flight = 0
        self.most_in_flight = 0

    def converse(self, request: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            return super().converse(request)
        finally:
            with self._lock:
                self.in_flight -= 1


def _run(
    prompts: Path, gateway: BedrockRuntimeGateway, progress_path: Path, **settings: Any
) -> tuple[Any, set[tuple[int, str]]]:
    keys = prompt_keys(read_prompts(str(prompts), "text"))
    progress = ProgressFile(progress_path, TEACHER, METADATA)
    done = progress.open() & keys
    try:
        result = generate_logs(
            read_prompts(str(prompts), "text"),
            total=len(keys),
            done=done,
            gateway=gateway,
            settings=GenerateSettings(
                teacher_model_id=TEACHER,
                request_metadata=METADATA,
                initial_backoff_seconds=0.005,
                max_backoff_seconds=0.05,
                **settings,
            ),
            progress=progress,
            rng=random.Random(7),
        )
    finally:
        progress.close()
    return result, keys


def test_every_prompt_is_sent_once_with_the_metadata_and_logged(
    deployment: Deployment,
    emulator: BedrockEmulator,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given invocation logging is on, and 30 prompts, one per line, with a blank line among them
    enable_invocation_logging()
    prompts = _text_prompts(tmp_path / "prompts.txt", 30)
    prompts.write_text(prompts.read_text() + "\n")
    # When they are sent with two metadata pairs, 4 at a time
    code = main(_arguments(prompts, "--concurrency", "4", "--system", "Answer in one line."))
    # Then each prompt went to the teacher exactly once, with the metadata, the system prompt and maxTokens
    out = capsys.readouterr().out
    assert code == 0, out
    assert _converse_texts(emulator) == Counter(f"Summarise support ticket {index}." for index in range(30))
    calls = [call.params for call in emulator.calls if call.operation == "Converse"]
    assert all(call["requestMetadata"] == METADATA for call in calls)
    assert all(call["modelId"] == TEACHER and call["inferenceConfig"] == {"maxTokens": 1000} for call in calls)
    assert all(call["system"] == [{"text": "Answer in one line."}] for call in calls)
    # And every call was logged, so a job can distil from them
    assert _logged() == 30
    # And the progress file names the run and lists each prompt by line and digest
    progress = Path(f"{prompts}.progress")
    header = json.loads(progress.read_text().splitlines()[0])
    assert header["teacherModelId"] == TEACHER
    assert header["requestMetadata"] == METADATA
    assert sorted(entry["line"] for entry in _progress_entries(progress)) == list(range(1, 31))
    assert all(len(entry["sha256"]) == 64 and entry["requestId"] for entry in _progress_entries(progress))
    # And the summary says how to select these logs
    assert "sent 30 prompts to " in out
    assert "0 were already sent, 0 remain of 30" in out
    selection = '{"andAll": [{"equals": {"project": "tickets"}}, {"equals": {"run": "2025-01"}}]}'
    assert f"distill start --logs --filter '{selection}'" in out
    # And a second run sends nothing
    assert main(_arguments(prompts)) == 0
    assert emulator.call_count("Converse") == 30
    assert "30 were already sent, 0 remain of 30" in capsys.readouterr().out


def test_jsonl_prompts_send_the_turns_up_to_the_last_user_turn(
    deployment: Deployment, emulator: BedrockEmulator, tmp_path: Path
) -> None:
    # Given bedrock-conversation-2024 records with golden answers
    prompts = write_records(tmp_path / "prompts.jsonl", [conversation(index) for index in range(5)])
    # When they are sent
    assert main(_arguments(prompts)) == 0
    # Then the answer is not sent, and the record's system prompt is
    (first, *_) = [call.params for call in emulator.calls if call.operation == "Converse"]
    assert [message["role"] for message in first["messages"]] == ["user"]
    assert first["system"] == [{"text": "You summarise support tickets in one line."}]


def test_invalid_jsonl_prompts_send_nothing(
    deployment: Deployment,
    emulator: BedrockEmulator,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a JSONL file whose 3rd record starts with an assistant turn
    records = [conversation(index) for index in range(5)]
    records[2]["messages"].reverse()
    prompts = write_records(tmp_path / "prompts.jsonl", records)
    # When it is sent
    code = main(_arguments(prompts))
    # Then it exits 1 naming the line and field, and Converse was never called
    out = capsys.readouterr().out
    assert code == 1
    assert f"{prompts}:3: messages[0].role:" in out
    assert emulator.call_count("Converse") == 0
    assert not Path(f"{prompts}.progress").exists()


def test_the_count_of_invalid_records_counts_records_not_problems(
    deployment: Deployment,
    emulator: BedrockEmulator,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given two invalid records, one of them with two problems (both roles wrong)
    records = [conversation(index) for index in range(5)]
    records[1]["messages"].reverse()
    records[3]["messages"][0]["role"] = "User"
    records[3]["schemaVersion"] = "bedrock-conversion-2024"
    prompts = write_records(tmp_path / "prompts.jsonl", records)
    # When they are sent
    code = main(_arguments(prompts))
    # Then the refusal counts two records, however many problems they have
    out = capsys.readouterr().out
    assert code == 1
    assert out.count(f"{prompts}:4:") >= 2
    assert f"not sent: 2 invalid record(s) in {prompts}" in out


def test_concurrency_is_bounded(deployment: Deployment, tmp_path: Path, emulator: BedrockEmulator) -> None:
    # Given 40 prompts and a teacher that takes 20 ms per call
    emulator.stop()
    prompts = _text_prompts(tmp_path / "prompts.txt", 40)
    gateway = CountingGateway()
    from offline.bedrock_emulator import bedrock_emulator  # noqa: PLC0415 - a second emulator, with latency

    with bedrock_emulator(converse_latency_seconds=0.02) as slow:
        # When they are sent at most 5 at a time
        result, _ = _run(prompts, gateway, tmp_path / "progress", concurrency=5)
    # Then 5 were in flight at once, never more, and each prompt was sent once
    assert gateway.most_in_flight == 5
    assert result.succeeded == 40
    assert slow.call_count("Converse") == 40


def test_throttling_is_recovered_without_losing_or_duplicating_prompts(
    deployment: Deployment, emulator: BedrockEmulator, tmp_path: Path
) -> None:
    # Given a teacher that throttles the 5th to the 10th call
    prompts = _text_prompts(tmp_path / "prompts.txt", 30)
    emulator.faults.throttle("Converse", nth=5, times=6)
    gateway = CountingGateway()
    # When 30 prompts are sent 4 at a time
    result, keys = _run(prompts, gateway, tmp_path / "progress", concurrency=4)
    # Then every prompt succeeded once: 6 calls more than prompts, and each throttled prompt retried
    assert result.complete
    assert result.succeeded == 30
    assert result.throttled == 6
    assert emulator.call_count("Converse") == 36
    assert result.smallest_window < 4
    entries = _progress_entries(tmp_path / "progress")
    assert sorted((entry["line"], entry["sha256"]) for entry in entries) == sorted(keys)
    texts = _converse_texts(emulator)
    assert set(texts) == {f"Summarise support ticket {index}." for index in range(30)}
    assert sum(texts.values()) - len(texts) == 6


def test_a_prompt_throttled_on_every_attempt_stops_the_run(
    deployment: Deployment, emulator: BedrockEmulator, tmp_path: Path
) -> None:
    # Given a teacher that throttles everything
    prompts = _text_prompts(tmp_path / "prompts.txt", 3)
    emulator.faults.throttle("Converse", times=None)
    # When the prompts are sent with at most 3 attempts each
    result, _ = _run(prompts, CountingGateway(), tmp_path / "progress", concurrency=1, max_attempts=3)
    # Then the run stops, naming the prompt and why
    assert not result.complete
    assert result.failure == "prompt on line 1: ThrottlingException on 3 attempts in a row"
    assert emulator.call_count("Converse") == 3


def test_a_run_stopped_by_a_fatal_error_resumes_without_duplicates(
    deployment: Deployment,
    emulator: BedrockEmulator,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given invocation logging, 40 prompts, and a teacher that denies access on the 15th call
    enable_invocation_logging()
    prompts = _text_prompts(tmp_path / "prompts.txt", 40)
    emulator.faults.raise_on("Converse", "AccessDeniedException", nth=15, message="not allowed")
    # When they are sent 4 at a time
    code = main(_arguments(prompts, "--concurrency", "4"))
    # Then the run stops with exit 2, naming the prompt and the error, and saying how to resume
    out = capsys.readouterr().out
    assert code == 2
    assert "stopped: prompt on line " in out
    assert "AccessDeniedException: not allowed" in out
    sent_first = len(_progress_entries(Path(f"{prompts}.progress")))
    assert 14 <= sent_first < 40
    # When the same command is run again
    code = main(_arguments(prompts, "--concurrency", "4"))
    # Then it sends only the rest: 41 calls in all (the denied one twice), 40 logs, each prompt once
    out = capsys.readouterr().out
    assert code == 0, out
    assert f"{sent_first} were already sent, 0 remain of 40" in out
    assert emulator.call_count("Converse") == 41
    assert _logged() == 40
    texts = _converse_texts(emulator)
    assert len(texts) == 40
    assert sorted(texts.values()) == [1] * 39 + [2]
    assert len(_progress_entries(Path(f"{prompts}.progress"))) == 40


def test_ctrl_c_stops_cleanly_and_a_rerun_sends_each_prompt_once(
    deployment: Deployment,
    emulator: BedrockEmulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given 40 prompts, and Ctrl-C pressed during the 12th call
    prompts = _text_prompts(tmp_path / "prompts.txt", 40)
    original = BedrockRuntimeGateway.converse
    calls = Counter[str]()
    lock = threading.Lock()

    def interrupted_once(self: BedrockRuntimeGateway, request: dict[str, Any]) -> dict[str, Any]:
        with lock:
            calls["converse"] += 1
            if calls["converse"] == 12:
                _thread.interrupt_main()  # SIGINT, delivered to the main thread as a real Ctrl-C is
        return original(self, request)

    monkeypatch.setattr(BedrockRuntimeGateway, "converse", interrupted_once)
    # When they are sent 4 at a time
    code = main(_arguments(prompts, "--concurrency", "4"))
    # Then the run stops with exit 130 after recording the calls that were in flight
    out = capsys.readouterr().out
    assert code == 130
    assert "interrupted: the calls in flight were recorded" in out
    recorded = len(_progress_entries(Path(f"{prompts}.progress")))
    assert recorded == emulator.call_count("Converse")
    assert 12 <= recorded < 40
    # When it is run again without the interruption
    monkeypatch.setattr(BedrockRuntimeGateway, "converse", original)
    assert main(_arguments(prompts, "--concurrency", "4")) == 0
    # Then Converse was called exactly once per prompt over both runs
    assert emulator.call_count("Converse") == 40
    assert set(_converse_texts(emulator).values()) == {1}


def test_a_progress_file_of_another_run_is_refused(
    deployment: Deployment,
    emulator: BedrockEmulator,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a progress file written with other metadata, its last line cut short by a crash
    prompts = _text_prompts(tmp_path / "prompts.txt", 3)
    assert main(_arguments(prompts)) == 0
    progress = Path(f"{prompts}.progress")
    progress.write_text(progress.read_text() + '{"line": 9, "sha')
    capsys.readouterr()
    # When the prompts are sent with different metadata and that progress file
    code = main(["generate-logs", "--prompts", str(prompts), "--teacher", TEACHER, "--metadata", "project=other"])
    # Then it refuses, saying why and what to do
    assert code == 2
    assert "this run differs: pass another --progress-file, or delete it to start over" in capsys.readouterr().err
    # And with the same metadata, the cut-short line is ignored and nothing is sent again
    assert main(_arguments(prompts)) == 0
    assert emulator.call_count("Converse") == 3


@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        ("project=a#b", "--metadata project=a#b: value may contain only letters"),
        ("noequals", "--metadata 'noequals': expected KEY=VALUE"),
        ("=x", "--metadata =x: key must be 1 to 256 characters, got 0"),
    ],
)
def test_metadata_a_filter_could_not_select_is_refused(
    emulator: BedrockEmulator,
    tmp_path: Path,
    metadata: str,
    message: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # When the metadata breaks the requestMetadataFilters rules
    prompts = _text_prompts(tmp_path / "prompts.txt", 3)
    code = main(["generate-logs", "--prompts", str(prompts), "--teacher", TEACHER, "--metadata", metadata])
    # Then nothing is sent, and the reason is given
    assert code == 2
    assert message in capsys.readouterr().err
    assert emulator.call_count("Converse") == 0


def test_region_and_endpoint_reach_the_runtime_client(
    emulator: BedrockEmulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # When prompts are sent with --region and --endpoint-url (the emulator answers before any connection)
    prompts = _text_prompts(tmp_path / "prompts.txt", 2)
    code = main([*_arguments(prompts), "--region", "eu-central-1", "--endpoint-url", "http://127.0.0.1:9"])
    # Then the calls were made in that Region
    assert code == 0
    assert {call.region for call in emulator.calls if call.operation == "Converse"} == {"eu-central-1"}
    # And the operator is warned that logging is off there, so these calls leave no logs
    assert "model invocation logging to S3 is not enabled in eu-central-1" in capsys.readouterr().err


def test_json_prints_the_result_as_one_object(
    deployment: Deployment, emulator: BedrockEmulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given 12 prompts and logging on
    enable_invocation_logging()
    prompts = _text_prompts(tmp_path / "prompts.txt", 12)
    # When they are sent with --json
    code = main(_arguments(prompts, "--json"))
    # Then stdout is one JSON object a script can read: what was sent, and the filter that selects it
    result = json.loads(capsys.readouterr().out)
    assert code == 0
    assert result["sent"] == 12
    assert result["complete"] is True
    assert result["remaining"] == 0
    assert result["requestMetadata"] == METADATA
    assert result["progressFile"] == f"{prompts}.progress"
    assert result["filter"] == {"andAll": [{"equals": {"project": "tickets"}}, {"equals": {"run": "2025-01"}}]}
    # And invalid JSONL prompts give an object too, their problems on stderr
    bad = write_records(tmp_path / "bad.jsonl", [{"schemaVersion": "bedrock-conversation-2024", "messages": []}])
    assert main(_arguments(bad, "--json")) == 1
    captured = capsys.readouterr()
    assert json.loads(captured.out) == {"sent": 0, "invalidRecords": 1, "prompts": str(bad)}
    assert f"{bad}:1: messages" in captured.err


def test_a_multi_turn_prompt_warning_names_a_command_that_exists(
    deployment: Deployment,
    emulator: BedrockEmulator,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given prompts with a multi-turn record (generate-logs has no --student option of its own)
    records = [conversation(index) for index in range(3)]
    records[1]["messages"] += [
        {"role": "assistant", "content": [{"text": "Which page?"}]},
        {"role": "user", "content": [{"text": "Page 4."}]},
    ]
    prompts = write_records(tmp_path / "prompts.jsonl", records)
    # When they are sent
    main(_arguments(prompts))
    # Then the warning points at the command that can check them, not at an option generate-logs lacks
    out = capsys.readouterr().out
    assert f"{prompts}:2: messages:" in out
    assert "distill validate --student MODEL" in out
    assert "pass --student" not in out
