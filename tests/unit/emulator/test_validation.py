"""The service's own validation: every constraint of the model (botocore checks some), and Bedrock's own rules."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import cache
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ParamValidationError
from botocore.model import ListShape, MapShape, ServiceModel, Shape, StructureShape

from offline.bedrock_emulator import BedrockEmulator
from offline.bedrock_emulator.validation import model_violations, pattern
from tests.unit.emulator.builders import REGION, distillation_request, invocation_logs_source

pytestmark = pytest.mark.unit

PROMPTS = {"s3Uri": "s3://distill-data/train/prompts.jsonl"}


def _rejected(bedrock: Any, request: dict[str, Any]) -> str:
    with pytest.raises(bedrock.exceptions.ValidationException) as raised:
        bedrock.create_model_customization_job(**request)
    message: str = raised.value.response["Error"]["Message"]
    return message


def test_botocore_itself_rejects_a_request_missing_a_required_member(bedrock: Any, emulator: BedrockEmulator) -> None:
    request = distillation_request(PROMPTS)
    del request["roleArn"]
    with pytest.raises(ParamValidationError, match="roleArn"):
        bedrock.create_model_customization_job(**request)
    assert emulator.calls == []


@pytest.mark.parametrize(
    ("override", "named"),
    [
        pytest.param({"jobName": "-starts-with-a-dash"}, "jobName", id="job name pattern"),
        pytest.param({"jobName": "j" * 64}, "jobName", id="job name longer than 63"),
        pytest.param({"clientRequestToken": "ends-with-dash-"}, "clientRequestToken", id="token pattern"),
        pytest.param({"customizationType": "DISTILLING"}, "customizationType", id="unknown enum value"),
    ],
)
def test_model_constraints_botocore_leaves_to_the_service(
    bedrock: Any, emulator: BedrockEmulator, override: dict[str, Any], named: str
) -> None:
    assert named in _rejected(bedrock, distillation_request(PROMPTS, **override))
    assert emulator.jobs == {}


@pytest.mark.parametrize(
    ("filters", "named"),
    [
        pytest.param({"equals": {"project": "a", "stage": "b"}}, "equals", id="two entries in equals"),
        pytest.param({"andAll": [{"equals": {f"k{i}": "v"}} for i in range(17)]}, "andAll", id="17 filters"),
        pytest.param({"equals": {"project#": "a"}}, "equals.key", id="character outside the key set"),
        pytest.param({"notEquals": {"project": "x" * 257}}, "notEquals.project", id="value longer than 256"),
        pytest.param(
            {"orAll": [{"equals": {"a": "1"}, "notEquals": {"b": "2"}}]}, "orAll.1", id="two operators in one filter"
        ),
    ],
)
def test_request_metadata_filter_rules(
    bedrock: Any, emulator: BedrockEmulator, filters: dict[str, Any], named: str
) -> None:
    assert named in _rejected(bedrock, distillation_request(invocation_logs_source(filters)))


def test_two_operators_at_the_top_are_refused_by_botocores_union_check(bedrock: Any) -> None:
    filters = {"equals": {"a": "1"}, "notEquals": {"b": "2"}}
    with pytest.raises(ParamValidationError, match="union"):
        bedrock.create_model_customization_job(**distillation_request(invocation_logs_source(filters)))


def test_sixteen_single_entry_filters_are_accepted(bedrock: Any, emulator: BedrockEmulator) -> None:
    filters = {"orAll": [{"equals": {f"key-{i}": "value"}} for i in range(16)]}
    bedrock.create_model_customization_job(**distillation_request(invocation_logs_source(filters)))
    assert list(emulator.jobs) == ["distill-job-1"]


def test_distillation_requires_a_distillation_config(bedrock: Any) -> None:
    request = distillation_request(PROMPTS)
    del request["customizationConfig"]
    assert "distillationConfig" in _rejected(bedrock, request)


def test_training_data_needs_exactly_one_source(bedrock: Any) -> None:
    both = PROMPTS | invocation_logs_source()
    assert "exactly one" in _rejected(bedrock, distillation_request(both))
    assert "exactly one" in _rejected(bedrock, distillation_request({}))


def test_hyper_parameters_must_be_positive_integers(bedrock: Any) -> None:
    message = _rejected(bedrock, distillation_request(PROMPTS, hyperParameters={"epochCount": "two"}))
    assert "epochCount" in message


def test_converse_request_metadata_is_validated(runtime: Any) -> None:
    with pytest.raises(runtime.exceptions.ValidationException, match="requestMetadata"):
        runtime.converse(
            modelId="amazon.nova-pro-v1:0",
            messages=[{"role": "user", "content": [{"text": "hi"}]}],
            requestMetadata={"key": "bad\u00e9value"},
        )


# --- Every constraint of the service models ----------------------------------------------------------
# Each kind of constraint found in the input shapes of the `bedrock` and `bedrock-runtime` models, as
# (type, constraint, reached as a map key). The first test keeps this list equal to what the models hold, so
# a botocore update that brings a new kind fails here until it is checked.
CONSTRAINT_KINDS = {
    ("string", "min", False),
    ("string", "max", False),
    ("string", "pattern", False),
    ("string", "enum", False),
    ("string", "min", True),
    ("string", "max", True),
    ("string", "pattern", True),
    ("list", "min", False),
    ("list", "max", False),
    ("map", "min", False),
    ("map", "max", False),
    ("blob", "min", False),
    ("blob", "max", False),
    ("integer", "min", False),
    ("integer", "max", False),
    ("float", "min", False),
    ("float", "max", False),
    ("double", "min", False),
    ("double", "max", False),
}
# Shape metadata that constrains nothing a request's value could break (or that botocore checks itself:
# required members, tagged unions, documents' JSON types).
_NOT_VALUE_CONSTRAINTS = {"required", "union", "document", "sensitive", "idempotencyToken", "error", "exception"}
Step = tuple[str, str]  # ("member", name) | ("item", "") | ("value", "") | ("key", "")


@dataclass(frozen=True)
class Constrained:
    service: str
    operation: str
    steps: tuple[Step, ...]
    shape: Shape
    constraint: str
    via_key: bool

    @property
    def kind(self) -> tuple[str, str, bool]:
        return (self.shape.type_name, self.constraint, self.via_key)

    @property
    def where(self) -> str:
        parts = {"item": "1", "value": "k", "key": "key"}
        return ".".join(name if step == "member" else parts[step] for step, name in self.steps)


@cache
def _model(service: str) -> ServiceModel:
    # One session for all: each new session parses the models again.
    return _session().get_service_model(service)


@cache
def _session() -> botocore.session.Session:
    return botocore.session.get_session()


def _input_shape(case: Constrained) -> Shape:
    shape: Shape = _model(case.service).operation_model(case.operation).input_shape
    return shape


@cache
def _constrained_shapes() -> tuple[Constrained, ...]:
    """Every constrained shape of both models, each with the first path an operation's input reaches it by."""
    found: list[Constrained] = []
    for service in ("bedrock", "bedrock-runtime"):
        model, seen = _model(service), set[tuple[str, bool]]()
        for operation in model.operation_names:
            input_shape = model.operation_model(operation).input_shape
            if input_shape is not None:
                found += _walk(Constrained(service, operation, (), input_shape, "", False), seen)
    return tuple(found)


def _walk(at: Constrained, seen: set[tuple[str, bool]]) -> Iterator[Constrained]:
    shape = at.shape
    if (shape.name, at.via_key) in seen or getattr(shape, "is_document_type", False):
        return
    seen.add((shape.name, at.via_key))
    for constraint in ("min", "max", "pattern", "enum"):
        if constraint in shape.metadata:
            yield replace(at, constraint=constraint)
    children: list[tuple[Step, Shape]] = []
    if isinstance(shape, StructureShape):
        children = [(("member", name), member) for name, member in shape.members.items()]
    elif isinstance(shape, ListShape):
        children = [(("item", ""), shape.member)]
    elif isinstance(shape, MapShape):
        children = [(("key", ""), shape.key), (("value", ""), shape.value)]
    for step, child in children:
        yield from _walk(replace(at, steps=(*at.steps, step), shape=child, via_key=step[0] == "key"), seen)


def _typed(shape: Shape) -> Any:
    """A value of the shape's type (not necessarily valid): what botocore's type check lets through."""
    return {
        "structure": {},
        "list": [],
        "map": {},
        "string": "x",
        "integer": 1,
        "long": 1,
        "float": 0.5,
        "double": 0.5,
        "boolean": True,
        "blob": b"x",
        "timestamp": datetime(2026, 1, 1, tzinfo=UTC),
    }[shape.type_name]


_PATTERN_BREAKERS = ("", "#", "a b", "\u00a0", "\u00e9", "-", "!", "\x00", "a" * 2049)


def _breaking(case: Constrained) -> Any | None:
    """A value of the shape's type that breaks the constraint, or None when none can (a length minimum of 0)."""
    shape, limit = case.shape, case.shape.metadata.get(case.constraint)
    if case.constraint == "pattern":
        return next((text for text in _PATTERN_BREAKERS if not pattern(limit).fullmatch(text)), None)
    if case.constraint == "enum":
        return "NOT_A_MEMBER_OF_THE_ENUM"
    beyond = limit - 1 if case.constraint == "min" else limit + 1
    if shape.type_name in ("integer", "long", "float", "double"):
        return beyond if shape.type_name in ("integer", "long") else float(beyond)
    sized: dict[str, Callable[[int], Any]] = {
        "list": lambda size: [_typed(shape.member)] * size,
        "map": lambda size: {f"k{index}": _typed(shape.value) for index in range(size)},
        "string": lambda size: "a" * size,
        "blob": lambda size: b"a" * size,
    }
    return sized[shape.type_name](beyond) if beyond >= 0 else None


def _request_with(case: Constrained, value: Any) -> dict[str, Any]:
    """The operation's input holding `value` at the case's path; everything else left out."""
    shapes: list[Shape] = [_input_shape(case)]
    for step, name in case.steps[:-1]:
        container = shapes[-1]
        if step == "member":
            assert isinstance(container, StructureShape)
            shapes.append(container.members[name])
        elif step == "item":
            assert isinstance(container, ListShape)
            shapes.append(container.member)
        else:
            assert isinstance(container, MapShape)
            shapes.append(container.value)
    for (step, name), container in zip(reversed(case.steps), reversed(shapes), strict=True):
        if step == "member":
            value = {name: value}
        elif step == "item":
            value = [value]
        elif step == "value":
            value = {"k": value}
        else:
            assert isinstance(container, MapShape)
            value = {value: _typed(container.value)}
    assert isinstance(value, dict)
    return value


_PHRASES = {
    "pattern": "Member must satisfy regular expression pattern",
    "enum": "Member must satisfy enum value set",
    "min": "greater than or equal to",
    "max": "less than or equal to",
}


def test_the_models_hold_no_constraint_kind_these_tests_leave_out() -> None:
    # Given every input shape of both models
    metadata = {
        key
        for service in ("bedrock", "bedrock-runtime")
        for name in _model(service).shape_names
        for key in _model(service).shape_for(name).metadata
    }
    # Then each kind of constraint they hold is one tested below, and each tested kind is in the models
    assert {case.kind for case in _constrained_shapes()} == CONSTRAINT_KINDS
    assert metadata - _NOT_VALUE_CONSTRAINTS - {"min", "max", "pattern", "enum", "retryable"} == set()


@pytest.mark.parametrize("kind", sorted(CONSTRAINT_KINDS), ids=lambda kind: " ".join(map(str, kind)))
def test_every_shape_with_the_constraint_is_enforced_where_a_request_reaches_it(kind: tuple[str, str, bool]) -> None:
    # Given every shape of both models with this kind of constraint, at the path an operation reaches it by
    cases = [case for case in _constrained_shapes() if case.kind == kind]
    missed, checked = [], 0
    for case in cases:
        value = _breaking(case)
        if value is None:
            continue
        # When a request holds a value breaking it there, and nothing else
        problems = model_violations(_request_with(case, value), _input_shape(case))
        # Then a problem names the path and the constraint
        checked += 1
        where = f"at '{case.where}'"
        if not any(where in problem and _PHRASES[case.constraint] in problem for problem in problems):
            missed.append(f"{case.service}:{case.operation} {case.where} ({case.shape.name}): {problems}")
    assert checked > 0
    assert missed == []


def test_every_pattern_in_the_models_compiles_as_java_reads_it() -> None:
    # Given the model's patterns, Java regular expressions (`\p{L}`; ASCII `\s`, `\d`, `\w`)
    for service in ("bedrock", "bedrock-runtime"):
        model = _model(service)
        for name in model.shape_names:
            expression = model.shape_for(name).metadata.get("pattern")
            if expression is None:
                continue
            # Then each compiles, and one that needs Unicode categories has no class whose meaning differs
            compiled = pattern(expression)
            if not isinstance(compiled, re.Pattern):
                assert re.search(r"\\[sSdDwWbB]", expression) is None, name


def test_a_pattern_reads_whitespace_as_java_does(runtime: Any) -> None:
    # Given requestMetadata, whose pattern allows `\s`: Java's is ASCII, so a no-break space is refused
    with pytest.raises(runtime.exceptions.ValidationException, match="requestMetadata"):
        runtime.converse(
            modelId="amazon.nova-pro-v1:0",
            messages=[{"role": "user", "content": [{"text": "hi"}]}],
            requestMetadata={"key": "no\u00a0break"},
        )


@cache
def _unvalidated(service_name: str) -> Any:
    """A client that sends what it is given: the emulator alone must refuse (as Bedrock does for any SDK)."""
    session = boto3.session.Session(region_name=REGION)
    return session.client(service_name, config=Config(parameter_validation=False))


@pytest.mark.parametrize(
    ("call", "named"),
    [
        pytest.param(
            lambda: _unvalidated("bedrock").create_model_customization_job(**distillation_request(PROMPTS, jobName="")),
            "jobName",
            id="string min",
        ),
        pytest.param(
            lambda: _unvalidated("bedrock").create_model_customization_job(
                **distillation_request(PROMPTS, jobTags=[{"key": f"k{i}", "value": "v"} for i in range(201)])
            ),
            "jobTags",
            id="list max",
        ),
        pytest.param(
            lambda: _unvalidated("bedrock").create_provisioned_model_throughput(
                modelUnits=0, provisionedModelName="pt-1", modelId="distilled-model-1"
            ),
            "modelUnits",
            id="integer min",
        ),
        pytest.param(
            lambda: _unvalidated("bedrock-runtime").converse(
                modelId="amazon.nova-pro-v1:0",
                messages=[{"role": "user", "content": [{"text": "hi"}]}],
                requestMetadata={},
            ),
            "requestMetadata",
            id="map min",
        ),
        pytest.param(
            lambda: _unvalidated("bedrock-runtime").converse(
                modelId="amazon.nova-pro-v1:0",
                messages=[{"role": "user", "content": [{"text": "hi"}]}],
                requestMetadata={f"k{i}": "v" for i in range(17)},
            ),
            "requestMetadata",
            id="map max",
        ),
        pytest.param(
            lambda: _unvalidated("bedrock-runtime").converse(
                modelId="amazon.nova-pro-v1:0",
                messages=[{"role": "user", "content": [{"image": {"format": "png", "source": {"bytes": b""}}}]}],
            ),
            "messages.1.content.1.image.source.bytes",
            id="blob min",
        ),
        pytest.param(
            lambda: _unvalidated("bedrock-runtime").converse(
                modelId="amazon.nova-pro-v1:0",
                messages=[{"role": "user", "content": [{"text": "hi"}]}],
                inferenceConfig={"temperature": 1.5},
            ),
            "inferenceConfig.temperature",
            id="float max",
        ),
    ],
)
def test_the_emulator_refuses_what_the_client_did_not_check(
    emulator: BedrockEmulator, call: Callable[[], Any], named: str
) -> None:
    # Given a client with parameter validation off, When it sends a request breaking one constraint
    with pytest.raises(ClientError) as raised:
        call()
    # Then the emulator answers ValidationException naming the member, and nothing is created
    assert raised.value.response["Error"]["Code"] == "ValidationException"
    assert named in raised.value.response["Error"]["Message"]
    assert emulator.jobs == {}
    assert emulator.provisioned_throughputs == {}
