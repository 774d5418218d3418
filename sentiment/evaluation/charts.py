"""Charts that GitHub renders in a comment by itself: markdown tables and Mermaid blocks.

Nothing is uploaded: a pull-request comment shows them as they are (Mermaid's ``xychart-beta``
draws the training curves, a table the confusion matrix)."""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping, Sequence

import pandas as pd

from sentiment.params.base import LABELS


def table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    """A markdown table (cells are escaped by the caller)."""
    lines = ["| " + " | ".join(headers) + " |", "|" + " --- |" * len(headers)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def confusion_table(csv_text: str) -> list[str]:
    """``confusion.csv`` (columns actual, predicted) as counts: one row per actual label."""
    frame = pd.read_csv(io.StringIO(csv_text), dtype=str, keep_default_na=False)
    labels = [*LABELS, *sorted(set(frame["actual"]).union(frame["predicted"]) - set(LABELS))]
    counts = pd.crosstab(frame["actual"], frame["predicted"]).reindex(
        index=labels, columns=labels, fill_value=0)
    return table(["actual ↓ predicted →", *labels],
                 ([label, *(f"{count:,}" for count in counts.loc[label])] for label in labels))


def _number(value: float) -> str:
    return f"{value:.6g}"


def line_chart(title: str, series: Mapping[str, Sequence[float]]) -> list[str]:
    """A Mermaid ``xychart-beta`` block: one line per series against epoch (series of equal
    length; Mermaid draws no legend, so the title names them in order)."""
    epochs = max(len(values) for values in series.values())
    names = ", ".join(series)
    lines = ["```mermaid", "xychart-beta", f'    title "{title}: {names}"',
             f'    x-axis "epoch" [{", ".join(str(step) for step in range(epochs))}]']
    lines += [f"    line [{', '.join(_number(value) for value in values)}]"
              for values in series.values()]
    return [*lines, "```"]
