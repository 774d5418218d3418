"""What a model folder is: its content hash as DVC computes it, the hash ``dvc.lock`` records for
it, the git revision of the work tree it lives in, and the test metrics evaluated on it.

Everything but the content hash is optional: a folder copied out of its repository still
describes itself, with the unknown parts ``None``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

from sentiment.errors import ModelLoadError
from sentiment.params.base import ParamsError
from sentiment.params.paths import load_paths

log = logging.getLogger(__name__)

LOCK_FILE = "dvc.lock"
METRICS_FILE = "metrics.json"


@dataclass(frozen=True)
class ModelVersion:
    md5: str
    dvc_lock_md5: str | None
    git_revision: str | None

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "matches_lock": self.matches_lock}

    @property
    def matches_lock(self) -> bool | None:
        """Whether the folder holds the bytes ``dvc.lock`` records (None: no lock entry)."""
        return None if self.dvc_lock_md5 is None else self.md5 == self.dvc_lock_md5


def check_against_lock(folder: str | Path, version: ModelVersion) -> None:
    """Refuse a model whose bytes differ from what ``dvc.lock`` records for it."""
    if version.matches_lock is False:
        raise ModelLoadError(
            f"{folder}: its content hash {version.md5} differs from {version.dvc_lock_md5}, "
            "which dvc.lock records for it (rebuilt elsewhere, edited, or dvc.lock is from "
            "another commit); restore it with `dvc checkout` or `dvc pull`, or serve it "
            "anyway with --allow-unlocked-model")


def verify_folder(folder: str | Path, version: ModelVersion, allow_unlocked: bool) -> None:
    """The one rule `sentiment predict` and `sentiment serve` apply at start: a folder whose
    bytes differ from what ``dvc.lock`` records is refused (or, with ``allow_unlocked``,
    used with a warning); one no ``dvc.lock`` records (outside a repository, or a lock of
    another repository) is said to be unverifiable: its manifest is checked, its origin not."""
    if version.matches_lock is None:
        log.warning("%s: unverifiable: no dvc.lock records this folder, so only its "
                    "manifest is checked, not that it is the model a commit built (hash %s)",
                    folder, version.md5)
    elif version.matches_lock is False and allow_unlocked:
        log.warning("using %s although its hash %s differs from %s in dvc.lock "
                    "(--allow-unlocked-model)", folder, version.md5, version.dvc_lock_md5)
    else:
        check_against_lock(folder, version)


def folder_md5(folder: Path) -> str:
    """The ``<md5>.dir`` hash DVC gives a folder: the md5 of its sorted file listing in JSON."""
    entries = sorted(
        ({"md5": hashlib.md5(path.read_bytes()).hexdigest(),
          "relpath": path.relative_to(folder).as_posix()}
         for path in folder.rglob("*") if path.is_file()),
        key=lambda entry: entry["relpath"],
    )
    return hashlib.md5(json.dumps(entries, sort_keys=True).encode()).hexdigest() + ".dir"


def find_lock(folder: Path) -> Path | None:
    """The nearest ``dvc.lock`` in the folder's parents, if any."""
    for parent in folder.resolve().parents:
        if (parent / LOCK_FILE).is_file():
            return parent / LOCK_FILE
    return None


def locked_md5(lock: Path, folder: Path) -> str | None:
    """The md5 that ``lock`` records for the stage output whose path is ``folder``."""
    try:
        stages = (yaml.safe_load(lock.read_text(encoding="utf-8")) or {}).get("stages", {})
    except (OSError, yaml.YAMLError, AttributeError) as error:
        log.warning("%s: unreadable (%s); model version from the folder only", lock, error)
        return None
    target = folder.resolve()
    for stage in stages.values():
        for out in stage.get("outs", []):
            if (lock.parent / out.get("path", "")).resolve() == target:
                return out.get("md5")
    return None


def git_revision(folder: Path) -> str | None:
    """``git rev-parse HEAD`` of the work tree holding the folder, or None outside git."""
    try:
        result = subprocess.run(["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True,
                                text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    revision = result.stdout.strip()
    return revision if result.returncode == 0 and revision else None


def default_metrics_path(root: Path) -> Path:
    """``<paths.reports>/metrics.json`` of the repository at ``root`` (``reports/`` by default)."""
    reports = "reports"
    if (root / "params.yaml").is_file():
        try:
            reports = load_paths(root / "params.yaml").reports
        except ParamsError as error:
            log.warning("%s", error)
    return root / reports / METRICS_FILE


def read_test_metrics(path: Path) -> dict[str, Any] | None:
    """The ``test`` section of an evaluate-stage metrics file, or None if there is none."""
    try:
        metrics = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as error:
        log.warning("%s: unreadable (%s); serving without test metrics", path, error)
        return None
    return metrics.get("test") if isinstance(metrics, dict) else None


def describe(folder: str | Path, lock: str | Path | None = None,
             metrics: str | Path | None = None) -> tuple[ModelVersion, dict[str, Any] | None]:
    """The model's version and test metrics; ``lock`` and ``metrics`` default to those of the
    repository the folder is in (found by walking up to ``dvc.lock``). A ``lock`` or
    ``metrics`` file that is named but missing raises ``FileNotFoundError``."""
    folder = Path(folder)
    for named in (lock, metrics):
        if named and not Path(named).is_file():
            raise FileNotFoundError(f"{named}: no such file")
    lock_path = Path(lock) if lock else find_lock(folder)
    version = ModelVersion(
        md5=folder_md5(folder),
        dvc_lock_md5=locked_md5(lock_path, folder) if lock_path else None,
        git_revision=git_revision(folder),
    )
    if metrics:
        metrics_path: Path | None = Path(metrics)
    else:
        metrics_path = default_metrics_path(lock_path.parent) if lock_path else None
    return version, read_test_metrics(metrics_path) if metrics_path else None
