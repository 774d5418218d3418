"""The one interface every model family implements, and the data it sees.

A family is fitted on ``train`` (with ``val`` for early stopping / selection), predicts class
probabilities for a batch of texts, and saves itself into a folder (safetensors and JSON only,
nothing pickled). ``sentiment.artifact`` writes the shared part of the folder (``config.json``
with the family's name, labels, normaliser and tokeniser settings, and ``manifest.json``) and
dispatches loading by the family named in ``config.json``, so evaluation, the CLI, the service
and monitoring work with any family unchanged.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch

from sentiment.io import BATCH_ROWS
from sentiment.params import TrainParams


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
        """The texts ``rows`` at a time, in order (``sentiment.splits.SplitFile`` reads them
        from disk the same way)."""
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


@dataclass
class FitContext:
    """What a family needs from the run besides its data and params."""

    seed: int
    device: torch.device
    labels: list[str]
    embeddings: Path | None = None  # sentence embeddings by record id, from the embed stage
    log_metric: Callable[[str, float], None] = lambda name, value: None
    next_step: Callable[[], None] = lambda: None
    summary: dict[str, object] = field(default_factory=dict)  # e.g. best_epoch, for metrics
    trained: dict[str, Family] = field(default_factory=dict)  # families fitted earlier this run


class Family(ABC):
    """A trained classifier of one family."""

    name: ClassVar[str]

    @classmethod
    @abstractmethod
    def fit(cls, train: LabelledTexts, val: LabelledTexts, params: TrainParams,
            context: FitContext) -> Family:
        """Train on ``train``; use ``val`` only for early stopping or model selection."""

    @abstractmethod
    def predict_proba(self, batch: TextBatch) -> np.ndarray:
        """An (n, n_labels) float32 array of probabilities, rows in input order; a text's row
        must not depend on the other texts in the batch (pad or isolate where kernels would)."""

    @abstractmethod
    def save(self, folder: Path) -> dict[str, object]:
        """Write this family's files into ``folder``; return its JSON-safe config section."""

    @classmethod
    @abstractmethod
    def load(cls, folder: Path, config: dict[str, object], n_labels: int) -> Family:
        """Rebuild from ``folder`` and the section ``save`` returned; raise ModelLoadError
        naming the file when something does not fit."""
