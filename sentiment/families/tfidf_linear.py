"""Family ``tfidf_linear``: the same word + character TF-IDF and a multinomial logistic
regression (L2, lbfgs): the robust family for small data sets."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

from sentiment.data.batches import LabelledTexts, TextBatch
from sentiment.errors import ModelLoadError
from sentiment.families.base import Family, FitContext
from sentiment.families.parts.tfidf import (
    TfidfFeaturizer,
    load_featurizer,
    save_featurizer,
    transform_batches,
)
from sentiment.families.parts.weights import read_arrays, save_arrays
from sentiment.params.train import TrainParams

log = logging.getLogger(__name__)
COEF_FILE = "linear.safetensors"


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


class TfidfLinear(Family):
    name = "tfidf_linear"

    def __init__(self, featurizer: TfidfFeaturizer, coef: np.ndarray, intercept: np.ndarray
                 ) -> None:
        self.featurizer, self.coef, self.intercept = featurizer, coef, intercept

    @classmethod
    def fit(cls, train: LabelledTexts, val: LabelledTexts, params: TrainParams,
            context: FitContext) -> TfidfLinear:
        settings = params.tfidf_linear
        featurizer = TfidfFeaturizer(params.tfidf).fit_batches(
            (batch.tokens, batch.norms) for batch in train.batches())
        # lbfgs needs every row at once: the TF-IDF matrix is held (not the texts)
        x_train = transform_batches(featurizer, ((b.tokens, b.norms) for b in train.batches()))
        model = LogisticRegression(
            C=settings.c, max_iter=settings.max_iter, solver="lbfgs",
            class_weight="balanced" if settings.class_weighting else None,
        )
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            model.fit(x_train, train.labels)
        if any(issubclass(w.category, ConvergenceWarning) for w in caught):
            log.warning("tfidf_linear: lbfgs stopped at train.tfidf_linear.max_iter=%d before "
                        "converging", settings.max_iter)
        coef = np.zeros((len(context.labels), x_train.shape[1]))
        intercept = np.zeros(len(context.labels))
        coef[model.classes_] = model.coef_  # a class absent from train keeps zero weights
        intercept[model.classes_] = model.intercept_
        return cls(featurizer, coef, intercept)

    def predict_proba(self, batch: TextBatch) -> np.ndarray:
        matrix = self.featurizer.transform(batch.tokens, batch.norms).astype(np.float64)
        return softmax(matrix @ self.coef.T + self.intercept).astype(np.float32)

    def save(self, folder: Path) -> dict[str, object]:
        save_featurizer(self.featurizer, folder)
        save_arrays({"coef": self.coef, "intercept": self.intercept}, folder / COEF_FILE)
        return {"n_features": int(self.coef.shape[1])}

    @classmethod
    def load(cls, folder: Path, config: dict[str, object], n_labels: int) -> TfidfLinear:
        featurizer = load_featurizer(folder)
        arrays = read_arrays(folder / COEF_FILE)
        coef, intercept = arrays.get("coef"), arrays.get("intercept")
        if (coef is None or intercept is None or coef.shape != (n_labels, featurizer.n_features)
                or intercept.shape != (n_labels,)):
            raise ModelLoadError(f"{folder / COEF_FILE}: coefficients do not match "
                                 f"{n_labels} labels x {featurizer.n_features} features")
        return cls(featurizer, coef, intercept)
