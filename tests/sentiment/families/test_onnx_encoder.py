"""The served route of ``embeddings_mlp``: the int8 ONNX encoder its folder carries, with the
real all-MiniLM-L6-v2 weights."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from sentiment.errors import ModelLoadError
from sentiment.families.parts.onnx_encoder import GRAPH_FILE, OnnxEncoder
from sentiment.model.folder import load_model
from sentiment.model.predictor import Predictor
from tests.sentiment.families import tiny
from tests.sentiment.families.test_embeddings_mlp import OVERRIDES


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("onnx") / "model"
    tiny.save(tiny.fit("embeddings_mlp", OVERRIDES), folder)
    return folder


def texts() -> list[str]:
    return [text for label in tiny.TEXTS.values() for text in label]


def test_the_folder_carries_the_int8_graph_hashed_in_its_manifest(folder: Path) -> None:
    graph = folder / "encoder" / GRAPH_FILE
    listed = json.loads((folder / "manifest.json").read_text())["files"]
    assert f"encoder/{GRAPH_FILE}" in listed
    # int8 weights: about a quarter of the float32 safetensors
    assert graph.stat().st_size < 0.3 * (folder / "encoder/model.safetensors").stat().st_size


def test_served_route_agrees_with_the_pinned_route(folder: Path) -> None:
    with Predictor.load(folder) as pinned, Predictor.load(folder, route="fast") as served:
        expected, found = pinned.predict_proba(texts()), served.predict_proba(texts())
    assert served.model.family.fast is not None and pinned.model.family.fast is None
    # Other arithmetic, close results (a head fitted on 36 rows has texts near its borders;
    # the pipeline's tolerance on real test sets is checked in tests/e2e).
    assert (found.argmax(1) == expected.argmax(1)).mean() >= 0.9
    assert 0 < np.abs(found - expected).max() < 0.15


def test_a_text_gets_the_same_bits_alone_or_in_a_batch_on_the_served_route(
        folder: Path) -> None:
    """Activations are quantised per tensor, so each text runs alone: no neighbour (or its
    padding) changes a text's scales."""
    encoder = OnnxEncoder.load(folder / "encoder", 128)
    together = encoder.embed(texts())
    alone = np.concatenate([encoder.embed([text]) for text in texts()])
    assert together.shape == (len(texts()), 384) and together.dtype == np.float32
    assert together.tobytes() == alone.tobytes()
    np.testing.assert_allclose(np.linalg.norm(together, axis=1), 1, atol=1e-5)
    assert encoder.embed([]).shape == (0, 384)


def test_a_changed_byte_in_the_graph_is_refused_naming_it(folder: Path,
                                                          tmp_path: Path) -> None:
    copy = Path(shutil.copytree(folder, tmp_path / "model"))
    graph = copy / "encoder" / GRAPH_FILE
    data = bytearray(graph.read_bytes())
    data[len(data) // 2] ^= 1
    graph.write_bytes(bytes(data))
    with pytest.raises(ModelLoadError, match=f"encoder/{GRAPH_FILE}: contents differ"):
        load_model(copy, route="fast")


def test_a_folder_without_the_graph_is_one_line_on_the_served_route(tmp_path: Path,
                                                                    folder: Path) -> None:
    copy = Path(shutil.copytree(folder / "encoder", tmp_path / "encoder"))
    (copy / GRAPH_FILE).unlink()
    with pytest.raises(ModelLoadError) as error:
        OnnxEncoder.load(copy, 128)
    assert str(error.value).startswith(f"{copy / GRAPH_FILE}: missing")
    assert "route 'pinned'" in str(error.value) and "\n" not in str(error.value)


def test_an_unknown_route_is_refused(folder: Path) -> None:
    with pytest.raises(ValueError, match="route 'gpu' is not one of pinned, fast"):
        load_model(folder, route="gpu")
