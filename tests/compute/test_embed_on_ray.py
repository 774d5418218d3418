"""The embed stage on a real two-node Ray cluster: the bytes of the in-process run, whatever
the number of workers; the part size alone is in the bits."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from scripts.ray_cluster import LocalRayCluster
from sentiment.families.parts.embedding_table import read_table
from sentiment.params.compute import ComputeParams
from stages import embed
from tests.compute.conftest import stage_params, write_interim

# The cluster is test_ray_cluster.py's: on its pytest-xdist worker, so one cluster starts.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("ray_cluster")]


def embed_params(interim: Path, output: Path, **compute: object):
    params = stage_params(interim, interim.parent / "features.parquet")
    return params.model_copy(update={
        "paths": params.paths.model_copy(update={"embeddings": str(output)}),
        "train": params.train.model_copy(update={"families": ["embeddings_mlp"],
                                                 "device": "cpu"}),
        "compute": ComputeParams(**compute)})


def test_embed_on_ray_writes_the_in_process_bytes(ray_cluster: LocalRayCluster,
                                                  tmp_path: Path) -> None:
    interim = write_interim(tmp_path / "clean.parquet", 120)
    local, remote, whole = (tmp_path / name for name in ("local.parquet", "ray.parquet",
                                                         "whole.parquet"))
    embed.main(embed_params(interim, local, embed_rows=32))
    embed.main(embed_params(interim, remote, embed_rows=32, engine="ray",
                            address=ray_cluster.address, max_in_flight=2))
    assert remote.read_bytes() == local.read_bytes()
    assert pq.ParquetFile(local).metadata.num_row_groups == 4  # one per part of 32 rows
    embed.main(embed_params(interim, whole, embed_rows=1000))
    assert list(read_table(whole)) == list(read_table(local)) == sorted(read_table(local))
