#!/usr/bin/env python3
"""The bedrock-distill CDK app: `make synth` locally, `npx aws-cdk deploy` for a real account."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from aws_cdk import App

from stacks.app_builder import build_app
from stacks.config import LAMBDA_LAYER_DIR, ConfigurationError

# Written by `make layer` once the layer is complete; the layer asset is read relative to the working directory.
LAYER_BUILT_MARKER = Path(LAMBDA_LAYER_DIR) / ".built"


def main() -> int:
    if not LAYER_BUILT_MARKER.exists():
        # Otherwise the CDK fails deep inside jsii with "Cannot find asset" and a long traceback.
        print(f"The Lambda layer ({LAMBDA_LAYER_DIR}) is not built: run 'make install'", file=sys.stderr)
        return 1
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
