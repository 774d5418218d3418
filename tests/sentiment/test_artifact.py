"""The model folder is verified before it is parsed: any change to its bytes is refused with
a message naming the file."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from sentiment.families.base import FitContext
from sentiment.families.parts.networks import MLP
from sentiment.families.parts.training import TrainingDiverged, train_classifier
from sentiment.model.folder import (
    MANIFEST_FILE,
    ModelLoadError,
    load_model,
    save_model,
    verify_manifest,
    write_manifest,
)
from sentiment.params.base import ParamsError
from sentiment.params.families import MLPParams, TfidfParams
from tests.sentiment.families.toy import TOY_PARAMS, fit_families


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("model") / "sentiment"
    save_model(fit_families()["ensemble"], folder)
    return folder


@pytest.fixture
def copy(saved: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(saved, tmp_path / "model"))


def test_flipped_bytes_in_the_weights_are_refused(copy: Path) -> None:
    weights = copy / "members/tfidf_mlp/model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-64:] = bytes(64)
    weights.write_bytes(bytes(data))
    with pytest.raises(ModelLoadError, match="members/tfidf_mlp/model.safetensors: contents"):
        load_model(copy)


def test_reordered_labels_are_refused(copy: Path) -> None:
    config = json.loads((copy / "config.json").read_text())
    config["labels"] = list(reversed(config["labels"]))
    (copy / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelLoadError, match="config.json: contents differ"):
        load_model(copy)


def test_an_added_file_is_refused(copy: Path) -> None:
    (copy / "extra.bin").write_bytes(b"\x80\x04K\x01.")
    with pytest.raises(ModelLoadError, match="extra.bin: not in manifest.json"):
        load_model(copy)


def test_a_card_added_through_the_manifest_loads_and_an_edit_of_it_is_refused(
        copy: Path) -> None:
    """The release stage's way: add README.md, rewrite the manifest; a later edit is caught."""
    (copy / "README.md").write_text("---\nlibrary_name: sentiment\n---\n# Card\n")
    write_manifest(copy)
    assert "README.md" in json.loads((copy / MANIFEST_FILE).read_text())["files"]
    load_model(copy)
    (copy / "README.md").write_text("---\nlibrary_name: sentiment\n---\n# Better card\n")
    with pytest.raises(ModelLoadError, match="README.md: contents differ from manifest.json"):
        verify_manifest(copy)


def test_rewriting_the_manifest_of_an_unchanged_folder_keeps_its_bytes(copy: Path) -> None:
    before = (copy / MANIFEST_FILE).read_bytes()
    write_manifest(copy)
    assert (copy / MANIFEST_FILE).read_bytes() == before


@pytest.mark.parametrize("name", ["config.json", MANIFEST_FILE,
                                  "members/tfidf_linear/linear.safetensors"])
def test_a_missing_file_is_named(copy: Path, name: str) -> None:
    (copy / name).unlink()
    with pytest.raises(ModelLoadError, match=Path(name).name):
        load_model(copy)


def test_weights_that_do_not_fit_the_config_are_refused(copy: Path) -> None:
    config = json.loads((copy / "config.json").read_text())
    member = config["ensemble"]["members"][1]
    member["config"]["architecture"]["hidden_sizes"] = [12, 8]
    (copy / "config.json").write_text(json.dumps(config))
    write_manifest(copy)  # an edit made on purpose
    with pytest.raises(ModelLoadError, match="model.safetensors: weights do not match"):
        load_model(copy)


def test_an_unknown_family_is_named(copy: Path) -> None:
    config = json.loads((copy / "config.json").read_text())
    config["family"] = "xgboost"
    (copy / "config.json").write_text(json.dumps(config))
    write_manifest(copy)  # an edit made on purpose
    with pytest.raises(ModelLoadError, match="unknown model family 'xgboost'"):
        load_model(copy)


def test_missing_folder_says_pull(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="dvc pull"):
        load_model(tmp_path / "nowhere")


def test_min_df_above_the_training_rows_is_a_params_error() -> None:
    params = TOY_PARAMS.model_copy(update={"families": ["tfidf_linear"],
                                           "tfidf": TfidfParams(min_df=100)})
    with pytest.raises(ParamsError, match=r"train.tfidf.min_df is 100, but the training set "
                                          r"has only 15 rows"):
        fit_families(params)


def test_a_diverging_loss_stops_training() -> None:
    x = torch.ones((8, 4))
    x[3, 2] = float("nan")  # what an overflowing network produces
    network = MLP(4, [4], 3, 0.0, sparse=False)
    context = FitContext(seed=1, device=torch.device("cpu"), labels=list("abc"))
    with pytest.raises(TrainingDiverged, match=r"became nan in epoch 0.*train.tfidf_mlp.lr"):
        train_classifier(network, lambda rows, training: x[rows], np.arange(8) % 3,
                         lambda: np.full((8, 3), 1 / 3), np.arange(8) % 3,
                         MLPParams(batch_size=8, min_steps_per_epoch=1), context, "tfidf_mlp")
