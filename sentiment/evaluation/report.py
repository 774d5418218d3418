"""The pull-request report: what a change did to the model, compared with a base revision.

The numbers come from DVC's own comparison (``dvc metrics diff`` and ``dvc params diff``);
this module only selects, judges and renders them as markdown, with PNG figures of the base
and the head side by side (CML uploads local images; DVC's HTML plots need a CDN).
"""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from sentiment.evaluation.plots import confusion_png, training_curves_png
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
CURVES = ("train/loss", "val/loss", "val/macro_f1")
# The families table: (column, metrics file under paths.reports, metric name with {family},
# number format).
FAMILY_COLUMNS: tuple[tuple[str, str, str, str], ...] = (
    ("val macro-F1", "train/metrics.json", "families.{family}.val.macro_f1", ".4f"),
    ("test macro-F1", "metrics.json", "families.{family}.test.macro_f1", ".4f"),
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


@dataclass(frozen=True)
class Figure:
    """One figure rendered for the base and for head (``None`` where the data is missing)."""

    title: str
    base: Path | None
    head: Path | None


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


def verdict(change: Change, threshold: float) -> str:
    """One line on the headline metric: better, worse or within noise of the threshold."""
    if change.old is None:
        return f"🆕 macro-F1 {change.new:.4f} (no base metrics to compare with)"
    delta = round(change.new - change.old, 6)
    values = f"{change.old:.4f} → {change.new:.4f}"
    if delta > threshold:
        icon, word = "✅", "better"
    elif delta < -threshold:
        icon, word = "❌", "worse"
    else:
        icon, word = "➖", "within noise"
    return f"{icon} macro-F1 {format_delta(delta)}: {values} ({word}; threshold ±{threshold:g})"


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


def _table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(headers) + " |", "|" + " --- |" * len(headers)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def metrics_table(comparison: Comparison) -> list[str]:
    """The featured metrics: base, head and delta (head only when the base has none)."""
    changes = comparison.headline_metrics
    featured = [(label, changes[name]) for name, label in FEATURED if name in changes]
    if not comparison.base_has_metrics:
        return _table(["metric", "head"], ([label, format_metric(c.new)] for label, c in featured))
    return _table(["metric", "base", "head", "Δ"],
                  ([label, format_metric(c.old), format_metric(c.new), format_delta(c.diff)]
                   for label, c in featured))


def params_table(comparison: Comparison) -> list[str]:
    if not comparison.params:
        return ["No params changed."]
    return _table(["param", "base", "head"],
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

    rows = []
    for family in sorted(families, key=lambda name: (-val_score(name), name)):
        is_champion = champion is not None and champion.new == family
        values = []
        for column, file, name, spec in FAMILY_COLUMNS:
            change = cell(family, file, name)
            number = change is not None and isinstance(change.new, int | float)
            text = format(change.new, spec) if number else MISSING
            if (column == "test macro-F1" and change is not None and change.old is not None
                    and change.diff is not None):
                text += f" ({format_delta(change.diff)})"
            values.append(text)
        label = f"**{family}** (champion)" if is_champion else family
        rows.append([label, *values])
    return _table(["family", *(column for column, *_ in FAMILY_COLUMNS)], rows)


def all_metrics_table(comparison: Comparison) -> list[str]:
    """Every metric DVC knows, in a collapsed section."""
    rows = [[f"`{path}`", f"`{name}`", format_metric(c.old), format_metric(c.new),
             format_delta(c.diff)]
            for path, changes in sorted(comparison.metrics.items())
            for name, c in sorted(changes.items())]
    return ["<details><summary>All metrics (<code>dvc metrics diff --all</code>)</summary>", "",
            *_table(["file", "metric", "base", "head", "Δ"], rows), "", "</details>"]


def _image_cell(image: Path | None, alt: str, output_dir: Path) -> str:
    if image is None:
        return "_not available_"
    return f"![{alt}]({Path(os.path.relpath(image, output_dir)).as_posix()})"


def figure_section(figure: Figure, comparison: Comparison, output_dir: Path) -> list[str]:
    """A figure as a markdown table: base beside head (head only on a first report)."""
    head = _image_cell(figure.head, f"{figure.title}, head", output_dir)
    lines = [f"### {figure.title}", ""]
    if not comparison.base_has_metrics:
        return [*lines, *_table(["head"], [[head]])]
    base = _image_cell(figure.base, f"{figure.title}, base", output_dir)
    return [*lines, *_table([f"base `{comparison.base}`", "head"], [[base, head]])]


def render_markdown(comparison: Comparison, figures: Sequence[Figure], threshold: float,
                    output_dir: Path) -> str:
    """The whole report: verdict, metrics, families, params, figures, then all metrics."""
    base = comparison.base
    lines = [f"## Model report: `{base}` → this change", "",
             f"**{verdict(comparison.headline_metrics[HEADLINE], threshold)}**", "",
             f"Base: `{base}` (`{comparison.base_sha}`) · head: the workspace at "
             f"`{comparison.head_sha}`", ""]
    if not comparison.base_has_metrics:
        lines += [f"> The base `{base}` has no metrics yet: this is the first report; "
                  "showing head only.", ""]
    lines += ["### Metrics", "", *metrics_table(comparison), "",
              "### Model families", "", *families_table(comparison), "",
              "### Params changed", "", *params_table(comparison), ""]
    for figure in figures:
        lines += [*figure_section(figure, comparison, output_dir), ""]
    lines += all_metrics_table(comparison)
    return "\n".join(lines) + "\n"


def read_text(path: str, rev: str | None, repo: Path) -> str | None:
    """A file's text in the workspace (``rev`` None) or at a git revision; None if absent."""
    if rev is None:
        file = repo / path
        return file.read_text(encoding="utf-8") if file.is_file() else None
    result = _run(["git", "show", f"{rev}:./{path}"], repo)
    return result.stdout if result.returncode == 0 else None


def confusion_figure(csv_text: str, path: Path, title: str) -> Path:
    """Render ``confusion.csv`` (columns actual, predicted) with the evaluate stage's plot."""
    frame = pd.read_csv(io.StringIO(csv_text), dtype=str)
    extra = sorted(set(frame["actual"]).union(frame["predicted"]) - set(LABELS))
    labels = [*LABELS, *extra]
    confusion_png(frame["actual"].map(labels.index).to_numpy(),
                  frame["predicted"].map(labels.index).to_numpy(), labels, path, title=title)
    return path


def curves_figure(tsv_texts: Mapping[str, str], path: Path, title: str) -> Path:
    """Render dvclive's per-epoch TSVs (columns step, <name>) as training curves."""
    series = {}
    for name, text in tsv_texts.items():
        frame = pd.read_csv(io.StringIO(text), sep="\t")
        series[name] = frame[name.rsplit("/", 1)[-1]].tolist()
    training_curves_png(series, path, title=title)
    return path


def _render_side(rev: str | None, side: str, label: str, reports: str, images_dir: Path,
                 repo: Path) -> tuple[Path | None, Path | None]:
    """The confusion matrix and training curves of one side (None where its data is missing)."""
    confusion_csv = read_text(f"{reports}/plots/confusion.csv", rev, repo)
    confusion = None if confusion_csv is None else confusion_figure(
        confusion_csv, images_dir / f"confusion-{side}.png", f"Confusion matrix, {label}")
    tsvs = {name: read_text(f"{reports}/train/plots/metrics/{name}.tsv", rev, repo)
            for name in CURVES}
    present = {name: text for name, text in tsvs.items() if text is not None}
    curves = curves_figure(present, images_dir / f"curves-{side}.png",
                           f"Training curves, {label}") if present else None
    return confusion, curves


def render_figures(comparison: Comparison, reports: str, images_dir: Path,
                   repo: Path) -> list[Figure]:
    """The confusion matrix and the training curves, for the base and for head."""
    images_dir.mkdir(parents=True, exist_ok=True)
    head = _render_side(None, "head", "head (workspace)", reports, images_dir, repo)
    base: tuple[Path | None, Path | None] = (None, None)
    if comparison.base_has_metrics:
        base = _render_side(comparison.base, "base",
                            f"base {comparison.base} ({comparison.base_sha})",
                            reports, images_dir, repo)
    return [Figure("Confusion matrix (test)", base[0], head[0]),
            Figure("Training curves", base[1], head[1])]


def build_report(base: str, output: Path, images_dir: Path, threshold: float,
                 repo: Path = Path(".")) -> Comparison:
    """Compare the workspace of ``repo`` with ``base``; write the markdown and its images."""
    reports = load_params(repo / "params.yaml").paths.reports
    comparison = compare(base, repo, f"{reports}/metrics.json")
    headline = comparison.headline_metrics.get(HEADLINE)
    if headline is None or headline.new is None:
        raise ReportError(f"the workspace has no {HEADLINE} in {comparison.metrics_file}: "
                          "run `dvc repro` (or `dvc pull`) first")
    if not comparison.base_has_metrics:
        log.warning("base %s has no metrics yet: reporting head only", base)
    figures = render_figures(comparison, reports, images_dir, repo)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(render_markdown(comparison, figures, threshold, output.parent),
                      encoding="utf-8")
    log.info("report written to %s (images in %s)", output, images_dir)
    return comparison
