"""botocore's service models for the two services the emulator answers."""

from __future__ import annotations

from functools import cache

import botocore.session
from botocore.model import OperationModel, ServiceModel

SERVICE_NAMES = ("bedrock", "bedrock-runtime")


@cache
def service_model(service_name: str) -> ServiceModel:
    model: ServiceModel = botocore.session.get_session().get_service_model(service_name)
    return model


def find_operation(operation_name: str) -> OperationModel:
    """The operation of that name in either service; the two services share no operation names."""
    for service_name in SERVICE_NAMES:
        model = service_model(service_name)
        if operation_name in model.operation_names:
            operation: OperationModel = model.operation_model(operation_name)
            return operation
    raise ValueError(f"{operation_name!r} is not an operation of {' or '.join(SERVICE_NAMES)}")


def modeled_error_codes(operation: OperationModel) -> set[str]:
    return {shape.name for shape in operation.error_shapes}


def error_http_status(service: ServiceModel, error_code: str) -> int:
    status: int = service.shape_for_error_code(error_code).metadata["error"]["httpStatusCode"]
    return status
