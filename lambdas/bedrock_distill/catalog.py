"""The teacher -> student pairs Bedrock distillation offers, where, and in which form: AWS's tables, kept as data.

`catalog.json` beside this module holds the tables as the user guide gives them, each with the page it comes
from: the distillation pairs and Regions ("Choose teacher and student models for distillation"), the Regions each
cross-Region inference profile routes to ("Supported Regions and models for inference profiles") and the
single-turn rule ("Prepare your training datasets for distillation"). When AWS changes a table, change the data;
the code here only reads it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

CATALOG_FILE: Final = Path(__file__).with_name("catalog.json")

# The page's "Inference profile support" column: how a teacher may be named in teacherModelIdentifier.
_BY_MODEL_ID_OR_PROFILE = "Both"
_BY_PROFILE_ONLY = "Inference profile only"
_BY_MODEL_ID_ONLY = "On demand"

# A cross-Region inference profile id is a geography prefix before the model id: "us.amazon.nova-premier-v1:0".
_PROFILE_PREFIX = re.compile(r"^(?P<geo>us|eu|apac|us-gov|global|ca|jp|au)\.(?=[a-z]+\.)")
# Customizable base models carry a context-length suffix: "amazon.nova-lite-v1:0:300k".
_CONTEXT_SUFFIX = re.compile(r"(?<=:\d):\d+k$")


@dataclass(frozen=True, order=True)
class ModelPair:
    """A teacher (model id or inference profile id) and a student (model id with its context suffix)."""

    teacher: str
    student: str

    def __str__(self) -> str:
        return f"{self.teacher} -> {self.student}"


@dataclass(frozen=True)
class Student:
    name: str
    model_id: str


@dataclass(frozen=True)
class Teacher:
    """One row of the user guide's table."""

    provider: str
    name: str
    model_id: str
    inference_profile_support: str
    inference_profile_id: str | None
    students: tuple[Student, ...]
    regions: tuple[str, ...]

    @property
    def identifiers(self) -> tuple[str, ...]:
        """What teacherModelIdentifier may be for this teacher, model id first."""
        by_model_id = (self.model_id,) if self.inference_profile_support != _BY_PROFILE_ONLY else ()
        by_profile = (
            (self.inference_profile_id,)
            if self.inference_profile_id and self.inference_profile_support != _BY_MODEL_ID_ONLY
            else ()
        )
        return by_model_id + by_profile

    @property
    def student_ids(self) -> tuple[str, ...]:
        return tuple(student.model_id for student in self.students)

    def pairs(self) -> tuple[ModelPair, ...]:
        return tuple(ModelPair(teacher, student) for teacher in self.identifiers for student in self.student_ids)


@dataclass(frozen=True)
class TeacherRoute:
    """What invoking a teacher from one Region touches: IAM checks each (User Guide: "Create a service role for
    model customization", cross-Region inference profile permissions)."""

    inference_profile_id: str | None
    foundation_model_id: str
    # Where the foundation model is invoked: this Region for a model id, the profile's destinations for a profile.
    regions: tuple[str, ...]


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


def _load(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(path.read_text())
    return document


_DOCUMENT: Final = _load(CATALOG_FILE)
TEACHERS: Final = tuple(
    Teacher(
        provider=row["provider"],
        name=row["name"],
        model_id=row["modelId"],
        inference_profile_support=row["inferenceProfileSupport"],
        inference_profile_id=row["inferenceProfileId"],
        students=tuple(Student(name=s["name"], model_id=s["modelId"]) for s in row["students"]),
        regions=tuple(row["regions"]),
    )
    for row in _DOCUMENT["pairs"]["teachers"]
)
# Inference profile id -> source Region -> the destination Regions it routes to.
PROFILE_DESTINATIONS: Final[Mapping[str, Mapping[str, tuple[str, ...]]]] = {
    profile: {source: tuple(destinations) for source, destinations in routes.items()}
    for profile, routes in _DOCUMENT["inferenceProfiles"]["profiles"].items()
}
SINGLE_TURN_PROVIDERS: Final = frozenset(_DOCUMENT["singleTurn"]["providers"])
REGION_DEFAULTS: Final = {
    region: ModelPair(pair["teacher"], pair["student"]) for region, pair in _DOCUMENT["regionDefaults"]["pairs"].items()
}


def offered_pairs(region: str | None = None) -> tuple[ModelPair, ...]:
    """Every pair the table offers (in `region`, when given), each teacher form a pair of its own."""
    teachers = [teacher for teacher in TEACHERS if region is None or region in teacher.regions]
    return tuple(pair for teacher in teachers for pair in teacher.pairs())


def student_problem(student_id: str) -> str | None:
    """Why `student_id` (with or without its context suffix) names no distillation student, or None."""
    known = sorted({pair.student for pair in offered_pairs()})
    if parse_model_id(student_id).base_model_id in {parse_model_id(student).base_model_id for student in known}:
        return None
    return f"{student_id!r} is not a distillation student (known: {', '.join(known)})"


def offered_regions() -> tuple[str, ...]:
    return tuple(sorted({region for teacher in TEACHERS for region in teacher.regions}))


def describe_pairs(pairs: Iterable[ModelPair]) -> str:
    """Pairs grouped by teacher, one readable line: "t1 -> s1, s2; t2 -> s3"."""
    by_teacher: dict[str, list[str]] = {}
    for pair in pairs:
        by_teacher.setdefault(pair.teacher, []).append(pair.student)
    return "; ".join(f"{teacher} -> {', '.join(students)}" for teacher, students in by_teacher.items()) or "none"


def describe_region(region: str) -> str:
    pairs = offered_pairs(region)
    if not pairs:
        return f"Bedrock offers no distillation pair in {region} (it does in {', '.join(offered_regions())})"
    return f"pairs offered in {region}: {describe_pairs(pairs)}"


def region_default(region: str) -> ModelPair | None:
    """The pair a deployment in `region` uses when none is configured (this project's choice per Region)."""
    return REGION_DEFAULTS.get(region)


def _teacher_named(teacher_id: str) -> Teacher | None:
    base = parse_model_id(teacher_id).base_model_id
    return next((teacher for teacher in TEACHERS if teacher.model_id == base), None)


def _teacher_forms(teacher: Teacher) -> str:
    forms = []
    if teacher.model_id in teacher.identifiers:
        forms.append(f"the model id {teacher.model_id!r}")
    if teacher.inference_profile_id in teacher.identifiers:
        forms.append(f"the inference profile {teacher.inference_profile_id!r}")
    return " or ".join(forms)


def _suffixed(student_id: str) -> str | None:
    """The documented student id with its context suffix that `student_id` lacks (or gets wrong), if any."""
    base = parse_model_id(student_id).base_model_id
    known = {s.model_id for t in TEACHERS for s in t.students if parse_model_id(s.model_id).base_model_id == base}
    return None if student_id in known else next(iter(sorted(known)), None)


def pair_problem(teacher_id: str, student_id: str, region: str | None = None) -> str | None:
    """Why Bedrock would refuse to distil `teacher_id` into `student_id` (in `region`, when given), or None.

    Checked in the order a person fixes them: a known teacher, in the form AWS takes it, a student of the same
    family named with its context suffix, a pair the table lists, offered in this Region.
    """
    if problem := teacher_problem(teacher_id):
        return problem
    teacher = _teacher_named(teacher_id)
    assert teacher is not None
    return _student_problem(teacher_id, teacher, student_id) or (
        _region_problem(teacher_id, teacher, student_id, region) if region is not None else None
    )


def teacher_problem(teacher_id: str) -> str | None:
    """Why `teacher_id` cannot be a distillation teacher as written, or None: an unknown model, or a known
    teacher in a form Bedrock does not take (the table's "Inference profile support" column)."""
    teacher = _teacher_named(teacher_id)
    if teacher is None:
        known = ", ".join(t.model_id for t in TEACHERS)
        return f"{teacher_id!r} is not a supported distillation teacher (teachers: {known})"
    return _form_problem(teacher_id, teacher)


def _form_problem(teacher_id: str, teacher: Teacher) -> str | None:
    if teacher_id in teacher.identifiers:
        return None
    return (
        f"teacher {teacher_id!r}: Bedrock takes {teacher.name} as a distillation teacher only as "
        f"{_teacher_forms(teacher)} ({teacher.inference_profile_support!r} in the user guide's table)"
    )


def _student_problem(teacher_id: str, teacher: Teacher, student_id: str) -> str | None:
    student = parse_model_id(student_id)
    if student.provider != teacher.provider:
        return (
            f"teacher {teacher_id!r} ({teacher.provider}) and student {student_id!r} ({student.provider}) "
            "are from different model families"
        )
    if (suffixed := _suffixed(student_id)) is not None:
        return f"student {student_id!r}: name the student with its context length, {suffixed!r}"
    if student_id not in teacher.student_ids:
        return (
            f"student {student_id!r} is not supported for teacher {teacher_id!r} "
            f"(allowed: {', '.join(teacher.student_ids)})"
        )
    return None


def _region_problem(teacher_id: str, teacher: Teacher, student_id: str, region: str) -> str | None:
    if region in teacher.regions:
        return None
    return (
        f"teacher {teacher_id!r} -> student {student_id!r} is offered only in {', '.join(teacher.regions)}, "
        f"not in {region}; {describe_region(region)}"
    )


def allowed_pair_problem(teacher_id: str, student_id: str, allowed: Sequence[ModelPair] | None) -> str | None:
    """`pair_problem`, then whether the deployment allows the pair (None: it allows whatever the table offers)."""
    if problem := pair_problem(teacher_id, student_id):
        return problem
    if allowed is not None and ModelPair(teacher_id, student_id) not in allowed:
        return (
            f"teacher {teacher_id!r} -> student {student_id!r} is not allowed by this deployment "
            f"(allowed: {describe_pairs(allowed)}); add it to the allowedModelPairs context key and redeploy"
        )
    return None


def teacher_route(teacher_id: str, region: str) -> TeacherRoute:
    """What invoking `teacher_id` (a documented teacher form) from `region` touches. ValueError otherwise."""
    teacher = _teacher_named(teacher_id)
    if teacher is None or teacher_id not in teacher.identifiers:
        raise ValueError(f"{teacher_id!r} is not a distillation teacher in a form Bedrock takes")
    if teacher_id != teacher.inference_profile_id:
        return TeacherRoute(inference_profile_id=None, foundation_model_id=teacher.model_id, regions=(region,))
    destinations = PROFILE_DESTINATIONS.get(teacher_id, {}).get(region)
    if destinations is None:
        raise ValueError(f"inference profile {teacher_id!r} cannot be called from {region}")
    return TeacherRoute(inference_profile_id=teacher_id, foundation_model_id=teacher.model_id, regions=destinations)


def requires_single_turn(student_model_id: str) -> bool:
    """Whether the student's training records must be single-turn (any spelling of its id)."""
    return parse_model_id(student_model_id).provider in SINGLE_TURN_PROVIDERS


# The user guide's "Deploy a custom model for on-demand inference" table: base model -> Regions (catalog.json).
_ON_DEMAND: Final = _DOCUMENT["onDemandDeployment"]
ON_DEMAND_DEPLOYMENT_PAGE: Final = str(_ON_DEMAND["page"]).split(": ", 1)[1].split(" (")[0]
ON_DEMAND_BASE_MODELS: Final[Mapping[str, tuple[str, ...]]] = {
    row["modelId"]: tuple(row["regions"]) for row in _ON_DEMAND["baseModels"]
}


def on_demand_deployment_problem(student_model_id: str, region: str) -> str | None:
    """Why a model distilled into `student_model_id` cannot be served by an on-demand custom model deployment in
    `region`; None when it can."""
    regions = ON_DEMAND_BASE_MODELS.get(_suffixed(student_model_id) or student_model_id)
    if regions is None:
        offered = ", ".join(ON_DEMAND_BASE_MODELS)
        return (
            f"{student_model_id} is not a base model AWS offers on-demand deployment for (only {offered}; "
            f"user guide: {ON_DEMAND_DEPLOYMENT_PAGE}): it needs Provisioned Throughput"
        )
    if region not in regions:
        return (
            f"on-demand deployment of a custom {student_model_id} is offered in {', '.join(regions)}, not in "
            f"{region or 'an unknown Region'} (user guide: {ON_DEMAND_DEPLOYMENT_PAGE})"
        )
    return None
