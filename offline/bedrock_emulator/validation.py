"""Request validation as the service does it, whatever the client's own `parameter_validation` setting.

botocore's ParamValidator checks types, required members, tagged unions and some minimums (string and list
lengths, numbers; not map sizes or blob lengths). The service enforces every constraint of its model, so
`model_violations` checks all of them itself: minimum and maximum lengths of strings, lists, maps and blobs,
numeric ranges, patterns and enums, through nested structures, lists and maps (keys and values). Document
members are free-form. Both end here as a ValidationException in the service's own wording, followed by a
few rules the model cannot express.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache
from typing import Any

import regex  # type: ignore[import-untyped]  # no stubs; only for the model's Unicode-category patterns
from botocore.model import OperationModel, Shape
from botocore.validate import ParamValidator

from offline.bedrock_emulator.errors import BedrockError

_NUMBER_TYPES = {"integer", "long", "float", "double"}
# Enum values the service takes that botocore's model does not list: a judge job's taskType "General" (both CLI
# examples of the user guide's "Create a model evaluation job using built-in metrics", and AWS's samples).
_UNMODELLED_ENUM_VALUES = {"EvaluationTaskType": frozenset({"General"})}
_SIZED_TYPES = {"string", "list", "map", "blob"}


def validate_request(operation: OperationModel, params: dict[str, Any]) -> None:
    report = ParamValidator().validate(params, operation.input_shape)
    if report.has_errors():
        raise BedrockError("ValidationException", report.generate_report())
    problems = model_violations(params, operation.input_shape)
    problems += _SERVICE_RULES.get(operation.name, _no_rules)(params)
    if problems:
        count = len(problems)
        raise BedrockError(
            "ValidationException",
            f"{count} validation error{'s' if count > 1 else ''} detected: " + "; ".join(problems),
        )


def model_violations(value: Any, shape: Shape, path: str = "") -> list[str]:
    """Every constraint of `shape` that `value` (already type-checked by botocore) breaks, in AWS's wording."""
    return list(_violations(value, shape, path))


@cache
def pattern(expression: str) -> Any:
    """The model's patterns are Java regular expressions: `\\s`, `\\d` and `\\w` are ASCII, as with re.ASCII.
    The few that use Unicode categories (`\\p{L}`), which `re` cannot read, go to `regex`."""
    try:
        return re.compile(expression, re.ASCII)
    except re.error:
        return regex.compile(expression)


def _violations(value: Any, shape: Shape, path: str) -> Iterator[str]:
    where = path or "request"
    if shape.type_name == "structure" and getattr(shape, "is_document_type", False):
        return
    if shape.type_name in _NUMBER_TYPES:
        yield from _bounds(value, shape, f"Value '{value}' at '{where}'", "value")
        return
    if shape.type_name in _SIZED_TYPES:
        size = _size(value, shape)
        if size is not None:
            yield from _bounds(size, shape, f"Value at '{where}'", "length")
    if shape.type_name == "string":
        yield from _string_constraints(value, shape, where)
    elif shape.type_name == "list":
        for index, item in enumerate(value):
            yield from _violations(item, shape.member, f"{path}.{index + 1}")
    elif shape.type_name == "map":
        for key, item in value.items():
            yield from _violations(key, shape.key, f"{path}.key")
            yield from _violations(item, shape.value, f"{path}.{key}")
    elif shape.type_name == "structure":
        for name, member in shape.members.items():
            if name in value:
                yield from _violations(value[name], member, f"{path}.{name}" if path else name)


def _size(value: Any, shape: Shape) -> int | None:
    """Characters of a string, items of a list or map, bytes of a blob (None for a stream: unread here)."""
    if shape.type_name != "blob":
        return len(value)
    if isinstance(value, str):
        return len(value.encode())
    if isinstance(value, bytes | bytearray):
        return len(value)
    return None


def _bounds(measure: float, shape: Shape, subject: str, what: str) -> Iterator[str]:
    minimum, maximum = shape.metadata.get("min"), shape.metadata.get("max")
    if minimum is not None and measure < minimum:
        yield f"{subject} failed to satisfy constraint: Member must have {what} greater than or equal to {minimum}"
    if maximum is not None and measure > maximum:
        yield f"{subject} failed to satisfy constraint: Member must have {what} less than or equal to {maximum}"


def _string_constraints(value: str, shape: Shape, where: str) -> Iterator[str]:
    expression = shape.metadata.get("pattern")
    if expression and not pattern(expression).fullmatch(value):
        yield (
            f"Value '{value}' at '{where}' failed to satisfy constraint: "
            f"Member must satisfy regular expression pattern: {expression}"
        )
    enum = shape.metadata.get("enum")
    if enum and value not in enum and value not in _UNMODELLED_ENUM_VALUES.get(shape.name, ()):
        yield (
            f"Value '{value}' at '{where}' failed to satisfy constraint: "
            f"Member must satisfy enum value set: [{', '.join(enum)}]"
        )


def _no_rules(params: dict[str, Any]) -> list[str]:
    return []


def _create_job_rules(params: dict[str, Any]) -> list[str]:
    problems = []
    customization_type = params.get("customizationType", "FINE_TUNING")
    distillation = (params.get("customizationConfig") or {}).get("distillationConfig")
    if customization_type == "DISTILLATION" and distillation is None:
        problems.append("customizationType DISTILLATION requires customizationConfig.distillationConfig")
    if distillation is not None and customization_type != "DISTILLATION":
        problems.append("customizationConfig.distillationConfig requires customizationType DISTILLATION")
    training = params["trainingDataConfig"]
    sources = [name for name in ("s3Uri", "invocationLogsConfig") if name in training]
    if len(sources) != 1:
        problems.append("trainingDataConfig must have exactly one of s3Uri or invocationLogsConfig")
    if "invocationLogsConfig" in training and customization_type != "DISTILLATION":
        problems.append("trainingDataConfig.invocationLogsConfig is only supported for DISTILLATION")
    filters = training.get("invocationLogsConfig", {}).get("requestMetadataFilters", {})
    for operator in ("andAll", "orAll"):
        for index, base_filter in enumerate(filters.get(operator, [])):
            if len(base_filter) != 1:
                problems.append(
                    f"requestMetadataFilters.{operator}.{index + 1} must have exactly one of equals or "
                    "notEquals; operators cannot be combined"
                )
    for name in ("epochCount", "batchSize"):
        value = params.get("hyperParameters", {}).get(name)
        if value is not None and not (value.isdigit() and int(value) > 0):
            problems.append(f"hyperParameters.{name} must be a positive integer, got {value!r}")
    return problems


_SERVICE_RULES = {"CreateModelCustomizationJob": _create_job_rules}
