"""Foundation models, read-only: ListFoundationModels, GetFoundationModel and GetFoundationModelAvailability
over the distillation table's models in the Region (see `distillation`)."""

from __future__ import annotations

from collections.abc import Iterable

from offline.bedrock_emulator import distillation
from offline.bedrock_emulator.core import Handler, Params, Response, base_model_arn, model_id
from offline.bedrock_emulator.errors import BedrockError


class FoundationModelCatalog:
    """`models_without_access`: model ids the account has no access to (not authorized, not entitled), as
    before model access is granted in the console."""

    def __init__(self, models_without_access: Iterable[str]) -> None:
        self._models_without_access = frozenset(models_without_access)

    def operations(self) -> dict[str, Handler]:
        return {
            "ListFoundationModels": self._list_foundation_models,
            "GetFoundationModel": self._get_foundation_model,
            "GetFoundationModelAvailability": self._get_foundation_model_availability,
        }

    def _list_foundation_models(self, params: Params, region: str) -> Response:
        kind = params.get("byCustomizationType")
        return {
            "modelSummaries": [
                _model_summary(model, region)
                for model in distillation.foundation_models(region)
                if kind is None or kind in model.customizations
            ]
        }

    def _foundation_model(self, identifier: str, region: str) -> distillation.FoundationModel:
        wanted = model_id(identifier)
        for model in distillation.foundation_models(region):
            if model.model_id == wanted:
                return model
        raise BedrockError("ResourceNotFoundException", f"The model {identifier} does not exist in {region}.")

    def _get_foundation_model(self, params: Params, region: str) -> Response:
        return {"modelDetails": _model_summary(self._foundation_model(params["modelIdentifier"], region), region)}

    def _get_foundation_model_availability(self, params: Params, region: str) -> Response:
        model = self._foundation_model(params["modelId"], region)
        access = "NOT_AVAILABLE" if model.model_id in self._models_without_access else "AVAILABLE"
        return {
            "modelId": model.model_id,
            "agreementAvailability": {"status": access},
            "authorizationStatus": "NOT_AUTHORIZED" if access == "NOT_AVAILABLE" else "AUTHORIZED",
            "entitlementAvailability": access,
            "regionAvailability": "AVAILABLE",
        }


def _model_summary(model: distillation.FoundationModel, region: str) -> Response:
    return {
        "modelArn": base_model_arn(model.model_id, region),
        "modelId": model.model_id,
        "providerName": model.provider,
        "customizationsSupported": list(model.customizations),
        "modelLifecycle": {"status": "ACTIVE"},
    }
