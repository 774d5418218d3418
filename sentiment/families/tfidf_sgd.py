"""Family ``tfidf_sgd``: the word + character TF-IDF of ``tfidf_linear`` and the same
multinomial logistic regression, fitted by mini-batch Adam over TF-IDF rows spilled to disk.

It never holds the training matrix: the rows are transformed once into parts on disk and each
epoch reads them back a part at a time (parts and the rows in each in a seeded order), so
memory is a part plus the weights whatever the data set's size; the epoch with the best
validation macro-F1 (scored a batch at a time) is kept. The exact vocabulary is kept; what it
trades against lbfgs is an approximate optimum. Saved, loaded and served as ``tfidf_linear``.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.metrics import f1_score

from sentiment.data.batches import LabelledTexts
from sentiment.families.base import FitContext
from sentiment.families.parts.tfidf import SpilledRows, TfidfFeaturizer
from sentiment.families.parts.training import class_weights
from sentiment.families.tfidf_linear import TfidfLinear, softmax
from sentiment.params.families import TfidfSGDParams
from sentiment.params.train import TrainParams

log = logging.getLogger(__name__)
BETAS, EPSILON = (0.9, 0.999), 1e-8


class Adam:
    """Adam on the dense weights and biases (float64)."""

    def __init__(self, shapes: list[tuple[int, ...]], lr: float) -> None:
        self.lr, self.step = lr, 0
        self.moments = [(np.zeros(shape), np.zeros(shape)) for shape in shapes]

    def update(self, params: list[np.ndarray], grads: list[np.ndarray]) -> None:
        self.step += 1
        first, second = BETAS
        for param, grad, (mean, square) in zip(params, grads, self.moments, strict=True):
            mean *= first
            mean += (1 - first) * grad
            square *= second
            square += (1 - second) * grad * grad
            corrected = self.lr * np.sqrt(1 - second ** self.step) / (1 - first ** self.step)
            param -= corrected * mean / (np.sqrt(square) + EPSILON)


def predictions(featurizer: TfidfFeaturizer, coef: np.ndarray, intercept: np.ndarray,
                split: LabelledTexts) -> np.ndarray:
    """The predicted class of every row of ``split``, a batch at a time."""
    parts = [np.zeros(0, dtype=np.int64)]
    for batch in split.batches():
        matrix = featurizer.transform(batch.tokens, batch.norms).astype(np.float64)
        parts.append(np.argmax(matrix @ coef.T + intercept, axis=1))
    return np.concatenate(parts)


class TfidfSGD(TfidfLinear):
    name = "tfidf_sgd"

    @classmethod
    def fit(cls, train: LabelledTexts, val: LabelledTexts, params: TrainParams,
            context: FitContext) -> TfidfSGD:
        settings: TfidfSGDParams = params.tfidf_sgd
        featurizer = TfidfFeaturizer(params.tfidf).fit_batches(
            (batch.tokens, batch.norms) for batch in train.batches())
        n_classes, rng = len(context.labels), np.random.default_rng(context.seed)
        coef = np.zeros((n_classes, featurizer.n_features))
        intercept = np.zeros(n_classes)
        weights = (class_weights(train.labels, n_classes).numpy().astype(np.float64)
                   if settings.class_weighting else np.ones(n_classes))
        optimiser = Adam([coef.shape, intercept.shape], settings.lr)
        best = (-1.0, coef.copy(), intercept.copy(), 0)
        with tempfile.TemporaryDirectory(prefix="tfidf-sgd-") as folder:
            rows = SpilledRows(featurizer, ((b.tokens, b.norms) for b in train.batches()),
                               Path(folder))
            for epoch in range(1, settings.epochs + 1):
                for index in rng.permutation(len(rows)):
                    start, matrix = rows.part(int(index))
                    labels = train.labels[start : start + matrix.shape[0]]
                    order = rng.permutation(matrix.shape[0])
                    for first in range(0, len(order), settings.batch_size):
                        picked = order[first : first + settings.batch_size]
                        cls._step(matrix[picked], labels[picked], weights, coef, intercept,
                                  optimiser, settings.l2)
                score = float(f1_score(val.labels, predictions(featurizer, coef, intercept, val),
                                       average="macro"))
                context.log_metric(f"{cls.name}/val_macro_f1", round(score, 6))
                context.next_step()
                log.info("tfidf_sgd: epoch %d, val macro-F1 %.4f", epoch, score)
                if score > best[0]:
                    best = (score, coef.copy(), intercept.copy(), epoch)
        context.summary["best_epoch"] = best[3]
        return cls(featurizer, best[1], best[2])

    @staticmethod
    def _step(matrix: sp.csr_matrix, labels: np.ndarray, weights: np.ndarray,
              coef: np.ndarray, intercept: np.ndarray, optimiser: Adam, l2: float) -> None:
        """One Adam step on the weighted softmax cross-entropy (+ L2) of these rows."""
        matrix = matrix.astype(np.float64)
        error = softmax(matrix @ coef.T + intercept)
        error[np.arange(len(labels)), labels] -= 1.0
        error *= (weights[labels] / len(labels))[:, None]
        grad_coef = np.asarray((matrix.T @ error).T) + l2 * coef
        optimiser.update([coef, intercept], [grad_coef, error.sum(axis=0)])
