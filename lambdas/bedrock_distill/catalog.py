"""The teacher/student pairs Bedrock distillation supports, kept as data.

Source: the Bedrock user guide's distillation model table (2025-26). Supported pairs change over
time: extend the table, never add branches in code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class Provider(StrEnum):
    AMAZON = "amazon"
    META = "meta"
    ANTHROPIC = "anthropic"


_NOVA_LITE = "amazon.nova-lite-v1:0"
_NOVA_MICRO = "amazon.nova-micro-v1:0"
_NOVA_PRO = "amazon.nova-pro-v1:0"
_LLAMA_31_8B = "meta.llama3-1-8b-instruct-v1:0"
_LLAMA_31_70B = "meta.llama3-1-70b-instruct-v1:0"
_LLAMA_32_1B = "meta.llama3-2-1b-instruct-v1:0"
_LLAMA_32_3B = "meta.llama3-2-3b-instruct-v1:0"
_LLAMA_33_70B = "meta.llama3-3-70b-instruct-v1:0"

# teacher base model id -> the student base model ids it may distil into
SUPPORTED_PAIRS: dict[str, frozenset[str]] = {
    _NOVA_PRO: frozenset({_NOVA_LITE, _NOVA_MICRO}),
    "amazon.nova-premier-v1:0": frozenset({_NOVA_LITE, _NOVA_MICRO, _NOVA_PRO}),
    "meta.llama3-1-405b-instruct-v1:0": frozenset(
        {_LLAMA_31_8B, _LLAMA_31_70B, _LLAMA_32_1B, _LLAMA_32_3B, _LLAMA_33_70B}
    ),
    _LLAMA_31_70B: frozenset({_LLAMA_31_8B, _LLAMA_32_1B, _LLAMA_32_3B}),
    _LLAMA_33_70B: frozenset({_LLAMA_31_8B, _LLAMA_32_1B, _LLAMA_32_3B}),
}

# Students whose training records must be single-turn (the Bedrock user guide, data preparation).
SINGLE_TURN_PROVIDERS: frozenset[Provider] = frozenset({Provider.META, Provider.ANTHROPIC})

# A cross-Region inference profile id is a geography prefix before the model id: "us.amazon.nova-premier-v1:0".
_PROFILE_PREFIX = re.compile(r"^(?P<geo>us|eu|apac|us-gov|global|ca|jp|au)\.(?=[a-z]+\.)")
# Customizable base models carry a context-length suffix: "amazon.nova-lite-v1:0:300k".
_CONTEXT_SUFFIX = re.compile(r"(?<=:\d):\d+k$")


@dataclass(frozen=True)
class ModelReference:
    """A model id as the user wrote it, split into the parts IAM and the pair table need."""

    model_id: str
    base_model_id: str
    provider: str
    inference_profile_geo: str | None

    @property
    def is_inference_profile(self) -> bool:
        return self.inference_profile_geo is not None


def parse_model_id(model_id: str) -> ModelReference:
    profile = _PROFILE_PREFIX.match(model_id)
    unprefixed = model_id[profile.end() :] if profile else model_id
    base = _CONTEXT_SUFFIX.sub("", unprefixed)
    return ModelReference(
        model_id=model_id,
        base_model_id=base,
        provider=base.split(".", 1)[0],
        inference_profile_geo=profile.group("geo") if profile else None,
    )


def teacher_problem(teacher_model_id: str) -> str | None:
    """Why this model cannot be a distillation teacher, or None when it can."""
    if parse_model_id(teacher_model_id).base_model_id in SUPPORTED_PAIRS:
        return None
    known = ", ".join(sorted(SUPPORTED_PAIRS))
    return f"{teacher_model_id!r} is not a supported distillation teacher (known: {known})"


def pair_problem(teacher_model_id: str, student_model_id: str) -> str | None:
    """Why this teacher cannot distil into this student, or None when the pair is supported."""
    teacher = parse_model_id(teacher_model_id)
    student = parse_model_id(student_model_id)
    if teacher.provider != student.provider:
        return (
            f"teacher {teacher_model_id!r} ({teacher.provider}) and student {student_model_id!r} "
            f"({student.provider}) are from different model families"
        )
    if problem := teacher_problem(teacher_model_id):
        return problem
    students = SUPPORTED_PAIRS[teacher.base_model_id]
    if student.base_model_id not in students:
        allowed = ", ".join(sorted(students))
        return f"student {student_model_id!r} is not supported for teacher {teacher_model_id!r} (allowed: {allowed})"
    return None


def requires_single_turn(student_model_id: str) -> bool:
    return parse_model_id(student_model_id).provider in {p.value for p in SINGLE_TURN_PROVIDERS}
