# Every target creates the virtual environment (.venv, from uv.lock) if it is missing.
SHELL := /bin/bash
PYTHON ?= python3
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
BIN := $(VENV)/bin
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)

.DEFAULT_GOAL := help
.PHONY: help setup demo test lint format bench bench-features bench-quality bench-training clean

help: ## List the targets with a line of help each
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  %-16s %s\n", $$1, $$2}'

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --python $(PYTHON)
	@touch $@

setup: $(VENV)/.synced ## Create .venv with the pinned dependencies from uv.lock

demo: $(VENV)/.synced ## Demo data into ./lake, validated; a week of snapshots and labels; the model zoo trained
	$(BIN)/python -m mlops_platform.demo

test: $(VENV)/.synced ## Run the unit and integration tests (an empty selection fails)
	@set +e; $(BIN)/pytest -q $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "error: pytest collected no tests" >&2; exit 1; fi; exit $$rc

lint: $(VENV)/.synced ## Check style with ruff
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

format: $(VENV)/.synced ## Reformat the code with ruff
	$(BIN)/ruff format src tests benchmarks
	$(BIN)/ruff check --fix src tests benchmarks

bench: bench-features bench-quality bench-training ## Run every benchmark; figures go to benchmarks/results/

bench-features: $(VENV)/.synced ## Feature snapshot at 50M rows vs pandas and a bare scan
	$(BIN)/python benchmarks/feature_snapshot.py

bench-quality: $(VENV)/.synced ## Model quality on ../shared/data (online_shoppers, online_retail)
	$(BIN)/python benchmarks/quality.py

bench-training: $(VENV)/.synced ## Training overhead vs bare fit and autolog; scoring throughput
	$(BIN)/python benchmarks/training_overhead.py

clean: ## Remove the virtual environments and generated data
	rm -rf $(VENV) $(TOOLS) lake reports mlruns mlflow.db .pytest_cache

# Docker and compose. `up` and `down` need a Docker engine; the stack reads ./.env.
.PHONY: env up down wheelhouse

env: ## Write .env from .env.example with random secrets (FORCE=1 overwrites)
	$(PYTHON) scripts/make_env.py $(if $(FORCE),--force)

up: ## Start the compose stack (docker compose up -d; needs a Docker engine and .env)
	docker compose up -d

down: ## Stop the compose stack (volumes are kept)
	docker compose down

# The wheels must match the image's Python (3.11, Linux): run with PYTHON=python3.11 on Linux.
wheelhouse: | $(UV) ## Wheels of the locked runtime dependencies and the package into ./wheelhouse
	rm -rf wheelhouse && mkdir -p wheelhouse
	$(UV) export --frozen --no-dev --no-hashes --no-emit-project -o wheelhouse/requirements.txt
	$(TOOLS)/bin/pip wheel --disable-pip-version-check --wheel-dir wheelhouse -r wheelhouse/requirements.txt .
