"""Per-row test predictions (``reports/predictions.csv``) and pairing two runs' rows by id.

One row per test record: ``id``, ``label``, then the predicted label of the champion and of
every family. Kept in git (a DVC output with ``cache: false``), so a pull request's report
reads the base revision's with ``git show``, and the paired bootstrap compares the same rows.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sentiment.params.base import LABELS

PREDICTIONS_FILE = "predictions.csv"
CHAMPION = "champion"
KEYS = ("id", "label")


class PredictionsError(ValueError):
    """A predictions file is malformed; the message names the file, line and column."""


def predictions_frame(ids: np.ndarray, y_true: np.ndarray, predicted: dict[str, np.ndarray],
                      labels: list[str]) -> pd.DataFrame:
    """The file's rows: label indices become names; ``predicted`` maps a column to indices."""
    names = np.array(labels, dtype=object)
    return pd.DataFrame({"id": ids, "label": names[y_true],
                         **{column: names[values] for column, values in predicted.items()}})


def save_predictions(path: Path, frame: pd.DataFrame) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False, lineterminator="\n")


def read_predictions(text: str, source: str) -> pd.DataFrame:
    """A predictions file's rows, checked: ``id`` unique, every label one of ``LABELS``."""
    frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    missing = [column for column in (*KEYS, CHAMPION) if column not in frame.columns]
    if missing:
        raise PredictionsError(f"{source}: no column {missing[0]!r}")
    if frame["id"].duplicated().any():
        raise PredictionsError(f"{source}: id {frame['id'][frame['id'].duplicated()].iloc[0]!r} "
                         "appears twice")
    for column in frame.columns[1:]:
        unknown = ~frame[column].isin(LABELS)
        if unknown.any():
            row = int(np.flatnonzero(unknown.to_numpy())[0]) + 2  # 1-based, after the header
            raise PredictionsError(f"{source}: line {row}, column {column!r}: unknown label "
                             f"{frame[column].iloc[row - 2]!r}")
    return frame


def indices(values: pd.Series) -> np.ndarray:
    """Label names as indices into ``LABELS``."""
    return values.map(LABELS.index).to_numpy(dtype=np.int64)


@dataclass(frozen=True)
class Pairing:
    """Base and head rows aligned by id, or why they cannot be paired."""

    base: pd.DataFrame
    head: pd.DataFrame
    paired: bool
    shared: int
    only_base: int
    only_head: int


def pair(base: pd.DataFrame, head: pd.DataFrame) -> Pairing:
    """Paired when both runs scored the same records with the same labels: the head's rows in
    the base's order. Otherwise (new data, relabelled rows) the counts say what changed."""
    keys_base, keys_head = base.set_index("id")["label"], head.set_index("id")["label"]
    shared_ids = keys_base.index.intersection(keys_head.index)
    same_label = keys_base[shared_ids] == keys_head[shared_ids]
    shared = int(same_label.sum())
    paired = shared == len(base) == len(head)
    aligned = head.set_index("id").loc[base["id"]].reset_index() if paired else head
    return Pairing(base, aligned, paired, shared, len(base) - shared, len(head) - shared)

