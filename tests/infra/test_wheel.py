"""`pip install .` gives a working `distill`: the wheel holds the runtime and the CLI only, declares what they import,
and runs from a fresh virtual environment.

Hermetic: the wheel is built without build isolation (setuptools is pinned in requirements-dev.txt) and installed
with --no-index; the fresh environment borrows the already-installed dependencies through a .pth file, so it sees
exactly the wheel's own packages plus third-party ones, never this checkout.
"""

from __future__ import annotations

import ast
import email
import json
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from collections.abc import Iterator
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

from tests.infra.conftest import REPO_ROOT

pytestmark = pytest.mark.infra

PACKAGES = {"bedrock_distill", "distill_cli"}
PIP = (sys.executable, "-m", "pip", "--disable-pip-version-check")
# What pyproject.toml builds the wheel from: the metadata files, the two packages and the definition.
PACKAGED_FILES = ("pyproject.toml", "README.md", "LICENSE")
PACKAGED_DIRECTORIES = ("lambdas/bedrock_distill", "distill_cli", "statemachines")
DEFINITION = "data/share/bedrock-distill/statemachines/distillation.asl.json"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    # pip builds in the source tree, and setuptools reuses its build/lib: built from the checkout, a module deleted
    # since the last build would still ship. A copy of what pyproject.toml packages builds from scratch every time.
    source = tmp_path_factory.mktemp("source")
    for name in PACKAGED_FILES:
        shutil.copy2(REPO_ROOT / name, source / name)
    for name in PACKAGED_DIRECTORIES:
        shutil.copytree(REPO_ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    subprocess.run(
        [
            *PIP,
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--wheel-dir",
            str(out),
            str(source),
        ],
        check=True,
        capture_output=True,
    )
    (built,) = out.glob("bedrock_distill-*.whl")
    return built


@pytest.fixture(scope="module")
def fresh_venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site_packages = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    # The dependencies come from this venv's site-packages, appended after the fresh one's own.
    (site_packages / "borrowed_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [*PIP, "--python", str(python), "install", "--quiet", "--no-deps", "--no-index", str(wheel)],
        check=True,
        capture_output=True,
    )
    return venv


def _wheel_modules(wheel: Path) -> Iterator[tuple[str, str]]:
    with zipfile.ZipFile(wheel) as archive:
        for name in archive.namelist():
            if name.endswith(".py"):
                yield name, archive.read(name).decode()


def _normalized(distribution: str) -> str:
    """A distribution name as PEP 503 compares them."""
    return re.sub(r"[-_.]+", "-", distribution).lower()


def test_the_wheel_holds_the_runtime_and_the_cli_and_the_definition(wheel: Path) -> None:
    # Given the wheel `pip install .` builds
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        data = [name for name in names if ".data/" in name]
        # Then its packages are the project's two, none of the checkout-only ones (stacks, offline, tests)
        assert {name.split("/")[0] for name in names if ".dist-info/" not in name and ".data/" not in name} == PACKAGES
        # And it carries the model catalog and the state machine definition, byte for byte
        assert "bedrock_distill/catalog.json" in names
        (definition,) = [name for name in data if name.endswith(DEFINITION)]
        assert archive.read(definition) == (REPO_ROOT / "statemachines" / "distillation.asl.json").read_bytes()


def test_the_wheel_declares_every_third_party_package_its_modules_import(wheel: Path) -> None:
    # Given the distributions behind each importable top-level name, and what the wheel declares
    distributions = packages_distributions()
    with zipfile.ZipFile(wheel) as archive:
        (metadata_name,) = [name for name in archive.namelist() if name.endswith(".dist-info/METADATA")]
        metadata = email.message_from_bytes(archive.read(metadata_name))
    declared = {
        re.split(r"[\s\[<>=;!~]", requirement, maxsplit=1)[0].lower()
        for requirement in metadata.get_all("Requires-Dist", [])
    }
    # When every import of every module in the wheel is resolved to its distribution
    missing: dict[str, list[str]] = {}
    for name, source in _wheel_modules(wheel):
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Import):
                roots = {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                roots = {node.module.split(".")[0]}
            else:
                continue
            for root in roots - PACKAGES - set(sys.stdlib_module_names):
                owners = {_normalized(owner) for owner in distributions.get(root, [root])}
                if not owners & declared:
                    missing.setdefault(root, []).append(name)
    # Then each is declared, as a dependency or in an extra
    assert missing == {}


def test_distill_from_a_fresh_venv_shows_its_help_and_validates_a_dataset(fresh_venv: Path, tmp_path: Path) -> None:
    # Given a dataset of 120 records in Bedrock's conversation format
    dataset = tmp_path / "prompts.jsonl"
    records = (
        {
            "schemaVersion": "bedrock-conversation-2024",
            "system": [{"text": "You are concise."}],
            "messages": [{"role": "user", "content": [{"text": f"What is {n} plus {n}?"}]}],
        }
        for n in range(120)
    )
    dataset.write_text("".join(json.dumps(record) + "\n" for record in records))
    distill = str(fresh_venv / "bin" / "distill")
    # When the installed command runs outside the checkout
    shown = subprocess.run([distill, "--help"], cwd=tmp_path, capture_output=True, text=True, check=False)
    validated = subprocess.run(
        [distill, "validate", str(dataset)], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    # Then both work, from the installed packages
    assert shown.returncode == 0, shown.stderr
    assert "validate" in shown.stdout
    assert validated.returncode == 0, validated.stdout + validated.stderr
    assert "120" in validated.stdout
    where = subprocess.run(
        [str(fresh_venv / "bin" / "python"), "-c", "import distill_cli; print(distill_cli.__file__)"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert where.stdout.startswith(str(fresh_venv))
