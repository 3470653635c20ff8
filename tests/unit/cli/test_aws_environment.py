"""The operator commands take Region, profile, credentials and endpoints from the environment exactly as the
AWS CLI does: each variable alone is enough, and the same precedence applies."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from distill_cli.commands import Context
from distill_cli.main import _build_parser, main
from tests.unit.cli.conftest import REGION, Deployment, FakeClock

pytestmark = pytest.mark.unit

SERVICES = ("cloudformation", "stepfunctions", "s3", "bedrock", "bedrock-runtime")


def _clients(clock: FakeClock, *options: str) -> dict[str, Any]:
    """The clients an operator command creates, by service, for these command-line options."""
    context = Context(_build_parser().parse_args(["list", *options]), clock)
    return {name: context.aws.client(name) for name in SERVICES}


def _only_region_variable(monkeypatch: pytest.MonkeyPatch, name: str | None, value: str = REGION) -> None:
    for variable in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(variable)
    if name is not None:
        monkeypatch.setenv(name, value)


@pytest.mark.parametrize("variable", ["AWS_REGION", "AWS_DEFAULT_REGION"])
def test_either_region_variable_alone_is_enough(
    variable: str, deployment: Deployment, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given only one of the two Region variables, set to the stack's Region
    _only_region_variable(monkeypatch, variable)
    # When a command that needs the stack runs
    code = main(["list", "--json"])
    # Then it finds the stack in that Region
    assert code == 0, capsys.readouterr().err
    assert capsys.readouterr().out.strip() == "[]"


def test_aws_region_wins_over_aws_default_region_and_region_over_both(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch, clock: FakeClock, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given AWS_REGION and a different AWS_DEFAULT_REGION, as the AWS CLI v2 documents their order
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-central-1")
    # Then the commands use AWS_REGION
    assert main(["list", "--json"]) == 0, capsys.readouterr().err
    assert {client.meta.region_name for client in _clients(clock).values()} == {REGION}
    # And --region wins over both
    assert {client.meta.region_name for client in _clients(clock, "--region", "ap-south-1").values()} == {"ap-south-1"}


def test_no_region_anywhere_names_every_way_to_give_one(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given no Region variable and no profile Region
    _only_region_variable(monkeypatch, None)
    # When a command needs a Region
    code = main(["status"])
    # Then it exits 2 with one line naming --region, both variables and the profile
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.count("\n") == 0
    assert "no AWS Region: pass --region, set AWS_REGION (or AWS_DEFAULT_REGION), or give the profile a region" in err


def test_aws_profile_selects_the_profiles_region_and_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clock: FakeClock
) -> None:
    # Given a shared config file (AWS_CONFIG_FILE) with a named profile, chosen by AWS_PROFILE alone
    config = tmp_path / "config"
    config.write_text(
        "[profile operator]\nregion = ap-southeast-2\naws_access_key_id = AKIAPROFILE\naws_secret_access_key = s\n"
    )
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_PROFILE", "operator")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name)
    _only_region_variable(monkeypatch, None)
    # When a command creates its clients
    clients = _clients(clock)
    # Then they use the profile's Region and keys
    assert {client.meta.region_name for client in clients.values()} == {"ap-southeast-2"}
    assert {client._request_signer._credentials.access_key for client in clients.values()} == {"AKIAPROFILE"}


def test_configured_endpoints_reach_the_clients_as_for_the_aws_cli(
    monkeypatch: pytest.MonkeyPatch, clock: FakeClock
) -> None:
    # Given AWS_ENDPOINT_URL for every service, and a service-specific one for bedrock-runtime
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://localhost:4566")
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", "http://localhost:8000")
    # Then each client sends to its configured endpoint, the service-specific one first
    endpoints = {name: client.meta.endpoint_url for name, client in _clients(clock).items()}
    assert endpoints == dict.fromkeys(SERVICES, "http://localhost:4566") | {"bedrock-runtime": "http://localhost:8000"}
    # And --endpoint-url wins over both
    overridden = _clients(clock, "--endpoint-url", "http://localhost:9999").values()
    assert {client.meta.endpoint_url for client in overridden} == {"http://localhost:9999"}
    # And AWS_IGNORE_CONFIGURED_ENDPOINT_URLS switches the variables off
    monkeypatch.setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true")
    assert _clients(clock)["bedrock"].meta.endpoint_url == f"https://bedrock.{REGION}.amazonaws.com"
