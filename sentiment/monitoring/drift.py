"""Drift between reference data (what the model was trained on) and current, scored data.

Five measures, each with a threshold in ``params.yaml`` (``monitor.drift.thresholds``):

- ``prior_jsd``: Jensen-Shannon distance (base 2, 0 to 1) of the predicted label mix;
- ``length_ks``: two-sample Kolmogorov-Smirnov statistic of text lengths in characters;
- ``oov_rate_delta``: out-of-vocabulary rate of current words minus that of held-out reference
  words, both against the vocabulary of one seeded half of the reference (so the reference's own
  rate is measured the same way, not zero by construction);
- ``confidence_ks``: KS statistic of the top-class probability;
- ``domain_auc``: a domain classifier (hashed word 1-2-grams, logistic regression) tells the two
  apart; its cross-validated AUC, with the Mann-Whitney p-value of its out-of-fold scores.
  Drift when the AUC exceeds its threshold and the p-value is below ``p_value``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.spatial.distance import jensenshannon
from scipy.stats import ks_2samp, mannwhitneyu

from sentiment.data.tables import read_frame
from sentiment.errors import InputError
from sentiment.io import write_json
from sentiment.monitoring.score import PROB_PREFIX
from sentiment.params.monitor import DriftParams, DriftThresholds

if TYPE_CHECKING:
    from sentiment.model.predictor import Predictor

_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Side:
    """One side of the comparison: texts and the model's probabilities for them."""

    texts: list[str]
    probabilities: np.ndarray  # (n, n_labels)


def _num(value: float) -> float:
    """Six significant digits: stable JSON across machines, tiny p-values kept."""
    return float(f"{float(value):.6g}")


def sample_indices(n_rows: int, max_rows: int, seed: int) -> np.ndarray:
    """At most ``max_rows`` row indices, a seeded sample in increasing order."""
    if n_rows <= max_rows:
        return np.arange(n_rows)
    return np.sort(np.random.default_rng(seed).choice(n_rows, size=max_rows, replace=False))


def label_mix(probabilities: np.ndarray, n_labels: int) -> np.ndarray:
    counts = np.bincount(probabilities.argmax(axis=1), minlength=n_labels)
    return counts / max(counts.sum(), 1)


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def oov_rate(texts: Sequence[str], vocabulary: set[str]) -> float:
    """The fraction of word occurrences in ``texts`` not in ``vocabulary``."""
    total = unknown = 0
    for text in texts:
        for word in words(text):
            total += 1
            unknown += word not in vocabulary
    return unknown / total if total else 0.0


def oov_shift(reference: Sequence[str], current: Sequence[str], seed: int) -> dict[str, float]:
    order = np.random.default_rng(seed).permutation(len(reference))
    half = len(reference) // 2
    vocabulary = {word for index in order[:half] for word in words(reference[index])}
    held_out = [reference[index] for index in order[half:]]
    reference_rate, current_rate = oov_rate(held_out, vocabulary), oov_rate(current, vocabulary)
    return {"reference_rate": _num(reference_rate), "current_rate": _num(current_rate),
            "delta": _num(current_rate - reference_rate), "vocabulary": len(vocabulary)}


def _ks(reference: np.ndarray, current: np.ndarray) -> dict[str, float]:
    result = ks_2samp(reference, current)
    return {"reference_mean": _num(reference.mean()), "current_mean": _num(current.mean()),
            "ks": _num(result.statistic), "ks_p_value": _num(result.pvalue)}


def domain_scores(reference: Sequence[str], current: Sequence[str], params: DriftParams,
                  seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Out-of-fold scores of a classifier trained to tell current (1) from reference (0) texts,
    on equal-sized seeded samples of each; returns (scores, is_current)."""
    from sklearn.feature_extraction.text import HashingVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    size = min(len(reference), len(current))
    rng = np.random.default_rng(seed)
    picked_reference = [reference[i] for i in np.sort(rng.choice(len(reference), size, False))]
    picked_current = [current[i] for i in np.sort(rng.choice(len(current), size, False))]
    vectorizer = HashingVectorizer(n_features=params.hash_features, ngram_range=(1, 2),
                                   alternate_sign=False, token_pattern=r"(?u)\b\w+\b")
    features = vectorizer.transform(picked_reference + picked_current)
    target = np.repeat([0, 1], size)
    folds = StratifiedKFold(n_splits=min(params.folds, size), shuffle=True, random_state=seed)
    # C and tol measured: half the CPU of the defaults on 2 x 10,000 tweets, the same AUC.
    classifier = LogisticRegression(solver="liblinear", C=0.3, tol=1e-3)
    scores = cross_val_predict(classifier, features, target, cv=folds,
                               method="decision_function")
    return scores, target


def domain_test(scores: np.ndarray, target: np.ndarray) -> dict[str, float]:
    current, reference = scores[target == 1], scores[target == 0]
    result = mannwhitneyu(current, reference, alternative="greater")
    auc = result.statistic / (len(current) * len(reference))
    return {"auc": _num(auc), "p_value": _num(result.pvalue), "rows_per_side": len(current)}


def exceeded(report: dict[str, Any], thresholds: DriftThresholds) -> list[str]:
    """The names of the measures beyond their thresholds."""
    found = [name for name, value in (
        ("prior_jsd", report["prior"]["jsd"]), ("length_ks", report["length"]["ks"]),
        ("oov_rate_delta", report["oov"]["delta"]),
        ("confidence_ks", report["confidence"]["ks"])) if value > getattr(thresholds, name)]
    domain = report["domain"]
    if domain["auc"] > thresholds.domain_auc and domain["p_value"] < thresholds.p_value:
        found.append("domain_auc")
    return found


def summary(report: dict[str, Any]) -> str:
    """One line: verdict, then every measure (those beyond threshold marked with '!')."""
    values = {"prior_jsd": report["prior"]["jsd"], "length_ks": report["length"]["ks"],
              "oov_rate_delta": report["oov"]["delta"],
              "confidence_ks": report["confidence"]["ks"], "domain_auc": report["domain"]["auc"]}
    beyond = set(report["exceeded"])
    parts = [f"{name}={value:.3g}{'!' if name in beyond else ''}"
             for name, value in values.items()]
    verdict = f"DRIFT in {', '.join(report['exceeded'])}" if beyond else "no drift"
    return (f"{verdict}: {' '.join(parts)} (domain p={report['domain']['p_value']:.3g}, "
            f"{report['rows']['reference']} reference vs {report['rows']['current']} "
            "current rows)")


def drift_report(reference: Side, current: Side, labels: Sequence[str], params: DriftParams,
                 seed: int) -> tuple[dict[str, Any], tuple[np.ndarray, np.ndarray]]:
    """Every measure, the thresholds, those exceeded and a one-line summary; also the domain
    classifier's out-of-fold scores (for the plots)."""
    n_labels = len(labels)
    prior_reference = label_mix(reference.probabilities, n_labels)
    prior_current = label_mix(current.probabilities, n_labels)
    lengths = [np.array([len(text) for text in side.texts], dtype=float)
               for side in (reference, current)]
    domain = domain_scores(reference.texts, current.texts, params, seed)
    report: dict[str, Any] = {
        "rows": {"reference": len(reference.texts), "current": len(current.texts)},
        "prior": {"reference": {label: _num(p) for label, p in zip(labels, prior_reference,
                                                                   strict=True)},
                  "current": {label: _num(p) for label, p in zip(labels, prior_current,
                                                                 strict=True)},
                  "jsd": _num(jensenshannon(prior_reference, prior_current, base=2))},
        "length": _ks(*lengths),
        "oov": oov_shift(reference.texts, current.texts, seed),
        "confidence": _ks(reference.probabilities.max(axis=1).astype(float),
                          current.probabilities.max(axis=1).astype(float)),
        "domain": domain_test(*domain),
        "thresholds": params.thresholds.model_dump(),
    }
    report["exceeded"] = exceeded(report, params.thresholds)
    report["drift"] = bool(report["exceeded"])
    report["summary"] = summary(report)
    return report, domain


def plot(reference: Side, current: Side, labels: Sequence[str],
         domain: tuple[np.ndarray, np.ndarray], path: str | Path) -> None:
    """One PNG, four panels: label mix, text length, confidence, domain classifier scores."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(2, 2, figsize=(10, 7))
    width = 0.4
    positions = np.arange(len(labels))
    for offset, side, name in ((-width / 2, reference, "reference"),
                               (width / 2, current, "current")):
        axes[0, 0].bar(positions + offset, label_mix(side.probabilities, len(labels)), width,
                       label=name)
    axes[0, 0].set(xticks=positions, xticklabels=labels, ylabel="share",
                   title="Predicted label mix")
    panels = (
        (axes[0, 1], [np.array([len(t) for t in side.texts]) for side in (reference, current)],
         "Text length (characters)"),
        (axes[1, 0], [side.probabilities.max(axis=1) for side in (reference, current)],
         "Confidence (top probability)"),
        (axes[1, 1], [domain[0][domain[1] == 0], domain[0][domain[1] == 1]],
         "Domain classifier score (out of fold)"),
    )
    for axis, (first, second), title in panels:
        bins = np.histogram_bin_edges(np.concatenate([first, second]), bins=40)
        axis.hist(first, bins=bins, alpha=0.6, density=True, label="reference")
        axis.hist(second, bins=bins, alpha=0.6, density=True, label="current")
        axis.set(title=title, ylabel="density")
    for axis in axes.flat:
        axis.legend()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.tight_layout()
    figure.savefig(path, dpi=90, metadata={"Software": None})
    plt.close(figure)


def _checked_probabilities(location: str, frame: Any, columns: Sequence[str]) -> np.ndarray:
    """A scores file's probabilities; InputError naming the column and row of one that is
    missing, not finite or outside [0, 1]."""
    try:
        values = frame[columns].to_numpy(dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise InputError(f"{location}: {', '.join(columns)} must be numbers ({error})") \
            from None
    bad = ~(np.isfinite(values) & (values >= 0) & (values <= 1))
    if bad.any():
        row, column = (int(index) for index in np.argwhere(bad)[0])
        raise InputError(f"{location} row {frame.index[row] + 1}: {columns[column]} is "
                         f"{float(values[row, column])!r}, not a probability in [0, 1]")
    return values.astype(np.float32)


def read_side(location: str, text_column: str, predictor: Predictor, params: DriftParams,
              seed: int) -> Side:
    """A seeded sample of at most ``max_rows`` rows at ``location`` (at least ``min_rows``);
    its ``prob_<label>`` columns if it has them all (a scores file), else the predictor's."""
    columns = [PROB_PREFIX + label for label in predictor.labels]
    frame = read_frame(location, [text_column], optional=columns, not_blank=[text_column])
    if len(frame) < params.min_rows:
        raise InputError(f"{location}: {len(frame)} rows, fewer than the {params.min_rows} "
                         "drift needs (monitor.drift.min_rows): a few rows differ by chance")
    frame = frame.iloc[sample_indices(len(frame), params.max_rows, seed)]
    texts = list(frame[text_column])
    if all(column in frame.columns for column in columns):
        probabilities = _checked_probabilities(location, frame, columns)
    else:
        probabilities = np.asarray(predictor.predict_proba(texts), dtype=np.float32)
    return Side(texts, probabilities)


def check(reference: str, current: str, predictor: Predictor, output_dir: str | Path,
          params: DriftParams, seed: int, text_column: str = "text") -> dict[str, Any]:
    """Compare the data at ``reference`` and ``current``; write ``drift.json`` and ``drift.png``
    into ``output_dir``; return the report."""
    sides = [read_side(location, text_column, predictor, params, seed)
             for location in (reference, current)]
    report, domain = drift_report(*sides, predictor.labels, params, seed)
    output_dir = Path(output_dir)
    write_json(output_dir / "drift.json", report)
    plot(*sides, predictor.labels, domain, output_dir / "drift.png")
    return report
