"""The engines without a cluster: order, batching, params, and one-line errors."""

from __future__ import annotations

import builtins
import logging
import socket
import tempfile
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from sentiment.cli import main
from sentiment.compute.choose import engine_from_params, open_engine
from sentiment.compute.engine import ComputeError, InProcessEngine, chunked, each
from sentiment.errors import ModelLoadError
from sentiment.model.bundle import ModelBundle
from sentiment.model.predictor import Predictor
from sentiment.params.base import ParamsError
from sentiment.params.compute import ComputeParams
from sentiment.params.schema import parse_params
from sentiment.runtime import StageError
from stages import featurize
from tests.compute.conftest import free_port, stage_params, write_interim
from tests.conftest import REPO_ROOT
from tests.sentiment.test_predict_cli import TEXTS, model_dir, write  # noqa: F401 (fixture)


def closed_address() -> str:
    """A loopback port nothing listens on."""
    return f"127.0.0.1:{free_port()}"


def test_in_process_engine_maps_lazily_in_order() -> None:
    seen: list[int] = []
    engine = InProcessEngine()
    results = engine.map_batches(lambda batch: seen.append(batch[0]) or sum(batch),
                                 chunked(list(range(10)), 3))
    assert seen == []  # nothing runs before the results are asked for
    assert list(results) == [3, 12, 21, 9]
    assert seen == [0, 3, 6, 9]


def test_each_applies_a_row_function_with_arguments() -> None:
    assert each(pow, [1, 2, 3], 2) == [1, 4, 9]
    assert partial(each, round, ndigits=1)([1.25, 2.44]) == [1.2, 2.4]


def test_compute_params_default_in_process_and_strict() -> None:
    raw = yaml.safe_load((REPO_ROOT / "params.yaml").read_text())
    assert parse_params(raw).compute == ComputeParams()
    assert isinstance(engine_from_params(ComputeParams()), InProcessEngine)
    for bad, key in [({"engine": "spark"}, "compute.engine"), ({"adress": "x:1"},
                     "compute.adress"), ({"max_in_flight": 0}, "compute.max_in_flight"),
                     ({"batch_rows": True}, "compute.batch_rows")]:
        with pytest.raises(ParamsError, match=key):
            parse_params({**raw, "compute": bad})


def test_ray_without_an_address_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    with pytest.raises(ComputeError, match="needs a cluster address: set RAY_ADDRESS"):
        engine_from_params(ComputeParams(engine="ray"))


def test_environment_address_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    address = closed_address()
    monkeypatch.setenv("RAY_ADDRESS", address)
    with pytest.raises(ComputeError, match=f"no Ray cluster at {address} "):
        engine_from_params(ComputeParams(engine="ray", address="198.51.100.1:6379"))


def test_nothing_listening_is_one_line_at_once() -> None:
    address = closed_address()
    with pytest.raises(ComputeError) as error:
        open_engine("ray", address)
    message = str(error.value)
    assert "\n" not in message
    assert message.startswith(f"no Ray cluster at {address} (Connection refused)")


@pytest.mark.parametrize("address", ["localhost", "host:port", "ray://:10001"])
def test_malformed_address(address: str) -> None:
    with pytest.raises(ComputeError, match="expected host:port"):
        open_engine("ray", address)


def test_ray_not_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def no_ray(name: str, *args: object, **kwargs: object) -> object:
        if name == "ray":
            raise ImportError("No module named 'ray'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_ray)
    with pytest.raises(ComputeError, match="the ray package is not installed"):
        open_engine("ray", "127.0.0.1:6379")


def test_featurize_stage_reports_a_missing_cluster(tmp_path: Path) -> None:
    interim = write_interim(tmp_path / "interim.parquet", 20)
    address = closed_address()
    params = stage_params(interim, tmp_path / "features.parquet", engine="ray", address=address)
    with pytest.raises(StageError, match=f"no Ray cluster at {address}"):
        featurize.main(params)
    assert not (tmp_path / "features.parquet").exists()


@pytest.fixture
def node_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """What a worker node's temporary folder would be."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "node"))
    (tmp_path / "node").mkdir()
    return tmp_path / "node"


def test_bundle_loads_the_same_predictor(model_dir: Path, node_tmp: Path) -> None:  # noqa: F811
    bundle = ModelBundle.read(model_dir)
    assert bundle == ModelBundle.read(model_dir)  # digest and files: stable
    predictor = bundle.predictor()
    assert bundle.predictor() is predictor  # loaded once per process
    expected = Predictor.load(model_dir).predict_proba(TEXTS)
    assert np.array_equal(predictor.predict_proba(TEXTS), expected)
    copy = node_tmp / "sentiment-models" / bundle.digest
    assert ModelBundle.read(copy) == bundle  # kept: a family may read its files again
    assert [path.name for path in copy.parent.iterdir()] == [bundle.digest]  # no staging left


def test_a_damaged_node_copy_is_written_again(model_dir: Path, node_tmp: Path) -> None:  # noqa: F811
    bundle = ModelBundle.read(model_dir)
    copy = bundle.folder()
    (copy / "config.json").write_text("{}")
    (copy / "stray.bin").write_bytes(b"x")
    assert bundle.folder() == copy
    assert ModelBundle.read(copy) == bundle


def test_bundle_is_verified_against_its_manifest(model_dir: Path,  # noqa: F811
                                                 node_tmp: Path) -> None:
    bundle = ModelBundle.read(model_dir)
    name, content = next((name, content) for name, content in bundle.files
                         if name.endswith(".safetensors"))
    flipped = bytes([content[-1] ^ 1])
    files = tuple((n, content[:-1] + flipped if n == name else c) for n, c in bundle.files)
    with pytest.raises(ModelLoadError, match=f"{name}: contents differ from manifest.json"):
        ModelBundle("tampered", files).predictor()


def test_port_probe_needs_no_ray_to_answer() -> None:
    """A listening socket that is not Ray gets past the probe (ray.init judges it)."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        from sentiment.compute.ray_engine import probe

        probe(f"127.0.0.1:{server.getsockname()[1]}")


def test_cli_reports_a_missing_cluster_in_one_line(tmp_path: Path, model_dir: Path,  # noqa: F811
                                                   caplog: pytest.LogCaptureFixture) -> None:
    source = write(pd.DataFrame({"text": ["ok"]}), tmp_path / "one.parquet")
    address = closed_address()
    with caplog.at_level(logging.ERROR), pytest.raises(SystemExit) as stop:
        main(["score", "--model", str(model_dir), "--input", str(source), "--output",
              str(tmp_path / "out.parquet"), "--engine", "ray", "--address", address])
    assert stop.value.code == 2
    assert [record.getMessage() for record in caplog.records] == [
        f"no Ray cluster at {address} (Connection refused): start one with "
        f"`ray start --head --port {address.rpartition(':')[2]}` or fix RAY_ADDRESS / "
        "compute.address"]
