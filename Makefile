# Everything CI does is a target here, so a user can run it locally with the same command.
# Needs only python3 (3.11+), git and make: uv is installed on first use if it is missing.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

# VENV may point at an environment built elsewhere from the same uv.lock (the workflow tests
# share one); the stamp below names the lock's content, so a fresh checkout does not resync.
VENV ?= .venv
ENV_DIR := $(abspath $(VENV))
TOOLS := $(CURDIR)/.tools
UV := $(or $(shell command -v uv 2>/dev/null),$(TOOLS)/bin/uv)
LOCK_ID := $(shell cat uv.lock pyproject.toml 2>/dev/null | cksum | cut -d' ' -f1)
STAMP := $(ENV_DIR)/.synced-$(LOCK_ID)
export UV_PROJECT_ENVIRONMENT := $(ENV_DIR)
# Stages run `python -m tabular_mlops.stages.<stage>`: the environment first on PATH, this checkout's code
# first on the import path.
export PATH := $(ENV_DIR)/bin:$(PATH)
export PYTHONPATH := $(CURDIR)/src$(if $(PYTHONPATH),:$(PYTHONPATH))
# Python caches the bytecode of what it imports, so the second stage does not recompile
# MLflow and sklearn. A shell that sets PYTHONDONTWRITEBYTECODE turns that off (every stage then
# recompiles, ~2x slower); compiling the whole environment at install (`--compile-bytecode`,
# 12,000 files) cost more than it saved on a first `make repro`, so the cache fills as it goes.
unexport PYTHONDONTWRITEBYTECODE
# Test files run side by side (pytest-xdist), each file whole on one worker so its module
# fixtures (a trained copy of the project, a registered champion) are built once. Not
# `--dist loadgroup`: with pytest 9.2 xdist can no longer rename node ids, so groups are ignored.
# Files go to the workers in the order tests/conftest.py puts them (slowest tier first), not
# xdist's default of the files with the most tests first, which left the longest files for last.
TEST_WORKERS ?= auto
PYTEST := pytest -q -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

.PHONY: help install repro test lint format test-fast test-unit test-data test-model test-report \
	test-e2e test-workflows report dvc-pull dvc-push mlflow-ui bench clean

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_-]+:.*## / {printf "  make %-15s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(TOOLS)/bin/uv:
	@echo "uv not found: installing it into $(TOOLS) (a private venv, nothing system-wide)"
	python3 -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --disable-pip-version-check uv

# uv is fetched only when the environment must be (re)built: a checkout that reuses a synced
# environment (VENV=..., or a benchmark's linked clone) never needs it.
$(STAMP):
	@$(MAKE) -s --no-print-directory $(UV)
	$(UV) sync --locked
	@rm -f $(ENV_DIR)/.synced-*
	@touch $@

install: $(STAMP) ## Create the environment from uv.lock

repro: install ## Run the pipeline (DVC re-runs only the stages whose inputs changed)
	python -m tabular_mlops.core.lockfile
	dvc repro

lint: install ## ruff, actionlint, zizmor (offline) and hadolint on code, workflows, Dockerfile
	ruff check src tests benchmarks
	ruff format --check src tests benchmarks
	actionlint
	zizmor --offline --quiet .github/workflows
	hadolint Dockerfile deploy/team/mlflow.Dockerfile

format: install ## Apply ruff's fixes and formatting
	ruff check --fix src tests benchmarks
	ruff format src tests benchmarks

test: lint repro ## Lint, reproduce the pipeline, then run every test
	$(PYTEST)

test-fast: repro ## The inner loop: every `fast`-tier test (no project copies, servers or act)
	$(PYTEST) -m fast

test-unit: install ## Unit tests: pure functions on tiny frames, no pipeline needed
	$(PYTEST) tests/unit

test-data: install ## Data tests: the data contract on the shipped data and a corpus of bad files
	$(PYTEST) tests/data

test-model: install ## Model tests on the model `make repro` produced
	$(PYTEST) tests/model

test-report: install ## Pull-request report tests on temporary git repositories
	$(PYTEST) tests/report

test-e2e: install ## A fork's journey with the real DVC and MLflow
	$(PYTEST) tests/e2e

test-workflows: install ## The GitHub Actions workflows, executed with act
	$(PYTEST) tests/workflows

dvc-pull: install ## Pull the DVC cache and run-cache, when a remote is configured (DVC_REMOTE_URL)
	python -m tabular_mlops.team.remote pull

dvc-push: install ## Push the DVC cache and run-cache, when a remote is configured (DVC_REMOTE_URL)
	python -m tabular_mlops.team.remote push

# make report BASE=main OUT=reports/pr-report.md PR=12 FAIL_ON_REGRESSION=1
BASE ?=
OUT ?= reports/pr-report.md
report: install ## Markdown report vs BASE (default: merge base with origin's default branch)
	python -m tabular_mlops.reporting.pr_report $(if $(BASE),--base "$(BASE)") --out "$(OUT)" \
		--plots-html reports/plots $(if $(PR),--pr $(PR)) \
		$(if $(FAIL_ON_REGRESSION),--fail-on-regression)

mlflow-ui: install ## Open the MLflow UI on the local store (http://127.0.0.1:5000)
	mlflow ui --backend-store-uri $${MLFLOW_TRACKING_URI:-sqlite:///mlflow.db}

# make bench BENCH="--scales 1 10 --repeats 1"   (default: 1x, 10x and 100x rows, 3 runs each)
BENCH ?=
bench: install ## Pipeline vs a bare script at 1x, 10x, 100x rows, with the stage budget
	python benchmarks/pipeline.py $(BENCH)

.PHONY: bench-evaluate
bench-tests: install ## A fresh clone's `make test`, timed, with test-seconds per folder and tier
	python benchmarks/suite.py $(BENCH)

bench-evaluate: install ## What evaluate's bounded importance sample keeps, vs the whole test split
	python benchmarks/evaluate_sample.py

clean: ## Remove pipeline outputs, the MLflow store and caches (keeps the environment)
	rm -rf data/prepared models metrics plots reports mlflow.db mlruns .dvc/tmp .pytest_cache

# The data contract: check any CSV against it, and its benchmark.
.PHONY: validate bench-validate

# make validate CSV=path/to/extract.csv   (default: the shipped raw file, as the stage runs it)
CSV ?=
validate: install ## Check a CSV against the data contract (CSV=path; default: the shipped data)
	python -m tabular_mlops.stages.validate $(if $(CSV),--csv "$(CSV)" --docs reports/check/data_docs)

bench-validate: install ## Time the data contract on the shipped data and on 100x and 1,000x
	python benchmarks/validate.py

# New data and drift: batches in, a drift watch, and the retraining decision.
.PHONY: simulate ingest refresh-data drift decide retrain bench-drift test-drift

# make simulate ROWS=1000 SEED=1 SHIFT="--covariate COLUMN=+15% --target-share 0.4"
ROWS ?= 1000
SEED ?= 0
SHIFT ?=
BATCH ?= data/incoming/batch-$(shell date -u +%Y%m%d-%H%M%S).csv
simulate: install ## Write a simulated batch to data/incoming (ROWS, SEED, SHIFT, BATCH=path)
	python -m tabular_mlops.ct.simulate --rows $(ROWS) --seed $(SEED) $(SHIFT) --out "$(BATCH)"

ingest: install ## Validate each batch in data/incoming; append good ones, quarantine bad ones
	python -m tabular_mlops.ct.ingest

refresh-data: install ## Fetch new batches (`dvc update` of imports, if enabled), then ingest
	python -m tabular_mlops.ct.ingest --refresh

# make drift CURRENT=path.csv|predictions.jsonl   (default: the newest ingested batch)
CURRENT ?=
drift: install ## Drift of the newest data vs the training data: reports/drift.{json,md,html}
	python -m tabular_mlops.ct.drift $(if $(CURRENT),--current "$(CURRENT)")

FORCE ?= false
decide: install ## Retrain or not (new data, drift or FORCE=true): reports/decision.json
	python -m tabular_mlops.ct.decide --force "$(FORCE)"

retrain: install ## New batches to a gated model in one command: ingest, validate, repro, gate
	python -m tabular_mlops.ct.ingest
	python -m tabular_mlops.core.lockfile
	dvc repro
	@if $(MAKE) -n promote >/dev/null 2>&1; then $(MAKE) promote; \
	else echo "retrain: no promote target, so no gate was run"; fi

test-drift: install ## New data and drift: batches to a retrained model on a private copy
	$(PYTEST) tests/drift

bench-drift: install ## False-alarm and detection rates of the drift check, and its run time
	python benchmarks/drift.py

# The champion/challenger gate: a separate step from training, never a DVC stage.
.PHONY: promote

# make promote FAIL_ON_REJECT=1 [ALIAS=staging]   (exit 1 when the challenger is rejected;
#   ALIAS: the alias moved when every gate against the champion passes, default champion)
FAIL_ON_REJECT ?=
promote: install ## Gate the registry's challenger; move `champion` (or ALIAS) only if every gate passes
	python -m tabular_mlops.ct.promote $(if $(FAIL_ON_REJECT),--fail-on-reject) \
		$(if $(ALIAS),--alias "$(ALIAS)")

# The prediction service: the champion behind a small ASGI app, without Docker.
.PHONY: serve smoke test-serve bench-serve bench-serve-load

# make serve PORT=8080 MODEL_PATH=models/model.pkl PREDICTION_LOG=reports/predictions.jsonl
# (MODEL_URI, MODEL_PATH, PREDICTION_LOG and SERVE_MAX_BODY_BYTES reach the service as env vars)
HOST = 127.0.0.1
PORT = 8000
serve: install ## Serve the champion on http://HOST:PORT (MODEL_URI, MODEL_PATH, PREDICTION_LOG)
	python -m tabular_mlops.serving.app --host "$(HOST)" --port "$(PORT)"

# make smoke [ALIAS=staging | MODEL_PATH=dist/serving/model.pkl] [VERSION=n]   (VERSION: the
#   version /version must name)
smoke: install ## Start the service on a free port, check health, predict and version, stop it
	python -m tabular_mlops.serving.smoke $(if $(ALIAS),--alias "$(ALIAS)") \
		$(if $(VERSION),--expect-version "$(VERSION)")

test-serve: install ## The prediction service, started as a real process on loopback
	$(PYTEST) tests/serve

bench-serve: install ## Latency and throughput of the service vs `mlflow models serve`
	python benchmarks/serve.py

bench-serve-load: install ## /health latency and the service's memory while big batches are scored
	python benchmarks/serve_load.py

# A fork's own dataset: draft params.yaml from its CSV, then tighten the gates once it has run.
.PHONY: init set-floors

# make init CSV=path/to/data.csv TARGET=column [ID=column|none] [TASK=binary|multiclass|regression]
#           [POSITIVE=label (binary)]
#           [NAME=project] [FORCE=1]   (CSV and FORCE are shared with `validate` and `decide`)
TARGET ?=
ID ?=
TASK ?=
POSITIVE ?=
NAME ?=
INIT_OPTIONS = $(if $(ID),--id "$(ID)") $(if $(TASK),--task "$(TASK)") \
	$(if $(POSITIVE),--positive "$(POSITIVE)") $(if $(NAME),--name "$(NAME)") \
	$(if $(filter 1 true yes TRUE YES True,$(FORCE)),--force)
init: install ## Draft params.yaml from your CSV (CSV=path TARGET=column; ID TASK POSITIVE NAME FORCE=1)
	python -m tabular_mlops.init --csv "$(CSV)" --target "$(TARGET)" $(strip $(INIT_OPTIONS))

# make set-floors MARGIN=0.02   (after `make repro`: floors = metrics/metrics.json -/+ MARGIN;
#                                rmse and mae, in the target's units: +/- MARGIN as a share)
MARGIN ?= 0.02
set-floors: install ## Set gates.metrics floors to the measured metrics minus MARGIN (0.02)
	python -m tabular_mlops.init.floors --margin "$(MARGIN)"

# Team mode: shared stores (a DVC remote, an MLflow server) for several clones and the workflows.
.PHONY: team-up team-down team-status doctor test-team bench-team

team-up: install ## Start PostgreSQL, an S3 stand-in and an MLflow server on loopback; write .team.env
	python -m tabular_mlops.team up

team-down: install ## Stop what team-up started and remove its state
	python -m tabular_mlops.team down

team-status: install ## Say which of team-up's servers run
	python -m tabular_mlops.team status

doctor: install ## Is each team store set, reachable and writable? What the workflows need set
	python -m tabular_mlops.team.doctor

test-team: install ## Two clones against real team servers (started once for the session)
	$(PYTEST) tests/team

bench-team: install ## Time a second clone's pull + repro against the first clone's repro (team mode)
	python benchmarks/team_cache.py

# Continuous delivery: ship the model dvc.lock records, through staging to production, and back.
.PHONY: reviewed-model register bundle release rollback history test-cd

reviewed-model: install ## The model dvc.lock records on HEAD: pulled (DVC_REMOTE_URL) or rebuilt, md5 checked
	python -m tabular_mlops.cd.reviewed

register: install ## Find (or register) the registry version holding the reviewed model's exact bytes
	python -m tabular_mlops.cd.register

# make bundle [VERSION=n | ALIAS=champion] [BUNDLE=dist/serving]   (default: the reviewed model)
BUNDLE ?= dist/serving
VERSION ?=
ALIAS ?=
bundle: install ## Package a model for the image: BUNDLE/model.pkl, manifest.json, example.json
	python -m tabular_mlops.cd.bundle --out "$(BUNDLE)" $(if $(VERSION),--version "$(VERSION)") \
		$(if $(ALIAS),--alias "$(ALIAS)")

# make release ALIAS=staging|champion [BUNDLE=dist/serving] [REASON="..."]
REASON ?=
release: install ## Point ALIAS (staging, or champion = production) at the bundle's gated version
	python -m tabular_mlops.cd.release --bundle "$(BUNDLE)" --alias "$(or $(ALIAS),champion)" \
		$(if $(REASON),--reason "$(REASON)")

# make rollback [TO=version] [REASON="..."] [DRY_RUN=1]
# The chosen version's exact bytes are packaged from the registry and smoke-tested (without the
# registry's credentials: loading a model runs code) before champion moves.
TO ?=
DRY_RUN ?=
rollback: install ## Move champion back to the previous champion (or TO=version) after a smoke test
ifneq ($(DRY_RUN),)
	python -m tabular_mlops.cd.rollback --dry-run $(if $(TO),--to "$(TO)")
else
	@chosen=$$(mktemp) && trap 'rm -f "$$chosen"' EXIT && \
	GITHUB_OUTPUT="$$chosen" python -m tabular_mlops.cd.rollback --dry-run $(if $(TO),--to "$(TO)") && \
	version=$$(sed -n 's/^version=//p' "$$chosen") && \
	$(MAKE) --no-print-directory bundle VERSION="$$version" && \
	env -u MLFLOW_TRACKING_USERNAME -u MLFLOW_TRACKING_PASSWORD -u MLFLOW_TRACKING_TOKEN \
		$(MAKE) --no-print-directory smoke MODEL_PATH="$(BUNDLE)/model.pkl" VERSION="$$version" && \
	python -m tabular_mlops.cd.rollback --to "$$version" $(if $(REASON),--reason "$(REASON)")
endif

# make history [JSON=1]
JSON ?=
history: install ## Every champion change: from, to, when, by whom, which run, why
	python -m tabular_mlops.cd.history $(if $(JSON),--json)

test-cd: install ## Continuous delivery: reviewed bytes, bundle, release, history, rollback
	$(PYTEST) tests/cd

# Pictures: every Mermaid block and HTML report through a real parser (tests/render). Node.js 18+
# and npm come from the system (apt-get install nodejs npm); the parsers are pinned in
# tests/render/package-lock.json and installed beside the test, nothing global.
.PHONY: render-tools test-render
RENDER_TOOLS := tests/render/node_modules/.package-lock.json

$(RENDER_TOOLS): tests/render/package-lock.json
	@command -v npm >/dev/null || { echo "tests/render needs Node.js 18+ and npm:" \
		"install them (e.g. apt-get install nodejs npm)" >&2; exit 1; }
	npm ci --prefix tests/render --no-audit --no-fund --loglevel=error
	@touch $@

render-tools: $(RENDER_TOOLS) ## Install tests/render's pinned Node packages (Mermaid's parser, parse5)

test-render: install render-tools ## Every picture (Mermaid charts, drift.html, DVC's plots page) parsed
	$(PYTEST) tests/render

