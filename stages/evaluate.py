"""Stage evaluate: test metrics, DVC plots, PNG figures, the VADER baseline, top mistakes."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from sentiment.baseline import vader_predict
from sentiment.io import read_parquet, write_json
from sentiment.metrics import (
    calibration_bins,
    classification_metrics,
    label_metrics,
    per_class_f1,
    precision_recall_points,
)
from sentiment.params import Params
from sentiment.plots import calibration_png, confusion_png, precision_recall_png
from sentiment.predictor import Predictor
from stages.common import run_stage

log = logging.getLogger("evaluate")


def confident_mistakes(test: pd.DataFrame, probabilities: np.ndarray, labels: list[str],
                       limit: int) -> pd.DataFrame:
    """The wrong predictions the model was surest of, most confident first."""
    predicted = probabilities.argmax(axis=1)
    frame = pd.DataFrame({
        "id": test["id"].to_numpy(),
        "text": test["text"].to_numpy(),
        "label": test["label"].to_numpy(),
        "predicted": [labels[index] for index in predicted],
        "confidence": probabilities.max(axis=1).round(6),
    })
    wrong = frame[frame["label"] != frame["predicted"]]
    return wrong.sort_values(["confidence", "id"], ascending=[False, True]).head(limit)


def family_metrics(candidates: Path, test: pd.DataFrame, y_true: np.ndarray
                   ) -> dict[str, dict[str, object]]:
    """Each trained family's test scores (for comparison only: the champion was chosen on
    validation before test was looked at)."""
    scores = {}
    for folder in sorted(path for path in candidates.iterdir() if path.is_dir()):
        with Predictor.load(folder) as predictor:
            probabilities = predictor.predict_proba(test["text"].tolist())
        scores[folder.name] = {"test": per_class_f1(y_true, probabilities, predictor.labels)}
    return scores


def main(params: Params) -> None:
    torch.set_num_threads(1)  # the metrics are DVC outputs: same bits on any core count
    reports = Path(params.paths.reports)
    test = read_parquet(Path(params.paths.processed) / "test.parquet")
    predictor = Predictor.load(params.paths.model)
    labels = predictor.labels
    y_true = test["label"].map(labels.index).to_numpy()
    probabilities = predictor.predict_proba(test["text"].tolist())
    y_pred = probabilities.argmax(axis=1)

    vader = vader_predict(test["text"].tolist(), labels)
    metrics = {
        "test": classification_metrics(y_true, probabilities, labels),
        "baseline": {"vader": {"test": label_metrics(y_true, vader, len(labels))}},
        "families": family_metrics(Path(params.paths.candidates), test, y_true),
    }
    write_json(reports / "metrics.json", metrics)
    log.info("test macro-F1 %.4f, accuracy %.4f; VADER macro-F1 %.4f",
             metrics["test"]["macro_f1"], metrics["test"]["accuracy"],
             metrics["baseline"]["vader"]["test"]["macro_f1"])
    for name, scores in metrics["families"].items():
        log.info("%s: test macro-F1 %.4f", name, scores["test"]["macro_f1"])

    plots = reports / "plots"
    plots.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"actual": [labels[i] for i in y_true],
                  "predicted": [labels[i] for i in y_pred]}).to_csv(plots / "confusion.csv",
                                                                      index=False)
    points = precision_recall_points(y_true, probabilities, labels)
    pd.DataFrame(points).to_csv(plots / "precision_recall.csv", index=False)
    bins = calibration_bins(y_true, probabilities, params.evaluate.calibration_bins)
    pd.DataFrame(bins).to_csv(plots / "calibration.csv", index=False)
    confusion_png(y_true, y_pred, labels, plots / "confusion_matrix.png")
    precision_recall_png(points, plots / "precision_recall.png")
    calibration_png(bins, plots / "calibration.png")
    confident_mistakes(test, probabilities, labels, params.evaluate.top_mistakes).to_csv(
        reports / "mistakes.csv", index=False)


if __name__ == "__main__":
    run_stage("evaluate", main)
