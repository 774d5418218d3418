"""Experiments on many machines, simulated on one: two worker clones each run one experiment with
``dvc exp run --pull`` and share it with ``dvc exp push`` through a bare git remote and a real S3
server (SeaweedFS); a third clone gathers both with ``dvc exp pull`` and compares them with
``dvc exp show``, then applies the best with ``dvc exp apply``."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from pathlib import Path
from typing import Any

import pytest

from scripts.storage import S3Server
from tests.conftest import copy_built, run, write_params

# isolated_env, server and own_server: tests/s3.py
pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("isolated_env")]

# The fastest family; each worker retrains it and pulls the rest.
BASELINE = {"train": {"families": ["tfidf_linear"]}}
SEARCH = {"c-small": "train.tfidf_linear.c=0.05", "c-large": "train.tfidf_linear.c=8.0"}
METRICS = ("reports/metrics.json", "reports/train/metrics.json")
UPSTREAM = ("scrape", "clean", "featurize", "embed", "split")
VAL_F1 = "reports/train/metrics.json:families.tfidf_linear.val.macro_f1"


@pytest.fixture
def origin(server: S3Server, built_project: Path, tmp_path: Path) -> Path:
    """A bare git remote whose main holds the built baseline; its outputs are on the S3 remote.
    The baseline is the built project with BASELINE's params: only train and evaluate rerun."""
    source = copy_built(built_project, tmp_path / "source")
    write_params(source, BASELINE)
    run(["dvc", "repro"], source)
    run(["git", "add", "-A"], source)
    run(["git", "commit", "-qm", "baseline"], source)
    server.configure_remote(source)
    run(["dvc", "push"], source)
    bare = tmp_path / "origin.git"
    run(["git", "clone", "-q", "--bare", str(source), str(bare)], tmp_path)
    return bare


def clone(origin: Path, folder: Path, server: S3Server) -> Path:
    """A fresh machine: a git clone (no DVC cache, no outputs), its S3 remote configured."""
    run(["git", "clone", "-q", str(origin), str(folder)], folder.parent)
    server.configure_remote(folder)
    return folder


def read_metrics(repo: Path) -> dict[str, Any]:
    return {name: json.loads((repo / name).read_text()) for name in METRICS}


def model_files(repo: Path) -> dict[str, str]:
    folder = repo / "models/sentiment"
    return {str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(folder.rglob("*")) if path.is_file()}


def shown_experiments(repo: Path) -> dict[str, dict[str, Any]]:
    """``dvc exp show --json``: each named experiment's params.yaml and metrics files."""
    shown = json.loads(run(["dvc", "exp", "show", "--json"], repo).stdout)
    found = {}
    for exp in (exp for commit in shown for exp in commit.get("experiments") or []):
        data = exp["revs"][0]["data"]
        found[exp["name"]] = {
            "params": data["params"]["params.yaml"]["data"],
            "metrics": {name: data["metrics"][name]["data"] for name in METRICS}}
    return found


def test_two_workers_push_experiments_a_third_clone_gathers(server: S3Server, origin: Path,
                                                            tmp_path: Path) -> None:
    computed = {}
    for name, override in SEARCH.items():
        worker = clone(origin, tmp_path / f"worker-{name}", server)
        output = run(["scripts/exp_worker.sh", name, override], worker).stdout
        # --pull: what the change does not touch comes from the S3 remote, not recomputed.
        assert "Running stage 'train'" in output and "Running stage 'evaluate'" in output
        assert not [stage for stage in UPSTREAM if f"Running stage '{stage}'" in output], output
        computed[name] = read_metrics(worker)
        computed[name]["model"] = model_files(worker)
    assert computed["c-small"] != computed["c-large"]  # else a mix-up would go unnoticed

    gatherer = clone(origin, tmp_path / "gatherer", server)
    assert shown_experiments(gatherer) == {}
    listed = run(["dvc", "exp", "list", "origin", "--names-only"], gatherer).stdout.split()
    assert sorted(listed) == sorted(SEARCH)
    run(["dvc", "exp", "pull", "origin"], gatherer)  # every experiment of HEAD, and its outputs

    experiments = shown_experiments(gatherer)
    assert sorted(experiments) == sorted(SEARCH)
    for name, override in SEARCH.items():
        assert experiments[name]["params"]["train"]["tfidf_linear"]["c"] == \
            float(override.split("=")[1])
        assert experiments[name]["metrics"] == {
            key: value for key, value in computed[name].items() if key in METRICS}

    # The best on validation, as docs/experiments.md sorts them; applied: params, dvc.lock and
    # outputs, from the cache `dvc exp pull` filled.
    best = max(SEARCH, key=lambda name: experiments[name]["metrics"][METRICS[1]]["families"]
               ["tfidf_linear"]["val"]["macro_f1"])
    table = run(["dvc", "exp", "show", "--csv", "--only-changed", "--sort-by", VAL_F1,
                 "--sort-order", "desc"], gatherer).stdout
    ranked = [row["Experiment"] for row in csv.DictReader(io.StringIO(table))
              if row["Experiment"] in SEARCH]
    assert ranked[0] == best and len(ranked) == 2
    run(["dvc", "exp", "apply", best], gatherer)
    assert read_metrics(gatherer) == {key: value for key, value in computed[best].items()
                                      if key in METRICS}
    assert model_files(gatherer) == computed[best]["model"]
    assert "up to date" in run(["dvc", "status", "dvc.yaml"], gatherer).stdout
