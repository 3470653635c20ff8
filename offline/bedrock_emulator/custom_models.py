"""Custom models: what a completed customization job registers, read with GetCustomModel and ListCustomModels."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING

from offline.bedrock_emulator.core import (
    Handler,
    Params,
    Response,
    base_model_arn,
    created_between,
    model_id,
    new_id,
    page,
    without_none,
)
from offline.bedrock_emulator.errors import BedrockError
from offline.bedrock_emulator.tags import Tags

if TYPE_CHECKING:
    from offline.bedrock_emulator.jobs import Job

_MODEL_SUMMARY_KEYS = ("modelArn", "modelName", "creationTime", "baseModelArn", "customizationType", "modelStatus")


class CustomModels:
    """Every registered custom model by ARN, as GetCustomModel describes it."""

    def __init__(self, account_id: str, tags: Tags) -> None:
        self._account_id = account_id
        self._tags = tags
        self.by_arn: dict[str, Response] = {}

    def operations(self) -> dict[str, Handler]:
        return {"GetCustomModel": self._get_custom_model, "ListCustomModels": self._list_custom_models}

    def register(self, job: Job, training_loss: float, validation_loss: float) -> str:
        """The model `job` trained, registered Active at the job's end; returns its ARN."""
        request = job.request
        model_arn = (
            f"arn:aws:bedrock:{job.region}:{self._account_id}:custom-model/"
            f"{model_id(request['baseModelIdentifier'])}/{new_id()}"
        )
        self.by_arn[model_arn] = without_none(
            {
                "modelArn": model_arn,
                "modelName": request["customModelName"],
                "jobName": job.name,
                "jobArn": job.arn,
                "baseModelArn": base_model_arn(request["baseModelIdentifier"], job.region),
                "customizationType": request.get("customizationType", "FINE_TUNING"),
                "hyperParameters": request.get("hyperParameters"),
                "trainingDataConfig": request["trainingDataConfig"],
                "validationDataConfig": request.get("validationDataConfig"),
                "outputDataConfig": request["outputDataConfig"],
                "trainingMetrics": {"trainingLoss": training_loss},
                "validationMetrics": [{"validationLoss": validation_loss}],
                "creationTime": job.ends_at,
                "customizationConfig": request.get("customizationConfig"),
                "modelStatus": "Active",
            }
        )
        self._tags.created(model_arn, request.get("customModelTags", []))
        return model_arn

    def find(self, identifier: str) -> Response | None:
        """The model named `identifier` or with that ARN."""
        return next((m for m in self.by_arn.values() if identifier in (m["modelArn"], m["modelName"])), None)

    def _get_custom_model(self, params: Params, region: str) -> Response:
        model = self.find(params["modelIdentifier"])
        if model is None:
            raise BedrockError("ResourceNotFoundException", f"Custom model {params['modelIdentifier']} not found")
        return copy.deepcopy(model)

    def _list_custom_models(self, params: Params, region: str) -> Response:
        models = [
            model
            for model in created_between(self.by_arn.values(), params, lambda m: m["creationTime"])
            if params.get("nameContains", "").lower() in model["modelName"].lower()
            and params.get("baseModelArnEquals") in (None, model["baseModelArn"])
            and params.get("foundationModelArnEquals") in (None, model["baseModelArn"])
            and params.get("modelStatus") in (None, model["modelStatus"])
            and params.get("isOwned", True)
        ]
        summaries = [
            {key: model[key] for key in _MODEL_SUMMARY_KEYS}
            | {"baseModelName": model["baseModelArn"].rsplit("/", 1)[-1][:63], "ownerAccountId": self._account_id}
            for model in models
        ]
        return page(summaries, params, "modelSummaries")
