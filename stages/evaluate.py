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
from sentiment.evaluation.behaviour import (
    BehaviourError,
    Case,
    build_cases,
    case_counts,
    failure_rates,
    read_templates,
)
from sentiment.evaluation.intervals import bootstrap_macro_f1, champion_lead
from sentiment.evaluation.metrics import (
    calibration_bins,
    classification_metrics,
    label_metrics,
    per_class_f1,
    precision_recall_points,
    route_agreement,
)
from sentiment.evaluation.plots import calibration_png, confusion_png, precision_recall_png
from sentiment.evaluation.predictions import (
    CHAMPION,
    PREDICTIONS_FILE,
    predictions_frame,
    save_predictions,
)
from sentiment.families.parts.encoder import remembered_embeddings
from sentiment.io import BATCH_ROWS, iter_parquet, read_json, write_json
from sentiment.model.predictor import Predictor
from sentiment.params.base import LABELS
from sentiment.params.evaluate import EvaluateParams
from sentiment.params.stage import StageParams
from sentiment.runtime import StageError, run_stage

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


def family_predictions(candidates: Path, splits: dict[str, Path], cases: list[Case],
                       batch_rows: int) -> tuple[dict[str, dict[str, np.ndarray]],
                                             dict[str, dict[str, object]]]:
    """Each trained family's class probabilities on each split (by family then split name),
    and its behavioural failure rates."""
    predictions, behaviour = {}, {}
    for folder in sorted(path for path in candidates.iterdir() if path.is_dir()):
        with Predictor.load(folder) as predictor:
            predictions[folder.name] = {split: streamed_proba(predictor, path, batch_rows)
                                        for split, path in splits.items()}
            behaviour[folder.name] = failure_rates(cases, predictor.predict_proba)
    return predictions, behaviour


def read_cases(path: str) -> list[Case]:
    """The behavioural test cases of the template file (a mistake in it stops the stage)."""
    try:
        return build_cases(read_templates(Path(path)))
    except BehaviourError as error:
        raise StageError(str(error)) from None


def split_labels(path: Path, labels: list[str], batch_rows: int) -> np.ndarray:
    """A split's label indices, read a batch at a time."""
    return np.concatenate([np.zeros(0, dtype=np.int64), *(
        frame["label"].map(labels.index).to_numpy(dtype=np.int64)
        for frame in iter_parquet(path, batch_rows, columns=["label"]))])


def write_intervals(params: EvaluateStageParams, champion: str, y_true: np.ndarray,
                    test_pred: dict[str, np.ndarray], y_val: np.ndarray,
                    val_pred: dict[str, np.ndarray]) -> dict[str, object]:
    """``intervals.json``: every family's test macro-F1 with its bootstrap interval, and
    whether the champion's validation lead over the runner-up is significant."""
    settings = params.evaluate.bootstrap
    options = {"resamples": settings.resamples, "confidence": settings.confidence,
               "seed": params.seed}
    n_classes = len(LABELS)

    def interval(values: np.ndarray) -> dict[str, float]:
        return bootstrap_macro_f1(y_true, values, n_classes, **options).as_dict()

    report = {
        "resamples": settings.resamples, "confidence": settings.confidence,
        "test": {"macro_f1": interval(test_pred[CHAMPION])},
        "families": {name: {"test": {"macro_f1": interval(values)}}
                     for name, values in test_pred.items() if name != CHAMPION},
        "champion_lead": champion_lead(y_val, val_pred, champion, n_classes, **options),
    }
    write_json(Path(params.paths.reports) / "intervals.json", report)
    return report


def main(params: EvaluateStageParams, batch_rows: int = BATCH_ROWS) -> None:
    # The champion and the candidates share the test texts: embed each once (see the memo's
    # docstring for why this is safe here and not in serving).
    with remembered_embeddings():
        score_test(params, batch_rows)


def score_test(params: EvaluateStageParams, batch_rows: int) -> None:
    torch.set_num_threads(1)  # the metrics are DVC outputs: same bits on any core count
    reports = Path(params.paths.reports)
    test = Path(params.paths.processed) / "test.parquet"
    cases = read_cases(params.evaluate.behaviour)  # a mistake in the file fails first
    champion = read_json(reports / "train" / "metrics.json")["champion"]
    predictor = Predictor.load(Path(params.paths.candidates) / champion)
    labels = predictor.labels
    parts, vader_parts = [np.zeros((0, len(labels)), dtype=np.float32)], []
    y_parts, id_parts, mistakes = [], [], None
    limit = params.evaluate.top_mistakes
    for frame in iter_parquet(test, batch_rows, columns=["id", "text", "label"]):
        texts = frame["text"].tolist()
        probabilities = predictor.predict_proba(texts)
        parts.append(probabilities)
        vader_parts.append(vader_predict(texts, labels))
        id_parts.append(frame["id"].to_numpy())
        y_parts.append(frame["label"].map(labels.index).to_numpy(dtype=np.int64))
        batch_mistakes = confident_mistakes(frame, probabilities, labels, limit)
        mistakes = batch_mistakes if mistakes is None else confident_first(
            pd.concat([mistakes, batch_mistakes], ignore_index=True)).head(limit)
    probabilities = np.concatenate(parts)
    y_true = np.concatenate(y_parts)
    processed, candidates = Path(params.paths.processed), Path(params.paths.candidates)
    families, behaviour = family_predictions(
        candidates, {"test": test, "val": processed / "val.parquet"}, cases, batch_rows)
    write_json(reports / "behaviour.json", {"cases": case_counts(cases), "families": behaviour})
    y_pred = probabilities.argmax(axis=1)
    vader = np.concatenate(vader_parts)
    metrics = {
        "test": classification_metrics(y_true, probabilities, labels),
        "baseline": {"vader": {"test": label_metrics(y_true, vader, len(labels))}},
        "families": {name: {"test": per_class_f1(y_true, splits["test"], labels)}
                     for name, splits in families.items()},
    }
    write_json(reports / "metrics.json", metrics)
    test_pred = {CHAMPION: y_pred, **{name: splits["test"].argmax(axis=1)
                                      for name, splits in families.items()}}
    save_predictions(reports / PREDICTIONS_FILE, predictions_frame(
        np.concatenate([np.zeros(0, dtype=object), *id_parts]), y_true, test_pred, labels))
    intervals = write_intervals(
        params, champion, y_true, test_pred,
        split_labels(processed / "val.parquet", labels, batch_rows),
        {name: splits["val"].argmax(axis=1) for name, splits in families.items()})
    served_families = {name: served_agreement(candidates / name, test, y_true, splits["test"],
                                              batch_rows)
                       for name, splits in families.items()}
    served = served_families[champion]  # the champion is its family's candidate
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
    for name, scores in intervals["families"].items():
        score = scores["test"]["macro_f1"]
        log.info("%s: test macro-F1 %.4f (%g %% CI %.4f to %.4f)", name, score["value"],
                 score["confidence"] * 100, score["low"], score["high"])

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
