"""Cleaning: normalise texts, map labels to {negative, neutral, positive}, drop bad rows."""

from __future__ import annotations

import hashlib
import json
import math
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from sentiment.data.text import NormaliserSettings, normalise
from sentiment.io import ParquetStreamWriter, iter_jsonl, iter_parquet, read_jsonl
from sentiment.params.base import LABELS
from sentiment.params.clean import CleanParams

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


def clean_rows(frame: pd.DataFrame, params: CleanParams, dropped: dict[str, int]
               ) -> pd.DataFrame:
    """The row-wise steps of cleaning (everything but de-duplication), in order: drop rows
    without a text, out-of-range ratings, unmapped labels, low confidence; normalise; drop empty,
    too short, too long. Adds each reason's drops to ``dropped``; keeps the frame's order."""

    def drop(mask: pd.Series, reason: str) -> None:
        nonlocal frame
        dropped[reason] = dropped.get(reason, 0) + int(mask.sum())
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
    return frame


def clean_report(rows_in: int, rows_out: int, dropped: dict[str, int],
                 counts: dict[str, int], params: CleanParams) -> dict[str, object]:
    return {
        "rows_in": rows_in,
        "rows_out": rows_out,
        "dropped": dropped,
        "class_balance": {label: int(counts.get(label, 0)) for label in LABELS},
        "settings": settings_report(params),
    }


def clean_records(frame: pd.DataFrame, params: CleanParams) -> tuple[pd.DataFrame, dict]:
    """Return the cleaned frame (sorted by id) and a data-quality report of drops by reason.

    The frame holds ``CLEAN_COLUMNS``, then every carried optional field in name order. (The
    clean stage streams the same steps: ``clean_file``.)
    """
    rows_in = len(frame)
    dropped: dict[str, int] = {}
    frame = frame.sort_values("id", kind="stable").reset_index(drop=True)
    frame = clean_rows(frame, params, dropped)

    def drop(mask: pd.Series, reason: str) -> None:
        nonlocal frame
        dropped[reason] = int(mask.sum())
        frame = frame.loc[~mask].reset_index(drop=True)

    labels_per_text = frame.groupby("text_norm")["label"].transform("nunique")
    drop(labels_per_text > 1, "conflicting_duplicate")
    drop(frame.duplicated("text_norm", keep="first"), "duplicate")

    cleaned = frame[CLEAN_COLUMNS].astype(str).reset_index(drop=True)
    carried = sorted(set(frame.columns) - set(CLEAN_COLUMNS) - NOT_CARRIED)
    for name in carried:
        cleaned[name] = carried_column(frame[name].reset_index(drop=True))
    counts = cleaned["label"].value_counts().to_dict()
    return cleaned, clean_report(rows_in, len(cleaned), dropped, counts, params)


def settings_report(params: CleanParams) -> dict[str, object]:
    """What the preset and params.yaml decided together: the limits and the label rule."""
    report: dict[str, object] = {"preset": params.preset, "label_source": params.label_source,
                                 "min_chars": params.min_chars, "max_chars": params.max_chars}
    if params.label_source == "rating":
        negative_max, positive_min = params.rating_cutoffs()
        report["rating"] = {"max": params.rating_max, "negative_max": negative_max,
                            "positive_min": positive_min}
    return report


# --- Streaming clean: the same steps as ``clean_records``, a batch of records at a time.
# Pass 1 applies the row-wise steps to each batch and writes the survivors to a temporary
# parquet file, keeping a 128-bit hash of each text_norm and its label (17 bytes a row);
# de-duplication is then decided on those arrays (exact up to a 2**-128 hash collision,
# order-stable: the first row of a text is kept), and pass 2 writes the kept rows.
_CARRIED = "_carried"  # pass 1: a record's carried fields, as one JSON object
_PASS1_SCHEMA = pa.schema([(name, pa.string()) for name in [*CLEAN_COLUMNS, _CARRIED]])
_LABEL_CODES = {label: code for code, label in enumerate(LABELS)}


class UnsortedRecords(ValueError):
    """The raw records are not sorted by a string ``id`` (the scrape stage sorts them)."""


def _present(value: object) -> bool:
    return value is not None and value == value  # NaN is missing


def _carried_json(record: dict[str, Any]) -> str | None:
    carried = {key: value for key, value in record.items()
               if key not in CLEAN_COLUMNS and key not in NOT_CARRIED and _present(value)}
    return json.dumps(carried, sort_keys=True, ensure_ascii=False) if carried else None


def _sorted_batches(batches: Iterable[list[dict[str, Any]]]) -> Iterator[list[dict[str, Any]]]:
    """The batches unchanged, raising UnsortedRecords at the first id out of order."""
    last: str | None = None
    for batch in batches:
        for record in batch:
            key = record.get("id")
            if not isinstance(key, str) or (last is not None and key < last):
                raise UnsortedRecords(key)
            last = key
        yield batch


def _in_memory_sorted(path: Path, batch_rows: int) -> Iterator[list[dict[str, Any]]]:
    """Every record, sorted by id as ``clean_records`` sorts (holds the whole file)."""
    records = read_jsonl(path)
    order = pd.Series([record.get("id") for record in records], dtype=object).sort_values(
        kind="stable").index
    records = [records[index] for index in order]
    for start in range(0, len(records), batch_rows):
        yield records[start : start + batch_rows]


def text_hashes(texts: pd.Series) -> np.ndarray:
    """(n, 2) uint64: the first 128 bits of each text's BLAKE2b."""
    digests = b"".join(hashlib.blake2b(text.encode(), digest_size=16).digest()
                       for text in texts)
    return np.frombuffer(digests, dtype=">u8").reshape(-1, 2).astype(np.uint64)


def duplicate_keep_mask(hashes: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, int, int]:
    """Which rows survive de-duplication: rows of a text seen with two labels are all dropped,
    otherwise a text's first row is kept. Returns (keep, conflicting, duplicate)."""
    n_rows = len(labels)
    if n_rows == 0:
        return np.zeros(0, dtype=bool), 0, 0
    order = np.lexsort((np.arange(n_rows), hashes[:, 1], hashes[:, 0]))
    ordered = hashes[order]
    first = np.ones(n_rows, dtype=bool)
    first[1:] = (ordered[1:] != ordered[:-1]).any(axis=1)
    starts = np.flatnonzero(first)
    group = np.cumsum(first) - 1
    ordered_labels = labels[order]
    conflict = (np.minimum.reduceat(ordered_labels, starts)
                != np.maximum.reduceat(ordered_labels, starts))[group]
    keep = np.empty(n_rows, dtype=bool)
    keep[order] = first & ~conflict
    n_conflict = int(conflict.sum())
    return keep, n_conflict, n_rows - n_conflict - int(keep.sum())


def _carried_kinds(path: Path, keep: np.ndarray, batch_rows: int) -> dict[str, bool]:
    """Each carried field of the kept rows: True if every present value is a number."""
    kinds: dict[str, bool] = {}
    start = 0
    for frame in iter_parquet(path, batch_rows, columns=[_CARRIED]):
        kept = frame[_CARRIED][keep[start : start + len(frame)]]
        start += len(frame)
        for payload in kept.dropna():
            for name, value in json.loads(payload).items():
                number = isinstance(value, int | float) and not isinstance(value, bool)
                kinds[name] = kinds.get(name, True) and number
    return dict(sorted(kinds.items()))


def _with_carried(frame: pd.DataFrame, kinds: dict[str, bool]) -> pd.DataFrame:
    """``CLEAN_COLUMNS`` and each carried field as ``carried_column`` makes it."""
    cleaned = frame[CLEAN_COLUMNS].reset_index(drop=True)
    fields = [json.loads(payload) if isinstance(payload, str) else {}
              for payload in frame[_CARRIED]]
    for name, numeric in kinds.items():
        values = [record.get(name) for record in fields]
        cleaned[name] = (pd.Series([math.nan if value is None else float(value)
                                    for value in values], dtype="float64") if numeric
                         else pd.Series([None if value is None else str(value)
                                         for value in values], dtype=object))
    return cleaned


def clean_file(raw: Path, output: Path, params: CleanParams, batch_rows: int
               ) -> tuple[dict[str, object], bool]:
    """Clean the JSONL records in ``raw`` into the parquet file ``output`` a batch at a time;
    return the report (as ``clean_records``'s) and whether any record has the label source.

    Records sorted by a string id (what scrape writes) stream; others are sorted in memory."""
    try:
        return _clean_file(_sorted_batches(iter_jsonl(raw, batch_rows)), output, params,
                           batch_rows)
    except UnsortedRecords:
        return _clean_file(_in_memory_sorted(raw, batch_rows), output, params, batch_rows)


def _clean_file(batches: Iterable[list[dict[str, Any]]], output: Path, params: CleanParams,
                batch_rows: int) -> tuple[dict[str, object], bool]:
    rows_in, dropped, has_source = 0, {}, False
    hashes, labels = [np.zeros((0, 2), dtype=np.uint64)], [np.zeros(0, dtype=np.uint8)]
    with tempfile.TemporaryDirectory(dir=output.parent if output.parent.is_dir() else None
                                     ) as folder:
        survivors = Path(folder) / "pass1.parquet"
        with ParquetStreamWriter(survivors, _PASS1_SCHEMA) as writer:
            for batch in batches:
                rows_in += len(batch)
                has_source = has_source or any(
                    record.get(params.label_source) is not None for record in batch)
                frame = pd.DataFrame.from_records(batch)
                frame[_CARRIED] = [_carried_json(record) for record in batch]
                frame = clean_rows(frame, params, dropped)
                frame["text"] = frame["text"].astype(str)
                frame["label"] = frame["label"].astype(str)
                frame["id"] = frame["id"].astype(str)
                writer.write(frame[[*CLEAN_COLUMNS, _CARRIED]])
                hashes.append(text_hashes(frame["text_norm"]))
                labels.append(frame["label"].map(_LABEL_CODES).to_numpy(dtype=np.uint8))
        keep, dropped["conflicting_duplicate"], dropped["duplicate"] = duplicate_keep_mask(
            np.concatenate(hashes), np.concatenate(labels))
        del hashes, labels
        kinds = _carried_kinds(survivors, keep, batch_rows)
        schema = pa.schema([*((name, pa.string()) for name in CLEAN_COLUMNS),
                            *((name, pa.float64() if numeric else pa.string())
                              for name, numeric in kinds.items())])
        counts: dict[str, int] = {}
        start = 0
        with ParquetStreamWriter(output, schema) as writer:
            for frame in iter_parquet(survivors, batch_rows):
                mask = keep[start : start + len(frame)]
                start += len(frame)
                frame = frame[mask].reset_index(drop=True)
                writer.write(_with_carried(frame, kinds))
                for label, count in frame["label"].value_counts().items():
                    counts[label] = counts.get(label, 0) + int(count)
    report = clean_report(rows_in, writer.rows, dropped, counts, params)
    return report, has_source
