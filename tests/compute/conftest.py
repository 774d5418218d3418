"""A real two-node Ray cluster on 127.0.0.1: a head and one worker node, one CPU each.

Each ``ray start`` runs in a new session, so every process it leaves behind (GCS, raylets,
agents, workers) is in a process group named by its pid; teardown signals those groups, and
nothing else (``ray stop`` would stop every Ray cluster of this user on the machine), then
checks that none of their processes is left.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from tests.conftest import BIN_DIR, REPO_ROOT, tool_env

START_TIMEOUT_S = 180
STOP_GRACE_S = {"SIGTERM": 5, "SIGKILL": 15}  # seconds to wait after each


@dataclass(frozen=True)
class LocalCluster:
    address: str
    temp_dir: Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cluster_processes(groups: list[int], temp_dir: Path) -> list[psutil.Process]:
    """Live (non-zombie) processes of the cluster: in one of its process groups, or started
    with its temporary folder on their command line."""
    marker = re.compile(re.escape(str(temp_dir)) + r"(/|\s|$)")
    found = []
    for process in psutil.process_iter(["cmdline", "status"]):
        try:
            if process.info["status"] == psutil.STATUS_ZOMBIE:
                continue
            in_group = os.getpgid(process.pid) in groups
            command = " ".join(process.info["cmdline"] or [])
        except (psutil.Error, ProcessLookupError):
            continue
        if in_group or marker.search(command):
            found.append(process)
    return found


def stop(groups: list[int], temp_dir: Path) -> list[psutil.Process]:
    """SIGTERM the cluster's process groups, then SIGKILL what is left; return survivors."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for group in groups:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, sig)
        for process in cluster_processes(groups, temp_dir):
            if process.pid != os.getpid():
                with contextlib.suppress(psutil.Error):
                    process.send_signal(sig)
        deadline = time.monotonic() + STOP_GRACE_S[sig.name]
        while cluster_processes(groups, temp_dir) and time.monotonic() < deadline:
            time.sleep(0.2)
    return cluster_processes(groups, temp_dir)


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[LocalCluster]:
    # Short: Ray's Unix sockets live under it, and a socket path has at most 107 bytes.
    temp_dir = Path(tempfile.mkdtemp(prefix="rt", dir="/tmp"))
    port = free_port()
    address = f"127.0.0.1:{port}"
    # The workers import this checkout's code and pin the kernels as the driver does.
    env = tool_env(PYTHONPATH=str(REPO_ROOT), RAY_USAGE_STATS_ENABLED="0")
    groups: list[int] = []

    def ray_start(*args: str) -> None:
        process = subprocess.Popen([str(BIN_DIR / "ray"), "start", *args], env=env,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                   start_new_session=True)
        groups.append(process.pid)
        output, _ = process.communicate(timeout=START_TIMEOUT_S)
        if process.returncode != 0:
            raise RuntimeError(f"ray start {' '.join(args)} exited {process.returncode}:\n"
                               f"{output}")

    try:
        ray_start("--head", "--node-ip-address", "127.0.0.1", "--port", str(port),
                  "--num-cpus", "1", "--include-dashboard=false",
                  "--dashboard-port", str(free_port()), "--disable-usage-stats",
                  "--temp-dir", str(temp_dir))
        ray_start("--address", address, "--node-ip-address", "127.0.0.1", "--num-cpus", "1",
                  "--disable-usage-stats")
        yield LocalCluster(address, temp_dir)
    finally:
        survivors = stop(groups, temp_dir)
        shutil.rmtree(temp_dir, ignore_errors=True)
        assert not survivors, f"Ray processes left running: {survivors}"


def write_interim(path: Path, count: int) -> Path:
    """Cleaned records as the clean stage writes them: id, text, text_norm, label."""
    import pandas as pd

    from sentiment.io import write_parquet
    from sentiment.text import NormaliserSettings, normalise
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
    from sentiment.params import ComputeParams, FeaturizeParams, load_params

    params = load_params(REPO_ROOT / "params.yaml")
    return params.model_copy(update={
        "paths": params.paths.model_copy(update={"interim": str(interim),
                                                 "features": str(features)}),
        "featurize": FeaturizeParams(remove_stopwords=True, stem=True),
        "compute": ComputeParams(**compute),
    })
