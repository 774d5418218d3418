"""PNG figures (matplotlib, Agg): confusion matrix, precision-recall, calibration, training curves.

Saved without a date or software stamp, so identical data gives identical bytes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.metrics import confusion_matrix  # noqa: E402

_PNG_METADATA = {"Software": None}


def _save(figure: plt.Figure, path: str | Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.tight_layout()
    figure.savefig(path, dpi=100, metadata=_PNG_METADATA)
    plt.close(figure)


def confusion_png(y_true: np.ndarray, y_pred: np.ndarray, labels: Sequence[str],
                  path: str | Path, title: str = "Confusion matrix (test)") -> None:
    matrix = confusion_matrix(y_true, y_pred, labels=list(range(len(labels))))
    figure, axes = plt.subplots(figsize=(4.6, 4))
    axes.imshow(matrix, cmap="Blues")
    for (row, col), count in np.ndenumerate(matrix):
        colour = "white" if count > matrix.max() / 2 else "black"
        axes.text(col, row, str(count), ha="center", va="center", color=colour)
    axes.set(xticks=range(len(labels)), yticks=range(len(labels)), xticklabels=labels,
             yticklabels=labels, xlabel="predicted", ylabel="actual", title=title)
    _save(figure, path)


def precision_recall_png(points: Sequence[Mapping[str, object]], path: str | Path) -> None:
    figure, axes = plt.subplots(figsize=(5, 4))
    for label in dict.fromkeys(point["class"] for point in points):
        curve = [point for point in points if point["class"] == label]
        axes.plot([p["recall"] for p in curve], [p["precision"] for p in curve], label=label)
    axes.set(xlabel="recall", ylabel="precision", xlim=(0, 1), ylim=(0, 1.02),
             title="Precision-recall per class (test)")
    axes.legend(loc="lower left")
    _save(figure, path)


def calibration_png(bins: Sequence[Mapping[str, float]], path: str | Path) -> None:
    figure, axes = plt.subplots(figsize=(4.6, 4))
    axes.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect")
    axes.plot([b["confidence"] for b in bins], [b["accuracy"] for b in bins], marker="o",
              label="model")
    axes.set(xlabel="confidence of the top class", ylabel="accuracy", xlim=(0, 1), ylim=(0, 1),
             title="Calibration (test)")
    axes.legend(loc="upper left")
    _save(figure, path)


def training_curves_png(series: Mapping[str, Sequence[float]], path: str | Path,
                        title: str = "Training curves") -> None:
    """One line per named series (e.g. train/loss, val/loss, val/macro_f1) against epoch."""
    figure, axes = plt.subplots(figsize=(5.5, 4))
    for name, values in series.items():
        axes.plot(range(len(values)), values, marker=".", label=name)
    axes.set(xlabel="epoch", title=title)
    axes.legend(loc="best")
    _save(figure, path)
