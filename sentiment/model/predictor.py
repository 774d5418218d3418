"""Text in, class probabilities out: the one path that evaluation, the CLI, the service and
monitoring use, for every model family. The text is normalised and tokenised with the settings
saved in the model folder, then handed to the folder's family."""

from __future__ import annotations

import logging
import multiprocessing
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch

from sentiment.data.batches import TextBatch
from sentiment.data.features import tokenize
from sentiment.data.text import normalise
from sentiment.model.folder import SentimentModel, load_model
from sentiment.model.routes import Route

log = logging.getLogger(__name__)

POOL_MIN_TEXTS = 2000  # a process pool pays off from batches of about this size
# Texts are predicted in pieces of this many, in process or in the pool alike: an encoder
# family's last bits depend on the batch a text is embedded in, so the pieces must not depend
# on the number of workers.
PIECE_TEXTS = 500
# Every piece is predicted on this many torch threads, in any process: MKL's pinned branch
# (``sentiment.kernels``) sums in an order that depends on its thread count.
PREDICT_THREADS = 1

_worker: Predictor | None = None  # the model a pool worker predicts with


def _init_worker(model: SentimentModel) -> None:
    global _worker
    _worker = Predictor(model)


def _predict_in_worker(texts: list[str]) -> np.ndarray:
    assert _worker is not None, "pool worker not initialised"
    return _worker._predict_piece(texts)


class Predictor:
    """Normalise → tokenise → the family's model, with the settings saved in the model folder.

    ``workers > 1`` spreads batches of at least ``POOL_MIN_TEXTS`` texts over that many forked
    processes (Linux), with identical results; call ``close()`` (or use ``with``) to stop them.
    """

    def __init__(self, model: SentimentModel, workers: int = 1,
                 route: Route = "pinned") -> None:
        self.model, self.route = model, route  # the route ``model`` was loaded on
        self.labels = list(model.labels)
        self.workers = workers if "fork" in multiprocessing.get_all_start_methods() else 1
        self._pool: ProcessPoolExecutor | None = None

    @classmethod
    def load(cls, folder: str | Path, workers: int = 1, route: Route = "pinned") -> Predictor:
        """The predictor of a model folder on ``route`` (see ``sentiment.model.folder``)."""
        return cls(load_model(folder, route), workers, route)

    def batch(self, texts: Sequence[str]) -> TextBatch:
        """Texts as the family sees them: as given, normalised and tokenised."""
        norms = [normalise(text, self.model.normaliser) for text in texts]
        return TextBatch(list(texts), norms, [tokenize(norm, self.model.tokens) for norm in norms])

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """An (n, n_labels) float32 array of probabilities, rows in input order."""
        if not texts:
            return np.zeros((0, len(self.labels)), dtype=np.float32)
        pieces = [list(texts[start : start + PIECE_TEXTS])
                  for start in range(0, len(texts), PIECE_TEXTS)]
        if self.workers > 1 and len(texts) >= POOL_MIN_TEXTS:
            return np.concatenate(list(self._pool_of_workers().map(_predict_in_worker, pieces)))
        return np.concatenate([self._predict_piece(piece) for piece in pieces])

    def _predict_piece(self, texts: list[str]) -> np.ndarray:
        threads = torch.get_num_threads()
        torch.set_num_threads(PREDICT_THREADS)
        try:
            with torch.inference_mode():
                return self.model.family.predict_proba(self.batch(texts)).astype(np.float32)
        finally:
            torch.set_num_threads(threads)

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

    def _pool_of_workers(self) -> ProcessPoolExecutor:
        if self._pool is None:
            log.info("starting %d prediction worker processes", self.workers)
            self._pool = ProcessPoolExecutor(
                self.workers, mp_context=multiprocessing.get_context("fork"),
                initializer=_init_worker, initargs=(self.model,))
        return self._pool

    def close(self) -> None:
        """Stop the worker processes, if any were started."""
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None

    def __enter__(self) -> Predictor:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
