"""The project's names, shared by the stack, the functions, the CLI and the offline world."""

from __future__ import annotations

from typing import Final

PROJECT_NAME: Final = "bedrock-distill"
# The CloudFormation stack `cdk deploy` creates (app.py); the CLI finds the pipeline by this stack's outputs.
STACK_NAME: Final = "BedrockDistill"

# The stack's outputs the CLI reads (`distill` finds the pipeline by them): the stack names them from here.
STATE_MACHINE_ARN_OUTPUT: Final = "StateMachineArn"
INPUT_LOCATION_OUTPUT: Final = "InputLocation"
UPLOAD_LOCATION_OUTPUT: Final = "UploadLocation"
OUTPUT_LOCATION_OUTPUT: Final = "OutputLocation"
OUTCOME_TOPIC_ARN_OUTPUT: Final = "OutcomeTopicArn"
INVOCATION_LOG_SOURCE_OUTPUT: Final = "InvocationLogSource"
TEACHER_MODEL_ID_OUTPUT: Final = "TeacherModelId"
STUDENT_MODEL_ID_OUTPUT: Final = "StudentModelId"
DISTILLATION_SERVICE_ROLE_ARN_OUTPUT: Final = "DistillationServiceRoleArn"
