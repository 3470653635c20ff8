"""Which teacher -> student pairs CreateModelCustomizationJob takes for distillation, in which Region and form.

The table is AWS's, read from the data file the project keeps it in (`bedrock_distill/catalog.json`, with the user
guide page named there); the matching here is the emulator's own, so a mistake in the project's reading of the
table shows up as a disagreement instead of being mirrored.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

# ARNs Bedrock accepts for teacherModelIdentifier / baseModelIdentifier, reduced to the id they name.
_MODEL_ARN = re.compile(r"^arn:aws(-[^:]+)?:bedrock:[a-z0-9-]*:\d*:(foundation-model|inference-profile)/(?P<id>.+)$")
_CONTEXT_SUFFIX = re.compile(r":\d+k$")


@dataclass(frozen=True)
class _Row:
    teacher_name: str
    teacher_ids: frozenset[str]
    students: frozenset[str]
    regions: frozenset[str]


@cache
def _rows() -> tuple[_Row, ...]:
    document: dict[str, Any] = json.loads((resources.files("bedrock_distill") / "catalog.json").read_text())
    rows = []
    for teacher in document["pairs"]["teachers"]:
        support = teacher["inferenceProfileSupport"]
        ids = set()
        if support != "Inference profile only":
            ids.add(teacher["modelId"])
        if support != "On demand" and teacher["inferenceProfileId"]:
            ids.add(teacher["inferenceProfileId"])
        rows.append(
            _Row(
                teacher_name=teacher["name"],
                teacher_ids=frozenset(ids),
                students=frozenset(student["modelId"] for student in teacher["students"]),
                regions=frozenset(teacher["regions"]),
            )
        )
    return tuple(rows)


def _model_id(identifier: str) -> str:
    match = _MODEL_ARN.match(identifier)
    return match.group("id") if match else identifier


def _without_geography(model_id: str) -> str:
    prefix, _, rest = model_id.partition(".")
    return rest if "." in rest and prefix in {"us", "eu", "apac", "us-gov", "global", "ca", "jp", "au"} else model_id


def refusal(params: dict[str, Any], region: str) -> str | None:
    """The ValidationException message Bedrock answers a distillation request it does not take, or None."""
    if params.get("customizationType") != "DISTILLATION":
        return None
    teacher_config = params.get("customizationConfig", {}).get("distillationConfig", {}).get("teacherModelConfig", {})
    teacher = _model_id(str(teacher_config.get("teacherModelIdentifier", "")))
    student = _model_id(str(params.get("baseModelIdentifier", "")))
    rows = [row for row in _rows() if teacher in row.teacher_ids]
    if not rows:
        return _teacher_refusal(teacher)
    if problem := _student_refusal(student):
        return problem
    pair_rows = [row for row in rows if student in row.students]
    if not pair_rows:
        return f"Distillation from teacher model {teacher} into base model {student} is not supported."
    if not any(region in row.regions for row in pair_rows):
        return f"Distillation from teacher model {teacher} into base model {student} is not supported in {region}."
    return None


def _teacher_refusal(teacher: str) -> str:
    model = _without_geography(teacher)
    for row in _rows():
        if model in {_without_geography(known) for known in row.teacher_ids}:
            forms = " or ".join(sorted(row.teacher_ids))
            return (
                f"The teacher model identifier {teacher} is not supported for distillation: "
                f"specify {row.teacher_name} as {forms}."
            )
    return f"The teacher model identifier {teacher} is not supported for distillation."


def _student_refusal(student: str) -> str | None:
    students = {known for row in _rows() for known in row.students}
    if student in students:
        return None
    suffixed = sorted(known for known in students if _CONTEXT_SUFFIX.sub("", known) == student)
    if suffixed:
        return (
            f"The base model identifier {student} is invalid: specify the model with its context length, {suffixed[0]}."
        )
    return f"The base model identifier {student} is not supported for distillation."


@dataclass(frozen=True)
class FoundationModel:
    model_id: str
    provider: str
    customizations: tuple[str, ...]


def foundation_models(region: str) -> tuple[FoundationModel, ...]:
    """The table's models offered in `region`, as ListFoundationModels would list them: each teacher by its model
    id, each student by its id with the context length (the customizable form) for fine-tuning and distillation."""
    document: dict[str, Any] = json.loads((resources.files("bedrock_distill") / "catalog.json").read_text())
    models: dict[str, FoundationModel] = {}
    for teacher in document["pairs"]["teachers"]:
        if region not in teacher["regions"]:
            continue
        provider = str(teacher["provider"]).capitalize()
        models.setdefault(teacher["modelId"], FoundationModel(teacher["modelId"], provider, ()))
        for student in teacher["students"]:
            models[student["modelId"]] = FoundationModel(student["modelId"], provider, ("FINE_TUNING", "DISTILLATION"))
    return tuple(models.values())
