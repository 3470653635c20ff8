"""The runtime: Converse on a foundation model or on an InService Provisioned Throughput, logged when
invocation logging is on. Answers come from `converse`; a custom model is served only through a PT."""

from __future__ import annotations

import time

from offline.bedrock_emulator.converse import answer, estimate_tokens, prompt_text
from offline.bedrock_emulator.core import Handler, Params, Response
from offline.bedrock_emulator.errors import BedrockError
from offline.bedrock_emulator.invocation_logging import InvocationLogging
from offline.bedrock_emulator.throughput import ProvisionedThroughputs


class Runtime:
    """`latency_seconds`: a real sleep per call, for concurrency benchmarks (see `wait_as_the_service`)."""

    def __init__(
        self, throughputs: ProvisionedThroughputs, logging: InvocationLogging, *, latency_seconds: float
    ) -> None:
        self._throughputs = throughputs
        self._logging = logging
        self._latency_seconds = latency_seconds

    def operations(self) -> dict[str, Handler]:
        return {"Converse": self._converse}

    def wait_as_the_service(self, operation: str) -> None:
        """The call's latency; the emulator waits outside its lock, so concurrent callers wait in parallel as
        they would on the service."""
        if operation in self.operations() and self._latency_seconds:
            time.sleep(self._latency_seconds)

    def _converse(self, params: Params, region: str) -> Response:
        model_id = params["modelId"]
        if ":provisioned-model/" in model_id:
            pt = self._throughputs.get(model_id)
            if pt.status == "Failed":
                raise BedrockError("ValidationException", f"Provisioned model {pt.name} is Failed")
            if pt.status != "InService":
                raise BedrockError("ModelNotReadyException", f"Provisioned model {pt.name} is {pt.status}")
        elif ":custom-model/" in model_id:
            raise BedrockError(
                "ValidationException", "A custom model is served through a Provisioned Throughput; use its ARN"
            )
        text, stop_reason = answer(params)
        input_tokens, output_tokens = estimate_tokens(prompt_text(params)), estimate_tokens(text)
        response: Response = {
            "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
            "stopReason": stop_reason,
            "usage": {
                "inputTokens": input_tokens,
                "outputTokens": output_tokens,
                "totalTokens": input_tokens + output_tokens,
            },
            "metrics": {"latencyMs": 150 + 8 * output_tokens},
        }
        self._logging.log_converse(params, response, region)
        return response
