"""k-fold cross-validation of the families on train + val, for small data (``split.folds``).

Folds are stratified by label and grouped by the normalised text's hash: every text with one
normalised form lands in one fold, so a duplicate never straddles train and held-out. Each fold
fits every family on the other folds (the held-out fold doubling as early-stopping data, as val
does in a plain run) and scores it on the held-out fold; the champion is the best mean.
"""

from __future__ import annotations

import hashlib
import statistics
from collections.abc import Callable, Sequence

import numpy as np

from sentiment.data.batches import LabelledTexts, batched_proba
from sentiment.evaluation.metrics import per_class_f1
from sentiment.families import family_class
from sentiment.families.base import FitContext
from sentiment.params.train import TrainParams
from sentiment.runtime import seed_everything


class FoldsError(ValueError):
    """``split.folds`` does not fit the data; the message names the key."""


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()


def assign_folds(norms: Sequence[str], labels: np.ndarray, folds: int,
                 names: Sequence[str]) -> np.ndarray:
    """The fold of every row: within each label, the distinct normalised texts in hash order
    are dealt round-robin, so folds are stratified, grouped and independent of row order."""
    counts = np.bincount(labels)
    present = counts[counts > 0]
    if folds > present.min():
        smallest = names[int(np.flatnonzero(counts == present.min())[0])]
        raise FoldsError(f"split.folds: {folds} folds but the smallest class ({smallest}) has "
                         f"{present.min()} rows in train + val")
    fold_of: dict[bytes, int] = {}
    for label in np.flatnonzero(counts):
        groups = sorted({_digest(norms[i]) for i in np.flatnonzero(labels == label)})
        fold_of.update({group: index % folds for index, group in enumerate(groups)})
    return np.array([fold_of[_digest(norm)] for norm in norms], dtype=np.int64)


def subset(data: LabelledTexts, rows: np.ndarray) -> LabelledTexts:
    return LabelledTexts(data.batch.take(rows), [data.ids[i] for i in rows], data.labels[rows])


def cross_validate(data: LabelledTexts, families: Sequence[str], folds: int,
                   params: TrainParams, context_for: Callable[[], FitContext]
                   ) -> dict[str, dict[str, object]]:
    """Every family's held-out macro-F1 per fold, with mean and standard deviation."""
    fold = assign_folds(data.batch.norms, data.labels, folds, context_for().labels)
    scores: dict[str, list[float]] = {name: [] for name in families}
    for index in range(folds):
        train, held_out = (subset(data, np.flatnonzero(mask))
                           for mask in (fold != index, fold == index))
        context = context_for()  # fresh: an ensemble combines members of this fold only
        for name in families:
            seed_everything(context.seed)  # as in the stage: each family from one state
            family = family_class(name).fit(train, held_out, params, context)
            context.trained[name] = family
            probabilities = batched_proba(family.predict_proba, held_out.batches(),
                                          len(context.labels))
            scores[name].append(per_class_f1(held_out.labels, probabilities,
                                             context.labels)["macro_f1"])
    return {name: {"mean": round(statistics.fmean(values), 6),
                   "sd": round(statistics.stdev(values), 6), "folds": values}
            for name, values in scores.items()}
