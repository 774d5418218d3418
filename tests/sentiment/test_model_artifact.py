from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from sentiment.training import class_weights, resolve_device, train_model
from sentiment.vectorizer import TfidfFeaturizer, word_ngrams

from sentiment.artifact import ModelLoadError, SentimentModel, load_model, save_model
from sentiment.features import TokenSettings, tokenize
from sentiment.params import LABELS, ParamsError, TfidfParams, TrainParams
from sentiment.predictor import Predictor
from sentiment.text import NormaliserSettings, normalise

TEXTS = {
    "negative": ["awful delay again", "lost my bag, terrible", "worst service ever",
                 "rude staff and awful food", "terrible seats, never again"],
    "neutral": ["the flight leaves at noon", "boarding at gate 5", "a plane is a plane",
                "the seat is blue", "landing at nine"],
    "positive": ["great crew, loved it", "best flight ever", "lovely staff, great food",
                 "loved the seats", "great service, thank you"],
}
PARAMS = TrainParams(hidden_sizes=[16, 8], max_epochs=15, patience=15, batch_size=5, lr=0.05,
                     dropout=0.0, tfidf=TfidfParams(min_df=1, max_word_features=200,
                                                    max_char_features=200))


def corpus() -> tuple[list[str], np.ndarray]:
    texts = [text for label in LABELS for text in TEXTS[label]]
    labels = np.array([LABELS.index(label) for label in LABELS for _ in TEXTS[label]])
    return texts, labels


def fit(seed: int = 7) -> SentimentModel:
    texts, labels = corpus()
    norms = [normalise(text, NormaliserSettings()) for text in texts]
    tokens = [tokenize(norm, TokenSettings()) for norm in norms]
    featurizer = TfidfFeaturizer(PARAMS.tfidf).fit(tokens, norms)
    matrix = featurizer.transform(tokens, norms)
    result = train_model(matrix, labels, matrix, labels, len(LABELS), PARAMS, seed)
    return SentimentModel(list(LABELS), NormaliserSettings(), TokenSettings(), featurizer,
                          result.model, PARAMS.hidden_sizes, PARAMS.dropout)


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("model") / "sentiment"
    save_model(fit(), folder)
    return folder


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


def test_training_learns_the_toy_corpus(saved: Path) -> None:
    texts, labels = corpus()
    predicted = Predictor.load(saved).predict_proba(texts).argmax(axis=1)
    assert (predicted == labels).mean() >= 0.9


def test_training_is_deterministic(tmp_path: Path, saved: Path) -> None:
    save_model(fit(), tmp_path)
    for name in ("model.safetensors", "vectorizer.json", "config.json"):
        assert (tmp_path / name).read_bytes() == (saved / name).read_bytes()


def test_round_trip_predicts_identically(saved: Path) -> None:
    texts, _ = corpus()
    model = fit()
    direct = Predictor(model).predict_proba(texts)
    np.testing.assert_array_equal(Predictor.load(saved).predict_proba(texts), direct)


def test_predict_returns_label_and_probabilities(saved: Path) -> None:
    [result] = Predictor.load(saved).predict(["great crew, loved it"])
    assert result["label"] == "positive"
    assert set(result["probabilities"]) == set(LABELS)
    assert sum(result["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)


def test_model_folder_holds_no_pickle(saved: Path) -> None:
    for path in saved.iterdir():
        assert not path.read_bytes().startswith(pickle.PROTO)
        assert path.suffix in (".json", ".safetensors")


def copy_folder(source: Path, target: Path) -> Path:
    target.mkdir()
    for path in source.iterdir():
        (target / path.name).write_bytes(path.read_bytes())
    return target


@pytest.mark.parametrize("name", ["config.json", "vectorizer.json", "model.safetensors"])
def test_missing_file_is_named(saved: Path, tmp_path: Path, name: str) -> None:
    folder = copy_folder(saved, tmp_path / "model")
    (folder / name).unlink()
    with pytest.raises(ModelLoadError, match=name):
        load_model(folder)


def test_corrupt_weights_are_named(saved: Path, tmp_path: Path) -> None:
    folder = copy_folder(saved, tmp_path / "model")
    (folder / "model.safetensors").write_bytes(b"not safetensors at all")
    with pytest.raises(ModelLoadError, match="model.safetensors"):
        load_model(folder)


def test_mismatched_architecture_is_refused(saved: Path, tmp_path: Path) -> None:
    folder = copy_folder(saved, tmp_path / "model")
    config = json.loads((folder / "config.json").read_text())
    config["architecture"]["hidden_sizes"] = [12, 8]
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelLoadError, match="model.safetensors"):
        load_model(folder)


def test_missing_folder_says_pull(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="dvc pull"):
        load_model(tmp_path / "nowhere")
