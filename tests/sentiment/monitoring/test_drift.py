"""Drift: near zero between two random halves of the same data, large for another domain."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pandas as pd
import pytest

from sentiment.cli import main
from sentiment.params.base import ParamsError
from sentiment.params.schema import load_params
from tests.conftest import REPO_ROOT, write_params
from tests.sentiment.monitoring.conftest import reviews, tweets

ROWS = 1500


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two random halves of a tweet sample, and review-like texts, as parquet files."""
    folder = tmp_path_factory.mktemp("drift")
    sample = random.Random(3).sample(tweets(0), 2 * ROWS)
    pd.DataFrame({"text": sample[:ROWS]}).to_parquet(folder / "reference.parquet")
    pd.DataFrame({"text": sample[ROWS:]}).to_parquet(folder / "same.parquet")
    pd.DataFrame({"text": reviews(ROWS)}).to_parquet(folder / "reviews.parquet")
    (folder / "params.yaml").write_text((REPO_ROOT / "params.yaml").read_text())
    return folder


def drift(model_dir: Path, data: Path, current: str, output: Path) -> int:
    with pytest.raises(SystemExit) as stop:
        main(["drift", "--model", str(model_dir), "--reference", str(data / "reference.parquet"),
              "--current", str(data / current), "--output-dir", str(output),
              "--params", str(data / "params.yaml")])
    return stop.value.code


def test_random_split_shows_no_drift(model_dir: Path, data: Path, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert drift(model_dir, data, "same.parquet", tmp_path) == 0
    report = json.loads((tmp_path / "drift.json").read_text())
    assert capsys.readouterr().out == report["summary"] + "\n"
    assert report["summary"].startswith("no drift") and report["exceeded"] == []
    assert report["domain"]["auc"] < 0.6 and report["domain"]["p_value"] > 0.001
    assert report["prior"]["jsd"] < 0.05 and report["length"]["ks"] < 0.06
    assert abs(report["oov"]["delta"]) < 0.02 and report["confidence"]["ks"] < 0.06
    assert (tmp_path / "drift.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_another_domain_is_drift_and_exits_1(model_dir: Path, data: Path, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert drift(model_dir, data, "reviews.parquet", tmp_path) == 1
    report = json.loads((tmp_path / "drift.json").read_text())
    line = capsys.readouterr().out
    assert line.count("\n") == 1 and line.startswith("DRIFT in ")
    assert {"length_ks", "domain_auc"} <= set(report["exceeded"])
    assert report["domain"]["auc"] > 0.95 and report["domain"]["p_value"] < 1e-10
    assert report["length"]["ks"] > 0.9


def test_report_is_byte_identical_on_rerun(model_dir: Path, data: Path,
                                           tmp_path: Path) -> None:
    for run in ("a", "b"):
        drift(model_dir, data, "reviews.parquet", tmp_path / run)
    for name in ("drift.json", "drift.png"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_scores_file_as_current_uses_its_probabilities(model_dir: Path, data: Path,
                                                       tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        main(["score", "--model", str(model_dir), "--input", str(data / "same.parquet"),
              "--output", str(tmp_path / "scores.parquet"), "--workers", "1"])
    assert drift(model_dir, data, "same.parquet", tmp_path / "raw") == 0
    assert drift(model_dir, data, str(tmp_path / "scores.parquet"), tmp_path / "s") == 0
    raw, from_scores = (json.loads((tmp_path / run / "drift.json").read_text())
                        for run in ("raw", "s"))
    assert raw["confidence"] == from_scores["confidence"] and raw["prior"] == from_scores["prior"]


@pytest.mark.parametrize(("value", "message"), [
    (".nan", "monitor.drift.thresholds.length_ks"), (".inf", "monitor.drift.thresholds.length_ks"),
    ("0.4", "monitor.drift.thresholds.domain_auc")])
def test_bad_threshold_is_a_params_error(tmp_path: Path, value: str, message: str) -> None:
    (tmp_path / "params.yaml").write_text((REPO_ROOT / "params.yaml").read_text())
    key = message.rsplit(".", 1)[1]
    write_params(tmp_path, {"monitor": {"drift": {"thresholds": {key: float(value.replace(
        ".nan", "nan").replace(".inf", "inf"))}}}})
    with pytest.raises(ParamsError, match=message.replace(".", r"\.")):
        load_params(tmp_path / "params.yaml")
