"""Every CPU family behind the one interface: it learns, saves and loads to the same
probabilities, gives a text the same row whatever its batch, and is byte-reproducible."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from sentiment.families.ensemble import best_weights, simplex_grid
from sentiment.families.parts.training import effective_batch_size
from sentiment.model.folder import load_model, save_model
from sentiment.model.predictor import Predictor
from sentiment.params.base import LABELS, ParamsError
from sentiment.params.families import MLPParams
from tests.sentiment.families.toy import TOY_PARAMS, fit_families, toy_split

FAMILIES = TOY_PARAMS.families


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("families")
    folders = {}
    for name, model in fit_families().items():
        save_model(model, root / name)
        folders[name] = root / name
    return folders


@pytest.mark.parametrize("name", FAMILIES)
def test_family_learns_the_toy_corpus(saved: dict[str, Path], name: str) -> None:
    split = toy_split()
    predicted = Predictor.load(saved[name]).predict_proba(split.batch.texts).argmax(axis=1)
    assert (predicted == split.labels).mean() >= 0.9


@pytest.mark.parametrize("name", FAMILIES)
def test_family_is_byte_reproducible(saved: dict[str, Path], tmp_path: Path, name: str) -> None:
    save_model(fit_families()[name], tmp_path / name)
    files = sorted(p.relative_to(saved[name]) for p in saved[name].rglob("*") if p.is_file())
    assert files
    for relative in files:
        assert (tmp_path / name / relative).read_bytes() == (saved[name] / relative).read_bytes()


@pytest.mark.parametrize("name", FAMILIES)
def test_load_predicts_what_training_predicted(saved: dict[str, Path], name: str) -> None:
    texts = toy_split().batch.texts
    direct = Predictor(fit_families()[name]).predict_proba(texts)
    np.testing.assert_array_equal(Predictor.load(saved[name]).predict_proba(texts), direct)


@pytest.mark.parametrize("name", FAMILIES)
def test_a_texts_row_does_not_depend_on_its_batch(saved: dict[str, Path], name: str) -> None:
    predictor = Predictor.load(saved[name])
    texts = toy_split().batch.texts
    together = predictor.predict_proba(texts)
    alone = np.concatenate([predictor.predict_proba([text]) for text in texts])
    np.testing.assert_array_equal(together, alone)
    assert together.dtype == np.float32
    np.testing.assert_allclose(together.sum(axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize("name", FAMILIES)
def test_folder_holds_only_json_and_safetensors(saved: dict[str, Path], name: str) -> None:
    files = [path for path in saved[name].rglob("*") if path.is_file()]
    assert {path.suffix for path in files} <= {".json", ".safetensors"}
    assert not any(path.read_bytes().startswith(pickle.PROTO) for path in files)
    assert load_model(saved[name]).family.name == name


def test_ensemble_saves_its_members_whole(saved: dict[str, Path]) -> None:
    members = saved["ensemble"] / "members"
    assert sorted(path.name for path in members.iterdir()) == ["tfidf_linear", "tfidf_mlp"]


def test_simplex_grid_sums_to_one() -> None:
    grid = simplex_grid(3, 0.25)
    assert (0.5, 0.25, 0.25) in grid and len(grid) == 3
    assert all(abs(sum(weights) - 1) < 1e-9 for weights in grid)


def test_best_weights_prefers_the_better_member() -> None:
    y = np.array([0, 1, 2, 0])
    good = np.eye(3, dtype=np.float32)[y]
    bad = np.eye(3, dtype=np.float32)[[1, 2, 0, 1]]
    weights, f1 = best_weights([bad, good], y, 0.1)
    assert weights[1] > weights[0] and f1 == 1.0


def test_too_coarse_a_weight_step_names_the_key() -> None:
    with pytest.raises(ParamsError, match="train.ensemble.weight_step"):
        best_weights([np.ones((2, 3))] * 3, np.array([0, 1]), 0.5)


def test_small_data_still_gets_enough_updates_an_epoch() -> None:
    params = MLPParams(batch_size=256, min_steps_per_epoch=20)
    assert effective_batch_size(776, params) == 38
    assert effective_batch_size(100_000, params) == 256
    assert effective_batch_size(10, params) == 2


def test_labels_are_the_params_labels(saved: dict[str, Path]) -> None:
    assert Predictor.load(saved["tfidf_linear"]).labels == list(LABELS)
