"""Stage evaluate: test metrics, DVC plots, PNG figures, the VADER baseline, top mistakes.

Streams the test split a batch at a time; what it keeps whole is a few numbers per row
(label, class probabilities, VADER's label) and the ``top_mistakes`` most confident errors.

The outputs come from the pinned route (the same bits on every CPU). The served route (the int8
encoder, whose bits depend on the CPU) is scored too, for the champion and every candidate,
beside the pinned scores, in ``served.json``: measured on this machine, not a stage output."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from sentiment.evaluation.baseline import vader_predict
from sentiment.evaluation.metrics import (
    calibration_bins,
    classification_metrics,
    label_metrics,
    per_class_f1,
    precision_recall_points,
    route_agreement,
)
from sentiment.evaluation.plots import calibration_png, confusion_png, precision_recall_png
from sentiment.families.parts.encoder import remembered_embeddings
from sentiment.io import BATCH_ROWS, iter_parquet, write_json
from sentiment.model.predictor import Predictor
from sentiment.params.evaluate import EvaluateParams
from sentiment.params.stage import StageParams
from sentiment.runtime import run_stage

log = logging.getLogger("evaluate")


class EvaluateStageParams(StageParams):
    """The sections of params.yaml this stage reads."""

    evaluate: EvaluateParams = EvaluateParams()



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
    return confident_first(frame[frame["label"] != frame["predicted"]]).head(limit)


def confident_first(mistakes: pd.DataFrame) -> pd.DataFrame:
    """Most confident first; ties by id (unique), so the order is total."""
    return mistakes.sort_values(["confidence", "id"], ascending=[False, True])


def streamed_proba(predictor: Predictor, test: Path, batch_rows: int) -> np.ndarray:
    """The predictor's probabilities for every test text, predicted a batch at a time."""
    parts = [np.zeros((0, len(predictor.labels)), dtype=np.float32)]
    for frame in iter_parquet(test, batch_rows, columns=["text"]):
        parts.append(predictor.predict_proba(frame["text"].tolist()))
    return np.concatenate(parts)


def served_agreement(folder: Path, test: Path, y_true: np.ndarray, pinned: np.ndarray,
                     batch_rows: int) -> dict[str, object]:
    """The test scores of ``folder`` on the served route, beside its pinned ``pinned``."""
    with Predictor.load(folder, route="fast") as predictor:
        served = streamed_proba(predictor, test, batch_rows)
    return route_agreement(y_true, pinned, served, predictor.labels)


def family_metrics(candidates: Path, test: Path, y_true: np.ndarray, batch_rows: int
                   ) -> tuple[dict[str, dict[str, object]], dict[str, dict[str, object]]]:
    """Each trained family's test scores (for comparison only: the champion was chosen on
    validation before test was looked at), on the pinned route and on the served route."""
    scores, served = {}, {}
    for folder in sorted(path for path in candidates.iterdir() if path.is_dir()):
        with Predictor.load(folder) as predictor:
            probabilities = streamed_proba(predictor, test, batch_rows)
        scores[folder.name] = {"test": per_class_f1(y_true, probabilities, predictor.labels)}
        served[folder.name] = served_agreement(folder, test, y_true, probabilities, batch_rows)
    return scores, served


def main(params: EvaluateStageParams, batch_rows: int = BATCH_ROWS) -> None:
    # The champion and the candidates share the test texts: embed each once (see the memo's
    # docstring for why this is safe here and not in serving).
    with remembered_embeddings():
        score_test(params, batch_rows)


def score_test(params: EvaluateStageParams, batch_rows: int) -> None:
    torch.set_num_threads(1)  # the metrics are DVC outputs: same bits on any core count
    reports = Path(params.paths.reports)
    test = Path(params.paths.processed) / "test.parquet"
    predictor = Predictor.load(params.paths.model)
    labels = predictor.labels
    parts, vader_parts = [np.zeros((0, len(labels)), dtype=np.float32)], []
    y_parts, mistakes = [], None
    limit = params.evaluate.top_mistakes
    for frame in iter_parquet(test, batch_rows, columns=["id", "text", "label"]):
        texts = frame["text"].tolist()
        probabilities = predictor.predict_proba(texts)
        parts.append(probabilities)
        vader_parts.append(vader_predict(texts, labels))
        y_parts.append(frame["label"].map(labels.index).to_numpy(dtype=np.int64))
        batch_mistakes = confident_mistakes(frame, probabilities, labels, limit)
        mistakes = batch_mistakes if mistakes is None else confident_first(
            pd.concat([mistakes, batch_mistakes], ignore_index=True)).head(limit)
    probabilities = np.concatenate(parts)
    y_true = np.concatenate(y_parts)
    y_pred = probabilities.argmax(axis=1)
    vader = np.concatenate(vader_parts)
    families, served_families = family_metrics(Path(params.paths.candidates), test, y_true,
                                               batch_rows)
    metrics = {
        "test": classification_metrics(y_true, probabilities, labels),
        "baseline": {"vader": {"test": label_metrics(y_true, vader, len(labels))}},
        "families": families,
    }
    write_json(reports / "metrics.json", metrics)
    # The champion is a copy of its family's candidate folder: the same served scores.
    served = served_families[predictor.model.family.name]
    write_json(reports / "served.json", {**served, "families": served_families})
    log.info("served route: test macro-F1 %.4f (pinned %.4f), labels agree on %.2f %% of rows",
             served["test"]["macro_f1"], served["pinned_macro_f1"],
             100 * served["label_agreement"])
    for name, comparison in {"champion": served, **served_families}.items():
        if not comparison["within_tolerance"]:
            log.warning("%s: the served route strays beyond the tolerance (labels agree on "
                        "%.2f %% of test rows, macro-F1 differs by %+.4f)", name,
                        100 * comparison["label_agreement"], comparison["macro_f1_difference"])
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
    mistakes.to_csv(reports / "mistakes.csv", index=False)


if __name__ == "__main__":
    run_stage("evaluate", EvaluateStageParams, main)
