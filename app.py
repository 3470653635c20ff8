#!/usr/bin/env python3
"""The bedrock-distill CDK app: `make synth` locally, `npx aws-cdk deploy` for a real account."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from aws_cdk import App

from stacks.app_builder import build_app
from stacks.config import ConfigurationError


def main() -> int:
    # The CDK CLI passes cdk.json's context itself; `make synth` runs this file without the CLI.
    # Values given to App() are defaults that the CLI's context and `-c key=value` override.
    defaults = json.loads((Path(__file__).parent / "cdk.json").read_text())["context"]
    app = App(context=defaults)
    try:
        build_app(app)
    except ConfigurationError as error:
        print(error, file=sys.stderr)
        return 1
    app.synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())
