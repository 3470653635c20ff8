"""The runtime: Converse on a foundation model, an InService Provisioned Throughput or an Active custom model
deployment, logged when invocation logging is on. Answers come from `converse`.

A PT or deployment answers as the model behind it: a PT bought for a foundation model as that model would on
demand; a custom model as itself, and a distilled one as its teacher would, on the share of prompts its fidelity
says (`Faults.degrade_student`), and off the point on the rest. So a worse student gives worse answers to the same
prompts, and an evaluation job scores it lower. A custom model is served only through a PT or a deployment.
"""

from __future__ import annotations

import time

from offline.bedrock_emulator.converse import answer, draw, estimate_tokens, prompt_text
from offline.bedrock_emulator.core import Handler, Params, Response, model_id
from offline.bedrock_emulator.custom_models import CustomModels
from offline.bedrock_emulator.deployments import ModelDeployments
from offline.bedrock_emulator.errors import BedrockError
from offline.bedrock_emulator.faults import Faults
from offline.bedrock_emulator.invocation_logging import InvocationLogging
from offline.bedrock_emulator.throughput import ProvisionedThroughputs


class Runtime:
    """`latency_seconds`: a real sleep per call, for concurrency benchmarks (see `wait_as_the_service`)."""

    def __init__(
        self,
        *,
        throughputs: ProvisionedThroughputs,
        deployments: ModelDeployments,
        custom_models: CustomModels,
        logging: InvocationLogging,
        faults: Faults,
        latency_seconds: float,
    ) -> None:
        self._throughputs = throughputs
        self._deployments = deployments
        self._custom_models = custom_models
        self._logging = logging
        self._faults = faults
        self._latency_seconds = latency_seconds

    def operations(self) -> dict[str, Handler]:
        return {"Converse": self._converse}

    def wait_as_the_service(self, operation: str) -> None:
        """The call's latency; the emulator waits outside its lock, so concurrent callers wait in parallel as
        they would on the service."""
        if operation in self.operations() and self._latency_seconds:
            time.sleep(self._latency_seconds)

    def _served_model(self, requested: str) -> str:
        """The model that answers a Converse on `requested`: the one behind a ready PT or deployment, or itself."""
        if ":provisioned-model/" in requested:
            pt = self._throughputs.get(requested)
            if pt.status == "Failed":
                raise BedrockError("ValidationException", f"Provisioned model {pt.name} is Failed")
            if pt.status != "InService":
                raise BedrockError("ModelNotReadyException", f"Provisioned model {pt.name} is {pt.status}")
            return pt.model_arn
        if ":custom-model-deployment/" in requested:
            deployment = self._deployments.get(requested)
            if deployment.status == "Failed":
                raise BedrockError("ValidationException", f"Custom model deployment {deployment.name} is Failed")
            if deployment.status != "Active":
                raise BedrockError(
                    "ModelNotReadyException", f"Custom model deployment {deployment.name} is {deployment.status}"
                )
            return deployment.model_arn
        if ":custom-model/" in requested:
            raise BedrockError(
                "ValidationException",
                "A custom model is served through a Provisioned Throughput or a custom model deployment; use its ARN",
            )
        return requested

    def _answer(self, served: str, params: Params) -> tuple[str, str]:
        custom = self._custom_models.find(served)
        if custom is None:
            # A foundation model, by id or ARN: a PT bought for it answers as the model does on demand.
            return answer(params | {"modelId": model_id(served)})
        distillation = custom.get("customizationConfig", {}).get("distillationConfig", {})
        teacher = distillation.get("teacherModelConfig", {}).get("teacherModelIdentifier")
        if teacher is None:
            return answer(params | {"modelId": custom["modelArn"]})
        fidelity = self._faults.student_fidelity(custom["modelName"])
        # Decided by the base model and the prompt, not the custom model's ARN (random per run), so the same data
        # distilled into the same student at the same fidelity answers alike in every run.
        if draw(custom["baseModelArn"], prompt_text(params)) < fidelity:
            return answer(params | {"modelId": teacher})
        return answer(params | {"modelId": custom["modelArn"]}, on_topic=False)

    def _base_model(self, requested: str) -> str:
        """The foundation model behind what a request names: a custom model's base, or the model itself."""
        served = self._served_model(requested)
        custom = self._custom_models.find(served)
        return model_id(custom["baseModelArn"]) if custom is not None else model_id(served)

    def _converse(self, params: Params, region: str) -> Response:
        text, stop_reason = self._answer(self._served_model(params["modelId"]), params)
        input_tokens, output_tokens = estimate_tokens(prompt_text(params)), estimate_tokens(text)
        response: Response = {
            "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
            "stopReason": stop_reason,
            "usage": {
                "inputTokens": input_tokens,
                "outputTokens": output_tokens,
                "totalTokens": input_tokens + output_tokens,
            },
            "metrics": {"latencyMs": 150 + _ms_per_output_token(self._base_model(params["modelId"])) * output_tokens},
        }
        self._logging.log_converse(params, response, region)
        return response


# The emulated generation speed by model size, so a smaller student answers faster than its teacher in a scorecard.
# The shape only (bigger is slower), not AWS's figures.
_MS_PER_OUTPUT_TOKEN_BY_SIZE = (
    (("405b", "premier"), 20),
    (("70b", "nova-pro"), 12),
    (("8b", "3b", "1b", "nova-lite", "nova-micro"), 4),
)
_DEFAULT_MS_PER_OUTPUT_TOKEN = 8


def _ms_per_output_token(model: str) -> int:
    for markers, milliseconds in _MS_PER_OUTPUT_TOKEN_BY_SIZE:
        if any(marker in model for marker in markers):
            return milliseconds
    return _DEFAULT_MS_PER_OUTPUT_TOKEN
