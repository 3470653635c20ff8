"""Builds the CDK app; `app.py` and the tests share it so tests check exactly what deploys."""

from __future__ import annotations

from aws_cdk import App, Validations
from cdk_nag import AwsSolutionsChecks, ServerlessChecks

from stacks.acknowledgements import acknowledge_reviewed_findings
from stacks.config import STACK_ID, DistillConfig
from stacks.distill_stack import DistillStack


def build_app(app: App, *, acknowledge_findings: bool = True) -> DistillStack:
    """`acknowledge_findings=False` exists for the test that proves every acknowledgement is still needed."""
    config = DistillConfig.from_context(app.node)
    stack = DistillStack(app, STACK_ID, config=config)
    if acknowledge_findings:
        acknowledge_reviewed_findings(stack)
    Validations.of(app).add_plugins(AwsSolutionsChecks(app, verbose=True), ServerlessChecks(app, verbose=True))
    return stack
