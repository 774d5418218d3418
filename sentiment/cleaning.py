"""Cleaning: normalise texts, map labels to {negative, neutral, positive}, drop bad rows."""

from __future__ import annotations

import math

import pandas as pd

from sentiment.params import LABELS, CleanParams
from sentiment.text import NormaliserSettings, normalise

CLEAN_COLUMNS = ["id", "text", "text_norm", "label"]
#: Raw fields clean does not carry: crawl provenance (``url``), the site's label (replaced by
#: the mapped one) and annotator agreement (used by ``min_confidence``). Every other field
#: (``rating``, ``author``, ``date``, ``title``, ``product``, a user's own) is carried.
NOT_CARRIED = frozenset({"url", "label", "confidence"})


def normaliser_settings(params: CleanParams) -> NormaliserSettings:
    return NormaliserSettings(
        lowercase=params.lowercase, url_token=params.url_token, user_token=params.user_token
    )


def _number(value: object) -> float:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan
    return number


def _missing(frame: pd.DataFrame) -> pd.Series:
    return pd.Series([None] * len(frame), index=frame.index, dtype=object)


def rating_in_range(frame: pd.DataFrame, params: CleanParams) -> pd.Series:
    """False where a rating is a number outside ``0..rating_max`` (a wrong scale or regex)."""
    ratings = frame["rating"].map(_number) if "rating" in frame else pd.Series(
        math.nan, index=frame.index)
    return ~((ratings < 0) | (ratings > params.rating_max))


def map_labels(frame: pd.DataFrame, params: CleanParams) -> pd.Series:
    """The target label of each row, or None where it cannot be mapped."""
    if params.label_source == "rating":
        if "rating" not in frame:
            return _missing(frame)
        negative_max, positive_min = params.rating_cutoffs()

        def from_rating(value: object) -> str | None:
            rating = _number(value)
            if math.isnan(rating):
                return None
            if rating <= negative_max:
                return "negative"
            return "positive" if rating >= positive_min else "neutral"

        return frame["rating"].map(from_rating).astype(object)
    if "label" not in frame:
        return _missing(frame)
    mapping = {key.strip().lower(): value for key, value in params.label_map.items()}
    return frame["label"].map(
        lambda value: mapping.get(str(value).strip().lower()) if isinstance(value, str) else None
    ).astype(object)


def carried_column(values: pd.Series) -> pd.Series:
    """An optional field as a column: floats if every value is a number, else strings; None
    (or NaN) where a record lacks it."""
    present = values.dropna()
    if len(present) and present.map(lambda value: isinstance(value, int | float)
                   and not isinstance(value, bool)).all():
        return values.astype("float64")
    return pd.Series([None if value is None or value != value else str(value)
                      for value in values], index=values.index, dtype=object)


def clean_records(frame: pd.DataFrame, params: CleanParams) -> tuple[pd.DataFrame, dict]:
    """Return the cleaned frame (sorted by id) and a data-quality report of drops by reason.

    The frame holds ``CLEAN_COLUMNS``, then every carried optional field in name order.
    """
    rows_in = len(frame)
    dropped: dict[str, int] = {}
    frame = frame.sort_values("id", kind="stable").reset_index(drop=True)

    def drop(mask: pd.Series, reason: str) -> None:
        nonlocal frame
        dropped[reason] = int(mask.sum())
        frame = frame.loc[~mask].reset_index(drop=True)

    texts = frame["text"] if "text" in frame else pd.Series([None] * len(frame), dtype=object)
    drop(~texts.map(lambda value: isinstance(value, str)), "missing_text")
    if params.label_source == "rating":
        drop(~rating_in_range(frame, params), "rating_out_of_range")
    frame["label"] = map_labels(frame, params)
    drop(frame["label"].isna(), "unmapped_label")
    if params.min_confidence > 0:
        # A row without a confidence value is kept: its agreement is unknown, not low.
        confidence = frame.get("confidence", pd.Series(math.nan, index=frame.index)).map(_number)
        drop(confidence < params.min_confidence, "low_confidence")
    settings = normaliser_settings(params)
    frame["text_norm"] = frame["text"].map(lambda text: normalise(text, settings))
    lengths = frame["text_norm"].str.len()
    drop(lengths == 0, "empty")
    drop(frame["text_norm"].str.len() < params.min_chars, "too_short")
    drop(frame["text_norm"].str.len() > params.max_chars, "too_long")
    labels_per_text = frame.groupby("text_norm")["label"].transform("nunique")
    drop(labels_per_text > 1, "conflicting_duplicate")
    drop(frame.duplicated("text_norm", keep="first"), "duplicate")

    cleaned = frame[CLEAN_COLUMNS].astype(str).reset_index(drop=True)
    carried = sorted(set(frame.columns) - set(CLEAN_COLUMNS) - NOT_CARRIED)
    for name in carried:
        cleaned[name] = carried_column(frame[name].reset_index(drop=True))
    counts = cleaned["label"].value_counts()
    report = {
        "rows_in": rows_in,
        "rows_out": len(cleaned),
        "dropped": dropped,
        "class_balance": {label: int(counts.get(label, 0)) for label in LABELS},
        "settings": settings_report(params),
    }
    return cleaned, report


def settings_report(params: CleanParams) -> dict[str, object]:
    """What the preset and params.yaml decided together: the limits and the label rule."""
    report: dict[str, object] = {"preset": params.preset, "label_source": params.label_source,
                                 "min_chars": params.min_chars, "max_chars": params.max_chars}
    if params.label_source == "rating":
        negative_max, positive_min = params.rating_cutoffs()
        report["rating"] = {"max": params.rating_max, "negative_max": negative_max,
                            "positive_min": positive_min}
    return report
