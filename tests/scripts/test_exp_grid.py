"""scripts/exp_grid.py: DVC's sweep syntax expanded into one matrix entry per experiment."""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from scripts.exp_grid import MAX_JOBS, GridError, expand, matrix, read_overrides, worker_commands
from tests.conftest import REPO_ROOT, run

CPU, GPU = ["ubuntu-latest"], ["self-hosted", "gpu"]


@pytest.fixture
def params(tmp_path: Path) -> Path:
    return Path(shutil.copy(REPO_ROOT / "params.yaml", tmp_path / "params.yaml"))


def grid(params: Path, *overrides: str, prefix: str = "grid") -> list[dict]:
    return matrix(list(overrides), prefix, params, CPU, GPU)["include"]


def test_choice_range_and_comma_sweeps_multiply(params: Path) -> None:
    entries = grid(params, "train.tfidf_linear.c=choice(1,4)", "train.tfidf_mlp.lr=0.001,0.0003",
                   "train.tfidf_mlp.max_epochs=range(2,4)", "seed=7")
    assert len(entries) == 8
    assert [entry["name"] for entry in entries] == [f"grid-{index}" for index in range(1, 9)]
    assert entries[0]["params"].splitlines() == [
        "train.tfidf_linear.c=1", "train.tfidf_mlp.lr=0.001", "train.tfidf_mlp.max_epochs=2",
        "seed=7"]
    runs = {tuple(entry["params"].splitlines()) for entry in entries}
    assert len(runs) == 8
    assert {line for run in runs for line in run if line.startswith("train.tfidf_linear")} == {
        "train.tfidf_linear.c=1", "train.tfidf_linear.c=4"}
    assert {line for run in runs for line in run if "max_epochs" in line} == {
        "train.tfidf_mlp.max_epochs=2", "train.tfidf_mlp.max_epochs=3"}  # range stops before 4


def test_names_are_zero_padded_to_sort(params: Path) -> None:
    entries = grid(params, "train.tfidf_linear.c=range(1,13)", prefix="run42")
    assert [entry["name"] for entry in entries][:2] == ["run42-01", "run42-02"]
    assert entries[-1]["name"] == "run42-12"


def test_same_expansion_as_dvc_exp_run_queue() -> None:
    from dvc.utils.hydra import get_hydra_sweeps

    overrides = ["train.tfidf_linear.c=choice(1,4)", "train.families=[tfidf_linear]"]
    assert expand(overrides) == [sweep["params.yaml"] for sweep in
                                 get_hydra_sweeps({"params.yaml": overrides})]


def test_a_plain_override_is_one_experiment(params: Path) -> None:
    [entry] = grid(params, "train.tfidf_linear.c=2")
    assert entry == {"name": "grid-1", "params": "train.tfidf_linear.c=2", "gpu": False,
                     "runs_on": CPU}


def test_gpu_runner_only_where_the_families_hold_the_transformer(params: Path) -> None:
    entries = grid(params, "train.families=choice([tfidf_linear],[tfidf_linear,transformer])")
    assert [(entry["gpu"], entry["runs_on"]) for entry in entries] == [(False, CPU), (True, GPU)]
    # train.transformer.* alone trains nothing new: the default families lack the transformer
    [entry] = grid(params, "train.transformer.lr=3e-5")
    assert entry["runs_on"] == CPU
    # ... unless params.yaml itself lists it
    data = yaml.safe_load(params.read_text())
    data["train"]["families"] = ["tfidf_linear", "transformer"]
    params.write_text(yaml.safe_dump(data))
    [entry] = grid(params, "train.transformer.lr=3e-5")
    assert entry["runs_on"] == GPU and entry["params"] == "train.transformer.lr=3e-05"


@pytest.mark.parametrize(("overrides", "message"), [
    ([], "no parameters given"),
    (["train.tfidf_linear.c=choice(1,"], "'train.tfidf_linear.c=choice(1,': no viable"),
    (["train.tfidf_linear.c"], "missing EQUAL"),
    (["train.tfidf_linear.cc=1"], "Could not override 'train.tfidf_linear.cc'"),
    (["+train.tfidf_linear.cc=1"], "train.tfidf_linear.cc: unknown key"),
    (["train.tfidf_linear.c=choice(1,-1)"], "train.tfidf_linear.c: Input should be greater"),
    (["train.families=[nope]"], "train.families.0: unknown family 'nope'"),
    (["seed=1", "seed=2"], "seed is set twice ('seed=1' and 'seed=2')"),
    (["seed=glob(*)"], "Glob override 'seed=glob(*)' is not supported"),
    (["other.yaml:seed=1"], "only params.yaml params can be set"),
])
def test_bad_grids_fail_with_one_line_naming_the_cause(params: Path, overrides: list[str],
                                                       message: str) -> None:
    with pytest.raises(GridError) as error:
        grid(params, *overrides)
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_bad_prefix_and_too_many_jobs(params: Path) -> None:
    with pytest.raises(GridError, match="prefix 'a b'"):
        grid(params, "seed=1", prefix="a b")
    with pytest.raises(GridError, match=f"a matrix holds at most {MAX_JOBS}"):
        grid(params, f"seed=range(0,{MAX_JOBS + 1})")


def test_read_overrides_skips_blanks_and_comments() -> None:
    text = "# the search\ntrain.tfidf_linear.c=choice(1,4)\n\n  seed=3  \n"
    assert read_overrides(text) == ["train.tfidf_linear.c=choice(1,4)", "seed=3"]


def test_read_overrides_takes_a_json_list() -> None:
    assert read_overrides('["seed=choice(1,2)", "train.families=[tfidf_linear]"]') == [
        "seed=choice(1,2)", "train.families=[tfidf_linear]"]
    with pytest.raises(GridError, match="not a JSON list of strings"):
        read_overrides('["seed=1", 2]')
    with pytest.raises(GridError, match="not a JSON list of strings"):
        read_overrides('["seed=1"')


def cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "scripts.exp_grid", *args], cwd=REPO_ROOT,
                          input=stdin, capture_output=True, text=True)


def test_cli_prints_the_matrix(params: Path) -> None:
    result = cli("--params", str(params), "--prefix", "run7", "--gpu-runner", "gpu-h100",
                 "--from-file", "-", "seed=5",
                 stdin="# one a line\ntrain.families=choice([tfidf_linear],[transformer])\n")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"include": [
        {"name": "run7-1", "params": "seed=5\ntrain.families=[tfidf_linear]", "gpu": False,
         "runs_on": ["ubuntu-latest"]},
        {"name": "run7-2", "params": "seed=5\ntrain.families=[transformer]", "gpu": True,
         "runs_on": ["gpu-h100"]}]}


def test_cli_bad_syntax_is_one_error_line(params: Path) -> None:
    result = cli("--params", str(params), "train.tfidf_linear.c=choice(1,")
    assert result.returncode == 1 and result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith("error: 'train.tfidf_linear.c=choice(1,': ")


def test_worker_script_wants_a_name_and_an_override() -> None:
    result = run(["scripts/exp_worker.sh", "only-a-name"], REPO_ROOT, check=False)
    assert result.returncode == 2 and "usage:" in result.stderr


def test_worker_commands_quote_each_override(params: Path) -> None:
    entries = grid(params, "train.families=choice([tfidf_linear,tfidf_mlp],[transformer])",
                   "scrape.user_agent='a bot'")
    lines = worker_commands(entries)
    assert [line.rsplit("  # ", 1)[1] for line in lines] == ["CPU", "GPU"]
    assert shlex.split(lines[1], comments=True) == [
        "scripts/exp_worker.sh", "grid-2", "train.families=[transformer]",
        "scrape.user_agent='a bot'"]
