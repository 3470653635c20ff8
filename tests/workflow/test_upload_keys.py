"""An upload whose key has an upper-case extension, spaces, a plus and unicode starts its run end to end:
through the EventBridge rule (which filters by prefix only) and the upload function's key handling."""

from __future__ import annotations

import pytest

from bedrock_distill.workflow.settings import UPLOAD_TRIGGER_PREFIX
from offline.pipeline import LocalPipeline
from tests.workflow.conftest import conversation_record, upload_prompts

pytestmark = pytest.mark.workflow


def test_an_awkward_key_with_an_upper_case_extension_starts_its_run(pipeline: LocalPipeline) -> None:
    # Given a dataset uploaded as "Q1 tickets+notes über.JSONL"
    key = f"{UPLOAD_TRIGGER_PREFIX}/Q1 tickets+notes über.JSONL"
    uri = upload_prompts(pipeline.names.input_bucket, key, [conversation_record(i) for i in range(120)])

    # When the pipeline has handled the upload event
    pipeline.settle()
    assert pipeline.pump is not None
    (delivery,) = pipeline.pump.deliveries_to("uploads")

    # Then a run started on the object as stored, and succeeded
    assert delivery.succeeded, delivery.result
    assert (delivery.result["action"], delivery.result["objectUri"]) == ("started", uri), delivery.result
    result = pipeline.wait(delivery.result["executionArn"])
    assert result["status"] == "SUCCEEDED", result.get("cause")
    assert result["name"].startswith("upload-Q1-tickets-notes-ber-")
