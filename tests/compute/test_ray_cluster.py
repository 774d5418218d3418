"""Featurize and scoring on a real two-node Ray cluster give the in-process bytes."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import yaml

from scripts.ray_cluster import LocalRayCluster
from sentiment.cli import main
from sentiment.compute.choose import open_engine
from sentiment.compute.engine import ComputeError, chunked
from sentiment.model.bundle import ModelBundle
from sentiment.monitoring.score import RemoteScorer, ScoreSettings
from stages import featurize
from tests.compute.conftest import free_port, stage_params, write_interim
from tests.conftest import REPO_ROOT, tool_env
from tests.sentiment.monitoring.conftest import tweets
from tests.sentiment.test_predict_cli import model_dir, write  # noqa: F401 (fixture)

# One worker runs them all under pytest-xdist (make test): one cluster, not one per worker.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("ray_cluster")]

ROWS = 3000


def node_and_batch(batch: list[int]) -> tuple[str, list[int]]:
    """Where a task ran, and its batch back (shipped to workers by reference)."""
    import ray

    return ray.get_runtime_context().get_node_id(), batch


def fail_on_seven(batch: list[int]) -> list[int]:
    if 7 in batch:
        raise ValueError(f"cannot take {batch}\nsecond line")
    return batch


def test_featurize_on_ray_writes_the_in_process_bytes(ray_cluster: LocalRayCluster,
                                                      tmp_path: Path) -> None:
    interim = write_interim(tmp_path / "interim.parquet", ROWS)
    local, remote = tmp_path / "local.parquet", tmp_path / "ray.parquet"
    featurize.main(stage_params(interim, local))
    featurize.main(stage_params(interim, remote, engine="ray", address=ray_cluster.address,
                                batch_rows=400, max_in_flight=3))
    assert remote.read_bytes() == local.read_bytes()
    tokens = pd.read_parquet(remote)["tokens"]
    assert len(tokens) == ROWS and tokens.map(len).sum() > ROWS  # tokens, stemmed and all


def test_score_on_ray_writes_the_in_process_bytes(ray_cluster: LocalRayCluster, tmp_path: Path,
                                                  model_dir: Path) -> None:  # noqa: F811
    texts = tweets(ROWS)
    source = write(pd.DataFrame({"id": [f"r{i}" for i in range(ROWS)], "text": texts}),
                   tmp_path / "batch.parquet")
    outputs = {engine: tmp_path / f"{engine}.parquet" for engine in ("inprocess", "ray")}
    common = ["score", "--model", str(model_dir), "--input", str(source), "--chunk-rows", "1100"]
    for engine, output in outputs.items():  # in-process: a 2-process pool on the large chunks
        with pytest.raises(SystemExit) as stop:
            main([*common, "--output", str(output), "--workers", "2", "--engine", engine,
                  "--address", ray_cluster.address])
        assert stop.value.code == 0
    assert outputs["ray"].read_bytes() == outputs["inprocess"].read_bytes()
    scores = pd.read_parquet(outputs["ray"])
    assert scores["id"].tolist() == [f"r{i}" for i in range(ROWS)]
    assert scores["label"].nunique() > 1


def test_tasks_run_on_both_nodes_in_order(ray_cluster: LocalRayCluster) -> None:
    import ray

    submitted: list[list[int]] = []

    def batches() -> Iterator[list[int]]:
        for batch in chunked(list(range(40)), 3):
            submitted.append(batch)
            yield batch

    with open_engine("ray", ray_cluster.address, max_in_flight=4) as engine:
        nodes = {node["NodeID"] for node in ray.nodes() if node["Alive"]}
        stream = engine.map_batches(node_and_batch, batches())
        results = [next(stream)]
        assert len(submitted) == 4  # the first result waits with 4 batches out, no more
        results += list(stream)
    assert [batch for _, batch in results] == list(chunked(list(range(40)), 3))
    assert len(nodes) == 2
    assert {node for node, _ in results} == nodes


def test_a_failed_batch_is_named_in_one_line(ray_cluster: LocalRayCluster) -> None:
    with open_engine("ray", ray_cluster.address) as engine, \
            pytest.raises(ComputeError) as error:
        list(engine.map_batches(fail_on_seven, chunked(list(range(12)), 3)))
    assert str(error.value) == ("batch 2 failed on the Ray cluster: ValueError: "
                                "cannot take [6, 7, 8]")


def test_workers_verify_the_model_they_are_sent(ray_cluster: LocalRayCluster,
                                                model_dir: Path) -> None:  # noqa: F811
    bundle = ModelBundle.read(model_dir)
    files = tuple((name, content + b" " if name == "config.json" else content)
                  for name, content in bundle.files)
    scorer = RemoteScorer(ModelBundle("tampered", files), "v", ScoreSettings())
    with open_engine("ray", ray_cluster.address) as engine, \
            pytest.raises(ComputeError, match=r"^batch 0 failed on the Ray cluster: "
                                              r"ModelLoadError: .*config\.json: contents differ"):
        list(engine.map_batches(scorer, [pd.DataFrame({"text": ["fine"]})]))



def test_featurize_stage_command_takes_the_address_from_the_environment(
        ray_cluster: LocalRayCluster, tmp_path: Path) -> None:
    """`python -m stages.featurize` as DVC runs it: RAY_ADDRESS wins over compute.address."""
    interim = write_interim(tmp_path / "interim.parquet", 500)
    local = tmp_path / "local.parquet"
    featurize.main(stage_params(interim, local))
    params = stage_params(interim, tmp_path / "ray.parquet", engine="ray",
                          address=f"127.0.0.1:{free_port()}")
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params.model_dump(mode="json")))

    def stage(**env: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "stages.featurize"], cwd=tmp_path,
                              env=tool_env(PYTHONPATH=str(REPO_ROOT), **env),
                              capture_output=True, text=True, timeout=300)

    result = stage(RAY_ADDRESS=ray_cluster.address)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "ray.parquet").read_bytes() == local.read_bytes()
    (tmp_path / "ray.parquet").unlink()
    result = stage(RAY_ADDRESS="")  # compute.address: nothing listens there
    errors = [line for line in result.stderr.splitlines() if line.startswith("ERROR")]
    assert result.returncode == 2
    assert errors == [f"ERROR featurize: no Ray cluster at {params.compute.address} "
                      "(Connection refused): start one with `ray start --head --port "
                      f"{params.compute.address.rpartition(':')[2]}` or fix RAY_ADDRESS / "
                      "compute.address"]
    assert not (tmp_path / "ray.parquet").exists()
