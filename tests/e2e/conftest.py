"""Fixtures shared by the end-to-end tests that talk to a real S3 server (SeaweedFS)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from scripts.storage import S3Server


@pytest.fixture
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep DVC's per-repo site cache (normally /var/tmp/dvc) inside the test's folder, send no
    analytics (each report leaves a file in /tmp when offline), use no ambient AWS settings."""
    monkeypatch.setenv("DVC_SITE_CACHE_DIR", str(tmp_path / "dvc-site-cache"))
    monkeypatch.setenv("DVC_NO_ANALYTICS", "1")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL",
                 "AWS_ENDPOINT_URL_S3", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """A SeaweedFS S3 server of its own; stopped, checked gone and deleted at teardown."""
    s3 = S3Server.create(tmp_path_factory.mktemp("s3"))
    s3.start()
    pid = s3.pid
    try:
        yield s3
    finally:
        s3.stop()
        assert pid is not None and not psutil.pid_exists(pid)
        assert not [path for path in s3.sockets() if path.exists()]
        shutil.rmtree(s3.root)
