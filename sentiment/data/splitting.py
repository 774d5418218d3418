"""Stable hash split: a record keeps its split when the data grows; duplicates never straddle."""

from __future__ import annotations

import hashlib

import pandas as pd

from sentiment.params.base import LABELS
from sentiment.params.split import SplitFractions

SPLITS: tuple[str, ...] = ("train", "val", "test")


def split_of(text_norm: str, fractions: SplitFractions, salt: str = "") -> str:
    """The split of one normalised text, from the first 8 bytes of its salted SHA-256."""
    digest = hashlib.sha256(f"{salt}{text_norm}".encode()).digest()
    position = int.from_bytes(digest[:8], "big") / 2**64
    if position < fractions.train:
        return "train"
    return "val" if position < fractions.train + fractions.val else "test"


def assign_splits(frame: pd.DataFrame, fractions: SplitFractions, salt: str = "") -> pd.Series:
    return frame["text_norm"].map(lambda text: split_of(text, fractions, salt))


def split_balance(frame: pd.DataFrame, splits: pd.Series) -> dict[str, dict[str, object]]:
    """Rows and class balance (counts and shares) per split."""
    counter = SplitCounter()
    counter.add(frame, splits)
    return counter.report()


class SplitCounter:
    """Rows per split and label, added a batch at a time."""

    def __init__(self) -> None:
        self.counts: dict[str, dict[str, int]] = {name: {} for name in SPLITS}
        self.total = 0

    def add(self, frame: pd.DataFrame, splits: pd.Series) -> None:
        self.total += len(frame)
        for name in SPLITS:
            for label, count in frame.loc[splits == name, "label"].value_counts().items():
                self.counts[name][label] = self.counts[name].get(label, 0) + int(count)

    def report(self) -> dict[str, dict[str, object]]:
        """Rows and class balance (counts and shares) per split."""
        report: dict[str, dict[str, object]] = {}
        for name in SPLITS:
            counts = self.counts[name]
            total = sum(counts.values())
            report[name] = {
                "rows": total,
                "counts": {label: int(counts.get(label, 0)) for label in LABELS},
                "shares": {
                    label: round(int(counts.get(label, 0)) / total, 4) if total else 0.0
                    for label in LABELS
                },
            }
        return report
