"""Streamed stages: the same bytes whatever the batch size, and the rows ``clean_records``
(the in-memory reference) gives."""

from __future__ import annotations

import random
from pathlib import Path

import pandas as pd
import pytest
import yaml

from sentiment.data.cleaning import clean_records, duplicate_keep_mask
from sentiment.io import read_jsonl, write_jsonl
from sentiment.params.schema import parse_params
from stages import clean, evaluate, featurize, split, train
from tests.conftest import REPO_ROOT

WORDS = {"positive": ["great", "love", "superb", "happy"],
         "negative": ["awful", "hate", "broken", "sad"],
         "neutral": ["table", "monday", "paper", "train"]}
COMMON = ["the", "a", "is", "was", "it", "this", "very", "and"]


def records(n_rows: int) -> list[dict]:
    rng = random.Random(7)
    out = []
    for index in range(n_rows):
        label = rng.choice(sorted(WORDS))
        words = [rng.choice(WORDS[label] + COMMON) for _ in range(rng.randint(3, 12))]
        record = {"id": f"r{index:05d}", "url": "/x", "text": " ".join(words), "label": label,
                  "confidence": rng.choice([0.3, 0.9, 1.0])}
        if index >= 150:  # optional fields missing (all null) in the first batches
            record["author"] = rng.choice(["ann", None, "bo"])
            record["stars"] = rng.choice([1, 2.5, None])
        if index % 37 == 0:  # an exact duplicate text, sometimes with another label
            record["text"] = out[-1]["text"] if out else record["text"]
        out.append(record)
    return out


def same_rows(left: pd.DataFrame, right: pd.DataFrame) -> bool:
    """Equal columns and values, missing values (None, NaN) alike."""
    def plain(frame: pd.DataFrame) -> list[list[object]]:
        return [[None if pd.isna(value) else value for value in row]
                for row in frame.itertuples(index=False)]
    return list(left.columns) == list(right.columns) and plain(left) == plain(right)


def params_in(folder: Path, families: list[str]) -> object:
    raw = yaml.safe_load((REPO_ROOT / "params.yaml").read_text(encoding="utf-8"))
    raw["paths"] = {key: str(folder / value) for key, value in raw["paths"].items()}
    raw["train"]["families"] = families or ["tfidf_linear"]
    raw["train"]["tfidf"].update(max_word_features=500, max_char_features=500)
    return parse_params(raw, "params.yaml")


def run_stages(folder: Path, raw: list[dict], batch_rows: int, families: list[str]
               ) -> dict[str, bytes]:
    params = params_in(folder, families)
    write_jsonl(params.paths.raw, raw)
    for stage in (clean, featurize, split):
        stage.main(params, batch_rows=batch_rows)
    if families:
        train.main(params)
        evaluate.main(params, batch_rows=batch_rows)
    produced = sorted(path for path in (folder / "data").rglob("*") if path.is_file())
    produced += [folder / "reports" / name for name in
                 ("clean.json", "split.json", "metrics.json", "mistakes.csv", "intervals.json",
                  "predictions.csv", "behaviour.json") if families
                 or name in ("clean.json", "split.json")]
    return {str(path.relative_to(folder)): path.read_bytes() for path in produced}


def test_clean_featurize_split_bytes_do_not_depend_on_the_batch_size(tmp_path: Path) -> None:
    raw = records(400)
    small = run_stages(tmp_path / "small", raw, 7, [])
    large = run_stages(tmp_path / "large", raw, 100_000, [])
    assert set(small) >= {"data/interim/clean.parquet", "data/features/features.parquet",
                          "data/processed/train.parquet", "reports/split.json"}
    assert small == large
    cleaned = pd.read_parquet(tmp_path / "small/data/interim/clean.parquet")
    reference, _ = clean_records(pd.DataFrame.from_records(raw), params_in(tmp_path, []).clean)
    assert same_rows(cleaned, reference)
    assert list(cleaned.columns) == ["id", "text", "text_norm", "label", "author", "stars"]
    assert cleaned["stars"].dtype == "float64"
    features = pd.read_parquet(tmp_path / "small/data/features/features.parquet")
    assert list(features["id"]) == list(cleaned["id"])
    parts = [pd.read_parquet(tmp_path / f"small/data/processed/{name}.parquet")
             for name in ("train", "val", "test")]
    assert sum(map(len, parts)) == len(features)
    assert all(list(part["id"]) == sorted(part["id"]) for part in parts)  # input order kept


def test_unsorted_records_are_cleaned_as_sorted_ones(tmp_path: Path) -> None:
    raw = records(120)
    params = params_in(tmp_path, [])
    write_jsonl(params.paths.raw, list(reversed(raw)))
    clean.main(params, batch_rows=10)
    reference, _ = clean_records(pd.DataFrame.from_records(read_jsonl(params.paths.raw)),
                                 params.clean)
    assert same_rows(pd.read_parquet(params.paths.interim), reference)


def test_duplicate_mask_keeps_first_and_drops_conflicts() -> None:
    import numpy as np

    hashes = np.array([[1, 1], [2, 2], [1, 1], [3, 3], [2, 2], [1, 2]], dtype=np.uint64)
    labels = np.array([0, 1, 0, 2, 0, 1], dtype=np.uint8)
    keep, conflicting, duplicate = duplicate_keep_mask(hashes, labels)
    assert keep.tolist() == [True, False, False, True, False, True]
    assert (conflicting, duplicate) == (2, 1)


@pytest.mark.filterwarnings("ignore")
def test_evaluate_bytes_do_not_depend_on_the_batch_size(tmp_path: Path) -> None:
    raw = records(600)
    small = run_stages(tmp_path / "small", raw, 11, ["tfidf_linear"])
    large = run_stages(tmp_path / "large", raw, 100_000, ["tfidf_linear"])
    assert "reports/metrics.json" in small and b"macro_f1" in small["reports/metrics.json"]
    assert small["reports/predictions.csv"].startswith(b"id,label,champion,tfidf_linear\n")
    assert b'"low"' in small["reports/intervals.json"]
    assert b'"invariance"' in small["reports/behaviour.json"]
    assert small == large
