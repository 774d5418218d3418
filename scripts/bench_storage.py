"""Wall time of `dvc push` and `dvc pull` of every cached output in dvc.lock, on a local SeaweedFS.

Works in a throw-away DVC repo holding this project's dvc.yaml, dvc.lock and params.yaml: the
push reads this project's cache, the pull starts from an empty cache and an empty workspace.
A fresh server, on free loopback ports, is started and deleted. Usage (from the project root,
after `dvc repro`): ``python -m scripts.bench_storage``.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from scripts.storage import BIN_DIR, S3Server

PROJECT_FILES = ("dvc.yaml", "dvc.lock", "params.yaml", ".dvc/config")


def dvc(args: list[str], repo: Path, env: dict[str, str]) -> tuple[float, str]:
    """Run a dvc command; return (wall seconds, its last output line)."""
    start = time.perf_counter()
    result = subprocess.run([str(BIN_DIR / "dvc"), *args], cwd=repo, env=env,
                            capture_output=True, text=True)
    wall = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"dvc {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
    return wall, (result.stdout.strip().splitlines() or [""])[-1]


def size_of(folder: Path) -> tuple[int, int]:
    """(number of files, MiB) under ``folder``."""
    files = [path for path in folder.rglob("*") if path.is_file()]
    return len(files), sum(path.stat().st_size for path in files) // 2**20


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    project = Path.cwd()
    if not (project / "dvc.lock").exists():
        sys.exit("no dvc.lock: run `dvc repro` first")
    cache = Path(subprocess.run([str(BIN_DIR / "dvc"), "cache", "dir"], cwd=project,
                                capture_output=True, text=True, check=True).stdout.strip())
    with tempfile.TemporaryDirectory(prefix="bench-storage-") as tmp:
        work = Path(tmp)
        env = dict(os.environ, DVC_NO_ANALYTICS="1", DVC_SITE_CACHE_DIR=str(work / "site"))
        repo = work / "repo"
        (repo / ".dvc").mkdir(parents=True)
        for name in PROJECT_FILES:
            shutil.copy2(project / name, repo / name)
        subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
        server = S3Server.create(work / "s3")
        server.start()
        try:
            server.configure_remote(repo)
            dvc(["config", "--local", "cache.dir", str(cache)], repo, env)
            push, pushed = dvc(["push"], repo, env)
            noop, _ = dvc(["push"], repo, env)
            dvc(["config", "--local", "cache.dir", str(work / "cache")], repo, env)
            pull, pulled = dvc(["pull"], repo, env)
            files, mib = size_of(work / "cache")
        finally:
            server.stop()
    print(f"{files} objects, {mib} MiB, on SeaweedFS at 127.0.0.1, dvc default jobs")
    print(f"{'dvc push':<22} {push:6.1f} s  ({pushed})")
    print(f"{'dvc push (no-op)':<22} {noop:6.1f} s")
    print(f"{'dvc pull (empty cache)':<22} {pull:6.1f} s  ({pulled})")


if __name__ == "__main__":
    main()
