"""The toy model other tests predict with (``fit``), and the training device rules."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sentiment.families.parts.tfidf import word_ngrams
from sentiment.families.parts.training import class_weights, resolve_device
from sentiment.model.folder import SentimentModel
from sentiment.params.base import ParamsError
from tests.sentiment.families.toy import TEXTS, TOY_PARAMS, fit_families

__all__ = ["TEXTS", "fit"]


def fit(seed: int = 7) -> SentimentModel:
    """A tfidf_mlp model fitted on the toy corpus (the model the CLI and service tests use)."""
    return fit_families(TOY_PARAMS.model_copy(update={"families": ["tfidf_mlp"]}),
                        seed)["tfidf_mlp"]


def test_word_ngrams() -> None:
    assert word_ngrams(["a", "b", "c"], 2) == ["a", "b", "c", "a b", "b c"]


def test_class_weights_balance_classes() -> None:
    weights = class_weights(np.array([0, 0, 0, 1]), 3)
    assert weights[1] == pytest.approx(3 * weights[0])


def test_resolve_device() -> None:
    assert resolve_device("cpu").type == "cpu"
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_cuda_without_a_gpu_is_a_params_error() -> None:
    with pytest.raises(ParamsError, match="train.device is 'cuda'"):
        resolve_device("cuda")
