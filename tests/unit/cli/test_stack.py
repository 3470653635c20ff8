"""Stack discovery from CloudFormation outputs, and the AWS options every operator command takes."""

from __future__ import annotations

from pathlib import Path

import pytest

from bedrock_distill.workflow.errors import AwsNotConfigured
from distill_cli import AwsOptions, AwsSession, OperatorError
from distill_cli.commands import Context
from distill_cli.main import _build_parser, main
from distill_cli.stack import StackGateway
from offline.bedrock_emulator import BedrockEmulator
from tests.unit.cli.conftest import LOG_SOURCE, STACK, TEACHER, Deployment, FakeClock, create_stack

pytestmark = pytest.mark.unit


def _stacks() -> StackGateway:
    return StackGateway(AwsSession().lazy("cloudformation"))


def test_the_stack_is_found_by_name_with_its_outputs(deployment: Deployment) -> None:
    # When the deployed stack is looked up by its default name
    stack = _stacks().find(STACK)
    # Then every output the commands use is there, S3 locations as prefixes
    assert stack.state_machine_arn == deployment.state_machine_arn
    assert stack.input_location == "s3://distill-inputs/datasets/"
    assert stack.output_location == "s3://distill-outputs/jobs/"
    assert stack.invocation_log_source == LOG_SOURCE
    assert stack.teacher_model_id == TEACHER
    assert stack.region == "us-west-2"
    assert stack.run_prefix("run-1") == "s3://distill-outputs/jobs/run-1/"


def test_a_missing_stack_is_one_line_and_exit_2(deployment: Deployment, capsys: pytest.CaptureFixture[str]) -> None:
    # When a command names a stack that does not exist
    code = main(["list", "--stack-name", "NoSuchStack"])
    # Then it exits 2 with one line naming the stack, the Region and what to do
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.count("\n") == 0
    assert err.startswith("distill: stack NoSuchStack not found in us-west-2")
    assert "--stack-name" in err


def test_a_missing_output_is_named(emulator: BedrockEmulator, capsys: pytest.CaptureFixture[str]) -> None:
    # Given a stack without the StateMachineArn output (an older or broken deployment)
    create_stack("Partial", {"InputLocation": "s3://b/datasets/"})
    # When a command needs it
    code = main(["status", "--stack-name", "Partial"])
    # Then it exits 2 naming the missing output and the ones present
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert "stack Partial in us-west-2 has no output StateMachineArn (its outputs: InputLocation)" in err
    with pytest.raises(OperatorError, match="no output TeacherModelId"):
        _ = _stacks().find("Partial").teacher_model_id


def test_endpoint_url_and_region_reach_every_client(clock: FakeClock) -> None:
    # Given the AWS CLI's options on an operator command
    args = _build_parser().parse_args(
        ["status", "--endpoint-url", "http://localhost:4566", "--region", "eu-west-3", "run-1"]
    )
    context = Context(args, clock)
    # When the command's clients are created
    clients = [context.aws.client(name) for name in ("cloudformation", "stepfunctions", "bedrock", "s3")]
    # Then each one has that endpoint and Region
    assert {client.meta.endpoint_url for client in clients} == {"http://localhost:4566"}
    assert {client.meta.region_name for client in clients} == {"eu-west-3"}
    assert context.aws.region == "eu-west-3"


def test_profile_selects_the_profiles_region_and_credentials(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clock: FakeClock
) -> None:
    # Given a shared config file with a named profile
    config = tmp_path / "config"
    config.write_text(
        "[profile operator]\nregion = ap-southeast-2\naws_access_key_id = AKIAOPERATOR\n"
        "aws_secret_access_key = secret\n"
    )
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    # (and no keys or Region in the environment, which would win over the profile's, as for the AWS CLI)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name)
    # When a command runs with --profile
    args = _build_parser().parse_args(
        ["generate-logs", "--profile", "operator", "--prompts", "p.txt", "--teacher", TEACHER, "--metadata", "k=v"]
    )
    client = Context(args, clock).aws.client("bedrock-runtime")
    # Then its clients use the profile's Region and keys, with no endpoint override
    assert client.meta.region_name == "ap-southeast-2"
    assert client._request_signer._credentials.access_key == "AKIAOPERATOR"
    assert client.meta.endpoint_url == "https://bedrock-runtime.ap-southeast-2.amazonaws.com"


def test_an_unknown_profile_is_a_one_line_error(capsys: pytest.CaptureFixture[str]) -> None:
    # When the profile does not exist
    session = AwsSession(AwsOptions(profile="nobody"))
    # Then the error says so, as one named error (the CLI's edge prints it on one line, exit code 2)
    with pytest.raises(AwsNotConfigured, match="The config profile \\(nobody\\) could not be found"):
        session.client("s3")
