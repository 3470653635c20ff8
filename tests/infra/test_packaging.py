"""Lambda packaging without Docker, and the project defaults every function gets."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from stacks.config import LAMBDA_MEMORY_MB, LAMBDA_RUNTIME, LAMBDA_TIMEOUT_SECONDS
from stacks.pipeline_spec import all_functions
from tests.infra.conftest import REPO_ROOT, CloudAssembly, render

pytestmark = pytest.mark.infra

PINNED = re.compile(r"^(?P<name>[A-Za-z0-9_.-]+)(\[[^\]]*\])?==(?P<version>\S+)")


def _pins(requirements: Path) -> dict[str, str]:
    pins = {}
    for line in requirements.read_text().splitlines():
        if match := PINNED.match(line.strip()):
            pins[match["name"].lower()] = match["version"]
    return pins


def _only(assembly: CloudAssembly, resource_type: str, prefix: str) -> tuple[str, dict[str, Any]]:
    (item,) = [(n, r) for n, r in assembly.of_type(resource_type).items() if n.startswith(prefix)]
    return item


def _installed_version(site_packages: Path, distribution: str) -> str:
    (dist_info,) = site_packages.glob(f"{distribution}-*.dist-info")
    metadata = (dist_info / "METADATA").read_text()
    (version,) = re.findall(r"^Version: (\S+)$", metadata, flags=re.MULTILINE)
    return str(version)


def test_every_runtime_dependency_is_packaged_at_its_pinned_version(assembly: CloudAssembly) -> None:
    # Given the layer asset as synthesized into the cloud assembly
    layer_id, _ = _only(assembly, "AWS::Lambda::LayerVersion", "PackagingRuntimeDependencies")
    site_packages = assembly.asset_dir(layer_id) / "python"
    pins = _pins(REPO_ROOT / "lambdas" / "requirements.txt")
    # When we read the versions the layer actually holds
    packaged = {name: _installed_version(site_packages, name.replace("-", "_")) for name in pins}
    # Then each is exactly the pin; boto3 above all, since the runtime's own lags distillation's fields
    assert packaged == pins
    assert packaged["boto3"] == pins["boto3"]


def test_every_tier_runs_on_the_functions_python() -> None:
    """What passes here is what Lambda runs: the Makefile builds the venv (and the layer) for the functions' runtime."""
    # Given the functions' runtime and the Python version the Makefile builds the venv and the layer for
    runtime_version = LAMBDA_RUNTIME.name.removeprefix("python")
    makefile = (REPO_ROOT / "Makefile").read_text()
    (make_version,) = re.findall(r"^PYTHON_VERSION := (\S+)$", makefile, flags=re.MULTILINE)
    # Then they are one version, and it is the one running these tests
    assert make_version == runtime_version
    assert f"{sys.version_info.major}.{sys.version_info.minor}" == runtime_version, (
        f"tests run on Python {sys.version}, the functions on {LAMBDA_RUNTIME.name}: `make test` recreates the venv"
    )


def test_compiled_dependencies_match_the_function_runtime_and_architecture(assembly: CloudAssembly) -> None:
    # Given the function's runtime and architecture, and the layer's compiled extensions
    _, function = _only(assembly, "AWS::Lambda::Function", "InvocationLoggingHandlerFunction")
    properties = function["Properties"]
    python_tag = "cpython-" + properties["Runtime"].removeprefix("python").replace(".", "")
    machine = {"arm64": "aarch64", "x86_64": "x86_64"}[properties["Architectures"][0]]
    layer_id, _ = _only(assembly, "AWS::Lambda::LayerVersion", "PackagingRuntimeDependencies")
    site_packages = assembly.asset_dir(layer_id) / "python"
    extensions = list(site_packages.rglob("*.cpython-*.so"))
    # Then every extension module was built for exactly that Python and machine
    assert extensions, "pydantic-core and orjson ship compiled extensions"
    wrong = [e.name for e in extensions if f"{python_tag}-{machine}-linux-gnu" not in e.name]
    assert wrong == []
    # And every shared object, bundled C libraries included, is an ELF for that machine
    elf_machine = {"aarch64": 183, "x86_64": 62}[machine]
    shared_objects = [p for p in site_packages.rglob("*.so*") if p.is_file()]
    assert [p.name for p in shared_objects if _elf_machine(p) != elf_machine] == []


def _elf_machine(path: Path) -> int:
    header = path.read_bytes()[:20]
    assert header[:4] == b"\x7fELF", path
    return int.from_bytes(header[18:20], "little")


def test_code_asset_holds_the_handlers_and_not_the_requirements(assembly: CloudAssembly) -> None:
    function_id, function = _only(assembly, "AWS::Lambda::Function", "InvocationLoggingHandlerFunction")
    code = assembly.asset_dir(function_id)
    handler_module, handler_name = function["Properties"]["Handler"].rsplit(".", 1)
    source = code / (handler_module.replace(".", "/") + ".py")
    assert f"def {handler_name}(" in source.read_text()
    assert not (code / "requirements.txt").exists()
    assert not list(code.rglob("__pycache__"))


# The operator's terminal UI, plotting and argument parsing: what the CLI needs and no function does.
NOT_LAMBDA_RUNTIME = frozenset({"rich", "matplotlib", "argparse", "distill_cli", "offline", "stacks"})


def _imported_roots(source: Path) -> set[str]:
    tree = ast.parse(source.read_text(), filename=str(source))
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            roots.add(node.module.split(".")[0])
    return roots


def test_the_code_asset_holds_the_lambda_runtime_package_only(assembly: CloudAssembly) -> None:
    # Given the one code asset every function is deployed from
    function_id, _ = _only(assembly, "AWS::Lambda::Function", "InvocationLoggingHandlerFunction")
    code = assembly.asset_dir(function_id)
    # Then its only top-level entry is the runtime package
    assert sorted(entry.name for entry in code.iterdir()) == ["bedrock_distill"]
    # And no module in it imports the CLI, the offline world, the CDK app, a terminal UI or plotting
    importing = {
        str(module.relative_to(code)): sorted(_imported_roots(module) & NOT_LAMBDA_RUNTIME)
        for module in code.rglob("*.py")
    }
    assert {module: roots for module, roots in importing.items() if roots} == {}
    # And it stays small (the README states its size): the dependencies are in the layer
    size = sum(path.stat().st_size for path in code.rglob("*") if path.is_file())
    assert size < 1_000_000, f"the code asset is {size:,} bytes"


def _expected_size(logical_id: str) -> tuple[int, int]:
    """(memory MB, timeout s): a workflow function's own from the pipeline spec, else the defaults."""
    for name, spec in all_functions().items():
        if logical_id.startswith((f"Pipeline{name}Function", f"Triggers{name}Function")):
            return spec.memory_mb, spec.timeout_seconds
    return LAMBDA_MEMORY_MB, LAMBDA_TIMEOUT_SECONDS


def test_project_functions_get_the_project_defaults(assembly: CloudAssembly) -> None:
    # Given every function built by ProjectFunction (the provider framework's relay is CDK's own)
    ours = {name: r for name, r in assembly.of_type("AWS::Lambda::Function").items() if "Provider" not in name}
    assert len(ours) == len(all_functions()) + 1, "the pipeline's functions and the logging handler"
    layer_id, _ = _only(assembly, "AWS::Lambda::LayerVersion", "PackagingRuntimeDependencies")
    log_groups = assembly.of_type("AWS::Logs::LogGroup")
    for name, function in ours.items():
        properties = render(function["Properties"])
        # Then each has the runtime, architecture, size, tracing and JSON logging of the project
        assert properties["Runtime"] == "python3.13", name
        assert properties["Architectures"] == ["arm64"], name
        assert (properties["MemorySize"], properties["Timeout"]) == _expected_size(name), name
        assert properties["TracingConfig"] == {"Mode": "Active"}, name
        assert properties["LoggingConfig"]["LogFormat"] == "JSON", name
        assert properties["Layers"] == [f"${{{layer_id}}}"], name
        # And logs into its own encrypted log group with the configured retention
        log_group_id = properties["LoggingConfig"]["LogGroup"].strip("${}")
        log_group = render(log_groups[log_group_id]["Properties"])
        assert log_group["RetentionInDays"] == assembly.context["logRetentionDays"], name
        assert log_group["KmsKeyId"].endswith(".Arn}"), name
