"""Cleaning long reviews: rating scales, the reviews preset, optional fields carried along."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from sentiment.data.cleaning import CLEAN_COLUMNS, clean_records
from sentiment.params.clean import CleanParams


def reviews(ratings: list[object], **columns: list[object]) -> pd.DataFrame:
    return pd.DataFrame({"id": [f"r{i}" for i in range(len(ratings))],
                         "text": [f"review number {i} of the kettle" for i in range(len(ratings))],
                         "url": ["/r"] * len(ratings), "rating": ratings, **columns})


@pytest.mark.parametrize(("params", "labels"), [
    # Ten-point scale, thresholds as fractions: <= 4 negative, >= 8 positive.
    ({"preset": "reviews", "rating_max": 10},
     ["negative", "negative", "neutral", "neutral", "positive", "positive"]),
    # The same cut-offs in the site's own units.
    ({"label_source": "rating", "rating_max": 10,
      "rating_thresholds": {"unit": "site", "negative_max": 4, "positive_min": 8}},
     ["negative", "negative", "neutral", "neutral", "positive", "positive"]),
    # Five stars read as fractions of 10 would call 4.5 stars neutral: the scale matters.
    ({"preset": "reviews", "rating_max": 5},
     ["negative", "positive", "positive", "positive", "positive", "positive"]),
])
def test_rating_scale_and_thresholds(params: dict, labels: list[str]) -> None:
    frame = reviews([1, 4, 4.5, 7.5, 8, 10]) if params["rating_max"] == 10 else \
        reviews([1, 4, 4.5, 4.5, 4.0, 5])
    cleaned, _ = clean_records(frame, CleanParams.model_validate(params))
    assert list(cleaned["label"]) == labels


def test_ratings_outside_the_scale_are_dropped_and_counted() -> None:
    cleaned, report = clean_records(reviews([3, 8, -1, None, "n/a"]),
                                    CleanParams(preset="reviews"))
    assert list(cleaned["id"]) == ["r0"]
    assert report["dropped"]["rating_out_of_range"] == 2
    assert report["dropped"]["unmapped_label"] == 2
    assert report["settings"] == {"preset": "reviews", "label_source": "rating",
                                  "min_chars": 3, "max_chars": 20000,
                                  "rating": {"max": 5.0, "negative_max": 2.0,
                                             "positive_min": 4.0}}


def test_the_reviews_preset_keeps_long_reviews_the_tweet_one_drops() -> None:
    frame = reviews([5, 1])
    frame.loc[0, "text"] = "A long and careful review. " * 200  # 5,400 characters
    long_kept, _ = clean_records(frame, CleanParams(preset="reviews"))
    _, dropped = clean_records(frame, CleanParams(label_source="rating"))
    assert list(long_kept["id"]) == ["r0", "r1"]
    assert dropped["dropped"]["too_long"] == 1


def test_optional_fields_are_carried_and_crawl_fields_are_not() -> None:
    frame = reviews([5, 1, 3], author=["Ann", None, "Bo"], date=["2024-01-02", None, None],
                    helpful=[12.0, None, 3.0], title=["Great", "Bad", "Ok"],
                    confidence=[0.9, 0.8, 0.7])
    cleaned, _ = clean_records(frame, CleanParams(preset="reviews"))
    assert list(cleaned.columns) == [*CLEAN_COLUMNS, "author", "date", "helpful", "rating",
                                     "title"]
    assert list(cleaned["author"]) == ["Ann", None, "Bo"]
    assert list(cleaned["date"]) == ["2024-01-02", None, None]
    assert cleaned["helpful"].dtype == "float64" and math.isnan(cleaned["helpful"][1])
    assert list(cleaned["rating"]) == [5.0, 1.0, 3.0]


def test_a_tweet_corpus_gets_no_new_columns() -> None:
    frame = pd.DataFrame({"id": ["a", "b"], "text": ["good day", "bad day"],
                          "label": ["positive", "negative"], "confidence": [1.0, None],
                          "url": ["/p", "/p"]})
    cleaned, report = clean_records(frame, CleanParams())
    assert list(cleaned.columns) == CLEAN_COLUMNS
    assert "rating_out_of_range" not in report["dropped"]
