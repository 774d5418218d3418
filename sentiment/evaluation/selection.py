"""Comparing trained families and choosing the champion: best validation macro-F1 among the
families that meet the serving budget. Test rows play no part in the choice."""

from __future__ import annotations

import dataclasses
import statistics
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sentiment.data.batches import LabelledTexts, batched_proba
from sentiment.evaluation.metrics import per_class_f1
from sentiment.model.predictor import Predictor
from sentiment.params.train import BudgetParams

THROUGHPUT_TEXTS = 1000  # at most this many validation texts timed, in chunks
THROUGHPUT_CHUNK = 100
LATENCY_CALLS = 30  # at most this many single-text calls timed
MIN_LATENCY_CALLS = 5
TIMING_SECONDS = 3.0  # a slow family stops being timed after about this long (each measure)


class BudgetError(ValueError):
    """No family meets ``train.budget``; the message lists what each measured."""


@dataclass(frozen=True)
class Candidate:
    """One trained family: its validation quality (deterministic) and measured speed."""

    name: str
    val_macro_f1: float
    val_f1: dict[str, float]
    size_bytes: int
    summary: dict[str, object] = field(default_factory=dict)
    texts_per_s: float = 0.0
    latency_ms: float = 0.0
    train_seconds: float = 0.0

    @classmethod
    def evaluate(cls, name: str, predictor: Predictor, val: LabelledTexts, size_bytes: int,
                 summary: dict[str, object]) -> Candidate:
        probabilities = batched_proba(lambda batch: predictor.predict_proba(batch.texts),
                                      val.batches(), len(predictor.labels))
        scores = per_class_f1(val.labels, probabilities, predictor.labels)
        return cls(name, scores["macro_f1"], scores["per_class"], size_bytes, summary)

    def with_speed(self, speed: tuple[float, float], train_seconds: float) -> Candidate:
        return dataclasses.replace(self, texts_per_s=speed[0], latency_ms=speed[1],
                                   train_seconds=train_seconds)

    def quality(self) -> dict[str, object]:
        """What goes into DVC metrics: identical on every run."""
        return {"val": {"macro_f1": self.val_macro_f1, "f1": self.val_f1},
                "size_mb": round(self.size_bytes / 2**20, 3), **self.summary}

    def speed(self) -> dict[str, float]:
        """Measured on this machine: differs from run to run."""
        return {"texts_per_s": round(self.texts_per_s, 1), "latency_ms": round(self.latency_ms, 3),
                "train_seconds": round(self.train_seconds, 1)}


def folder_size(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def unseen(texts: Sequence[str], tag: str) -> list[str]:
    """Texts of the same lengths that no cache has seen: each text's words in reverse order,
    tagged (the encoder remembers embeddings across the candidates of a run, so timing texts
    seen before would time a lookup)."""
    return [f"{' '.join(reversed(text.split()))} {tag}" for text in texts]


def measure_speed(predictor: Predictor, texts: Sequence[str], name: str) -> tuple[float, float]:
    """(texts per second in batches of ``THROUGHPUT_CHUNK``, median single-text latency in ms),
    on texts that neither this candidate nor an earlier one has seen. Each measure stops after
    ``TIMING_SECONDS`` (at least one chunk, ``MIN_LATENCY_CALLS`` calls), so a slow family
    costs seconds, not minutes, of every run."""
    batch = unseen(texts[:THROUGHPUT_TEXTS], f"~{name}")
    predictor.predict_proba(batch[:8])  # warm caches and lazy initialisation
    done, started = 0, time.perf_counter()
    while done < len(batch) and (not done or time.perf_counter() - started < TIMING_SECONDS):
        chunk = batch[done : done + THROUGHPUT_CHUNK]
        predictor.predict_proba(chunk)
        done += len(chunk)
    texts_per_s = done / max(time.perf_counter() - started, 1e-9)
    latencies: list[float] = []
    timing_started = time.perf_counter()
    for text in unseen(texts[:LATENCY_CALLS], f"~{name}~latency"):
        if (len(latencies) >= MIN_LATENCY_CALLS
                and time.perf_counter() - timing_started > TIMING_SECONDS):
            break
        started = time.perf_counter()
        predictor.predict_proba([text])
        latencies.append((time.perf_counter() - started) * 1000)
    return texts_per_s, statistics.median(latencies)


def meets(candidate: Candidate, budget: BudgetParams) -> bool:
    return ((not budget.min_texts_per_s or candidate.texts_per_s >= budget.min_texts_per_s)
            and (not budget.max_latency_ms or candidate.latency_ms <= budget.max_latency_ms))


def select_champion(candidates: Sequence[Candidate], budget: BudgetParams,
                    scores: Mapping[str, float] | None = None) -> Candidate:
    """The best validation macro-F1 (or ``scores``, e.g. the cross-validated means) within the
    budget (the first listed wins a tie)."""
    eligible = [candidate for candidate in candidates if meets(candidate, budget)]
    if not eligible:
        measured = "; ".join(f"{c.name} {c.texts_per_s:,.0f} texts/s, {c.latency_ms:.1f} ms"
                             for c in candidates)
        raise BudgetError(f"no family meets train.budget (min_texts_per_s="
                          f"{budget.min_texts_per_s:g}, max_latency_ms="
                          f"{budget.max_latency_ms:g}): {measured}")
    return max(eligible, key=lambda candidate: candidate.val_macro_f1 if scores is None
               else scores[candidate.name])
