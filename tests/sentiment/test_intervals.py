"""Bootstrap intervals of macro-F1 and the paired difference, on seeded synthetic predictions."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import f1_score

from sentiment.evaluation.intervals import (
    bootstrap_macro_f1,
    champion_lead,
    hard_macro_f1,
    paired_difference,
    unpaired_difference,
)

OPTIONS = {"resamples": 1000, "confidence": 0.95, "seed": 7}


def predictions(rows: int, accuracy: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Labels and predictions right with probability ``accuracy`` (else a random class)."""
    rng = np.random.default_rng(seed)
    y_true = rng.integers(0, 3, rows)
    wrong = rng.random(rows) > accuracy
    y_pred = np.where(wrong, (y_true + rng.integers(1, 3, rows)) % 3, y_true)
    return y_true, y_pred


def test_macro_f1_matches_sklearn_with_an_absent_class() -> None:
    y_true, y_pred = predictions(500, 0.7, 1)
    assert hard_macro_f1(y_true, y_pred, 3) == pytest.approx(
        f1_score(y_true, y_pred, labels=[0, 1, 2], average="macro", zero_division=0))
    only_two = np.array([0, 1, 1, 0]), np.array([0, 1, 0, 0])
    assert hard_macro_f1(*only_two, 3) == pytest.approx(
        f1_score(*only_two, labels=[0, 1, 2], average="macro", zero_division=0))


def test_interval_brackets_the_estimate_and_is_seeded() -> None:
    y_true, y_pred = predictions(3397, 0.78, 2)
    interval = bootstrap_macro_f1(y_true, y_pred, 3, **OPTIONS)
    assert interval.low < interval.value < interval.high
    # About ±0.015 on 3,397 rows (the figure for tfidf_linear).
    assert 0.02 < interval.high - interval.low < 0.04
    assert interval == bootstrap_macro_f1(y_true, y_pred, 3, **OPTIONS)
    assert interval != bootstrap_macro_f1(y_true, y_pred, 3, **{**OPTIONS, "seed": 8})


def test_paired_difference_is_narrower_than_unpaired() -> None:
    y_true, base = predictions(2000, 0.75, 3)
    rng = np.random.default_rng(4)
    head = np.where(rng.random(2000) < 0.05, (base + 1) % 3, base)  # 5 % of rows flipped
    paired = paired_difference(y_true, base, head, 3, **OPTIONS)
    unpaired = unpaired_difference((y_true, base), (y_true, head), 3, **OPTIONS)
    assert paired.value == pytest.approx(unpaired.value)
    assert paired.high - paired.low < (unpaired.high - unpaired.low) / 2


def test_a_clear_gain_is_significant_and_noise_is_not() -> None:
    y_true, base = predictions(3000, 0.70, 5)
    better = np.where(np.random.default_rng(6).random(3000) < 0.3, y_true, base)
    assert paired_difference(y_true, base, better, 3, **OPTIONS).low > 0
    assert paired_difference(y_true, base, base, 3, **OPTIONS).text() == (
        "+0.0000 (95 % CI +0.0000 to +0.0000)")


@pytest.mark.parametrize(("change", "message"), [
    ({"confidence": 1.0}, "confidence must be between 0 and 1"),
    ({"confidence": float("nan")}, "confidence must be between 0 and 1"),
    ({"resamples": 0}, "resamples must be >= 1"),
])
def test_bad_settings_are_rejected_by_name(change: dict, message: str) -> None:
    y_true, y_pred = predictions(10, 0.5, 1)
    with pytest.raises(ValueError, match=message):
        bootstrap_macro_f1(y_true, y_pred, 3, **{**OPTIONS, **change})


def test_champion_lead_against_the_best_other_family() -> None:
    y_val, weak = predictions(1500, 0.6, 9)
    strong = np.where(np.random.default_rng(10).random(1500) < 0.5, y_val, weak)
    close = np.where(np.random.default_rng(11).random(1500) < 0.49, y_val, weak)
    lead = champion_lead(y_val, {"weak": weak, "strong": strong, "close": close}, "strong", 3,
                         **OPTIONS)
    assert lead["runner_up"] == "close" and lead["significant"] is False
    assert champion_lead(y_val, {"strong": strong, "weak": weak}, "strong", 3,
                         **OPTIONS)["significant"] is True
    assert champion_lead(y_val, {"strong": strong}, "strong", 3, **OPTIONS) is None
