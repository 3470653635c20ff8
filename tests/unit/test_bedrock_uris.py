"""The S3 URIs Bedrock accepts: our literal is botocore's S3Uri shape, and the run folder is always one."""

from __future__ import annotations

from functools import cache
from typing import Any

import botocore.session
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from bedrock_distill.bedrock_uris import S3_URI, S3_URI_MAX_LENGTH, key_segment, s3_uri_problem
from bedrock_distill.workflow.run import run_folder
from offline.bedrock_emulator.validation import pattern
from tests.unit.test_name_properties import EXECUTION_NAMES

pytestmark = pytest.mark.unit

# Where the job request carries an S3 URI (CreateModelCustomizationJob's input), as a path of members.
BEDROCK_S3_URI_MEMBERS = [
    ("trainingDataConfig", "s3Uri"),
    ("outputDataConfig", "s3Uri"),
    ("trainingDataConfig", "invocationLogsConfig", "invocationLogSource", "s3Uri"),
]


@cache
def _s3_uri_shapes() -> list[Any]:
    model = botocore.session.get_session().get_service_model("bedrock")
    shapes = []
    for path in BEDROCK_S3_URI_MEMBERS:
        shape = model.operation_model("CreateModelCustomizationJob").input_shape
        for member in path:
            shape = shape.members[member]
        shapes.append(shape)
    return shapes


def _bedrock_accepts(uri: str) -> bool:
    (shape, *_) = _s3_uri_shapes()
    return bool(pattern(shape.metadata["pattern"]).fullmatch(uri)) and len(uri) <= shape.metadata["max"]


@pytest.fixture(autouse=True, scope="module")
def _model_loaded() -> None:
    # Loaded before any example runs, so no example's time (hypothesis' deadline) includes it.
    _s3_uri_shapes()


def test_the_pattern_is_botocores_for_every_s3_uri_the_job_request_carries() -> None:
    # Given the S3Uri members of CreateModelCustomizationJob in botocore's model
    for shape in _s3_uri_shapes():
        # Then our literal is that pattern and that length limit
        assert shape.metadata["pattern"] == S3_URI.pattern
        assert shape.metadata["max"] == S3_URI_MAX_LENGTH


BUCKETS = st.from_regex(r"[a-z0-9][-.a-z0-9]{1,61}[a-z0-9]", fullmatch=True)


@given(bucket=st.one_of(BUCKETS, st.text(max_size=70)), key=st.text(max_size=1100))
@example(bucket="distill-inputs", key="datasets/my data.jsonl")
@example(bucket="distill-inputs", key="datasets/a+b=c@d.jsonl")
@example(bucket="distill-inputs", key="datasets//prompts.jsonl")
@example(bucket="distill-inputs", key="datasets/prompts.jsonl")
@example(bucket="Distill_Inputs", key="prompts.jsonl")
@example(bucket="distill-inputs", key="k" * 1024)
def test_a_uri_is_refused_exactly_when_bedrock_would_refuse_it(bucket: str, key: str) -> None:
    # Given any s3:// URI
    uri = f"s3://{bucket}/{key}"
    # Then ours refuses it (with a reason) exactly when botocore's pattern or length limit does
    assert (s3_uri_problem(uri) is None) == _bedrock_accepts(uri)


@pytest.mark.parametrize(
    ("uri", "named"),
    [
        pytest.param("s3://distill-inputs/my data.jsonl", ["' '"], id="space"),
        pytest.param("s3://distill-inputs/a+b=c@d.jsonl", ["'+'", "'='", "'@'"], id="plus, equals, at"),
        pytest.param("s3://distill-inputs/caf\u00e9.jsonl", ["'\u00e9'"], id="non-ASCII letter"),
        pytest.param("s3://distill-inputs/datasets//p.jsonl", ["empty part", "'//'"], id="empty segment"),
        pytest.param("s3://Distill_Inputs/p.jsonl", ["bucket name", "lowercase"], id="bucket"),
        pytest.param("s3://distill-inputs/" + "k" * 1010, ["1030 characters", "1024"], id="too long"),
    ],
)
def test_the_reason_says_what_is_wrong_and_what_is_allowed(uri: str, named: list[str]) -> None:
    problem = s3_uri_problem(uri)
    assert problem is not None
    for part in named:
        assert part in problem
    if "key has '" in problem:
        assert "letters, digits and - ! _ * ' ( ) ." in problem


@given(name=EXECUTION_NAMES)
@example(name="run+1=ok@home")
@example(name="..")
@example(name="caf\u00e9")
def test_every_execution_gets_a_run_folder_whose_uris_bedrock_accepts(name: str) -> None:
    # Given any execution Step Functions can start, When the run places its output under its folder
    folder = run_folder(name)
    # Then the job's output URI, and a file the run writes there for the job to read, are URIs Bedrock accepts
    run_prefix = f"s3://distill-outputs-123456789012-us-west-2/jobs/{folder}"
    for uri in (f"{run_prefix}/", f"{run_prefix}/data/training.jsonl"):
        assert _bedrock_accepts(uri), uri
    # And no tool would read the folder as `.` or `..`
    assert folder.strip(".")


@given(first=EXECUTION_NAMES, second=EXECUTION_NAMES)
@example(first="a+b", second="a=b")
@example(first="a b", second="a-b")
def test_different_executions_get_different_run_folders(first: str, second: str) -> None:
    if first != second:
        assert run_folder(first) != run_folder(second)


@given(name=st.from_regex(r"[-!_*'().a-zA-Z0-9]+", fullmatch=True).filter(lambda name: name.strip(".")))
def test_a_name_bedrock_accepts_is_its_own_folder(name: str) -> None:
    # Readable: `distill start --name run-1` writes under jobs/run-1/
    assert key_segment(name) == name
