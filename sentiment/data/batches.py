"""Texts as the families see them: a batch (as given, normalised, tokenised), a labelled split."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from sentiment.io import BATCH_ROWS


@dataclass(frozen=True)
class TextBatch:
    """Texts as the families see them: as given, normalised, and tokenised."""

    texts: list[str]
    norms: list[str]
    tokens: list[list[str]]

    def __len__(self) -> int:
        return len(self.texts)

    def take(self, rows: np.ndarray | list[int]) -> TextBatch:
        return TextBatch([self.texts[i] for i in rows], [self.norms[i] for i in rows],
                         [self.tokens[i] for i in rows])


@dataclass(frozen=True)
class LabelledTexts:
    """A split: its texts, record ids (stable keys for cached features) and label indices."""

    batch: TextBatch
    ids: list[str]
    labels: np.ndarray  # int64 indices into the label list

    def __len__(self) -> int:
        return len(self.labels)

    def batches(self, rows: int = BATCH_ROWS) -> Iterator[TextBatch]:
        """The texts ``rows`` at a time, in order (``split_files.SplitFile`` reads them from
        disk the same way)."""
        for start in range(0, len(self.labels), rows):
            yield self.batch.take(range(start, min(start + rows, len(self.labels))))

    def head(self, rows: int) -> TextBatch:
        return self.batch.take(range(min(rows, len(self.labels))))


def batched_proba(predict: Callable[[TextBatch], np.ndarray], batches: Iterator[TextBatch],
                  n_labels: int) -> np.ndarray:
    """``predict`` over every batch, concatenated: memory is a batch's features, not a split's."""
    parts = [np.zeros((0, n_labels), dtype=np.float32)]
    parts += [predict(batch) for batch in batches]
    return np.concatenate(parts)
