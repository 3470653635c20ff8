"""Request validation as the service does it, whatever the client's own `parameter_validation` setting.

botocore checks types, required members, minimums and tagged unions. The service also enforces the
model's maximums, patterns and enums, and a few rules the model cannot express; both end here as a
ValidationException in the service's own wording.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache
from typing import Any

from botocore.model import OperationModel, Shape
from botocore.validate import ParamValidator

from bedrock_emulator.errors import BedrockError

_NUMBER_TYPES = {"integer", "long", "float", "double"}


def validate_request(operation: OperationModel, params: dict[str, Any]) -> None:
    report = ParamValidator().validate(params, operation.input_shape)
    if report.has_errors():
        raise BedrockError("ValidationException", report.generate_report())
    problems = list(_model_constraints(params, operation.input_shape, ""))
    problems += _SERVICE_RULES.get(operation.name, _no_rules)(params)
    if problems:
        count = len(problems)
        raise BedrockError(
            "ValidationException",
            f"{count} validation error{'s' if count > 1 else ''} detected: " + "; ".join(problems),
        )


@cache
def _pattern(expression: str) -> re.Pattern[str]:
    return re.compile(expression)


def _model_constraints(value: Any, shape: Shape, path: str) -> Iterator[str]:
    """The constraints botocore leaves to the service: maximums, patterns (whole value) and enums."""
    where = path or "request"
    maximum = shape.metadata.get("max")
    if shape.type_name in _NUMBER_TYPES:
        if maximum is not None and value > maximum:
            yield f"Value '{value}' at '{where}' failed to satisfy constraint: Member must be <= {maximum}"
        return
    if shape.type_name in ("string", "list", "map") and maximum is not None and len(value) > maximum:
        yield f"Value at '{where}' failed to satisfy constraint: Member must have length <= {maximum}"
    if shape.type_name == "string":
        yield from _string_constraints(value, shape, where)
    elif shape.type_name == "list":
        for index, item in enumerate(value):
            yield from _model_constraints(item, shape.member, f"{path}.{index + 1}")
    elif shape.type_name == "map":
        for key, item in value.items():
            yield from _model_constraints(key, shape.key, f"{path}.key")
            yield from _model_constraints(item, shape.value, f"{path}.{key}")
    elif shape.type_name == "structure" and not getattr(shape, "is_document_type", False):
        for name, member in shape.members.items():
            if name in value:
                yield from _model_constraints(value[name], member, f"{path}.{name}" if path else name)


def _string_constraints(value: str, shape: Shape, where: str) -> Iterator[str]:
    pattern = shape.metadata.get("pattern")
    if pattern and not _pattern(pattern).fullmatch(value):
        yield (
            f"Value '{value}' at '{where}' failed to satisfy constraint: "
            f"Member must satisfy regular expression pattern: {pattern}"
        )
    enum = shape.metadata.get("enum")
    if enum and value not in enum:
        yield f"Value '{value}' at '{where}' failed to satisfy constraint: Member must satisfy enum value set: {enum}"


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
