from __future__ import annotations

import pytest

from bedrock_emulator import BedrockEmulator
from offline.pipeline import LocalPipeline
from tests.workflow.conftest import conversation_record, upload_prompts

pytestmark = pytest.mark.workflow


def test_distillation_from_s3_prompts_succeeds_and_leaves_no_provisioned_throughput(
    pipeline: LocalPipeline, emulator: BedrockEmulator
) -> None:
    prompts = upload_prompts(
        pipeline.names.input_bucket, "datasets/tickets.jsonl", [conversation_record(i) for i in range(120)]
    )
    execution_arn = pipeline.start_execution({"trainingData": {"prompts": prompts}}, name="happy")
    result = pipeline.wait(execution_arn)
    assert result["status"] == "SUCCEEDED", pipeline.history(execution_arn)[-5:]
    assert emulator.live_provisioned_throughputs() == []
