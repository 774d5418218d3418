from __future__ import annotations

import pandas as pd

from sentiment.data.cleaning import clean_records
from sentiment.data.splitting import assign_splits, split_balance, split_of
from sentiment.params.clean import CleanParams
from sentiment.params.split import SplitFractions

FRACTIONS = SplitFractions(train=0.8, val=0.1, test=0.1)


def frame(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows)


def test_clean_drops_each_reason_and_reports_it() -> None:
    raw = frame([
        {"id": "a", "text": "Great flight!", "label": "positive", "confidence": 0.9},
        {"id": "b", "text": "great   FLIGHT!", "label": "positive", "confidence": 0.8},  # dup
        {"id": "c", "text": "Lost my bag", "label": "negative", "confidence": 1.0},
        {"id": "d", "text": "lost my BAG", "label": "positive", "confidence": 1.0},  # conflict
        {"id": "e", "text": "ok", "label": "neutral", "confidence": 1.0},  # too short
        {"id": "f", "text": None, "label": "neutral", "confidence": 1.0},  # missing text
        {"id": "g", "text": "Meh, it was a flight", "label": "bogus", "confidence": 1.0},
        {"id": "h", "text": "So-so service", "label": "neutral", "confidence": 0.3},  # low conf
        {"id": "i", "text": "Fine, arrived on time", "label": "Neutral", "confidence": None},
    ])
    params = CleanParams(min_chars=3, min_confidence=0.5)
    cleaned, report = clean_records(raw, params)
    assert list(cleaned["id"]) == ["a", "i"]
    assert list(cleaned.columns) == ["id", "text", "text_norm", "label"]
    assert report["rows_in"] == 9 and report["rows_out"] == 2
    assert report["dropped"] == {
        "missing_text": 1, "unmapped_label": 1, "low_confidence": 1, "empty": 0,
        "too_short": 1, "too_long": 0, "conflicting_duplicate": 2, "duplicate": 1,
    }
    assert report["class_balance"] == {"negative": 0, "neutral": 1, "positive": 1}


def test_labels_from_ratings_use_thresholds() -> None:
    raw = frame([
        {"id": str(i), "text": f"review number {i}", "rating": rating}
        for i, rating in enumerate([1, 2, 3, 4, 5, "n/a"])
    ])
    cleaned, report = clean_records(raw, CleanParams(label_source="rating"))
    assert list(cleaned["label"]) == ["negative", "negative", "neutral", "positive", "positive"]
    assert report["dropped"]["unmapped_label"] == 1


def test_split_is_stable_and_follows_fractions() -> None:
    texts = [f"text number {i}" for i in range(5000)]
    splits = [split_of(text, FRACTIONS) for text in texts]
    assert splits == [split_of(text, FRACTIONS) for text in texts]
    shares = {name: splits.count(name) / len(splits) for name in ("train", "val", "test")}
    assert abs(shares["train"] - 0.8) < 0.03 and abs(shares["test"] - 0.1) < 0.02
    assert split_of("a text", FRACTIONS, salt="x") in ("train", "val", "test")


def test_split_of_a_record_does_not_depend_on_other_records() -> None:
    small = frame([{"text_norm": "hello there", "label": "neutral"}])
    large = frame([{"text_norm": f"row {i}", "label": "neutral"} for i in range(100)]
                  + [{"text_norm": "hello there", "label": "neutral"}])
    assert assign_splits(small, FRACTIONS).iloc[0] == assign_splits(large, FRACTIONS).iloc[-1]


def test_split_balance_counts_per_class() -> None:
    data = frame([{"text_norm": str(i), "label": label}
                  for i, label in enumerate(["negative", "positive", "positive", "neutral"])])
    splits = pd.Series(["train", "train", "test", "val"])
    report = split_balance(data, splits)
    assert report["train"]["counts"] == {"negative": 1, "neutral": 0, "positive": 1}
    assert report["test"]["shares"]["positive"] == 1.0
