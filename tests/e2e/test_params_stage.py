"""The ``params`` stage: the whole of params.yaml is checked first; a section's schema is a
dependency of the stages that read it, and of no other."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import run, write_params

pytestmark = pytest.mark.slow

TRAINING_STAGES = {"scrape", "clean", "featurize", "embed", "split", "train", "evaluate",
                   "release"}


@pytest.fixture
def built_copy(built_project: Path, tmp_path: Path) -> Path:
    """A copy of the built small project that a test may change."""
    return Path(shutil.copytree(built_project, tmp_path / "copy", symlinks=True))


def folder_bytes(folder: Path) -> dict[str, bytes]:
    return {path.relative_to(folder).as_posix(): path.read_bytes()
            for path in sorted(folder.rglob("*")) if path.is_file()}


def changed_stages(folder: Path) -> set[str]:
    status = json.loads(run(["dvc", "status", "dvc.yaml", "--json"], folder).stdout or "{}")
    return {name.split(":")[-1] for name in status}


def test_editing_the_drift_schema_reruns_no_training_stage(built_copy: Path) -> None:
    schema = built_copy / "sentiment/params/monitor.py"
    schema.write_text(schema.read_text().replace(
        '"""Drift beyond any of these fails',
        '"""Drift (edited docstring) beyond any of these fails'))
    changed = changed_stages(built_copy)
    assert changed == {"params"}, changed  # it validates every section; no other stage reruns
    result = run(["dvc", "repro"], built_copy)
    assert "Running stage 'params'" in result.stdout
    assert not TRAINING_STAGES & {line.split("'")[1] for line in result.stdout.splitlines()
                                  if line.startswith("Running stage")}
    assert changed_stages(built_copy) == set()


@pytest.mark.parametrize("changes, key", [
    ({"compute": {"batch_rowz": 10}}, "compute.batch_rowz: unknown key"),  # read by no stage's
    ({"train": {"tfidf_linear": {"cc": 2.0}}}, "train.tfidf_linear.cc: unknown key"),
])
def test_a_misspelt_key_stops_repro_before_any_output_is_touched(
        built_copy: Path, changes: dict, key: str) -> None:
    model = folder_bytes(built_copy / "models/sentiment")
    metrics = (built_copy / "reports/metrics.json").read_bytes()
    write_params(built_copy, changes)
    result = run(["dvc", "repro"], built_copy, check=False)
    assert result.returncode != 0
    assert key in result.stderr, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert "Running stage 'train'" not in result.stdout
    assert folder_bytes(built_copy / "models/sentiment") == model
    assert (built_copy / "reports/metrics.json").read_bytes() == metrics
    assert (built_copy / "reports/params.ok").is_file()  # persist: a failed check keeps it



@pytest.mark.parametrize("setting, message", [
    ("compute.batch_rowz=10", "Could not override 'compute.batch_rowz'"),  # DVC refuses it
    ("+compute.batch_rowz=10", "compute.batch_rowz: unknown key"),  # added: the params stage
])
def test_a_misspelt_set_param_stops_an_experiment_before_any_output_is_touched(
        built_copy: Path, setting: str, message: str) -> None:
    """The same through `dvc exp run -S` (the typo the design guide names): DVC refuses to
    override a key params.yaml lacks, and one added with ``+`` fails the params stage first;
    the model and the metrics stay as they were either way."""
    model = folder_bytes(built_copy / "models/sentiment")
    metrics = (built_copy / "reports/metrics.json").read_bytes()
    result = run(["dvc", "exp", "run", "-S", setting], built_copy, check=False)
    assert result.returncode != 0
    assert message in result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert "Running stage 'train'" not in result.stdout
    assert folder_bytes(built_copy / "models/sentiment") == model
    assert (built_copy / "reports/metrics.json").read_bytes() == metrics
