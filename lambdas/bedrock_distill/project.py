"""The project's names, shared by the stack, the functions, the CLI and the offline world."""

from __future__ import annotations

from typing import Final

PROJECT_NAME: Final = "bedrock-distill"
# The CloudFormation stack `cdk deploy` creates (app.py); the CLI finds the pipeline by this stack's outputs.
STACK_NAME: Final = "BedrockDistill"
