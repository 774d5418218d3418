"""A toy corpus and tiny params for fitting any family in a test, in a second or two."""

from __future__ import annotations

import numpy as np
import torch

from sentiment.data.batches import LabelledTexts, TextBatch
from sentiment.data.features import TokenSettings, tokenize
from sentiment.data.text import NormaliserSettings, normalise
from sentiment.families import family_class
from sentiment.families.base import FitContext
from sentiment.model.folder import SentimentModel
from sentiment.params.base import LABELS
from sentiment.params.families import MLPParams, TfidfParams
from sentiment.params.train import TrainParams

TEXTS = {
    "negative": ["awful delay again", "lost my bag, terrible", "worst service ever",
                 "rude staff and awful food", "terrible seats, never again"],
    "neutral": ["the flight leaves at noon", "boarding at gate 5", "a plane is a plane",
                "the seat is blue", "landing at nine"],
    "positive": ["great crew, loved it", "best flight ever", "lovely staff, great food",
                 "loved the seats", "great service, thank you"],
}
TOY_PARAMS = TrainParams(
    families=["tfidf_linear", "tfidf_sgd", "tfidf_mlp", "ensemble"],
    tfidf=TfidfParams(min_df=1, max_word_features=200, max_char_features=200),
    tfidf_sgd={"lr": 0.05, "epochs": 15, "batch_size": 8},
    tfidf_mlp=MLPParams(hidden_sizes=[16, 8], max_epochs=15, min_epochs=15, patience=15,
                        batch_size=5, min_steps_per_epoch=1, lr=0.05, dropout=0.0),
    ensemble={"members": ["tfidf_linear", "tfidf_mlp"], "weight_step": 0.25},
)


def batch_of(texts: list[str]) -> TextBatch:
    norms = [normalise(text, NormaliserSettings()) for text in texts]
    return TextBatch(texts, norms, [tokenize(norm, TokenSettings()) for norm in norms])


def toy_split() -> LabelledTexts:
    texts = [text for label in LABELS for text in TEXTS[label]]
    labels = np.array([LABELS.index(label) for label in LABELS for _ in TEXTS[label]])
    return LabelledTexts(batch_of(texts), [f"toy-{i}" for i in range(len(texts))], labels)


def fit_families(params: TrainParams = TOY_PARAMS, seed: int = 7,
                 split: LabelledTexts | None = None) -> dict[str, SentimentModel]:
    """Fit every family in ``params.families`` (in order, as the train stage does)."""
    split = split or toy_split()
    context = FitContext(seed=seed, device=torch.device("cpu"), labels=list(LABELS),
                         embeddings=None)
    models = {}
    for name in params.families:
        torch.manual_seed(seed)
        family = family_class(name).fit(split, split, params, context)
        context.trained[name] = family
        models[name] = SentimentModel(family, list(LABELS), NormaliserSettings(),
                                      TokenSettings())
    return models
