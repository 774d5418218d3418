"""Evaluation metrics and plot data for a three-class classifier."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    precision_recall_curve,
    precision_recall_fscore_support,
    roc_auc_score,
)


def _round(value: float) -> float:
    return round(float(value), 6)


def classification_metrics(
    y_true: np.ndarray, probabilities: np.ndarray, labels: Sequence[str]
) -> dict[str, object]:
    """Accuracy, macro-F1, per-class precision / recall / F1 / support and one-vs-rest ROC-AUC."""
    y_pred = probabilities.argmax(axis=1)
    classes = list(range(len(labels)))
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=classes, zero_division=0
    )
    per_class: dict[str, dict[str, float]] = {}
    for index, label in enumerate(labels):
        present = (y_true == index).any() and (y_true != index).any()
        per_class[label] = {
            "precision": _round(precision[index]),
            "recall": _round(recall[index]),
            "f1": _round(f1[index]),
            "support": int(support[index]),
            "roc_auc": _round(roc_auc_score(y_true == index, probabilities[:, index]))
            if present else None,
        }
    aucs = [item["roc_auc"] for item in per_class.values() if item["roc_auc"] is not None]
    return {
        "accuracy": _round(accuracy_score(y_true, y_pred)),
        "macro_f1": _round(f1_score(y_true, y_pred, labels=classes, average="macro",
                                    zero_division=0)),
        "roc_auc_ovr": _round(np.mean(aucs)) if aucs else None,
        "per_class": per_class,
        "rows": len(y_true),
    }


def label_metrics(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> dict[str, float]:
    """Accuracy and macro-F1 of hard predictions (for baselines without probabilities)."""
    return {
        "accuracy": _round(accuracy_score(y_true, y_pred)),
        "macro_f1": _round(f1_score(y_true, y_pred, labels=list(range(n_classes)),
                                    average="macro", zero_division=0)),
    }


def precision_recall_points(
    y_true: np.ndarray, probabilities: np.ndarray, labels: Sequence[str]
) -> list[dict[str, object]]:
    """One-vs-rest precision-recall curve points of every class, for a DVC plot."""
    points: list[dict[str, object]] = []
    for index, label in enumerate(labels):
        precision, recall, _ = precision_recall_curve(y_true == index, probabilities[:, index])
        points += [{"class": label, "precision": _round(p), "recall": _round(r)}
                   for p, r in zip(precision, recall, strict=True)]
    return points


def calibration_bins(
    y_true: np.ndarray, probabilities: np.ndarray, n_bins: int
) -> list[dict[str, float]]:
    """Reliability diagram data: mean confidence vs accuracy of the top class per bin."""
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == y_true
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    bins = np.clip(np.digitize(confidence, edges[1:-1]), 0, n_bins - 1)
    rows = []
    for index in range(n_bins):
        member = bins == index
        if member.any():
            rows.append({"bin": index, "confidence": _round(confidence[member].mean()),
                         "accuracy": _round(correct[member].mean()), "count": int(member.sum())})
    return rows


def per_class_f1(y_true: np.ndarray, probabilities: np.ndarray, labels: Sequence[str]
                 ) -> dict[str, object]:
    """Macro-F1 and each class's F1 (the compact view used to compare families)."""
    classes = list(range(len(labels)))
    y_pred = probabilities.argmax(axis=1)
    f1 = f1_score(y_true, y_pred, labels=classes, average=None, zero_division=0)
    return {"macro_f1": _round(f1.mean()),
            "per_class": {label: _round(f1[index]) for index, label in enumerate(labels)}}


# How far the served (fast, CPU-dependent) path may stray from the pinned one on test rows.
MIN_LABEL_AGREEMENT = 0.995
MAX_MACRO_F1_DIFFERENCE = 0.002


def route_agreement(y_true: np.ndarray, pinned: np.ndarray, served: np.ndarray,
                    labels: Sequence[str]) -> dict[str, object]:
    """The served path's test scores beside the pinned path's: the share of rows whose label
    agrees, the macro-F1 difference, the largest probability difference, and whether they
    are within ``MIN_LABEL_AGREEMENT`` and ``MAX_MACRO_F1_DIFFERENCE``."""
    served_scores = per_class_f1(y_true, served, labels)
    pinned_f1 = per_class_f1(y_true, pinned, labels)["macro_f1"]
    agreement = float((pinned.argmax(axis=1) == served.argmax(axis=1)).mean()) if len(
        y_true) else 1.0
    difference = served_scores["macro_f1"] - pinned_f1
    return {"test": served_scores, "pinned_macro_f1": pinned_f1,
            "label_agreement": _round(agreement), "macro_f1_difference": _round(difference),
            "max_probability_difference": _round(float(np.abs(served - pinned).max()))
            if len(y_true) else 0.0,
            "within_tolerance": bool(agreement >= MIN_LABEL_AGREEMENT
                                     and abs(difference) <= MAX_MACRO_F1_DIFFERENCE)}
