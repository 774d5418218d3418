"""The model card: front matter, every family and interval, one-line errors, and the release
stage that puts it in the model folder."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from sentiment.evaluation.card import CARD_FILE, SOURCES, CardError, read_reports, render_card
from sentiment.io import write_json
from sentiment.model.folder import MANIFEST_FILE, load_model, verify_manifest
from sentiment.model.version import folder_md5
from sentiment.params.paths import PathsParams
from sentiment.params.train import BudgetParams, TrainParams
from sentiment.runtime import StageError
from stages.release import ReleaseStageParams, main
from tests.markdown import check_tables

FAMILIES = {"tfidf_linear": (0.71, 0.70, 0.66, 0.74), "tfidf_mlp": (0.74, 0.73, 0.69, 0.77)}
CHAMPION = "tfidf_mlp"
LABELS = ("negative", "neutral", "positive")


def interval(value: float, low: float, high: float) -> dict[str, float]:
    return {"value": value, "low": low, "high": high, "confidence": 0.95}


def reports_payload(champion: str = CHAMPION) -> dict[str, Any]:
    """Reports shaped as the stages write them, by ``SOURCES`` key."""
    split = {name: {"rows": rows, "counts": dict(zip(LABELS, counts, strict=True)),
                    "shares": {label: round(count / rows, 4)
                               for label, count in zip(LABELS, counts, strict=True)}}
             for name, rows, counts in (("train", 80, (40, 30, 10)), ("val", 10, (5, 3, 2)),
                                        ("test", 10, (4, 4, 2)))}
    per_class = {label: {"f1": 0.7, "precision": 0.7, "recall": 0.7} for label in LABELS}
    return {
        "scrape": {"source": "demo", "records_kept": 120, "start_urls": ["/reviews?page=1"]},
        "clean": {"rows_in": 120, "rows_out": 100, "settings": {"preset": "tweets"}},
        "split": split,
        "train": {"champion": champion, "families": {
            name: {"val": {"macro_f1": val}, "size_mb": 1.5} for name, (val, *_) in
            FAMILIES.items()}},
        "metrics": {"test": {"rows": 10, "accuracy": 0.8, "macro_f1": 0.73,
                             "per_class": per_class},
                    "baseline": {"vader": {"test": {"macro_f1": 0.45}}}},
        "intervals": {"resamples": 1000, "confidence": 0.95,
                      "families": {name: {"test": {"macro_f1": interval(*scores)}}
                                   for name, (_, *scores) in FAMILIES.items()},
                      "champion_lead": {"champion": champion, "runner_up": "tfidf_linear",
                                        "val_macro_f1_diff": interval(0.03, -0.01, 0.07),
                                        "significant": False}},
        "behaviour": {"cases": {"minimum_functionality": 54, "invariance": 162,
                                "directional": 36},
                      "families": {name: {"minimum_functionality": 0.25, "invariance": 0.125,
                                          "directional": 0.5, "tests": {}}
                                   for name in FAMILIES}},
    }


def write_reports(folder: Path, payload: dict[str, Any]) -> Path:
    for key, name in SOURCES.items():
        write_json(folder / name, payload[key])
    return folder


def front_matter(card: str) -> dict[str, Any]:
    assert card.startswith("---\n")
    return yaml.safe_load(card.split("---\n")[1])


@pytest.fixture
def reports(tmp_path: Path) -> Path:
    return write_reports(tmp_path / "reports", reports_payload())


def test_front_matter_is_yaml_with_the_model_card_keys(reports: Path) -> None:
    card = render_card(read_reports(reports), "abc.dir", BudgetParams())
    meta = front_matter(card)
    assert {"language", "library_name", "pipeline_tag", "tags", "datasets", "model-index",
            "champion", "test_macro_f1", "reproduce"} <= set(meta)
    assert "license" not in meta  # not known, so left out
    assert meta["pipeline_tag"] == "text-classification" and meta["champion"] == CHAMPION
    assert meta["test_macro_f1"] == interval(*FAMILIES[CHAMPION][1:])
    assert meta["reproduce"] == {"candidates_md5": "abc.dir"}
    [result] = meta["model-index"][0]["results"]
    assert {m["type"]: m["value"] for m in result["metrics"]} == {"f1": 0.73, "accuracy": 0.8}


def test_every_family_interval_split_and_behaviour_appear(reports: Path) -> None:
    card = render_card(read_reports(reports), "abc.dir", BudgetParams())
    for name, (val, value, low, high) in FAMILIES.items():
        row = next(line for line in card.splitlines() if line.startswith(f"| {name}"))
        assert f"{val:.4f} | {value:.4f} | {low:.4f} to {high:.4f} |" in row
    assert f"| {CHAMPION} * |" in card
    assert not check_tables(card.splitlines())
    assert "| train | 80 | 40 (50.0 %) | 30 (37.5 %) | 10 (12.5 %) |" in card
    assert "| tfidf_linear | 25.0 % | 12.5 % | 50.0 % |" in card
    assert "`tfidf_linear`, by +0.0300 macro-F1" in card and "not significant" in card
    assert "No serving budget" in card and "sentiment drift" in card
    assert "the rarest, positive, has test F1 0.7000" in card


@pytest.mark.parametrize(("scrape", "dataset", "where"), [
    ({"source": "files", "records_kept": 120,
      "read": [{"path": "data/sources/reviews.csv.gz", "size": 9, "blake2b": "ab"}]},
     "files", "records read from `data/sources/reviews.csv.gz`"),
    ({"source": "sql", "records_kept": 120,
      "read": [{"url": "postgresql+psycopg://reader:***@db/shop", "query": "SELECT 1",
                "rows": 120}]},
     "sql", "records queried from `postgresql+psycopg://reader:***@db/shop`"),
], ids=["files", "sql"])
def test_a_source_of_files_or_sql_is_named(tmp_path: Path, scrape: dict[str, Any],
                                           dataset: str, where: str) -> None:
    reports = write_reports(tmp_path, {**reports_payload(), "scrape": scrape})
    card = render_card(read_reports(reports), "abc.dir", BudgetParams())
    assert front_matter(card)["datasets"] == [dataset]
    assert f"120 {where}" in card


def test_the_card_is_the_same_bytes_every_time_and_names_no_absolute_path(
        reports: Path) -> None:
    cards = {render_card(read_reports(reports), "abc.dir", BudgetParams(min_texts_per_s=50))
             for _ in range(2)}
    [card] = cards
    assert str(reports.parent) not in card
    assert "at least 50 texts per second" in card


@pytest.mark.parametrize("name", sorted(SOURCES.values()))
def test_a_missing_report_is_one_line_naming_it(reports: Path, name: str) -> None:
    (reports / name).unlink()
    with pytest.raises(CardError) as error:
        read_reports(reports)
    assert str(error.value) == f"{reports / name}: missing (run `dvc repro`)"


def test_a_malformed_report_is_one_line_naming_it(reports: Path) -> None:
    (reports / "intervals.json").write_text("{not json")
    with pytest.raises(CardError, match=r"intervals.json: not a JSON report") as error:
        read_reports(reports)
    assert "\n" not in str(error.value)


def test_a_report_lacking_a_figure_names_the_file_and_the_key(reports: Path) -> None:
    payload = reports_payload()
    del payload["intervals"]["families"]["tfidf_linear"]
    write_reports(reports, payload)
    with pytest.raises(CardError, match=r"intervals.json: no families.tfidf_linear.test."
                                        r"macro_f1.value \(rerun `dvc repro`\)$"):
        render_card(read_reports(reports), "abc.dir", BudgetParams())


def test_release_copies_the_champion_with_its_card_listed_in_the_manifest(
        tmp_path: Path, model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    shutil.copytree(model_dir, tmp_path / "models/candidates" / CHAMPION)
    write_reports(tmp_path / "reports", reports_payload())
    params = ReleaseStageParams(seed=1, paths=PathsParams(), train=TrainParams())
    main(params)
    model = tmp_path / "models/sentiment"
    card = (model / CARD_FILE).read_text()
    assert card == render_card(read_reports(Path("reports")),
                               folder_md5(Path("models/candidates")), BudgetParams())
    assert CARD_FILE in json.loads((model / MANIFEST_FILE).read_text())["files"]
    assert load_model(model).family.name == CHAMPION
    verify_manifest(model)
    shutil.rmtree(model)
    write_reports(tmp_path / "reports", reports_payload(champion="tfidf_linear"))
    with pytest.raises(StageError, match=r"models/candidates/tfidf_linear: no such candidate"):
        main(params)
