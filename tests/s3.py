"""A pytest plugin (loaded by tests/conftest.py): the fixtures of the tests that talk to a real
S3 server (SeaweedFS). One server per run (per pytest-xdist worker), a bucket per test."""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import shutil
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from scripts.storage import S3Server

BUCKET_NUMBERS = itertools.count(1)  # the buckets `server` made in this process


@pytest.fixture
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep DVC's per-repo site cache (normally /var/tmp/dvc) inside the test's folder, send no
    analytics (each report leaves a file in /tmp when offline), use no ambient AWS settings."""
    monkeypatch.setenv("DVC_SITE_CACHE_DIR", str(tmp_path / "dvc-site-cache"))
    monkeypatch.setenv("DVC_NO_ANALYTICS", "1")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL",
                 "AWS_ENDPOINT_URL_S3", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)


def stopped_and_removed(s3: S3Server) -> None:
    """Stop ``s3``, check its process and sockets are gone, delete its folder."""
    pid = s3.pid
    s3.stop()
    assert pid is not None and not psutil.pid_exists(pid)
    assert not [path for path in s3.sockets() if path.exists()]
    shutil.rmtree(s3.root)


@contextlib.contextmanager
def running_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """A started SeaweedFS server in a new folder; stopped, checked gone and deleted after."""
    s3 = S3Server.create(tmp_path_factory.mktemp("s3"))
    s3.start()
    try:
        yield s3
    finally:
        stopped_and_removed(s3)


@pytest.fixture(scope="session")
def shared_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """One SeaweedFS server for the whole run (per pytest-xdist worker): starting one costs
    seconds, so tests share it and each gets a bucket of its own (``server``). Its own bucket
    is the one ``.dvc/config`` names, for a test that needs exactly that (the container's)."""
    with running_server(tmp_path_factory) as s3:
        yield s3


@pytest.fixture
def server(shared_server: S3Server) -> S3Server:
    """The shared server seen through a new, empty bucket of this test's own. A test that
    stops or kills its server takes ``own_server`` instead."""
    bucket = f"test-{next(BUCKET_NUMBERS):04d}"
    shared_server.client().create_bucket(Bucket=bucket)
    return dataclasses.replace(shared_server, bucket=bucket, _process=None)


@pytest.fixture
def own_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """A SeaweedFS S3 server of this test's own; stopped, checked gone and deleted at teardown."""
    with running_server(tmp_path_factory) as s3:
        yield s3
