"""The served route of ``embeddings_mlp``: the int8 ONNX encoder its folder carries, with the
real all-MiniLM-L6-v2 weights."""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest
import yaml
from onnx import TensorProto, helper

from sentiment.cli import main
from sentiment.errors import ModelLoadError
from sentiment.families.parts.onnx_encoder import BLOCK, GRAPH_FILE, OnnxEncoder
from sentiment.model.folder import load_model
from sentiment.model.predictor import Predictor
from sentiment.model.version import folder_md5
from tests.sentiment.families import tiny
from tests.sentiment.families.test_embeddings_mlp import OVERRIDES
from tests.sentiment.test_predict_cli import assert_one_line_error, run_cli


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("onnx") / "model"
    tiny.save(tiny.fit("embeddings_mlp", OVERRIDES), folder)
    return folder


def test_the_folder_carries_the_int8_graph_hashed_in_its_manifest(folder: Path) -> None:
    graph = folder / "encoder" / GRAPH_FILE
    listed = json.loads((folder / "manifest.json").read_text())["files"]
    assert f"encoder/{GRAPH_FILE}" in listed
    # int8 weights: about a quarter of the float32 safetensors
    assert graph.stat().st_size < 0.3 * (folder / "encoder/model.safetensors").stat().st_size


def test_weight_products_are_quantised_in_blocks_and_tables_by_row(folder: Path) -> None:
    """What the bar was met with (docs/serving.md): single scales per tensor cost agreement."""
    graph = onnx.load(str(folder / "encoder" / GRAPH_FILE)).graph
    constants = {tensor.name: tensor for tensor in graph.initializer}
    ops = [node.op_type for node in graph.node]
    blocked = [node for node in graph.node if node.op_type == "MatMulNBits"]
    assert len(blocked) == 36  # six per layer
    assert {(attribute.name, attribute.i) for node in blocked for attribute in node.attribute
            if attribute.name in ("bits", "block_size", "accuracy_level")} == {
        ("bits", 8), ("block_size", BLOCK), ("accuracy_level", 4)}
    assert "MatMulInteger" not in ops and "DynamicQuantizeLinear" not in ops
    assert not [node.name for node in graph.node if node.op_type == "MatMul"
                and node.input[1] in constants]  # no float weight product left
    tables = [constants[node.input[0]] for node in graph.node
              if node.op_type == "Gather" and node.input[0] in constants]
    assert {table.data_type for table in tables if len(table.dims) == 2} == {
        TensorProto.INT8, TensorProto.FLOAT}  # the int8 rows and their scales
    assert all(table.dims[1] == 1 for table in tables if table.data_type == TensorProto.FLOAT)


def test_served_route_agrees_with_the_pinned_route(folder: Path) -> None:
    with Predictor.load(folder) as pinned, Predictor.load(folder, route="fast") as served:
        expected, found = pinned.predict_proba(tiny.texts()), served.predict_proba(tiny.texts())
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
    together = encoder.embed(tiny.texts())
    alone = np.concatenate([encoder.embed([text]) for text in tiny.texts()])
    assert together.shape == (len(tiny.texts()), 384) and together.dtype == np.float32
    assert together.tobytes() == alone.tobytes()
    np.testing.assert_allclose(np.linalg.norm(together, axis=1), 1, atol=1e-5)
    assert encoder.embed([]).shape == (0, 384)


def other_graph() -> bytes:
    """A valid ONNX graph with the encoder's inputs and output that is not the folder's."""
    tokens = ["batch", "tokens"]
    graph = helper.make_graph(
        [helper.make_node("Cast", ["input_ids"], ["embedding"], to=TensorProto.FLOAT)], "other",
        [helper.make_tensor_value_info(name, TensorProto.INT64, tokens)
         for name in ("input_ids", "attention_mask")],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, tokens)])
    return helper.make_model(graph).SerializeToString()


def changed_graph(folder: Path, copy: Path, change: str) -> Path:
    """``copy`` of ``folder`` whose int8 graph has one flipped byte, or is another graph."""
    graph = Path(shutil.copytree(folder, copy)) / "encoder" / GRAPH_FILE
    if change == "flipped":
        data = bytearray(graph.read_bytes())
        data[len(data) // 2] ^= 1
        graph.write_bytes(bytes(data))
    else:
        graph.write_bytes(other_graph())
    return copy


@pytest.mark.parametrize("route", ["pinned", "fast"])
@pytest.mark.parametrize("change", ["flipped", "swapped"])
def test_a_changed_or_swapped_graph_is_refused_naming_it_on_either_route(
        folder: Path, tmp_path: Path, change: str, route: str) -> None:
    copy = changed_graph(folder, tmp_path / "model", change)
    with pytest.raises(ModelLoadError, match=f"encoder/{GRAPH_FILE}: contents differ"):
        load_model(copy, route=route)


def test_a_swapped_graph_is_one_line_from_predict(folder: Path, tmp_path: Path) -> None:
    copy = changed_graph(folder, tmp_path / "model", "swapped")
    assert_one_line_error(run_cli(["--model", str(copy), "--route", "fast", "great flight"]),
                          f"encoder/{GRAPH_FILE}: contents differ from manifest.json")


def test_a_swapped_graph_with_a_rehashed_manifest_is_refused_by_dvc_lock(
        folder: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The manifest can be rewritten; the content hash dvc.lock records covers the graph too."""
    model = changed_graph(folder, tmp_path / "repo/models/sentiment", "swapped")
    (tmp_path / "repo/dvc.lock").write_text(yaml.safe_dump({"schema": "2.0", "stages": {
        "release": {"cmd": "x", "outs": [{"path": "models/sentiment",
                                          "md5": folder_md5(folder)}]}}}))
    graph = model / "encoder" / GRAPH_FILE
    manifest = json.loads((model / "manifest.json").read_text())
    manifest["files"][f"encoder/{GRAPH_FILE}"] = {
        "sha256": hashlib.sha256(graph.read_bytes()).hexdigest(), "size": graph.stat().st_size}
    (model / "manifest.json").write_text(json.dumps(manifest))
    with caplog.at_level(logging.ERROR), pytest.raises(SystemExit) as stop:
        main(["predict", "ok", "--model", str(model), "--route", "fast", "--workers", "1"])
    assert stop.value.code == 2
    assert "which dvc.lock records for it" in caplog.text


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
