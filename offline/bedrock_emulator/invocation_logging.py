"""Model invocation logging: the per-Region configuration (Put/Get/DeleteModelInvocationLoggingConfiguration)
and the records Bedrock delivers to S3 for each runtime call while it is on (layout in `invocation_logs`)."""

from __future__ import annotations

import copy
import threading
import uuid

from offline.bedrock_emulator.core import Account, Handler, Params, Response
from offline.bedrock_emulator.errors import BedrockError
from offline.bedrock_emulator.invocation_logs import check_destination, write_record


class InvocationLogging:
    """The logging configuration of each Region; records are written as `caller_arn`'s calls."""

    def __init__(self, account: Account, caller_arn: str) -> None:
        self._account = account
        self.caller_arn = caller_arn
        self.by_region: dict[str, Params] = {}
        # The record a runtime call on this thread still has to write, once the emulator's lock is released.
        self._pending = threading.local()

    def operations(self) -> dict[str, Handler]:
        return {
            "PutModelInvocationLoggingConfiguration": self._put_logging,
            "GetModelInvocationLoggingConfiguration": self._get_logging,
            "DeleteModelInvocationLoggingConfiguration": self._delete_logging,
        }

    def log_converse(self, params: Params, response: Response, region: str) -> None:
        """Prepare the record of one Converse, when text delivery to S3 is on in `region`; `write_pending`
        writes it."""
        configuration = self.by_region.get(region, {})
        if "s3Config" not in configuration or not configuration.get("textDataDeliveryEnabled"):
            return
        now = self._account.clock.now()
        record = {
            "schemaType": "ModelInvocationLog",
            "schemaVersion": "1.0",
            "timestamp": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "accountId": self._account.account_id,
            "identity": {"arn": self.caller_arn},
            "region": region,
            "requestId": str(uuid.uuid4()),
            "operation": "Converse",
            "modelId": params["modelId"],
            "input": {
                "inputContentType": "application/json",
                "inputBodyJson": {
                    key: params[key] for key in ("messages", "system", "inferenceConfig") if key in params
                },
                "inputTokenCount": response["usage"]["inputTokens"],
            },
            "output": {
                "outputContentType": "application/json",
                "outputBodyJson": response,
                "outputTokenCount": response["usage"]["outputTokens"],
            },
        }
        if "requestMetadata" in params:
            record["requestMetadata"] = params["requestMetadata"]
        self._pending.log_write = (self._account.s3(region), copy.deepcopy(configuration["s3Config"]), record, now)

    def write_pending(self) -> None:
        """Write the record this thread prepared, if any; call without the emulator's lock, as Bedrock delivers
        logs on its own side: concurrent callers do not queue on S3."""
        pending = getattr(self._pending, "log_write", None)
        if pending is not None:
            self._pending.log_write = None
            with self._account.as_bedrock():
                write_record(*pending)

    def _put_logging(self, params: Params, region: str) -> Response:
        configuration = params["loggingConfig"]
        if "s3Config" not in configuration and "cloudWatchConfig" not in configuration:
            raise BedrockError("ValidationException", "loggingConfig needs s3Config or cloudWatchConfig")
        if "s3Config" in configuration:
            with self._account.as_bedrock():
                check_destination(self._account.s3(region), configuration["s3Config"], region)
        self.by_region[region] = copy.deepcopy(configuration)
        return {}

    def _get_logging(self, params: Params, region: str) -> Response:
        configuration = self.by_region.get(region)
        return {"loggingConfig": copy.deepcopy(configuration)} if configuration else {}

    def _delete_logging(self, params: Params, region: str) -> Response:
        self.by_region.pop(region, None)
        return {}
