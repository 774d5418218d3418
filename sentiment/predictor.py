"""Text in, class probabilities out: the one path that evaluation, the CLI and the service use."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from sentiment.artifact import SentimentModel, load_model
from sentiment.features import tokenize
from sentiment.model import predict_proba
from sentiment.text import normalise


class Predictor:
    """Normalise → tokenise → TF-IDF → MLP, with the settings saved in the model folder."""

    def __init__(self, model: SentimentModel) -> None:
        self.model = model
        self.labels = list(model.labels)

    @classmethod
    def load(cls, folder: str | Path) -> Predictor:
        return cls(load_model(folder))

    def features(self, texts: Sequence[str]):
        norms = [normalise(text, self.model.normaliser) for text in texts]
        tokens = [tokenize(norm, self.model.tokens) for norm in norms]
        return self.model.featurizer.transform(tokens, norms)

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """An (n, n_labels) float32 array of probabilities, rows in input order."""
        with torch.inference_mode():
            return predict_proba(self.model.network, self.features(texts))

    def predict(self, texts: Sequence[str]) -> list[dict[str, object]]:
        """One ``{"label", "probabilities"}`` dict per text, in input order."""
        probabilities = self.predict_proba(texts)
        return [
            {
                "label": self.labels[int(row.argmax())],
                "probabilities": dict(zip(self.labels, map(float, row), strict=True)),
            }
            for row in probabilities
        ]
