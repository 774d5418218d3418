"""k-fold cross-validation: stratified, grouped folds; every family scored on each; bad k."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import yaml

from sentiment.data.batches import LabelledTexts, TextBatch
from sentiment.evaluation.crossval import FoldsError, assign_folds, cross_validate
from sentiment.families.base import FitContext
from sentiment.params.base import LABELS, ParamsError
from sentiment.params.schema import parse_params
from sentiment.params.train import TrainParams
from tests.conftest import REPO_ROOT
from tests.sentiment.families.tiny import split


def both() -> LabelledTexts:
    train, val = split("train"), split("val")
    return LabelledTexts(TextBatch(train.batch.texts + val.batch.texts,
                                   train.batch.norms + val.batch.norms,
                                   train.batch.tokens + val.batch.tokens),
                         train.ids + val.ids, np.concatenate([train.labels, val.labels]))


def test_folds_are_stratified_grouped_and_order_free() -> None:
    norms = [f"text {i % 30}" for i in range(60)]  # every text twice
    labels = np.array([i % 30 % 3 for i in range(60)])
    folds = assign_folds(norms, labels, 5, LABELS)
    for norm in set(norms):  # a duplicate never straddles folds
        assert len({folds[i] for i, other in enumerate(norms) if other == norm}) == 1
    for label in range(3):  # each class spread evenly
        assert sorted(np.bincount(folds[labels == label], minlength=5)) == [4] * 5
    order = np.random.default_rng(1).permutation(60)
    assert (assign_folds([norms[i] for i in order], labels[order], 5, LABELS)
            == folds[order]).all()


def test_more_folds_than_the_smallest_class_names_the_key() -> None:
    labels = np.array([0] * 10 + [1] * 10 + [2] * 3)
    with pytest.raises(FoldsError, match=r"^split.folds: 4 folds but the smallest class "
                                         r"\(positive\) has 3 rows in train \+ val$"):
        assign_folds([str(i) for i in range(23)], labels, 4, LABELS)


def test_one_fold_is_rejected_by_key() -> None:
    raw = yaml.safe_load((REPO_ROOT / "params.yaml").read_text())
    raw["split"]["folds"] = 1
    with pytest.raises(ParamsError, match="split.folds must be 0 \\(off\\) or at least 2"):
        parse_params(raw, "params.yaml")


def test_every_family_scored_on_every_fold() -> None:
    torch.use_deterministic_algorithms(True)
    params = TrainParams(families=["tfidf_linear", "tfidf_mlp"], tfidf={"min_df": 1},
                         tfidf_mlp={"max_epochs": 3, "min_epochs": 1, "hidden_sizes": [16]})
    cv = cross_validate(both(), params.families, 4, params, lambda: FitContext(
        seed=7, device=torch.device("cpu"), labels=list(LABELS)))
    assert set(cv) == {"tfidf_linear", "tfidf_mlp"}
    for scores in cv.values():
        assert len(scores["folds"]) == 4 and scores["sd"] >= 0
        assert scores["mean"] == pytest.approx(np.mean(scores["folds"]), abs=1e-6)
    assert cv["tfidf_linear"]["mean"] > 0.4  # above chance (0.33) on 12 held-out texts a fold
