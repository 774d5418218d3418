"""Shared test helpers: a throw-away copy of this project in a fresh git repository."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from filelock import FileLock

REPO_ROOT = Path(__file__).resolve().parents[1]
BIN_DIR = Path(sys.executable).parent

# The ten slowest tests at the end of a run; the S3 fixtures (server, own_server, isolated_env).
pytest_plugins = ["tests.timing", "tests.s3"]

# Markers of tests that run only when ``-m`` names them (``pytest -m cross_cpu_matrix``).
OPT_IN_MARKERS = ("cross_cpu_matrix",)

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
SMALL_SLOT_WORDS = 2  # words per slot of the behaviour suite in a small copy


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Leave out opt-in tests unless ``-m`` names their marker, and run the tests that need
    the built project last: under pytest-xdist one worker builds it while the others run
    the rest, instead of all of them waiting for it at the start."""
    chosen = config.option.markexpr or ""
    left_out = {item for item in items
                if any(item.get_closest_marker(name) and name not in chosen
                       for name in OPT_IN_MARKERS)}
    if left_out:
        config.hook.pytest_deselected(items=list(left_out))
        items[:] = [item for item in items if item not in left_out]
    items.sort(key=lambda item: "built_project" in getattr(item, "fixturenames", ()))


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


# Inputs the repository ships under data/ (not outputs), as params.yaml names them: the
# behaviour suite's folder and the source snapshots' folder.
REPO_PARAMS = yaml.safe_load((REPO_ROOT / "params.yaml").read_text(encoding="utf-8"))
SHIPPED_DATA = (f"{Path(REPO_PARAMS['evaluate']['behaviour']).parent}/",
                f"{REPO_PARAMS['paths']['sources'].rstrip('/')}/")


def trim_behaviour_suite(path: Path) -> None:
    """Keep the first ``SMALL_SLOT_WORDS`` words of each slot of the behaviour suite: the same
    templates and edits, 310 cases instead of 2,466, so evaluate embeds a tenth of the texts."""
    suite = yaml.safe_load(path.read_text(encoding="utf-8"))
    suite["slots"] = {name: words[:SMALL_SLOT_WORDS] for name, words in suite["slots"].items()}
    path.write_text(yaml.safe_dump(suite, sort_keys=False), encoding="utf-8")


def copy_project(destination: Path, params: Mapping[str, Any] | None = None) -> Path:
    """Copy the project into ``destination`` as a new git repository with one commit."""
    destination.mkdir(parents=True, exist_ok=True)
    for name in project_files():
        generated = name.startswith(("data/", "models/")) and not name.startswith(SHIPPED_DATA)
        if name.startswith("tests/") or generated or name == "dvc.lock":
            continue
        target = destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO_ROOT / name, target)
    write_params(destination, deep_update(
        yaml.safe_load(yaml.safe_dump(SMALL_PARAMS)), params or {}))
    trim_behaviour_suite(destination / REPO_PARAMS["evaluate"]["behaviour"])
    run(["git", "init", "-q", "-b", "main"], destination)
    run(["git", "add", "-A"], destination)
    run(["git", "commit", "-qm", "initial"], destination)
    return destination


def copy_built(built: Path, destination: Path) -> Path:
    """A private copy of a built project: its git history, DVC cache and outputs (``cp -a``,
    the cheapest full copy: a test may change or delete any file of it)."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    run(["cp", "-a", str(built), str(destination)], destination.parent)
    return destination


def build_small_project(folder: Path) -> Path:
    """``copy_project`` into ``folder``, ``dvc repro`` there and commit what it built."""
    copy_project(folder)
    run(["dvc", "repro"], folder)
    run(["git", "add", "-A"], folder)
    run(["git", "commit", "-qm", "repro"], folder)
    return folder


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A fresh small-configuration copy of this project (git repo, nothing run yet)."""
    return copy_project(tmp_path / "project")


def shared_build(tmp_path_factory: pytest.TempPathFactory, name: str,
                 build: Callable[[Path], object]) -> Path:
    """``build(folder)`` once per test run, shared by every pytest-xdist worker: the first
    worker to get here builds under a file lock, the others wait and reuse it (READ-ONLY)."""
    if "PYTEST_XDIST_WORKER" not in os.environ:  # no xdist: this process alone
        folder = tmp_path_factory.mktemp(name) / "project"
        build(folder)
        return folder
    shared = tmp_path_factory.getbasetemp().parent / name
    folder, done = shared / "project", shared / "done"
    with FileLock(shared.with_suffix(".lock")):
        if not done.exists():
            shutil.rmtree(shared, ignore_errors=True)
            build(folder)
            done.touch()
    return folder


@pytest.fixture(scope="session")
def built_project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The small configuration, built once per test run (``dvc repro``, committed) and shared
    by every test, by every pytest-xdist worker too: READ-ONLY. A test that runs ``dvc`` in
    it or changes a file takes ``built_copy`` instead; at the end the folder must still be
    exactly as built (git status clean), so a test that wrote into it fails the run."""
    folder = shared_build(tmp_path_factory, "built", build_small_project)
    yield folder
    changed = run(["git", "status", "--porcelain"], folder).stdout
    assert changed == "", f"a test changed the shared built project:\n{changed}"


@pytest.fixture
def built_copy(built_project: Path, tmp_path: Path) -> Path:
    """This test's own copy of the built project, to run ``dvc`` in and change at will."""
    return copy_built(built_project, tmp_path / "built")
