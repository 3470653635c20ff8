"""Per-dataset settings: an optional JSON file uploaded beside a dataset (`prompts.json` for `prompts.jsonl`).

Every problem is reported as `FILE:LINE: FIELD: reason`, like the dataset validator's, so a person can
open the file at the line and fix it.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from bedrock_distill.catalog import allowed_pair_problem
from bedrock_distill.preflight import check_filter
from bedrock_distill.preflight.strict_json import InvalidJsonError, load_json
from bedrock_distill.workflow.errors import InvalidExecutionInput
from bedrock_distill.workflow.log_scope import located, scoped_filter
from bedrock_distill.workflow.run import (
    ExecutionInput,
    InvocationLogsSource,
    NotEmpty,
    TrainingData,
    model_units_problem,
)
from bedrock_distill.workflow.settings import PipelineSettings


class DatasetSettings(BaseModel):
    """What a sidecar may set. With `filter`, the run distils from the invocation logs the filter selects,
    and the uploaded prompts, which it then does not train on, become its validation prompts ("given").
    Without `filter`, it trains on the uploaded prompts, and Preflight holds its validation prompts out
    of them (workflow/hold_out.py)."""

    # strict: no coercion, "7" is not 7 and true is not 1.
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True, strict=True)

    student_model_id: Annotated[str | None, NotEmpty] = None
    teacher_model_id: Annotated[str | None, NotEmpty] = None
    filter: dict[str, Any] | None = None
    provisioned_model_units: Annotated[int | None, Field(ge=1)] = None

    def apply_to(self, execution_input: ExecutionInput) -> ExecutionInput:
        update: dict[str, Any] = {
            name: value
            for name, value in {
                "student_model_id": self.student_model_id,
                "teacher_model_id": self.teacher_model_id,
                "provisioned_model_units": self.provisioned_model_units,
            }.items()
            if value is not None
        }
        if self.filter is not None:
            prompts = execution_input.training_data.prompts
            if prompts is not None and execution_input.validation_prompts is not None:
                raise ValueError(
                    f"{execution_input.dataset_settings}: filter: the run would train from invocation logs and "
                    f"validate on validationPrompts, so {prompts} would be neither trained nor validated on; give "
                    "either trainingData.prompts (validated on, as the upload is) or validationPrompts, not both"
                )
            update["training_data"] = TrainingData(
                invocation_logs=InvocationLogsSource(request_metadata_filters=self.filter)
            )
            update["validation_prompts"] = execution_input.validation_prompts or prompts
        return execution_input.model_copy(update=update)


def load_dataset_settings(text: str, uri: str, pipeline: PipelineSettings) -> DatasetSettings:
    """Parse and check a settings file; InvalidExecutionInput names the file, line, field and reason.

    A teacher or student it names must make, with the deployment's default for the other, a pair the deployment
    allows; its provisionedModelUnits must be within the deployment's limit and its filter within the deployment's
    invocation-log scope: the same checks Preflight makes on every run (workflow/run.py), here with the file's line.
    """
    try:
        document = load_json(text)
    except InvalidJsonError as error:
        raise InvalidExecutionInput(
            "\n".join(f"{uri}:{p.line}: {p.field if p.path else '(file)'}: {p.reason}" for p in error.problems)
        ) from None
    try:
        settings = DatasetSettings.model_validate(document)
    except ValidationError as error:
        problems = []
        for problem in error.errors():
            path = ".".join(str(part) for part in problem["loc"]) or "(file)"
            line = _line_of(text, str(problem["loc"][0])) if problem["loc"] else 1
            problems.append(f"{uri}:{line}: {path}: {problem['msg']}")
        raise InvalidExecutionInput("\n".join(problems)) from None
    if settings.filter is not None and (violations := check_filter(settings.filter)):
        line = _line_of(text, "filter")
        raise InvalidExecutionInput(
            "\n".join(f"{uri}:{line}: filter.{violation.field}: {violation.reason}" for violation in violations)
        )
    if settings.filter is not None:
        _, outside_scope = scoped_filter(settings.filter, pipeline.invocation_log_scope)
        if outside_scope:
            line = _line_of(text, "filter")
            raise InvalidExecutionInput("\n".join(f"{uri}:{line}: {located('filter', v)}" for v in outside_scope))
    if settings.provisioned_model_units is not None and (
        refusal := model_units_problem(settings.provisioned_model_units, pipeline)
    ):
        key = "provisionedModelUnits"
        raise InvalidExecutionInput(f"{uri}:{_line_of(text, key)}: {key}: {refusal}")
    if settings.teacher_model_id is not None or settings.student_model_id is not None:
        teacher = settings.teacher_model_id or pipeline.default_teacher_model_id
        student = settings.student_model_id or pipeline.default_student_model_id
        if refusal := allowed_pair_problem(teacher, student, pipeline.allowed_model_pairs):
            key = "studentModelId" if settings.student_model_id is not None else "teacherModelId"
            raise InvalidExecutionInput(f"{uri}:{_line_of(text, key)}: {key}: {refusal}")
    return settings


def _line_of(text: str, key: str) -> int:
    """The line where `key` first appears as a JSON key; 1 when it cannot be found."""
    match = re.search(rf'"{re.escape(key)}"\s*:', text)
    return text.count("\n", 0, match.start()) + 1 if match else 1
