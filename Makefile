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
.PHONY: help setup run demo test test-faults lint typecheck format bench bench-features bench-quality bench-training bench-recommender bench-quick bench-serving clean

help: ## List the targets with a line of help each
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  %-20s %s\n", $$1, $$2}'

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --python $(PYTHON)
	@touch $@

setup: $(VENV)/.synced ## Create .venv with the pinned dependencies from uv.lock

run: $(VENV)/.synced ## Run the platform here, no Docker: MLflow :5000, Airflow :8080, webhook receiver :5055, mlops serve :8000 (Ctrl-C stops)
	$(BIN)/python scripts/run_platform.py $(RUN_ARGS)

demo: $(VENV)/.synced ## The four DAGs under Airflow's dag.test() over 4 compressed weeks of drifting demo data (FRESH=1: start over)
	$(BIN)/python scripts/demo_airflow.py $(if $(FRESH),--fresh)

# Two pytest workers (one per core); the tests of a file share a worker and its module fixtures.
TEST_WORKERS ?= 2

test: $(VENV)/.synced ## Run the unit and integration tests on TEST_WORKERS workers (an empty selection fails)
	@set +e; $(BIN)/pytest -q -n $(TEST_WORKERS) --dist loadfile --ignore=tests/containers --ignore=tests/faults $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "error: pytest collected no tests" >&2; exit 1; fi; exit $$rc

test-faults: $(VENV)/.synced ## Run the fault suite (SIGKILLs, races, bad inputs; a few minutes); prints a table of trials
	@set +e; $(BIN)/pytest -q -p no:cacheprovider tests/faults $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "error: pytest collected no tests" >&2; exit 1; fi; exit $$rc

LINTED := src tests benchmarks dags scripts

lint: $(VENV)/.synced ## Check style with ruff (lint rules and formatting)
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)

typecheck: $(VENV)/.synced ## Type-check src/ with mypy (settings in pyproject.toml)
	$(BIN)/mypy

format: $(VENV)/.synced ## Reformat the code with ruff
	$(BIN)/ruff format $(LINTED)
	$(BIN)/ruff check --fix $(LINTED)

bench: bench-features bench-quality bench-training ## Run every benchmark; figures go to benchmarks/results/

bench-features: $(VENV)/.synced ## Feature snapshot at 50M rows vs pandas and a bare scan
	$(BIN)/python benchmarks/feature_snapshot.py

bench-quality: $(VENV)/.synced ## Model quality on ../shared/data (online_shoppers, online_retail)
	$(BIN)/python benchmarks/quality.py

bench-training: $(VENV)/.synced ## Training overhead vs bare fit and autolog; scoring throughput
	$(BIN)/python benchmarks/training_overhead.py

bench-recommender: $(VENV)/.synced ## Recommender quality (MovieLens, Online Retail) and speed (demo size, 100k customers)
	$(BIN)/python benchmarks/recommender_quality.py
	$(BIN)/python benchmarks/recommender_retail.py
	$(BIN)/python benchmarks/recommender_speed.py

# The --quick runs write to a scratch folder (or OUT=dir), never to benchmarks/results/.
BENCHMARKS := feature_snapshot drift dag_overhead training_overhead recommender_speed quality recommender_quality recommender_retail serving

bench-quick: $(VENV)/.synced ## Every benchmark's --quick mode (small sizes, a smoke test; OUT=dir keeps the figures)
	@set -e; for name in $(BENCHMARKS); do echo "== $$name --quick"; \
	rc=0; $(BIN)/python benchmarks/$$name.py --quick $(if $(OUT),--out $(OUT)) || rc=$$?; \
	if [ $$rc -eq 77 ]; then echo "skipped: $$name (no data)"; elif [ $$rc -ne 0 ]; then exit $$rc; fi; done

bench-serving: $(VENV)/.synced ## mlops serve vs mlflow models serve: latency at 500-4,000 req/s, recommendations, hot swap
	$(BIN)/python benchmarks/serving.py

clean: ## Remove the virtual environments and generated data
	rm -rf $(VENV) $(TOOLS) lake reports mlruns mlflow.db .airflow-demo .airflow .run mlartifacts mlflow-server.db .pytest_cache

# Docker and compose. `up` and `down` need a Docker engine; the stack reads ./.env.
.PHONY: env up down wheelhouse wheelhouse-project image test-containers

env: ## Write .env from .env.example with random secrets (FORCE=1 overwrites)
	$(PYTHON) scripts/make_env.py $(if $(FORCE),--force)

up: ## Start the compose stack (docker compose up -d; needs a Docker engine and .env)
	docker compose up -d

down: ## Stop the compose stack (volumes are kept)
	docker compose down

# The wheels must match the image's Python (3.11, Linux): run with PYTHON=python3.11 on Linux.
# Dependency wheels go to wheelhouse/, the package's own wheel to wheelhouse/project/, so that a
# code change rebuilds only the last layer of the image. No dependency group (dev, airflow) goes in.
wheelhouse: | $(UV) ## Wheels of the locked runtime dependencies into ./wheelhouse, the package's into ./wheelhouse/project
	rm -rf wheelhouse && mkdir -p wheelhouse
	$(UV) export --frozen --no-default-groups --no-hashes --no-emit-project -o wheelhouse/requirements.txt
	$(TOOLS)/bin/pip wheel --disable-pip-version-check --wheel-dir wheelhouse -r wheelhouse/requirements.txt
	$(MAKE) --no-print-directory wheelhouse-project

wheelhouse-project: | $(UV) ## Rebuild only the package's wheel in ./wheelhouse/project
	rm -rf wheelhouse/project && mkdir -p wheelhouse/project
	$(TOOLS)/bin/pip wheel --disable-pip-version-check --no-deps --wheel-dir wheelhouse/project .

# The local image and container tests need root on Debian: scripts/containers.sh installs
# docker.io and debootstrap if missing, starts a dockerd without bridge network or iptables,
# and builds the base image with debootstrap (no registry pulls).
image: | $(UV) ## Build the image mlops-platform:test on a debootstrap base (needs a running engine)
	scripts/containers.sh base-image
	scripts/containers.sh image

test-containers: $(VENV)/.synced ## Start a local dockerd, build the image, run tests/containers, stop the engine
	@rc=0; trap 'scripts/containers.sh engine-stop || exit 1' EXIT; \
	scripts/containers.sh engine-start && scripts/containers.sh base-image && scripts/containers.sh image \
	&& $(BIN)/pytest -q tests/containers $(PYTEST_ARGS) || rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "error: pytest collected no tests" >&2; rc=1; fi; exit $$rc
