"""Strict parsing wherever user data enters (issue 11): each hostile input the issue names is a located problem,
never a traceback, a coerced value or a silently lost key.

The entry points: the strict reader itself (preflight/strict_json.py), a dataset record (`distill validate`), a
filter (`distill filter check`), an upload's settings file, the execution input, and the Preflight Lambda, which
also leaves a preflight.json for every input it rejects.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bedrock_distill.preflight import validate_dataset
from bedrock_distill.preflight.strict_json import MAX_DEPTH, MAX_INTEGER_DIGITS, InvalidJsonError, load_json
from bedrock_distill.workflow.dataset_settings import load_dataset_settings
from bedrock_distill.workflow.errors import InvalidExecutionInput
from bedrock_distill.workflow.run import ExecutionContext, ExecutionInput
from distill_cli.main import main
from offline.lambda_runtime import LocalLambdaContext
from tests.unit.settings import deployed_functions, pipeline_settings

pytestmark = pytest.mark.unit

SETTINGS_URI = "s3://inputs/datasets/incoming/tickets.json"
EXECUTION = ExecutionContext(id="arn:aws:states:us-west-2:123456789012:execution:distillation:run-1", name="run-1")
DEPTHS = [1_025, 5_000, 100_000]
HUGE_INTEGER = "9" * 5_000
FILTER = {"equals": {"project": "alpha"}}


def _nested(depth: int, leaf: str = "1") -> str:
    return "[" * depth + leaf + "]" * depth


def _problems(text: str | bytes) -> list[str]:
    with pytest.raises(InvalidJsonError) as raised:
        load_json(text)
    return raised.value.rendered("f.json")


# --- The strict reader ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("depth", DEPTHS)
def test_deep_nesting_is_one_located_problem_not_a_recursion_error(depth: int) -> None:
    # Given a document nested far past every parser's limit, on its second line
    text = '{\n"filter": ' + _nested(depth) + "}"

    # When it is read, Then one problem names the line, where and the limit
    [problem] = _problems(text)
    assert problem.startswith("f.json:2: filter[0][0][0][0][0]...(")
    assert problem.endswith(
        f"nested too deeply: more than {MAX_DEPTH} levels (this project's limit for the JSON it reads)"
    )


def test_the_depth_limit_is_exact() -> None:
    # Given documents exactly at and one past the limit
    assert load_json(_nested(MAX_DEPTH)) is not None
    assert "nested too deeply" in _problems(_nested(MAX_DEPTH + 1))[0]


def test_an_integer_past_the_limit_is_located_and_never_converted() -> None:
    # Given 5,000 digits (Python's int() raises ValueError past 4,300) and the largest accepted size
    assert _problems('{"a": 1,\n "b": ' + HUGE_INTEGER + "}") == [
        f"f.json:2: b: integer of 5,000 digits; at most {MAX_INTEGER_DIGITS} are accepted"
    ]
    assert load_json("-" + "9" * MAX_INTEGER_DIGITS) == -(10**MAX_INTEGER_DIGITS - 1)
    assert "integer of 21 digits" in _problems("1" * (MAX_INTEGER_DIGITS + 1))[0]


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_numbers_json_does_not_have_are_refused(literal: str) -> None:
    [problem] = _problems(f'{{"units": {literal}}}')
    assert problem.startswith(f"f.json:1: units: {literal} is not valid JSON")


def test_duplicate_keys_are_named_with_their_line_at_every_depth() -> None:
    # Given a key repeated at the top level and one repeated inside a filter's list
    text = '{\n "a": 1,\n "a": 2,\n "filter": {"andAll": [\n  {"equals": {"k": "v"},\n   "equals": {"k": "w"}}]}}'

    # Then each is named at its own line and path (the parser would keep only the last, silently)
    problems = _problems(text)
    assert [p.split(": duplicate key")[0] for p in problems] == ["f.json:3: a", "f.json:6: filter.andAll[0].equals"]


def test_a_key_that_only_looks_repeated_is_not() -> None:
    # Given text in which a string holds an escaped quote and a colon, and equal keys in different objects
    assert load_json('{"a": "\\"a\\": 1", "b": {"a": 1}, "c": [{"a": 1}, {"a": 2}]}')["a"] == '"a": 1'


# --- A dataset record -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("depth", DEPTHS)
def test_a_deep_record_is_an_invalid_record(tmp_path: Path, depth: int) -> None:
    path = tmp_path / "data.jsonl"
    path.write_text('{"schemaVersion": "bedrock-conversation-2024", "messages": ' + _nested(depth) + "}\n")
    report = validate_dataset(str(path))
    assert (report.invalid, [p.reason.split(":")[0] for p in report.problems if p.line == 1]) == (
        1,
        ["nested too deeply"],
    )


def test_a_record_with_a_huge_integer_is_an_invalid_record(tmp_path: Path) -> None:
    path = tmp_path / "data.jsonl"
    path.write_text('{"schemaVersion": "bedrock-conversation-2024", "messages": ' + HUGE_INTEGER + "}\n")
    report = validate_dataset(str(path))
    assert report.invalid == 1
    assert any(p.field == "messages" and "integer of 5,000 digits" in p.reason for p in report.problems)


# --- distill validate / filter check ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "record_problem", "filter_problem"),
    [
        *((_nested(depth), "$: nested too deeply", "equals[0][0][0][0][0]...(") for depth in DEPTHS),
        (HUGE_INTEGER, "messages: integer of 5,000 digits", "equals: integer of 5,000 digits"),
    ],
    ids=[*(f"depth-{depth}" for depth in DEPTHS), "huge-integer"],
)
def test_the_cli_answers_hostile_json_with_exit_1_and_a_located_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], body: str, record_problem: str, filter_problem: str
) -> None:
    # Given the same hostile value as a dataset record and as a filter
    dataset = tmp_path / "data.jsonl"
    dataset.write_text('{"schemaVersion": "bedrock-conversation-2024", "messages": ' + body + "}\n")
    metadata_filter = tmp_path / "filter.json"
    metadata_filter.write_text('{\n"equals": ' + body + "}")

    # When each command checks it, Then it exits 1 and names the file, line, field and reason
    assert main(["validate", str(dataset)]) == 1
    assert f"{dataset}:1: {record_problem}" in capsys.readouterr().out
    assert main(["filter", "check", str(metadata_filter)]) == 1
    assert f"{metadata_filter}:2: {filter_problem}" in capsys.readouterr().out


def test_filter_check_names_a_key_repeated_inside_the_filter(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "filter.json"
    path.write_text('{"orAll": [\n {"equals": {"project": "alpha", "project": "beta"}}]}')
    assert main(["filter", "check", str(path)]) == 1
    assert capsys.readouterr().out.startswith(f"{path}:2: orAll[0].equals.project: duplicate key")


# --- The settings file beside an upload -------------------------------------------------------------------------


def _settings_problem(text: str) -> str:
    with pytest.raises(InvalidExecutionInput) as raised:
        load_dataset_settings(text, SETTINGS_URI, pipeline_settings())
    return str(raised.value)


@pytest.mark.parametrize("units", ["true", '"7"', "3.0"])
def test_settings_units_are_not_coerced(units: str) -> None:
    problem = _settings_problem('{\n  "provisionedModelUnits": ' + units + "\n}")
    assert problem.startswith(f"{SETTINGS_URI}:2: provisionedModelUnits: Input should be a valid integer")


@pytest.mark.parametrize("key", ["studentModelId", "teacherModelId"])
def test_an_empty_model_id_in_settings_is_an_error_not_the_default(key: str) -> None:
    assert _settings_problem(f'{{\n  "{key}": ""\n}}') == f"{SETTINGS_URI}:2: {key}: must not be empty"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"provisionedModelUnits": 1,\n "provisionedModelUnits": 1}', f"{SETTINGS_URI}:2: provisionedModelUnits: "),
        (
            '{"filter": {"equals": {"project": "alpha"},\n "equals": {"project": "beta"}}}',
            f"{SETTINGS_URI}:2: filter.equals: duplicate key",
        ),
        ('{\n"filter": ' + _nested(100_000) + "}", f"{SETTINGS_URI}:2: filter[0][0][0][0][0]...("),
        ('{\n"provisionedModelUnits": ' + HUGE_INTEGER + "}", f"{SETTINGS_URI}:2: provisionedModelUnits: integer of"),
        ('{"unknown": 1}', f"{SETTINGS_URI}:1: unknown: Extra inputs are not permitted"),
    ],
    ids=["duplicate-top-level", "duplicate-in-filter", "deep", "huge-integer", "unknown-key"],
)
def test_hostile_settings_are_located_problems(text: str, expected: str) -> None:
    assert _settings_problem(text).startswith(expected)


# --- The execution input ----------------------------------------------------------------------------------------


def _input(**extra: object) -> dict[str, Any]:
    return {"trainingData": {"prompts": "s3://inputs/datasets/prompts.jsonl"}, **extra}


@pytest.mark.parametrize("units", [True, "7", 3.0])
def test_execution_input_units_are_not_coerced(units: object) -> None:
    with pytest.raises(ValueError, match="provisionedModelUnits\n  Input should be a valid integer"):
        ExecutionInput.model_validate(_input(provisionedModelUnits=units))
    assert ExecutionInput.model_validate(_input(provisionedModelUnits=7)).provisioned_model_units == 7


@pytest.mark.parametrize(
    "extra",
    [
        {"studentModelId": ""},
        {"teacherModelId": ""},
        {"validationPrompts": ""},
        {"datasetSettings": ""},
        {"trainingData": {"prompts": ""}},
    ],
    ids=["student", "teacher", "validation-prompts", "dataset-settings", "prompts"],
)
def test_an_empty_model_id_or_uri_in_the_input_is_an_error(extra: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="must not be empty"):
        ExecutionInput.model_validate(_input(**extra))


def test_a_deep_or_huge_input_is_refused_by_path() -> None:
    # Given an input another parser already read: a deep filter, and a huge number
    deep: object = {"k": "v"}
    for _ in range(5_000):
        deep = [deep]
    logs = {"invocationLogs": {"requestMetadataFilters": {"equals": deep}}}
    with pytest.raises(ValueError, match=r"trainingData\.invocationLogs\.requestMetadataFilters\.equals\[0\]"):
        ExecutionInput.model_validate({"trainingData": logs})
    with pytest.raises(ValueError, match="provisionedModelUnits: integer of more than 20 digits"):
        ExecutionInput.model_validate(_input(provisionedModelUnits=10**5_000))


# --- The Preflight Lambda ---------------------------------------------------------------------------------------


@pytest.fixture
def deployed(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    with deployed_functions(monkeypatch) as s3:
        yield s3


def _run_preflight(execution_input: object) -> str:
    from bedrock_distill.handlers.preflight import handler  # noqa: PLC0415 - after the settings are in place

    event = {"execution": {"id": EXECUTION.id, "name": EXECUTION.name}, "input": execution_input}
    with pytest.raises(InvalidExecutionInput) as raised:
        handler(event, LocalLambdaContext(function_name="preflight"))
    return str(raised.value)


def _report(s3: Any) -> dict[str, Any]:
    """The preflight.json of the run, the only object written."""
    [item] = s3.list_objects_v2(Bucket="outputs")["Contents"]
    assert item["Key"] == "jobs/run-1/report/preflight.json"
    document: dict[str, Any] = json.loads(s3.get_object(Bucket="outputs", Key=item["Key"])["Body"].read())
    return document


@pytest.mark.parametrize(
    ("execution_input", "expected"),
    [
        (_input(provisionedModelUnits="7"), "input.provisionedModelUnits: Input should be a valid integer"),
        (_input(studentModelId=""), "input.studentModelId: must not be empty"),
        ("not an object", "input: Input should be a valid dictionary or instance of ExecutionInput"),
        (_input(provisionedModelUnits=10**5_000), "input: provisionedModelUnits: integer of more than 20 digits"),
    ],
    ids=["coerced-units", "empty-student", "not-an-object", "huge-integer"],
)
def test_preflight_writes_its_report_for_a_rejected_input(
    deployed: Any, execution_input: object, expected: str
) -> None:
    # When Preflight is given an input it rejects
    message = _run_preflight(execution_input)

    # Then it fails with the named error, and the run's preflight.json holds the same problems
    assert expected in message
    assert _report(deployed) == {"problems": message.splitlines()}


def test_preflight_writes_its_report_for_a_rejected_settings_file(deployed: Any) -> None:
    # Given a settings file that repeats a key inside its filter
    deployed.put_object(
        Bucket="inputs",
        Key="datasets/incoming/tickets.json",
        Body=b'{"filter": {"equals": {"project": "alpha"},\n "equals": {"project": "beta"}}}',
    )

    # When a run names it
    message = _run_preflight(_input(datasetSettings=SETTINGS_URI))

    # Then the problem names the file, line and key, in the error and in preflight.json
    assert message.startswith(f"{SETTINGS_URI}:2: filter.equals: duplicate key")
    assert _report(deployed) == {"problems": message.splitlines()}
