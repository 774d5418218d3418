"""Bootstrap intervals of macro-F1: one model's, and the paired difference of two on shared rows.

A resample is a row of multinomial counts (how often each row is drawn), so macro-F1 of every
resample comes from integer confusion counts: exact, hence byte-identical on any machine for
one seed. Resamples are drawn ``CHUNK`` at a time, so memory is ``CHUNK`` x rows counts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CHUNK = 100  # resamples held at once


@dataclass(frozen=True)
class Interval:
    """A point estimate with the bounds of its bootstrap percentile interval."""

    value: float
    low: float
    high: float
    confidence: float

    def as_dict(self) -> dict[str, float]:
        return {"value": round(self.value, 6), "low": round(self.low, 6),
                "high": round(self.high, 6), "confidence": self.confidence}

    def excludes_zero(self) -> bool:
        return self.low > 0 or self.high < 0

    def text(self) -> str:
        """``+0.0120 (95 % CI +0.0040 to +0.0200)``."""
        return (f"{self.value:+.4f} ({self.confidence * 100:g} % CI {self.low:+.4f} to "
                f"{self.high:+.4f})")


def _counts(weights: np.ndarray, y_true: np.ndarray, y_pred: np.ndarray,
            n_classes: int) -> np.ndarray:
    """Macro-F1 of every resample (one row of ``weights`` each)."""
    true_hot = np.eye(n_classes, dtype=np.float64)[y_true]
    pred_hot = np.eye(n_classes, dtype=np.float64)[y_pred]
    hit = true_hot * (y_true == y_pred)[:, None]
    tp, actual, predicted = weights @ hit, weights @ true_hot, weights @ pred_hot
    denominator = actual + predicted
    f1 = np.divide(2 * tp, denominator, out=np.zeros_like(tp), where=denominator > 0)
    return f1.mean(axis=1)


def hard_macro_f1(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> float:
    """Macro-F1 of hard predictions (a class absent from both sides scores 0, as sklearn's)."""
    return float(_counts(np.ones((1, len(y_true))), y_true, y_pred, n_classes)[0])


def _resampled(rows: int, resamples: int, seed: int):
    rng = np.random.default_rng(seed)
    uniform = np.full(rows, 1.0 / rows)
    for start in range(0, resamples, CHUNK):
        yield rng.multinomial(rows, uniform, size=min(CHUNK, resamples - start)).astype(
            np.float64)


def _interval(value: float, scores: np.ndarray, confidence: float) -> Interval:
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(scores, [tail, 100 - tail])
    return Interval(value, float(low), float(high), confidence)


def _check(rows: int, resamples: int, confidence: float) -> None:
    if rows == 0:
        raise ValueError("no rows to resample")
    if resamples < 1:
        raise ValueError(f"resamples must be >= 1, got {resamples}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence}")


def bootstrap_macro_f1(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int, *,
                       resamples: int, confidence: float, seed: int) -> Interval:
    """Macro-F1 of one model with its percentile interval over ``resamples`` resamples."""
    _check(len(y_true), resamples, confidence)
    scores = np.concatenate([_counts(weights, y_true, y_pred, n_classes)
                             for weights in _resampled(len(y_true), resamples, seed)])
    return _interval(hard_macro_f1(y_true, y_pred, n_classes), scores, confidence)


def paired_difference(y_true: np.ndarray, base: np.ndarray, head: np.ndarray, n_classes: int,
                      *, resamples: int, confidence: float, seed: int) -> Interval:
    """Macro-F1 of ``head`` minus that of ``base`` on the same rows, each resample drawing the
    same rows for both (so what both get right or wrong alike cancels out)."""
    _check(len(y_true), resamples, confidence)
    scores = np.concatenate([
        _counts(weights, y_true, head, n_classes) - _counts(weights, y_true, base, n_classes)
        for weights in _resampled(len(y_true), resamples, seed)])
    value = hard_macro_f1(y_true, head, n_classes) - hard_macro_f1(y_true, base, n_classes)
    return _interval(value, scores, confidence)


def unpaired_difference(base: tuple[np.ndarray, np.ndarray], head: tuple[np.ndarray, np.ndarray],
                        n_classes: int, *, resamples: int, confidence: float,
                        seed: int) -> Interval:
    """Macro-F1 of ``head`` minus that of ``base`` on different rows ((labels, predictions)
    each), every side resampled on its own."""
    for y_true, _ in (base, head):
        _check(len(y_true), resamples, confidence)
    scores = np.concatenate([
        _counts(head_weights, *head, n_classes) - _counts(base_weights, *base, n_classes)
        for base_weights, head_weights in zip(_resampled(len(base[0]), resamples, seed),
                                              _resampled(len(head[0]), resamples, seed + 1),
                                              strict=True)])
    value = hard_macro_f1(*head, n_classes) - hard_macro_f1(*base, n_classes)
    return _interval(value, scores, confidence)


def champion_lead(y_val: np.ndarray, predicted: dict[str, np.ndarray], champion: str,
                  n_classes: int, *, resamples: int, confidence: float, seed: int
                  ) -> dict[str, object] | None:
    """The champion's validation macro-F1 lead over the best other family (paired on the
    validation rows), or None for a single family."""
    others = {name: hard_macro_f1(y_val, values, n_classes)
              for name, values in predicted.items() if name != champion}
    if not others:
        return None
    runner_up = max(others, key=lambda name: (others[name], -list(others).index(name)))
    lead = paired_difference(y_val, predicted[runner_up], predicted[champion], n_classes,
                             resamples=resamples, confidence=confidence, seed=seed)
    return {"champion": champion, "runner_up": runner_up,
            "val_macro_f1_diff": lead.as_dict(), "significant": lead.low > 0}
