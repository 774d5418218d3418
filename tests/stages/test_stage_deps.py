"""dvc.yaml declares, for each stage, every module of ours that the stage's code imports.

A module left out would let its edits slip past `dvc repro` (the stage would not rerun), and
a stale output would look up to date.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO_ROOT

PIPELINE = yaml.safe_load((REPO_ROOT / "dvc.yaml").read_text(encoding="utf-8"))["stages"]

# Prints the non-empty files of our packages that importing the stage's code loads.
IMPORTED_FILES = """
import importlib, json, sys
from pathlib import Path
importlib.import_module(sys.argv[1])
root = Path.cwd()
ours = [module for name, module in list(sys.modules.items())
        if name.partition(".")[0] in ("sentiment", "stages")]
files = {Path(module.__file__).relative_to(root) for module in ours}
print(json.dumps(sorted(str(path) for path in files if path.stat().st_size > 0)))
"""


def stage_module(command: str) -> str:
    """The module `python -m stages.<name>` runs (a package runs its ``__main__``)."""
    module = command.removeprefix("python -m ").split()[0]
    is_package = (REPO_ROOT / module.replace(".", "/")).is_dir()
    return f"{module}.__main__" if is_package else module


def imported_files(module: str) -> list[str]:
    result = subprocess.run([sys.executable, "-c", IMPORTED_FILES, module], cwd=REPO_ROOT,
                            capture_output=True, text=True, check=True)
    return json.loads(result.stdout)


def is_declared(path: str, deps: list[str]) -> bool:
    return any(path == dep or Path(path).is_relative_to(dep) for dep in deps)


@pytest.mark.parametrize("name", sorted(PIPELINE))
def test_every_imported_module_is_a_declared_dependency(name: str) -> None:
    stage = PIPELINE[name]
    files = imported_files(stage_module(stage["cmd"]))
    assert any(path.startswith("stages/") for path in files)
    missing = [path for path in files if not is_declared(path, stage["deps"])]
    assert not missing, f"stage {name}: add to its deps in dvc.yaml: {missing}"
