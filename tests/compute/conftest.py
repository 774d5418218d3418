"""A real two-node Ray cluster on 127.0.0.1 (``scripts/ray_cluster.py``), and stage inputs."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from scripts.ray_cluster import LocalRayCluster
from tests.conftest import REPO_ROOT


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[LocalRayCluster]:
    """A head and one worker node, one CPU each; every process of theirs gone afterwards."""
    with LocalRayCluster.started(worker_nodes=1, cpus=1) as cluster:
        yield cluster


def write_interim(path: Path, count: int) -> Path:
    """Cleaned records as the clean stage writes them: id, text, text_norm, label."""
    import pandas as pd

    from sentiment.data.text import NormaliserSettings, normalise
    from sentiment.io import write_parquet
    from tests.sentiment.monitoring.conftest import tweets

    texts = tweets(count)
    settings = NormaliserSettings()
    frame = pd.DataFrame({"id": [f"t{index:05d}" for index in range(count)], "text": texts,
                          "text_norm": [normalise(text, settings) for text in texts],
                          "label": ["neutral"] * count})
    path.parent.mkdir(parents=True, exist_ok=True)
    write_parquet(path, frame)
    return path


def stage_params(interim: Path, features: Path, **compute: object):
    """The repository's params with these paths, stemming and stop words on, and ``compute``."""
    from sentiment.params.compute import ComputeParams
    from sentiment.params.featurize import FeaturizeParams
    from sentiment.params.schema import load_params

    params = load_params(REPO_ROOT / "params.yaml")
    return params.model_copy(update={
        "paths": params.paths.model_copy(update={"interim": str(interim),
                                                 "features": str(features)}),
        "featurize": FeaturizeParams(remove_stopwords=True, stem=True),
        "compute": ComputeParams(**compute),
    })
