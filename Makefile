# One entry point for people and CI. Every target creates what it needs; no other set-up step.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
# Node 20 still runs jsii; keep its end-of-life banner out of every command's output.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20

# The functions' Lambda Python (stacks/config.py LAMBDA_RUNTIME). The venv, and so lint, type-check and every test
# tier, runs on it too: what passes here is what Lambda runs. tests/infra/test_packaging.py keeps the three in step.
PYTHON_VERSION := 3.13
# $(PYTHON_VERSION) if the command $(1) runs and is that Python, else empty.
python_version = $(if $(1),$(filter $(PYTHON_VERSION),$(shell $(1) -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)))
# The first of these that really is that Python: a pyenv shim on PATH exists but fails unless pyenv selects the version,
# so each candidate is asked for its version rather than trusted by name. `make PYTHON=/path/to/python3.13` overrides.
PYTHON_CANDIDATES = python$(PYTHON_VERSION) $(wildcard $(HOME)/.pyenv/versions/$(PYTHON_VERSION)*/bin/python$(PYTHON_VERSION))
# Looked up on first use only (when a venv must be made), then kept.
PYTHON ?= $(eval PYTHON := $(firstword $(foreach c,$(PYTHON_CANDIDATES),$(if $(call python_version,$(c)),$(c)))))$(PYTHON)
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
# An existing venv on another Python (one an older checkout made, say) is replaced, not reused.
VENV_STALE := $(if $(call python_version,$(BIN)/python),,FORCE)
# The Lambda runtime the layer is built for; keep in step with stacks/config.py (LAMBDA_RUNTIME, LAMBDA_ARCHITECTURE).
LAYER_DIR := build/lambda-layer
LAYER_BUILT := $(LAYER_DIR)/.built
# Lambda's Python 3.13 runs on Amazon Linux 2023 (glibc 2.34): manylinux_2_28 wheels fit, 2014 ones too.
LAYER_PLATFORMS := --platform manylinux_2_28_aarch64 --platform manylinux2014_aarch64
LAYER_PYTHON := $(PYTHON_VERSION)

.PHONY: help install layer lint test synth demo bench diagram clean FORCE

help:
	@echo "make demo    - create the venv, install, run the offline pipeline end to end"
	@echo "make test    - create the venv, install, lint, type-check and run every test tier"
	@echo "make install - create the venv, install the pinned dependencies and the project, build the Lambda layer"
	@echo "make synth   - synthesize the CDK app to cdk.out/ (no Docker, no AWS credentials)"
	@echo "make bench   - run the benchmarks and print their figures"
	@echo "make diagram - regenerate the README's state-machine diagram from statemachines/distillation.asl.json"
	@echo "make lint    - ruff check, ruff format --check, mypy and the import contracts (lint-imports)"
	@echo "make layer   - build the Lambda layer only (build/lambda-layer)"
	@echo "make clean   - remove the venv, the layer, cdk.out and the tool caches"

$(BIN)/python: $(VENV_STALE)
	@if [ -z "$(PYTHON)" ]; then \
		echo "No Python $(PYTHON_VERSION) found (the functions' Lambda runtime; tests run on it too)." >&2; \
		echo "Install it: 'pyenv install $(PYTHON_VERSION)' or your OS's python$(PYTHON_VERSION) package," \
			"or name one: make PYTHON=/path/to/python$(PYTHON_VERSION) ..." >&2; \
		exit 1; \
	fi
	@if [ -z "$(call python_version,$(PYTHON))" ]; then \
		echo "PYTHON=$(PYTHON) is not Python $(PYTHON_VERSION), the functions' Lambda runtime." >&2; exit 1; \
	fi
	@if [ -e $(VENV) ]; then echo "$(VENV) is not on Python $(PYTHON_VERSION): recreating it with $(PYTHON)."; fi
	@echo "Creating $(VENV) with $(PYTHON)."
	@rm -rf $(VENV)
	@$(PYTHON) -m venv $(VENV)

$(INSTALLED): $(BIN)/python requirements.txt requirements-dev.txt lambdas/requirements.txt pyproject.toml
	@echo "Installing the pinned dependencies into $(VENV) (Python $(PYTHON_VERSION)); the first time takes a few minutes."
	@$(BIN)/python -m pip install --quiet --upgrade pip
	@$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	@echo "Installing bedrock-distill itself into $(VENV) (editable: the distill command runs this checkout)."
	@# -qq: setuptools' editable finder (two package roots, lambdas/ and .) prints an informational banner; errors show.
	@# --no-build-isolation: the pinned setuptools (requirements-dev.txt) builds it, with nothing downloaded.
	@$(BIN)/python -m pip install -qq --no-deps --no-build-isolation --editable .
	@touch $@

# The functions' pinned runtime dependencies, built for the Lambda platform without Docker:
# wheels only, for the target OS/architecture/Python, never compiled here.
$(LAYER_BUILT): lambdas/requirements.txt Makefile $(BIN)/python
	@echo "Building the Lambda layer in $(LAYER_DIR) (lambdas/requirements.txt, wheels for Python $(LAYER_PYTHON) on arm64)."
	@rm -rf $(LAYER_DIR)
	@$(BIN)/python -m pip install --quiet --target $(LAYER_DIR)/python \
		$(LAYER_PLATFORMS) --implementation cp --python-version $(LAYER_PYTHON) \
		--only-binary=:all: --no-compile -r lambdas/requirements.txt
	@touch $@

install: $(INSTALLED) $(LAYER_BUILT)

layer: $(LAYER_BUILT)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports --no-logo --no-cache

# Two pytest processes at once: the workflow tier (its runs mostly wait in Step Functions' Wait states, and its
# grant audit must see the calls of every workflow test, so it is one process of its own) beside the other tiers.
# Each prints its own summary, the workflow tier's last; the target fails when either does.
WORKFLOW_TIER := workflow or grant_audit
WORKFLOW_LOG := build/test-workflow.log

test: lint
	@mkdir -p build
	@echo "Running the workflow tier in the background (its output follows the other tiers', from $(WORKFLOW_LOG))."
	@$(BIN)/pytest -m "$(WORKFLOW_TIER)" --basetemp=build/pytest-workflow > $(WORKFLOW_LOG) 2>&1 & workflow=$$!; \
	others_status=0; $(BIN)/pytest -m "not ($(WORKFLOW_TIER))" --basetemp=build/pytest-others || others_status=$$?; \
	workflow_status=0; wait $$workflow || workflow_status=$$?; \
	echo "--- the workflow tier ---"; cat $(WORKFLOW_LOG); \
	if [ $$others_status -ne 0 ] || [ $$workflow_status -ne 0 ]; then \
		echo "make test failed: other tiers exit $$others_status, workflow tier exit $$workflow_status" >&2; exit 1; \
	fi

# No CDK CLI here to set the deploy Region from an AWS profile: us-west-2 (the default Llama pair) unless you set one.
synth: install
	rm -rf cdk.out
	CDK_OUTDIR=cdk.out CDK_DEFAULT_REGION="$${CDK_DEFAULT_REGION:-us-west-2}" $(BIN)/python app.py
	@echo "Synthesized to cdk.out/"

# The demo deploys the synthesized template offline, and synth stages the Lambda layer: the full install.
demo: install
	$(BIN)/python -m offline.demo

# The README's Mermaid picture of statemachines/distillation.asl.json; a unit test fails when it is stale.
diagram: install
	$(BIN)/python -m stacks.state_machine_diagram

# The benchmarks use the offline world and the CDK app, which run from the checkout (the package installs only
# the runtime and the CLI): hence the checkout on PYTHONPATH.
bench: export PYTHONPATH := .
bench: install
	$(BIN)/python bench/preflight_bench.py
	$(BIN)/python bench/generate_logs_bench.py
	$(BIN)/python bench/state_transitions.py
	$(BIN)/python bench/logscan_memory_bench.py

clean:
	rm -rf $(VENV) build cdk.out .pytest_cache .mypy_cache .ruff_cache

FORCE:
