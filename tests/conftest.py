"""Shared test helpers: a throw-away copy of this project in a fresh git repository."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
BIN_DIR = Path(sys.executable).parent

# A configuration small enough for an end-to-end `dvc repro` in well under a minute.
SMALL_PARAMS: dict[str, Any] = {
    "scrape": {"demo": {"max_records": 800, "page_size": 200}},
    # Every CPU family but the transformer, so the e2e tests cover tfidf_mlp too.
    "train": {"families": ["tfidf_linear", "tfidf_mlp", "embeddings_mlp", "ensemble"],
              "ensemble": {"members": ["tfidf_linear", "tfidf_mlp", "embeddings_mlp"]},
              "tfidf": {"max_word_features": 2000, "max_char_features": 2000},
              "tfidf_mlp": {"max_epochs": 3, "min_epochs": 1, "patience": 2,
                            "hidden_sizes": [32, 16], "batch_size": 32}},
    "evaluate": {"top_mistakes": 5},
}


def tool_env(**extra: str) -> dict[str, str]:
    """The environment for CLI subprocesses: this virtualenv's tools first on PATH."""
    env = dict(os.environ)
    env["PATH"] = f"{BIN_DIR}{os.pathsep}{env.get('PATH', '')}"
    env.update({"HF_HUB_OFFLINE": "1", "PYTHONHASHSEED": "0", "DVC_NO_ANALYTICS": "1",
                "GIT_AUTHOR_NAME": "test",
                "GIT_AUTHOR_EMAIL": "test@example.com", "GIT_COMMITTER_NAME": "test",
                "GIT_COMMITTER_EMAIL": "test@example.com"})
    env.update(extra)
    return env


def run(args: list[str], cwd: Path, check: bool = True, **env: str) -> subprocess.CompletedProcess:
    """Run a command, capture its output; on an unexpected failure show it in the assertion."""
    result = subprocess.run(args, cwd=cwd, env=tool_env(**env), capture_output=True, text=True)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(args)} exited {result.returncode}\n"
                             f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}")
    return result


def start_queue(folder: Path, jobs: int) -> None:
    """``dvc queue start -j jobs`` without capturing its output: the daemon it leaves behind
    keeps the streams it was given open until its workers exit, so a captured run waits on it
    (for ever when a worker lingers)."""
    subprocess.run(["dvc", "queue", "start", "-j", str(jobs)], cwd=folder, env=tool_env(),
                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=True)


def queue_is_idle(folder: Path) -> bool:
    """Nothing queued or running, and no worker busy."""
    status = run(["dvc", "queue", "status"], folder).stdout
    return ("Queued" not in status and "Running" not in status
            and "Worker status: 0 active" in status)


def deep_update(base: dict[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    for key, value in changes.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            deep_update(base[key], value)
        else:
            base[key] = value
    return base


def write_params(folder: Path, changes: Mapping[str, Any]) -> None:
    path = folder / "params.yaml"
    params = yaml.safe_load(path.read_text())
    path.write_text(yaml.safe_dump(deep_update(params, changes), sort_keys=False))


def project_files() -> list[str]:
    """What a fresh clone holds: tracked files plus untracked files git does not ignore."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=REPO_ROOT, capture_output=True, text=True, check=True,
    ).stdout.split("\0")
    return sorted({name for name in listed if name and (REPO_ROOT / name).is_file()})


def copy_project(destination: Path, params: Mapping[str, Any] | None = None) -> Path:
    """Copy the project into ``destination`` as a new git repository with one commit."""
    destination.mkdir(parents=True, exist_ok=True)
    for name in project_files():
        outputs = name.startswith(("tests/", "models/")) or name == "dvc.lock" or (
            name.startswith("data/") and not name.startswith("data/sources/"))
        if outputs:
            continue
        target = destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO_ROOT / name, target)
    write_params(destination, deep_update(
        yaml.safe_load(yaml.safe_dump(SMALL_PARAMS)), params or {}))
    run(["git", "init", "-q", "-b", "main"], destination)
    run(["git", "add", "-A"], destination)
    run(["git", "commit", "-qm", "initial"], destination)
    return destination


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A fresh small-configuration copy of this project (git repo, nothing run yet)."""
    return copy_project(tmp_path / "project")


@pytest.fixture(scope="session")
def built_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small-configuration copy on which `dvc repro` has run and been committed (shared)."""
    folder = copy_project(tmp_path_factory.mktemp("built") / "project")
    run(["dvc", "repro"], folder)
    run(["git", "add", "-A"], folder)
    run(["git", "commit", "-qm", "repro"], folder)
    return folder
