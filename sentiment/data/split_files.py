"""Reading a processed split as the families see it: whole (``read_split``) or a batch at a
time from disk (``SplitFile``)."""

from __future__ import annotations

from collections.abc import Iterator
from functools import cached_property
from pathlib import Path

import numpy as np

from sentiment.data.batches import LabelledTexts, TextBatch
from sentiment.errors import ModelLoadError
from sentiment.io import BATCH_ROWS, iter_parquet, parquet_schema, read_parquet

SPLIT_COLUMNS = ("id", "text", "text_norm", "tokens", "label")
TEXT_COLUMNS = ["text", "text_norm", "tokens"]


def _check(path: Path, columns: list[str], labels: list[str], found: set[str]) -> None:
    missing = [column for column in SPLIT_COLUMNS if column not in columns]
    if missing:
        raise ModelLoadError(f"{path}: missing columns {missing}")
    unknown = sorted(found - set(labels))
    if unknown:
        raise ModelLoadError(f"{path}: labels {unknown} are not among {list(labels)}")


def _text_batch(frame) -> TextBatch:  # noqa: ANN001 (a pandas DataFrame)
    return TextBatch(frame["text"].tolist(), frame["text_norm"].tolist(),
                     [list(tokens) for tokens in frame["tokens"]])


def read_split(path: Path, labels: list[str] | tuple[str, ...]) -> LabelledTexts:
    """A split's texts, ids and label indices; a missing column or label names itself."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: missing (run `dvc repro split`)")
    frame = read_parquet(path)
    _check(path, list(frame.columns), list(labels), set(frame["label"]))
    return LabelledTexts(_text_batch(frame), frame["id"].astype(str).tolist(),
                         frame["label"].map(list(labels).index).to_numpy(dtype=np.int64))


class SplitFile:
    """A split on disk, as ``LabelledTexts`` but read a batch at a time: only its label
    indices (8 bytes a row) are held; ``batch`` and ``ids`` load the whole split, for the
    families that need it at once."""

    def __init__(self, path: Path, labels: list[str] | tuple[str, ...],
                 batch_rows: int = BATCH_ROWS) -> None:
        if not path.is_file():
            raise FileNotFoundError(f"{path}: missing (run `dvc repro split`)")
        self.path, self.batch_rows = path, batch_rows
        names = parquet_schema(path).names
        _check(path, names, list(labels), set())
        index = {label: code for code, label in enumerate(labels)}
        parts, found = [np.zeros(0, dtype=np.int64)], set()
        for frame in iter_parquet(path, batch_rows, columns=["label"]):
            found.update(frame["label"].unique())
            parts.append(frame["label"].map(index).to_numpy(dtype=np.float64))
        _check(path, names, list(labels), found)
        self.labels = np.concatenate(parts).astype(np.int64)

    def __len__(self) -> int:
        return len(self.labels)

    def batches(self, rows: int | None = None) -> Iterator[TextBatch]:
        for frame in iter_parquet(self.path, rows or self.batch_rows, columns=TEXT_COLUMNS):
            yield _text_batch(frame)

    def head(self, rows: int) -> TextBatch:
        return next(self.batches(rows), TextBatch([], [], []))

    @cached_property
    def batch(self) -> TextBatch:
        parts = list(self.batches())
        return TextBatch([text for part in parts for text in part.texts],
                         [norm for part in parts for norm in part.norms],
                         [tokens for part in parts for tokens in part.tokens])

    @cached_property
    def ids(self) -> list[str]:
        return [str(value) for frame in iter_parquet(self.path, self.batch_rows, columns=["id"])
                for value in frame["id"]]
