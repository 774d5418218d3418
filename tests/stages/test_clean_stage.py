"""The clean stage as DVC runs it (`python -m stages.clean`), on raw records of a review site."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import yaml

from sentiment.io import write_jsonl
from tests.conftest import REPO_ROOT, tool_env

RAW = [
    {"id": "r1", "url": "/p", "text": "Boils fast.\nLooks good.", "rating": 5.0, "author": "Ann"},
    {"id": "r2", "url": "/p", "text": "Broke in a week.", "rating": 1.0, "author": None},
    {"id": "r3", "url": "/p", "text": "It is fine.", "rating": 3.0, "author": "Bo"},
]


def run_clean(folder: Path, records: list[dict], clean: dict) -> subprocess.CompletedProcess:
    params = yaml.safe_load((REPO_ROOT / "params.yaml").read_text(encoding="utf-8"))
    params["clean"].update(clean)
    (folder / "params.yaml").write_text(yaml.safe_dump(params), encoding="utf-8")
    write_jsonl(folder / params["paths"]["raw"], records)
    return subprocess.run([sys.executable, "-m", "stages.clean"], cwd=folder, text=True,
                          capture_output=True, check=False,
                          env=tool_env(PYTHONPATH=str(REPO_ROOT)))


def test_reviews_are_labelled_from_ratings_with_their_fields(tmp_path: Path) -> None:
    done = run_clean(tmp_path, RAW, {"preset": "reviews"})
    assert done.returncode == 0, done.stderr
    interim = pd.read_parquet(tmp_path / "data/interim/clean.parquet")
    assert list(interim["label"]) == ["positive", "negative", "neutral"]
    assert list(interim.columns) == ["id", "text", "text_norm", "label", "author", "rating"]
    report = json.loads((tmp_path / "reports/clean.json").read_text())
    assert report["settings"]["preset"] == "reviews" and report["rows_out"] == 3


def test_rating_labels_without_ratings_fail_in_one_line(tmp_path: Path) -> None:
    unrated = [{key: value for key, value in record.items() if key != "rating"}
               for record in RAW]
    done = run_clean(tmp_path, unrated, {"label_source": "rating"})
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[0] == (
        "ERROR clean: clean.label_source is 'rating' but no record in data/raw/records.jsonl "
        "has a rating: set scrape.selectors.fields.rating, or clean.label_source "
        '(docs/crawling.md)')
    assert not (tmp_path / "data/interim/clean.parquet").exists()
