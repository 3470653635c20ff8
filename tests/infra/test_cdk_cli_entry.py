"""What the CDK CLI runs (cdk.json's `app`): bin/cdk-app builds what is missing, app.py refuses what cannot work.

bin/cdk-app is exercised in a copy of the repository with stub `make` and `.venv/bin/python` scripts, so no venv is
built and no network is used; the real Makefile is used only where it fails before building anything.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from aws_cdk import App

from stacks.config import ConfigurationError, DistillConfig
from tests.infra.conftest import DEPLOY_REGION, REPO_ROOT, default_context, run_app

pytestmark = pytest.mark.infra

SCRIPT = REPO_ROOT / "bin" / "cdk-app"
# What the stubs need; the script itself needs no tool but make before it execs the venv's Python.
SYSTEM_PATH = "/usr/bin:/bin"

# Records its arguments and the jsii variable, as the venv's Python would receive them.
STUB_PYTHON = """#!/bin/sh
echo "$* JSII_SILENCE=$JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION" >> python-calls
"""
# `make install` as far as bin/cdk-app can tell: the two markers and the venv's Python, plus some progress output.
STUB_MAKE = f"""#!/bin/sh
PATH={SYSTEM_PATH}
echo "$*" >> make-calls
echo "make's progress"
mkdir -p .venv/bin build/lambda-layer
touch .venv/.installed build/lambda-layer/.built
cat > .venv/bin/python <<'PYTHON'
{STUB_PYTHON}PYTHON
chmod +x .venv/bin/python
"""
FAILING_MAKE = """#!/bin/sh
echo "$*" >> make-calls
echo "No Python 3.13 found" >&2
exit 2
"""


def _executable(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o755)
    return path


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A fresh clone as far as bin/cdk-app can tell: the script, and no .venv or layer."""
    root = tmp_path / "checkout"
    (root / "bin").mkdir(parents=True)
    shutil.copy2(SCRIPT, root / "bin" / "cdk-app")
    return root


def _run_script(checkout: Path, path: Path | str, *args: str, **variables: str) -> subprocess.CompletedProcess[str]:
    # The CDK CLI runs the app from cdk.json's directory; JSII_* is left unset to see the script set it.
    environment = {key: value for key, value in os.environ.items() if not key.startswith("JSII_")}
    environment |= {"PATH": str(path), **variables}
    return subprocess.run(
        ["/bin/sh", "bin/cdk-app", *args],
        cwd=checkout,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def test_fresh_clone_runs_make_install_then_the_app(checkout: Path, tmp_path: Path) -> None:
    # Given a clone with no .venv and no layer, and a make that records its call
    stubs = tmp_path / "stubs"
    _executable(stubs / "make", STUB_MAKE)
    # When the CDK CLI runs the app with its arguments
    result = _run_script(checkout, stubs, "--extra")
    # Then it says in one line what it does, runs `make install` once, and execs app.py on the venv's Python
    assert result.returncode == 0, result.stderr
    first_line = result.stderr.splitlines()[0]
    assert "missing" in first_line
    assert "'make install'" in first_line
    assert _lines(checkout / "make-calls") == ["install"]
    # with jsii's Node end-of-life banner silenced
    assert _lines(checkout / "python-calls") == ["app.py --extra JSII_SILENCE=20"]
    # and make's output kept off stdout, which is the CDK CLI's
    assert "make's progress" in result.stderr
    assert result.stdout == ""


def test_installed_clone_runs_the_app_without_make(checkout: Path, tmp_path: Path) -> None:
    # Given a clone where `make install` already ran
    stubs = tmp_path / "stubs"
    _executable(stubs / "make", STUB_MAKE)
    assert _run_script(checkout, stubs).returncode == 0
    (checkout / "make-calls").unlink()
    # When the CDK CLI runs the app again
    result = _run_script(checkout, stubs)
    # Then make is not run and the app runs, silently
    assert result.returncode == 0, result.stderr
    assert not (checkout / "make-calls").exists()
    assert result.stderr == ""
    assert len(_lines(checkout / "python-calls")) == 2


def test_without_make_it_stops_with_one_line_naming_the_command(checkout: Path, tmp_path: Path) -> None:
    # Given a clone with no .venv, on a machine without make
    empty_path = tmp_path / "no-tools"
    empty_path.mkdir()
    # When the CDK CLI runs the app
    result = _run_script(checkout, empty_path)
    # Then it stops with one line naming what to install and the command to run
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "bin/cdk-app: .venv or the Lambda layer is missing and 'make' is not installed: "
        "install make, then run 'make install'"
    ]
    assert not (checkout / "python-calls").exists()


def test_a_failing_make_install_stops_with_its_status(checkout: Path, tmp_path: Path) -> None:
    # Given a make that fails (no Python 3.13, say)
    stubs = tmp_path / "stubs"
    _executable(stubs / "make", FAILING_MAKE)
    # When the CDK CLI runs the app
    result = _run_script(checkout, stubs)
    # Then make's own reason is shown, the last line names the command to rerun, and the app is not run
    assert result.returncode == 2
    assert "No Python 3.13 found" in result.stderr
    assert "run 'make install'" in result.stderr.splitlines()[-1]
    assert not (checkout / "python-calls").exists()


def test_the_real_makefile_without_python_313_names_what_to_install(checkout: Path, tmp_path: Path) -> None:
    # Given the real Makefile (and the files its install target depends on), and PYTHON naming no Python 3.13
    for name in ("Makefile", "requirements.txt", "requirements-dev.txt", "pyproject.toml", "lambdas/requirements.txt"):
        (checkout / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO_ROOT / name, checkout / name)
    # When the CDK CLI runs the app
    make = shutil.which("make")
    assert make is not None
    result = _run_script(checkout, f"{Path(make).parent}:{SYSTEM_PATH}", PYTHON="/bin/false")
    # Then make refuses before creating anything, and the last line names the command to rerun
    assert result.returncode != 0
    assert "is not Python 3.13" in result.stderr
    assert "run 'make install'" in result.stderr.splitlines()[-1]
    assert not (checkout / ".venv").exists()


def test_app_without_the_layer_names_make_install(tmp_path: Path) -> None:
    # Given a working directory where the Lambda layer was never built
    # When app.py runs there (the layer asset is read relative to it)
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "app.py")],
        cwd=tmp_path,
        env={**os.environ, "CDK_OUTDIR": str(tmp_path / "cdk.out")},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    # Then it stops with one line naming the command, not jsii's "Cannot find asset" traceback
    assert result.returncode == 1
    assert result.stderr.splitlines() == ["The Lambda layer (build/lambda-layer) is not built: run 'make install'"]


def test_unknown_context_key_names_it_and_the_known_ones() -> None:
    # Given `-c tacherModelId=...`, a typo of teacherModelId
    app = App(context={**default_context(), "tacherModelId": "amazon.nova-pro-v1:0"})
    # When the configuration is read
    with pytest.raises(ConfigurationError) as refused:
        DistillConfig.from_context(app.node, DEPLOY_REGION)
    # Then the message names the unknown key and every known one
    message = str(refused.value)
    assert "unknown context key 'tacherModelId'" in message
    assert all(f"{key}" in message.split("known keys are:")[1] for key in DistillConfig.context_keys())


def test_the_cdks_own_context_keys_are_accepted() -> None:
    # Given the context the CDK CLI passes beside ours: feature flags, its own settings, cached lookups, and the
    # notices `cdk acknowledge` silenced
    cdk_keys = {
        "@aws-cdk/aws-lambda:recognizeLayerVersion": True,
        "aws:cdk:enable-path-metadata": True,
        "aws:cdk:version-reporting": True,
        "aws-cdk:enableDiffNoFail": "true",
        "availability-zones:account=123456789012:region=us-west-2": ["us-west-2a"],
        "acknowledged-issue-numbers": [16603],
    }
    app = App(context={**default_context(), **cdk_keys})
    # When the configuration is read, then it is the shipped configuration
    config = DistillConfig.from_context(app.node, DEPLOY_REGION)
    assert config.provisioned_model_units == 1


def test_app_refuses_an_unknown_command_line_key(tmp_path: Path) -> None:
    # Given the CDK CLI's context for `cdk synth -c tacherModelId=...`
    result = run_app(tmp_path, {"tacherModelId": "x"})
    # Then synth stops with that one message, no traceback
    assert result.returncode == 1
    (line,) = result.stderr.splitlines()
    assert line.startswith("Invalid configuration: unknown context key 'tacherModelId'; the known keys are: ")
