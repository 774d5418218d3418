"""pipelines/monitor/dvc.yaml, like dvc.yaml, declares every module of ours its stages import."""

from __future__ import annotations

import pytest
import yaml

from tests.conftest import REPO_ROOT
from tests.stages.test_stage_deps import imported_files, is_declared, stage_module

MONITOR = yaml.safe_load((REPO_ROOT / "pipelines/monitor/dvc.yaml").read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", sorted(MONITOR["stages"]))
def test_monitor_stage_declares_what_it_imports(name: str) -> None:
    stage = MONITOR["stages"][name]
    assert stage["wdir"] == "../.."  # deps and params are relative to the repository root
    files = imported_files(stage_module(stage["cmd"]))
    assert any(path.startswith("stages/monitor/") for path in files)
    missing = [path for path in files if not is_declared(path, stage["deps"])]
    assert not missing, f"monitor stage {name}: add to its deps: {missing}"
