"""Every name and token a run generates satisfies Bedrock's model, whatever the execution or upload is called.

The patterns and length limits are read from botocore's `bedrock` model when the tests run, not copied: a
botocore update that tightens a shape fails here. Execution names are any Step Functions accepts (StartExecution
`name`: 1-80 characters, none of whitespace, < > { } [ ] ? * " # % \\ ^ | ~ ` $ & , ; : /, control characters,
surrogates, U+FFFE, U+FFFF, U+10FFFF).
"""

from __future__ import annotations

from functools import cache
from typing import Any, Literal

import botocore.session
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from bedrock_distill.workflow.run import client_request_token, resource_names, run_folder
from bedrock_distill.workflow.uploads import UploadedObject, execution_name
from offline.bedrock_emulator.validation import pattern

pytestmark = pytest.mark.unit

_STEP_FUNCTIONS_REFUSED = '<>{}[]?*"#%\\^|~`$&,;:/\ufffe\uffff\U0010ffff'
EXECUTION_NAMES = st.text(
    alphabet=st.characters(
        # Control characters (Cc covers U+0000-001F and U+007F-009F), surrogates, and whitespace.
        exclude_categories=("Cc", "Cs", "Zs", "Zl", "Zp"),
        exclude_characters=_STEP_FUNCTIONS_REFUSED,
    ),
    min_size=1,
    max_size=80,
)
STATE_MACHINES = st.from_regex(r"[A-Za-z0-9_-]{1,80}", fullmatch=True)
ACCOUNTS = st.from_regex(r"[0-9]{12}", fullmatch=True)


PURPOSES: tuple[Literal["job", "provisioned-throughput"], ...] = ("job", "provisioned-throughput")


def _execution_arn(state_machine: str, name: str, account: str = "123456789012") -> str:
    return f"arn:aws:states:us-west-2:{account}:execution:{state_machine}:{name}"


MEMBERS = [
    ("CreateModelCustomizationJob", "jobName"),
    ("CreateModelCustomizationJob", "customModelName"),
    ("CreateModelCustomizationJob", "clientRequestToken"),
    ("CreateProvisionedModelThroughput", "provisionedModelName"),
    ("CreateProvisionedModelThroughput", "clientRequestToken"),
]


@cache
def _member(operation: str, member: str) -> tuple[Any, int, int]:
    """A request member's pattern (compiled as the service reads it) and its length limits, from botocore."""
    model = botocore.session.get_session().get_service_model("bedrock")
    shape = model.operation_model(operation).input_shape.members[member]
    return pattern(shape.metadata["pattern"]), shape.metadata["min"], shape.metadata["max"]


@pytest.fixture(autouse=True, scope="module")
def _model_loaded() -> None:
    # Loaded once before any example runs, so no example's time (hypothesis' deadline) includes it.
    for operation, member in MEMBERS:
        _member(operation, member)


def _accepted(value: str, operation: str, member: str) -> bool:
    compiled, shortest, longest = _member(operation, member)
    return bool(compiled.fullmatch(value)) and shortest <= len(value) <= longest


def _assert_bedrock_accepts(name: str, arn: str) -> None:
    names = resource_names(name, arn)
    assert _accepted(names.job_name, "CreateModelCustomizationJob", "jobName"), names.job_name
    assert _accepted(names.custom_model_name, "CreateModelCustomizationJob", "customModelName"), names
    assert _accepted(names.provisioned_model_name, "CreateProvisionedModelThroughput", "provisionedModelName"), names
    assert _accepted(client_request_token(arn, "job"), "CreateModelCustomizationJob", "clientRequestToken")
    token = client_request_token(arn, "provisioned-throughput")
    assert _accepted(token, "CreateProvisionedModelThroughput", "clientRequestToken")


@given(name=EXECUTION_NAMES, state_machine=STATE_MACHINES)
# The case: a separator at position 36, where the readable part used to be cut.
@example(name="upload-" + "a" * 28 + "-0123456789abcdef", state_machine="distillation")
@example(name="a" * 35 + "--b", state_machine="distillation")
@example(name="-_-", state_machine="distillation")
def test_every_name_and_token_of_any_execution_is_one_bedrock_accepts(name: str, state_machine: str) -> None:
    # Given any execution Step Functions can start, When the run derives its names and tokens
    # Then each fullmatches its shape's pattern, within its length limits
    _assert_bedrock_accepts(name, _execution_arn(state_machine, name))


@given(name=EXECUTION_NAMES, state_machine=STATE_MACHINES)
def test_the_same_execution_always_gets_the_same_names(name: str, state_machine: str) -> None:
    # Given one execution, When its names are derived twice (a retried state, `distill status`)
    arn = _execution_arn(state_machine, name)
    # Then they are equal, tokens included
    assert resource_names(name, arn) == resource_names(name, arn)
    assert client_request_token(arn, "job") == client_request_token(arn, "job")
    assert run_folder(name) == run_folder(name)


@given(
    first=st.tuples(EXECUTION_NAMES, STATE_MACHINES, ACCOUNTS),
    second=st.tuples(EXECUTION_NAMES, STATE_MACHINES, ACCOUNTS),
)
@example(first=("run-1", "distillation", "123456789012"), second=("run-1", "distillation", "210987654321"))
@example(first=("a+b", "distillation", "123456789012"), second=("a=b", "distillation", "123456789012"))
def test_different_executions_get_different_names_and_tokens(
    first: tuple[str, str, str], second: tuple[str, str, str]
) -> None:
    # Given two executions with different ARNs (the same name in another state machine or account included)
    first_arn, second_arn = (_execution_arn(machine, name, account) for name, machine, account in (first, second))
    if first_arn == second_arn:
        return
    # When each derives its names and tokens, Then no two are equal
    ones, others = resource_names(first[0], first_arn), resource_names(second[0], second_arn)
    assert ones.job_name != others.job_name
    assert ones.custom_model_name != others.custom_model_name
    assert ones.provisioned_model_name != others.provisioned_model_name
    for purpose in PURPOSES:
        assert client_request_token(first_arn, purpose) != client_request_token(second_arn, purpose)


KEY_STEMS = st.text(
    alphabet=st.characters(codec="utf-8"),
    min_size=0,
    max_size=300,
)
_SAFE_EXECUTION_NAME = pattern(r"[0-9A-Za-z_-]{1,80}")


@given(
    folders=st.lists(st.text(alphabet=st.characters(codec="utf-8"), max_size=40), max_size=3),
    stem=KEY_STEMS,
    version=st.one_of(st.none(), st.text(max_size=40)),
)
@example(folders=["uploads"], stem="a" * 28, version=None)
@example(folders=["uploads"], stem="a" * 55 + " b", version=None)  # the cut at 56 ends on a hyphen
@example(folders=["uploads"], stem="my data (v2)+final=ok@home", version="1")
def test_an_upload_of_any_key_starts_an_execution_whose_names_bedrock_accepts(
    folders: list[str], stem: str, version: str | None
) -> None:
    # Given an upload of any .jsonl key (S3 keys are any UTF-8)
    key = "/".join([*folders, f"{stem}.jsonl"])
    upload = UploadedObject(bucket="distill-inputs", key=key, version_id=version, etag="abc", sequencer="00A1")
    # When the trigger names its execution
    name = execution_name(upload)
    # Then the name is one Step Functions accepts, even with CloudWatch Logs logging (only 0-9 A-Z a-z - _)
    assert _SAFE_EXECUTION_NAME.fullmatch(name), name
    readable = name.removeprefix("upload-")[: -len("-0123456789abcdef")]
    assert readable, name
    assert not readable.endswith("-"), name
    # And every Bedrock name and token the run derives from it is one Bedrock accepts
    _assert_bedrock_accepts(name, _execution_arn("distillation", name))
