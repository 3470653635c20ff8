"""One boto3 session per command, configured the way the AWS CLI is, and its clients created on first use.

``--profile`` and ``--region`` go to ``boto3.session.Session(profile_name=..., region_name=...)``, so
``AWS_PROFILE``, the credential chain and the shared config files apply exactly as for the AWS CLI when
they are not given. The Region follows the AWS CLI v2's order: ``--region``, then ``AWS_REGION`` (which
botocore itself does not read), then ``AWS_DEFAULT_REGION``, then the profile's ``region``.

``--endpoint-url`` goes to every client the command creates: one endpoint for every service, as LocalStack
and similar emulators serve them. Without it botocore resolves configured endpoints as the AWS CLI does:
``AWS_ENDPOINT_URL_<SERVICE>``, ``AWS_ENDPOINT_URL``, the profile's ``endpoint_url`` and ``services``
section, all switched off by ``AWS_IGNORE_CONFIGURED_ENDPOINT_URLS``.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from functools import cache, cached_property
from typing import Any

from bedrock_distill.gateways.calls import named_errors
from bedrock_distill.gateways.clients import LazyClient
from bedrock_distill.gateways.s3 import S3Gateway
from bedrock_distill.project import PROJECT_NAME
from distill_cli.errors import NO_REGION, OperatorError

USER_AGENT_EXTRA = f"{PROJECT_NAME}-cli"
# The AWS CLI v2 and every other AWS SDK read AWS_REGION ahead of AWS_DEFAULT_REGION; botocore reads only the latter.
REGION_VARIABLE = "AWS_REGION"

STANDARD_RETRIES: dict[str, Any] = {"mode": "standard", "max_attempts": 3}


@dataclass(frozen=True)
class AwsOptions:
    profile: str | None = None
    region: str | None = None
    endpoint_url: str | None = None


class AwsSession:
    """The command's AWS session. Nothing is imported or created until a client is first asked for."""

    def __init__(self, options: AwsOptions | None = None) -> None:
        self.options = options or AwsOptions()
        self._clients: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()

    @cached_property
    def boto_session(self) -> Any:
        import boto3  # noqa: PLC0415 - local commands that never reach AWS never pay for boto3
        import botocore.session  # noqa: PLC0415

        core = botocore.session.Session()
        core.register_component("data_loader", _shared_loader())
        with named_errors("session", "AWS session"):
            return boto3.session.Session(
                botocore_session=core, profile_name=self.options.profile, region_name=self._requested_region()
            )

    def _requested_region(self) -> str | None:
        """--region, else AWS_REGION; None leaves AWS_DEFAULT_REGION and the profile's region to botocore."""
        return self.options.region or os.environ.get(REGION_VARIABLE) or None

    def client(
        self, service_name: str, *, retries: dict[str, Any] | None = None, max_pool_connections: int = 10
    ) -> Any:
        """A client of this session; the same one for the same service and settings. Thread-safe."""
        from botocore.config import Config  # noqa: PLC0415

        key = (service_name, repr((retries, max_pool_connections)))
        with self._lock:
            if key not in self._clients:
                config = Config(
                    retries=retries or STANDARD_RETRIES,
                    max_pool_connections=max_pool_connections,
                    user_agent_extra=USER_AGENT_EXTRA,
                )
                with named_errors(service_name, f"{service_name} client"):
                    self._clients[key] = self.boto_session.client(
                        service_name, endpoint_url=self.options.endpoint_url, config=config
                    )
            return self._clients[key]

    def lazy(self, service_name: str, **settings: Any) -> LazyClient:
        """A LazyClient for the project's gateways, creating this session's client on first use."""
        return SessionClient(self, service_name, settings)

    @cached_property
    def s3(self) -> S3Gateway:
        return S3Gateway(self.client("s3"))

    @property
    def configured_region(self) -> str | None:
        """The Region as configured here (options, environment, config files), with no network call."""
        region = self.boto_session.region_name
        return str(region) if region else None

    @property
    def region(self) -> str:
        """The session's Region: --region, else AWS_REGION, else AWS_DEFAULT_REGION, else the profile's."""
        region = self.configured_region
        if region is None:
            raise OperatorError(NO_REGION)
        return region


@cache
def _shared_loader() -> Any:
    """botocore's service models, loaded once per process: a new session would parse them again (a
    tenth of a second per command in a process that runs several, such as the tests)."""
    from botocore.loaders import create_loader  # noqa: PLC0415

    return create_loader()


class SessionClient(LazyClient):
    def __init__(self, session: AwsSession, service_name: str, settings: dict[str, Any]) -> None:
        super().__init__(service_name)
        self._session = session
        self._settings = settings

    @cached_property
    def client(self) -> Any:
        return self._session.client(self._service_name, **self._settings)
