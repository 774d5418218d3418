"""End to end: the real `dvc` CLI on a small configuration in a temporary git repository."""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import pytest
import yaml

from tests.conftest import queue_is_idle, run, start_queue, write_params

pytestmark = pytest.mark.slow

STAGES = ["params", "scrape", "clean", "featurize", "embed", "split", "train", "evaluate",
          "release"]


def lock_outputs(folder: Path) -> dict[str, str]:
    """Every output path in dvc.lock with its recorded md5."""
    lock = yaml.safe_load((folder / "dvc.lock").read_text())
    return {out["path"]: out["md5"] for stage in lock["stages"].values()
            for out in stage.get("outs", [])}


def test_repro_builds_every_stage_output(built_project: Path) -> None:
    lock = yaml.safe_load((built_project / "dvc.lock").read_text())
    assert sorted(lock["stages"]) == sorted(STAGES)
    metrics = json.loads((built_project / "reports/metrics.json").read_text())
    # Chance is about 0.33; a model that collapsed onto one class scores below 0.25.
    assert 0.45 < metrics["test"]["macro_f1"] <= 1.0
    assert set(metrics["test"]["per_class"]) == {"negative", "neutral", "positive"}
    assert 0.0 < metrics["baseline"]["vader"]["test"]["macro_f1"] <= 1.0
    champion = json.loads((built_project / "reports/train/metrics.json").read_text())["champion"]
    assert set(metrics["families"]) == {"tfidf_linear", "tfidf_mlp", "embeddings_mlp", "ensemble"}
    assert (built_project / "models/candidates" / champion).is_dir()
    # The champion's files, plus its card; the manifest is rewritten to list the card.
    run(["diff", "-r", "-x", "README.md", "-x", "manifest.json", f"models/candidates/{champion}",
         "models/sentiment"], built_project)
    for name in ("config.json", "manifest.json"):
        assert (built_project / "models/sentiment" / name).stat().st_size > 0
    for png in ("confusion_matrix.png", "precision_recall.png", "calibration.png"):
        assert (built_project / "reports/plots" / png).read_bytes()[:4] == b"\x89PNG"
    scrape = json.loads((built_project / "reports/scrape.json").read_text())
    assert scrape["records_kept"] == 800 and scrape["pages_fetched"] == 4


def test_the_released_model_carries_its_card(built_project: Path) -> None:
    """models/sentiment/README.md: listed in the manifest (the loaders accept the folder), its
    front matter naming the champion and its interval from reports/intervals.json."""
    from sentiment.model.folder import load_model
    from sentiment.model.predictor import Predictor

    model = built_project / "models/sentiment"
    card = (model / "README.md").read_text(encoding="utf-8")
    meta = yaml.safe_load(card.split("---\n")[1])
    champion = json.loads((built_project / "reports/train/metrics.json").read_text())["champion"]
    intervals = json.loads((built_project / "reports/intervals.json").read_text())
    assert meta["champion"] == champion and meta["pipeline_tag"] == "text-classification"
    assert meta["test_macro_f1"] == intervals["families"][champion]["test"]["macro_f1"]
    lock = yaml.safe_load((built_project / "dvc.lock").read_text())
    assert meta["reproduce"]["candidates_md5"] == next(
        out["md5"] for out in lock["stages"]["train"]["outs"]
        if out["path"] == "models/candidates")
    assert "README.md" in json.loads((model / "manifest.json").read_text())["files"]
    assert load_model(model).family.name == champion
    with Predictor.load(model) as predictor:
        assert predictor.labels == ["negative", "neutral", "positive"]


def test_noop_repro_and_status_are_clean(built_copy: Path) -> None:
    result = run(["dvc", "repro"], built_copy)
    assert "didn't change" in result.stdout or "up to date" in result.stdout
    status = run(["dvc", "status", "dvc.yaml"], built_copy)  # the training pipeline
    assert "up to date" in status.stdout


def test_forced_repro_is_byte_identical(built_copy: Path) -> None:
    """Every stage up to split and embed rerun in place (the persistent raw output, the streaming
    stages, embed): the same bytes, so the training stages below stay up to date. The training
    stages' own rebuilds are checked by test_small_config_rebuilds_the_committed_outputs and
    tests/e2e/test_cross_cpu.py."""
    before = lock_outputs(built_copy)
    forced = run(["dvc", "repro", "--force", "split", "embed"], built_copy).stdout
    for stage in STAGES[:STAGES.index("split") + 1]:
        assert f"Running stage '{stage}'" in forced, forced
    assert lock_outputs(built_copy) == before
    run(["git", "diff", "--exit-code", "dvc.lock", "reports"], built_copy)
    assert "up to date" in run(["dvc", "status", "dvc.yaml"], built_copy).stdout


def test_param_change_reruns_only_downstream(built_copy: Path) -> None:
    write_params(built_copy, {"evaluate": {"top_mistakes": 3}})
    result = run(["dvc", "repro"], built_copy)
    assert "Running stage 'evaluate'" in result.stdout
    assert "Running stage 'params'" in result.stdout  # it checks every edit of params.yaml
    for stage in STAGES[1:STAGES.index("evaluate")]:
        assert f"Running stage '{stage}'" not in result.stdout


def test_exp_run_set_param_with_one_family_without_curves(built_copy: Path) -> None:
    """An experiment reruns from train on, shows in `dvc exp show`; tfidf_linear alone logs
    no training curves and its run must still complete."""
    result = run(["dvc", "exp", "run", "-S", "train.families=[tfidf_linear]", "-n",
                  "linear-only"], built_copy)
    assert "Running stage 'train'" in result.stdout
    assert "Running stage 'scrape'" not in result.stdout
    shown = json.loads(run(["dvc", "exp", "show", "--json"], built_copy).stdout)
    names = [exp.get("name") for commit in shown for exp in commit.get("experiments") or []]
    assert "linear-only" in names
    metrics = json.loads((built_copy / "reports/train/metrics.json").read_text())
    assert metrics["champion"] == "tfidf_linear"
    assert set(metrics["families"]) == {"tfidf_linear"}
    # A file, not an empty folder: git carries the cache: false plots to other clones.
    curve = built_copy / "reports/train/plots/metrics/tfidf_linear/val_macro_f1.tsv"
    assert curve.read_text().splitlines()[1].split("\t") == [
        "0", str(metrics["families"]["tfidf_linear"]["val"]["macro_f1"])]


@pytest.mark.parametrize("override, key", [
    ("+train.lrr=0.1", "train.lrr"),
    ("train.tfidf_mlp.dropout=1.5", "train.tfidf_mlp.dropout"),
    ("train.tfidf_mlp.lr=.inf", "train.tfidf_mlp.lr"),  # DVC writes the string '.inf'
    ("train.tfidf_mlp.lr=inf", "train.tfidf_mlp.lr: Input should be a finite number"),
    ("train.tfidf_mlp.dropout=nan", "train.tfidf_mlp.dropout: Input should be a finite number"),
    ("train.tfidf_mlp.batch_size=true",
     "train.tfidf_mlp.batch_size: expected int, not a boolean"),
])
def test_exp_run_rejects_bad_params(built_copy: Path, override: str, key: str) -> None:
    result = run(["dvc", "exp", "run", "-S", override], built_copy, check=False)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert re.search(rf"^  {re.escape(key)}", output, re.MULTILINE), output
    assert "Traceback" not in output


def test_failed_stage_tells_the_way_back(built_copy: Path) -> None:
    """scrape reruns (and is recorded in dvc.lock), then clean fails: the command the error
    names puts the committed params, lock and outputs back."""
    committed = lock_outputs(built_copy)
    write_params(built_copy, {"scrape": {"demo": {"max_records": 400}},
                              "clean": {"min_chars": 999}})
    result = run(["dvc", "repro"], built_copy, check=False)
    assert result.returncode != 0
    assert "Running stage 'scrape'" in result.stdout
    assert lock_outputs(built_copy) != committed
    lines = result.stderr.splitlines()
    error = next(i for i, line in enumerate(lines) if line.startswith("ERROR clean: "))
    assert "clean dropped every row" in lines[error]
    way_back = re.search(r"run `(.+?)`", lines[error + 1])
    assert lines[error + 1].startswith("INFO clean: ") and way_back
    run(["bash", "-c", way_back.group(1)], built_copy)
    assert lock_outputs(built_copy) == committed
    assert "up to date" in run(["dvc", "status", "dvc.yaml"], built_copy).stdout
    assert run(["git", "status", "--porcelain"], built_copy).stdout == ""


def test_queued_grid_runs_in_parallel_workers(built_copy: Path) -> None:
    try:
        # tfidf_mlp alone: each queued run trains one family (no encoder) and evaluates it.
        run(["dvc", "exp", "run", "--queue", "-S", "train.families=[tfidf_mlp]",
             "-S", "train.tfidf_mlp.lr=0.002,0.0005", "-S", "train.tfidf_mlp.dropout=0.2"],
            built_copy)
        start_queue(built_copy, 2)
        deadline = time.monotonic() + 600
        while not queue_is_idle(built_copy):
            assert time.monotonic() < deadline, run(["dvc", "queue", "status"],
                                                    built_copy).stdout
            time.sleep(2)
        assert "Failed" not in run(["dvc", "queue", "status"], built_copy).stdout
        shown = json.loads(run(["dvc", "exp", "show", "--json"], built_copy).stdout)
        results = {}
        for exp in (exp for commit in shown for exp in commit.get("experiments") or []):
            data = exp["revs"][0]["data"]
            mlp = data["params"]["params.yaml"]["data"]["train"]["tfidf_mlp"]
            metrics = data["metrics"]["reports/metrics.json"]["data"]
            results[(mlp["lr"], mlp["dropout"])] = metrics["families"]["tfidf_mlp"]["test"][
                "macro_f1"]
        assert set(results) == {(0.002, 0.2), (0.0005, 0.2)}
        assert all(0.0 < f1 <= 1.0 for f1 in results.values())
    finally:
        run(["dvc", "queue", "stop", "--kill"], built_copy, check=False)


SMALL_OUTPUTS = Path(__file__).with_name("small_config_outputs.json")


def test_small_config_rebuilds_the_committed_outputs(built_project: Path) -> None:
    """Every output hash of the small configuration, as committed: a machine (CI's, a
    teammate's) whose CPU or core count changes any output bit fails here. After a deliberate
    change, rewrite the file with ``SENTIMENT_WRITE_SMALL_OUTPUTS=1 pytest -k committed``."""
    outputs = lock_outputs(built_project)
    if os.environ.get("SENTIMENT_WRITE_SMALL_OUTPUTS") == "1":
        SMALL_OUTPUTS.write_text(json.dumps(outputs, indent=2, sort_keys=True) + "\n")
    assert outputs == json.loads(SMALL_OUTPUTS.read_text())
