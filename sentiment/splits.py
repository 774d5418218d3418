"""Reading a processed split as the families see it."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sentiment.errors import ModelLoadError
from sentiment.families.base import LabelledTexts, TextBatch
from sentiment.io import read_parquet

SPLIT_COLUMNS = ("id", "text", "text_norm", "tokens", "label")


def read_split(path: Path, labels: list[str] | tuple[str, ...]) -> LabelledTexts:
    """A split's texts, ids and label indices; a missing column or label names itself."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: missing (run `dvc repro split`)")
    frame = read_parquet(path)
    missing = [column for column in SPLIT_COLUMNS if column not in frame.columns]
    if missing:
        raise ModelLoadError(f"{path}: missing columns {missing}")
    unknown = sorted(set(frame["label"]) - set(labels))
    if unknown:
        raise ModelLoadError(f"{path}: labels {unknown} are not among {list(labels)}")
    batch = TextBatch(frame["text"].tolist(), frame["text_norm"].tolist(),
                      [list(tokens) for tokens in frame["tokens"]])
    return LabelledTexts(batch, frame["id"].astype(str).tolist(),
                         frame["label"].map(list(labels).index).to_numpy(dtype=np.int64))
