"""The one interface every model family implements, and the data it sees.

A family is fitted on ``train`` (with ``val`` for early stopping / selection), predicts class
probabilities for a batch of texts, and saves itself into a folder (safetensors and JSON only,
nothing pickled). ``sentiment.model.folder`` writes the shared part of the folder (``config.json``
with the family's name, labels, normaliser and tokeniser settings, and ``manifest.json``) and
dispatches loading by the family named in ``config.json``, so evaluation, the CLI, the service
and monitoring work with any family unchanged.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch

from sentiment.data.batches import LabelledTexts, TextBatch
from sentiment.params.train import TrainParams


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

    def served(self) -> Family:
        """This model as it is served: the same weights on the family's fast inference path
        where it has one (``embeddings_mlp``: the int8 ONNX encoder its folder carries), whose
        bits may differ by CPU; itself where the served path is the pinned one."""
        return self

    @abstractmethod
    def save(self, folder: Path) -> dict[str, object]:
        """Write this family's files into ``folder``; return its JSON-safe config section."""

    @classmethod
    @abstractmethod
    def load(cls, folder: Path, config: dict[str, object], n_labels: int) -> Family:
        """Rebuild from ``folder`` and the section ``save`` returned; raise ModelLoadError
        naming the file when something does not fit."""
