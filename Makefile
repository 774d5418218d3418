# The user's verbs. `make help` lists them.
VENV ?= .venv
PYTHON ?= python3
BIN := $(abspath $(VENV))/bin
export PATH := $(BIN):$(PATH)
export HF_HUB_OFFLINE := 1
export PYTHONHASHSEED := 0
BASE ?= main

.DEFAULT_GOAL := help
.PHONY: help install repro test test-fast lint bench report

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

lint: install ## ruff
	ruff check .

bench: install ## wall time and peak memory of each stage, and of a no-op dvc repro
	python scripts/bench_stages.py

report: install ## report.md: metrics, params and plots against BASE (default main)
	sentiment report --base $(BASE) --output report.md
