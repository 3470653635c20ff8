"""Builds the CDK app; `app.py` and the tests share it so tests check exactly what deploys."""

from __future__ import annotations

import os
from collections.abc import Mapping

from aws_cdk import App, Validations
from cdk_nag import AwsSolutionsChecks, ServerlessChecks

from stacks.acknowledgements import acknowledge_reviewed_findings
from stacks.config import STACK_ID, DistillConfig, deploy_environment
from stacks.distill_stack import DistillStack


def build_app(
    app: App, *, acknowledge_findings: bool = True, variables: Mapping[str, str] | None = None
) -> DistillStack:
    """`acknowledge_findings=False` exists for the test that proves every acknowledgement is still needed.

    `variables`: where CDK_DEFAULT_REGION/CDK_DEFAULT_ACCOUNT are read (the process environment, as the CDK CLI
    sets them); tests pass their own to synthesize for several Regions in one process.
    """
    environment = deploy_environment(os.environ if variables is None else variables)
    config = DistillConfig.from_context(app.node, str(environment.region))
    stack = DistillStack(app, STACK_ID, config=config, env=environment)
    if acknowledge_findings:
        acknowledge_reviewed_findings(stack)
    Validations.of(app).add_plugins(AwsSolutionsChecks(app, verbose=True), ServerlessChecks(app, verbose=True))
    return stack
