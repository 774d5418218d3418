from __future__ import annotations

import numpy as np
import pytest

from sentiment.evaluation.baseline import vader_predict
from sentiment.evaluation.metrics import (
    MAX_MACRO_F1_DIFFERENCE,
    MIN_LABEL_AGREEMENT,
    calibration_bins,
    classification_metrics,
    precision_recall_points,
    route_agreement,
)
from sentiment.params.base import LABELS


def test_perfect_and_wrong_predictions() -> None:
    y_true = np.array([0, 1, 2, 2])
    perfect = np.eye(3, dtype=np.float32)[y_true]
    metrics = classification_metrics(y_true, perfect, LABELS)
    assert metrics["macro_f1"] == 1.0 and metrics["accuracy"] == 1.0
    assert metrics["per_class"]["positive"]["support"] == 2
    assert metrics["roc_auc_ovr"] == 1.0
    shifted = np.eye(3, dtype=np.float32)[(y_true + 1) % 3]
    assert classification_metrics(y_true, shifted, LABELS)["macro_f1"] == 0.0


def test_macro_f1_averages_classes() -> None:
    y_true = np.array([0, 0, 1, 2])
    probabilities = np.eye(3, dtype=np.float32)[np.array([0, 1, 1, 2])]
    metrics = classification_metrics(y_true, probabilities, LABELS)
    f1 = [metrics["per_class"][label]["f1"] for label in LABELS]
    assert metrics["macro_f1"] == pytest.approx(np.mean(f1), abs=1e-6)
    assert metrics["accuracy"] == 0.75


def test_pr_points_and_calibration() -> None:
    y_true = np.array([0, 1, 2, 0])
    probabilities = np.array([[0.8, 0.1, 0.1], [0.3, 0.6, 0.1], [0.2, 0.2, 0.6],
                              [0.4, 0.5, 0.1]], dtype=np.float32)
    points = precision_recall_points(y_true, probabilities, LABELS)
    assert {point["class"] for point in points} == set(LABELS)
    bins = calibration_bins(y_true, probabilities, 5)
    assert sum(item["count"] for item in bins) == 4
    assert all(0 <= item["accuracy"] <= 1 for item in bins)


def test_vader_baseline_reads_sentiment() -> None:
    predicted = vader_predict(["I love this, wonderful!", "This is awful and I hate it",
                               "The train leaves at 5"], LABELS)
    assert [LABELS[index] for index in predicted] == ["positive", "negative", "neutral"]


def test_route_agreement_counts_flipped_labels_and_the_macro_f1_difference() -> None:
    labels = ["negative", "neutral", "positive"]
    y_true = np.array([0, 1, 2] * 100)
    pinned = np.eye(3, dtype=np.float32)[y_true] * 0.8 + 0.2 / 3
    served = pinned.copy()
    assert route_agreement(y_true, pinned, served, labels)["within_tolerance"]
    served[0] = [0.1, 0.8, 0.1]  # one row of 300 flips: 99.67 % agree, macro-F1 falls
    found = route_agreement(y_true, pinned, served, labels)
    assert found["label_agreement"] == pytest.approx(299 / 300, abs=1e-6)
    assert found["pinned_macro_f1"] == 1.0 and found["macro_f1_difference"] < 0
    assert found["max_probability_difference"] == pytest.approx(0.7667, abs=1e-3)
    assert found["within_tolerance"] is False  # macro-F1 moved by more than 0.002
    assert MIN_LABEL_AGREEMENT == 0.995 and MAX_MACRO_F1_DIFFERENCE == 0.002
