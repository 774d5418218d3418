"""The pull-request report: what a change did to the model, compared with a base revision.

The numbers come from DVC's own comparison (``dvc metrics diff`` and ``dvc params diff``) and
from the per-row test predictions of both revisions (the paired bootstrap verdict). Charts are
markdown tables and Mermaid blocks, which GitHub renders in a comment itself: nothing is
uploaded anywhere.
"""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from sentiment.evaluation.behaviour import TYPES as BEHAVIOUR_TYPES
from sentiment.evaluation.charts import confusion_table, line_chart, table
from sentiment.evaluation.intervals import (
    Interval,
    bootstrap_macro_f1,
    paired_difference,
    unpaired_difference,
)
from sentiment.evaluation.predictions import (
    CHAMPION,
    PREDICTIONS_FILE,
    PredictionsError,
    indices,
    pair,
    read_predictions,
)
from sentiment.params.base import LABELS
from sentiment.params.schema import load_params

log = logging.getLogger(__name__)

HEADLINE = "test.macro_f1"
FEATURED: tuple[tuple[str, str], ...] = (
    (HEADLINE, "test macro-F1"),
    ("test.accuracy", "test accuracy"),
    *((f"test.per_class.{label}.f1", f"test F1 {label}") for label in LABELS),
    ("baseline.vader.test.macro_f1", "VADER baseline macro-F1"),
)
CURVES = "train/plots/metrics"  # dvclive's <family>/<metric>.tsv under the reports folder
# The families table: (column, metrics file under paths.reports, metric name with {family},
# number format).
FAMILY_COLUMNS: tuple[tuple[str, str, str, str], ...] = (
    ("val macro-F1", "train/metrics.json", "families.{family}.val.macro_f1", ".4f"),
    ("test macro-F1", "metrics.json", "families.{family}.test.macro_f1", ".4f"),
    ("test 95 % CI", "intervals.json", "families.{family}.test.macro_f1.{bound}", ".4f"),
    *((f"test F1 {label}", "metrics.json", f"families.{{family}}.test.per_class.{label}", ".4f")
      for label in LABELS),
    ("train s", "speed.json", "{family}.train_seconds", ".1f"),
    ("texts/s", "speed.json", "{family}.texts_per_s", ",.0f"),
    ("latency ms", "speed.json", "{family}.latency_ms", ".1f"),
    ("size MB", "train/metrics.json", "families.{family}.size_mb", ".1f"),
)
MISSING = "—"


class ReportError(RuntimeError):
    """The report cannot be built (unknown base, no metrics in the workspace); says why."""


@dataclass(frozen=True)
class Change:
    """One metric or param at the base and at head (``None`` where absent), with DVC's diff."""

    name: str
    old: Any
    new: Any
    diff: float | None = None


@dataclass(frozen=True)
class Comparison:
    """DVC's diffs between a base revision and the workspace."""

    base: str
    base_sha: str
    head_sha: str
    metrics_file: str
    metrics: dict[str, dict[str, Change]]
    params: list[Change]

    @property
    def headline_metrics(self) -> dict[str, Change]:
        return self.metrics.get(self.metrics_file, {})

    @property
    def reports(self) -> str:
        """The reports folder (``paths.reports``) the metrics files live in."""
        return self.metrics_file.rpartition("/")[0]

    def file_metrics(self, file: str) -> dict[str, Change]:
        """The metrics of a file under the reports folder (none where DVC has no such file)."""
        prefix = f"{self.reports}/" if self.reports else ""
        return self.metrics.get(f"{prefix}{file}", {})

    def metric(self, file: str, name: str) -> Change | None:
        """One metric of a file under the reports folder, or None where DVC has no such one."""
        return self.file_metrics(file).get(name)

    @property
    def base_has_metrics(self) -> bool:
        return any(change.old is not None for change in self.headline_metrics.values())


def _run(args: Sequence[str], repo: Path) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), cwd=repo, capture_output=True, text=True, check=False)


def _dvc_json(args: Sequence[str], repo: Path) -> dict[str, Any]:
    """Run ``dvc <args> --json`` with this interpreter's DVC and parse its answer."""
    log.info("dvc %s", " ".join(args))
    result = _run([sys.executable, "-m", "dvc", *args, "--json"], repo)
    if result.returncode != 0:
        raise ReportError(f"dvc {' '.join(args)} failed:\n{result.stderr.strip()}")
    return json.loads(result.stdout or "{}")


def resolve_sha(rev: str, repo: Path) -> str:
    """The short commit id of ``rev``; a clear error when git does not know it."""
    result = _run(["git", "rev-parse", "--verify", "--quiet", "--short", f"{rev}^{{commit}}"],
                  repo)
    if result.returncode != 0:
        raise ReportError(f"unknown git revision {rev!r} (fetch it first, e.g. "
                          f"`git fetch origin {rev}`, or pass another --base)")
    return result.stdout.strip()


def _change(name: str, entry: Mapping[str, Any]) -> Change:
    return Change(name, entry.get("old"), entry.get("new"), entry.get("diff"))


def compare(base: str, repo: Path, metrics_file: str) -> Comparison:
    """Every metric (changed or not) and every changed param, workspace against ``base``."""
    base_sha, head_sha = resolve_sha(base, repo), resolve_sha("HEAD", repo)
    metrics = _dvc_json(["metrics", "diff", base, "--all"], repo)
    params = _dvc_json(["params", "diff", base], repo)
    return Comparison(
        base=base, base_sha=base_sha, head_sha=head_sha, metrics_file=metrics_file,
        metrics={path: {name: _change(name, entry) for name, entry in entries.items()}
                 for path, entries in metrics.items()},
        params=[_change(name if path == "params.yaml" else f"{path}:{name}", entry)
                for path, entries in sorted(params.items())
                for name, entry in sorted(entries.items())],
    )


@dataclass(frozen=True)
class Bootstrap:
    """How the verdict resamples: params.yaml's ``evaluate.bootstrap`` and ``seed``, and the
    smallest change that counts (``--threshold``)."""

    resamples: int
    confidence: float
    seed: int
    threshold: float = 0.0

    def options(self) -> dict[str, Any]:
        return {"resamples": self.resamples, "confidence": self.confidence, "seed": self.seed}


def judge(difference: Interval, threshold: float) -> tuple[str, str]:
    """(icon, word): better or worse only when the whole interval clears ``threshold``."""
    if difference.low > threshold:
        return "✅", "better"
    if difference.high < -threshold:
        return "❌", "worse"
    return "➖", "no significant change"


def verdict(change: Change, base: pd.DataFrame | None, head: pd.DataFrame | None,
            bootstrap: Bootstrap) -> list[str]:
    """The verdict on the champion's test macro-F1, and how it was reached (one line each)."""
    if change.old is None:
        return [f"🆕 macro-F1 {change.new:.4f} (no base metrics to compare with)"]
    values = f"{change.old:.4f} → {change.new:.4f}"
    if head is None:
        return [f"macro-F1 {values}: head has no per-row predictions "
                f"({PREDICTIONS_FILE}); no interval, no verdict"]
    n_classes, options = len(LABELS), bootstrap.options()
    threshold = f"; threshold ±{bootstrap.threshold:g}" if bootstrap.threshold else ""
    head_side = (indices(head["label"]), indices(head[CHAMPION]))
    if base is None:
        interval = bootstrap_macro_f1(*head_side, n_classes, **options)
        moved = Interval(change.new - change.old, interval.low - change.old,
                         interval.high - change.old, interval.confidence)
        icon, word = judge(moved, bootstrap.threshold)
        return [f"{icon} macro-F1 {values}: {word}{threshold}",
                f"The base has no per-row predictions ({PREDICTIONS_FILE}; a run from before "
                f"they were kept): unpaired, the base's score against head's "
                f"{interval.confidence * 100:g} % interval {interval.low:.4f} to "
                f"{interval.high:.4f} ({len(head):,} rows)."]
    pairing = pair(base, head)
    base_side = (indices(pairing.base["label"]), indices(pairing.base[CHAMPION]))
    if pairing.paired:
        difference = paired_difference(*base_side, indices(pairing.head[CHAMPION]), n_classes,
                                       **options)
        how = f"Paired bootstrap over the {pairing.shared:,} test rows base and head share (by id)."
    else:
        difference = unpaired_difference(base_side, head_side, n_classes, **options)
        how = (f"The test rows changed ({pairing.shared:,} shared, {pairing.only_base:,} only "
               f"at base, {pairing.only_head:,} only at head): unpaired bootstrap of each side.")
    icon, word = judge(difference, bootstrap.threshold)
    return [f"{icon} macro-F1 {difference.text()}: {values} ({word}{threshold})",
            f"{how} {bootstrap.resamples:,} resamples, seed {bootstrap.seed}."]


def format_param(value: Any) -> str:
    """A param value for a table cell, as DVC gives it."""
    return MISSING if value is None else str(value).replace("|", "\\|")


def format_metric(value: Any) -> str:
    """A metric for a table cell: floats to four decimals, counts as they are."""
    return f"{value:.4f}" if isinstance(value, float) else format_param(value)


def format_delta(delta: float | None) -> str:
    """A signed difference: ``+0.0120``, ``-0.0030``, ``+2``; zero unsigned when nothing moved."""
    if delta is None:
        return MISSING
    if isinstance(delta, int):
        return f"{delta:+d}" if delta else "0"
    rounded = round(delta, 4)
    return f"{rounded:+.4f}" if rounded else "0.0000"


def metrics_table(comparison: Comparison) -> list[str]:
    """The featured metrics: base, head and delta (head only when the base has none)."""
    changes = comparison.headline_metrics
    featured = [(label, changes[name]) for name, label in FEATURED if name in changes]
    if not comparison.base_has_metrics:
        return table(["metric", "head"], ([label, format_metric(c.new)] for label, c in featured))
    return table(["metric", "base", "head", "Δ"],
                  ([label, format_metric(c.old), format_metric(c.new), format_delta(c.diff)]
                   for label, c in featured))


def params_table(comparison: Comparison) -> list[str]:
    if not comparison.params:
        return ["No params changed."]
    return table(["param", "base", "head"],
                  ([f"`{c.name}`", format_param(c.old), format_param(c.new)]
                   for c in comparison.params))


def families_table(comparison: Comparison) -> list[str]:
    """Every trained family side by side at head, best validation first, champion in bold.

    Test macro-F1 carries its change from the base where the base trained that family too;
    the speed columns are this machine's measurements (``reports/speed.json``).
    """
    champion = comparison.metric("train/metrics.json", "champion")
    families = sorted({name.split(".")[1] for file in ("metrics.json", "train/metrics.json")
                       for name in comparison.file_metrics(file)
                       if name.startswith("families.")})
    if not families:
        return ["No per-family metrics (a single-family run)."]

    def cell(family: str, file: str, name: str) -> Change | None:
        return comparison.metric(file, name.format(family=family))

    def val_score(family: str) -> float:
        change = cell(family, *FAMILY_COLUMNS[0][1:3])
        return -1.0 if change is None or change.new is None else float(change.new)

    has_cv = any(name.startswith("cv.") for name in comparison.file_metrics("train/metrics.json"))
    rows = []
    for family in sorted(families, key=lambda name: (-val_score(name), name)):
        is_champion = champion is not None and champion.new == family
        values = []
        for column, file, name, spec in FAMILY_COLUMNS:
            if "{bound}" in name:
                values.append(interval_cell(comparison, file, name.format(
                    family=family, bound="{bound}")))
                continue
            change = cell(family, file, name)
            number = change is not None and isinstance(change.new, int | float)
            text = format(change.new, spec) if number else MISSING
            if (column == "test macro-F1" and change is not None and change.old is not None
                    and change.diff is not None):
                text += f" ({format_delta(change.diff)})"
            values.append(text)
        if has_cv:
            values.insert(1, cv_cell(comparison, family))
        label = f"**{family}** (champion)" if is_champion else family
        rows.append([label, *values])
    headers = [column for column, *_ in FAMILY_COLUMNS]
    if has_cv:
        headers.insert(1, "k-fold macro-F1 (mean ± sd)")
    return [*table(["family", *headers], rows), "", lead_line(comparison)]


def cv_cell(comparison: Comparison, family: str) -> str:
    """``0.7012 ± 0.0150`` from ``split.folds``'s cross-validation, or a dash."""
    mean, sd = (comparison.metric("train/metrics.json", f"cv.families.{family}.{key}")
                for key in ("mean", "sd"))
    if mean is None or sd is None or mean.new is None or sd.new is None:
        return MISSING
    return f"{mean.new:.4f} ± {sd.new:.4f}"


def interval_cell(comparison: Comparison, file: str, name: str) -> str:
    """``0.7012 to 0.7398`` from a metric's ``low`` and ``high`` at head."""
    bounds = [comparison.metric(file, name.format(bound=bound)) for bound in ("low", "high")]
    if any(bound is None or not isinstance(bound.new, int | float) for bound in bounds):
        return MISSING
    return f"{bounds[0].new:.4f} to {bounds[1].new:.4f}"


def lead_line(comparison: Comparison) -> str:
    """Whether the champion's validation lead over the runner-up is significant (paired)."""
    def value(name: str) -> Any:
        change = comparison.metric("intervals.json", f"champion_lead.{name}")
        return None if change is None else change.new

    runner_up, significant = value("runner_up"), value("significant")
    if runner_up is None or significant is None:
        return "_No paired test of the champion's lead (a single family, or no intervals.json)._"
    lead = Interval(*(value(f"val_macro_f1_diff.{key}") for key in
                      ("value", "low", "high", "confidence")))
    word = ("significant" if significant else
            "not significant: on this validation split the two are a coin toss")
    return (f"Champion's validation lead over `{runner_up}`: {lead.text()}, {word} "
            "(paired bootstrap on the validation rows).")


def behaviour_table(comparison: Comparison) -> list[str]:
    """Behavioural failure rates per family and test type (lower is better), base → head."""
    changes = comparison.file_metrics("behaviour.json")
    families = sorted({name.split(".")[1] for name in changes if name.startswith("families.")})
    if not families:
        return ["_No behavioural tests at head or base (no behaviour.json)._"]

    def rate(family: str, kind: str) -> str:
        change = changes.get(f"families.{family}.{kind}")
        if change is None or change.new is None:
            return MISSING
        if change.old is None or not comparison.base_has_metrics:
            return f"{change.new:.1%}"
        return f"{change.old:.1%} → {change.new:.1%}"

    counts = [changes.get(f"cases.{kind}") for kind in BEHAVIOUR_TYPES]
    headers = [f"{kind.replace('_', ' ')} ({count.new:,} cases)"
               if count is not None and count.new is not None else kind.replace("_", " ")
               for kind, count in zip(BEHAVIOUR_TYPES, counts, strict=True)]
    return [*table(["family", *headers],
                   ([family, *(rate(family, kind) for kind in BEHAVIOUR_TYPES)]
                    for family in families)), "",
            "Failure rates (lower is better); per test in `reports/behaviour.json`."]


def all_metrics_table(comparison: Comparison) -> list[str]:
    """Every metric DVC knows, in a collapsed section."""
    rows = [[f"`{path}`", f"`{name}`", format_metric(c.old), format_metric(c.new),
             format_delta(c.diff)]
            for path, changes in sorted(comparison.metrics.items())
            for name, c in sorted(changes.items())]
    return ["<details><summary>All metrics (<code>dvc metrics diff --all</code>)</summary>", "",
            *table(["file", "metric", "base", "head", "Δ"], rows), "", "</details>"]


def read_text(path: str, rev: str | None, repo: Path) -> str | None:
    """A file's text in the workspace (``rev`` None) or at a git revision; None if absent."""
    if rev is None:
        file = repo / path
        return file.read_text(encoding="utf-8") if file.is_file() else None
    result = _run(["git", "show", f"{rev}:./{path}"], repo)
    return result.stdout if result.returncode == 0 else None


def list_files(folder: str, rev: str | None, repo: Path) -> list[str]:
    """The files under ``folder`` (repository-relative paths) in the workspace or at ``rev``."""
    if rev is None:
        return sorted(path.relative_to(repo).as_posix()
                      for path in (repo / folder).rglob("*") if path.is_file())
    result = _run(["git", "ls-tree", "-r", "--name-only", rev, "--", f"{folder}/"], repo)
    return sorted(result.stdout.split()) if result.returncode == 0 else []


def read_curves(reports: str, rev: str | None, repo: Path) -> dict[str, dict[str, list[float]]]:
    """dvclive's per-epoch curves of one revision, by family then metric."""
    curves: dict[str, dict[str, list[float]]] = {}
    folder = f"{reports}/{CURVES}" if reports else CURVES
    for path in list_files(folder, rev, repo):
        family, _, file = path[len(folder) + 1:].rpartition("/")
        metric = file.removesuffix(".tsv")
        text = read_text(path, rev, repo)
        if not family or not file.endswith(".tsv") or text is None:
            continue
        frame = pd.read_csv(io.StringIO(text), sep="\t")
        if metric in frame.columns:
            curves.setdefault(family, {})[metric] = frame[metric].astype(float).tolist()
    return curves


def curve_summary(values: list[float] | None, metric: str) -> str:
    """``5 epochs, last 0.4816, best 0.4816 (epoch 4)`` (best: lowest loss, highest score)."""
    if not values:
        return MISSING
    best = min(values) if metric.endswith("loss") else max(values)
    return (f"{len(values)} epoch{'s' if len(values) > 1 else ''}, last {values[-1]:.4f}, "
            f"best {best:.4f} (epoch {values.index(best)})")


def curves_section(base: Mapping[str, Mapping[str, list[float]]] | None,
                   head: Mapping[str, Mapping[str, list[float]]], base_name: str) -> list[str]:
    """Per family: each curve summarised base beside head, then a Mermaid chart of each side's
    per-epoch curves (families trained in epochs; a one-point curve is only summarised)."""
    families = sorted(set(head).union(base or {}))
    if not families:
        return ["_No training curves at either revision._"]
    lines: list[str] = []
    for family in families:
        sides = {"head": head.get(family, {})}
        if base is not None:
            sides = {f"base `{base_name}`": base.get(family, {}), **sides}
        metrics = sorted(set().union(*sides.values()))
        lines += [f"#### {family}", "",
                  *table(["curve", *sides], ([f"`{metric}`", *(curve_summary(
                      side.get(metric), metric) for side in sides.values())]
                      for metric in metrics)), ""]
        for side, series in sides.items():
            epochs = max((len(values) for values in series.values()), default=0)
            drawn = {name: values for name, values in series.items() if len(values) == epochs}
            if epochs > 1:
                lines += [*line_chart(f"{family}, {side.replace('`', '')}", drawn), ""]
    return lines


def confusion_section(base: str | None, head: str | None, comparison: Comparison) -> list[str]:
    """The test confusion matrices, base then head."""
    lines = []
    sides = [("head", head)]
    if comparison.base_has_metrics:
        sides.insert(0, (f"base `{comparison.base}`", base))
    for name, text in sides:
        lines += [f"{name}:", "", *(confusion_table(text) if text is not None
                                   else ["_not available_"]), ""]
    return lines


def render_markdown(comparison: Comparison, verdict_lines: Sequence[str],
                    curves: tuple[Mapping | None, Mapping], confusion: tuple[str | None,
                                                                              str | None]
                    ) -> str:
    """The whole report: verdict, metrics, families, params, charts, then all metrics."""
    base = comparison.base
    lines = [f"## Model report: `{base}` → this change", "",
             f"**{verdict_lines[0]}**", "", *(f"{line}" for line in verdict_lines[1:]), "",
             f"Base: `{base}` (`{comparison.base_sha}`) · head: the workspace at "
             f"`{comparison.head_sha}`", ""]
    if not comparison.base_has_metrics:
        lines += [f"> The base `{base}` has no metrics yet: this is the first report; "
                  "showing head only.", ""]
    lines += ["### Metrics", "", *metrics_table(comparison), "",
              "### Model families", "", *families_table(comparison), "",
              "### Behavioural tests", "", *behaviour_table(comparison), "",
              "### Params changed", "", *params_table(comparison), "",
              "### Confusion matrix (test)", "", *confusion_section(*confusion, comparison),
              "### Training curves", "", *curves_section(*curves, base), ""]
    lines += all_metrics_table(comparison)
    return "\n".join(lines) + "\n"


def read_side_predictions(reports: str, rev: str | None, repo: Path) -> pd.DataFrame | None:
    """One revision's per-row test predictions, or None where that run kept none."""
    path = f"{reports}/{PREDICTIONS_FILE}"
    text = read_text(path, rev, repo)
    if text is None:
        return None
    try:
        return read_predictions(text, path if rev is None else f"{rev}:{path}")
    except PredictionsError as error:
        raise ReportError(str(error)) from None


def build_report(base: str, output: Path, threshold: float = 0.0,
                 confidence: float | None = None, repo: Path = Path(".")) -> Comparison:
    """Compare the workspace of ``repo`` with ``base``; write the markdown."""
    params = load_params(repo / "params.yaml")
    reports = params.paths.reports
    settings = params.evaluate.bootstrap
    bootstrap = Bootstrap(settings.resamples, confidence or settings.confidence, params.seed,
                          threshold)
    comparison = compare(base, repo, f"{reports}/metrics.json")
    headline = comparison.headline_metrics.get(HEADLINE)
    if headline is None or headline.new is None:
        raise ReportError(f"the workspace has no {HEADLINE} in {comparison.metrics_file}: "
                          "run `dvc repro` (or `dvc pull`) first")
    if not comparison.base_has_metrics:
        log.warning("base %s has no metrics yet: reporting head only", base)
    old = comparison.base if comparison.base_has_metrics else None
    verdict_lines = verdict(headline, read_side_predictions(reports, old, repo) if old else None,
                            read_side_predictions(reports, None, repo), bootstrap)
    curves = (read_curves(reports, old, repo) if old else None,
              read_curves(reports, None, repo))
    confusion_csv = f"{reports}/plots/confusion.csv"
    confusion = (read_text(confusion_csv, old, repo) if old else None,
                 read_text(confusion_csv, None, repo))
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(render_markdown(comparison, verdict_lines, curves, confusion),
                      encoding="utf-8")
    log.info("report written to %s", output)
    return comparison
