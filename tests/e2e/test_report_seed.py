"""End to end: a pull request that changes only the seed, reported against its base.

The shared built project (the small configuration's `dvc repro`, committed on `main`) copied,
then a branch that changes the seed and reruns the real pipeline; `sentiment report` must call
the change "no significant change" by the paired bootstrap, show every family's interval and
the epoch-based families' training curves, and write markdown whose tables and Mermaid charts
are well-formed.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import copy_built, run, shared_build, write_params
from tests.markdown import check_markdown

# One worker takes the module's tests, so the other need not wait for the shared build.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("seed_report")]


def commit(folder: Path, message: str) -> None:
    run(["git", "add", "-A"], folder)
    run(["git", "commit", "-qm", message], folder)


def build_seed_change(built_project: Path, folder: Path) -> None:
    copy_built(built_project, folder)
    run(["git", "checkout", "-qb", "seed"], folder)
    write_params(folder, {"seed": 7})
    run(["dvc", "repro"], folder)
    commit(folder, "seed 7")
    run(["sentiment", "report", "--base", "main", "--output", "report.md"], folder)


@pytest.fixture(scope="session")
def seed_change(built_project: Path, tmp_path_factory: pytest.TempPathFactory
                ) -> tuple[Path, str]:
    """`main` reproduced with the default seed (the built project), `seed` (checked out) with
    another; built once per run, shared by the workers: READ-ONLY."""
    project = shared_build(tmp_path_factory, "seed",
                           lambda folder: build_seed_change(built_project, folder))
    return project, (project / "report.md").read_text(encoding="utf-8")


def test_a_seed_only_change_is_no_significant_change(seed_change: tuple[Path, str]) -> None:
    project, markdown = seed_change
    verdict = next(line for line in markdown.splitlines() if line.startswith("**"))
    assert verdict.startswith("**➖ macro-F1 ") and verdict.endswith("(no significant change)**")
    rows = json.loads((project / "reports/metrics.json").read_text())["test"]["rows"]
    assert f"Paired bootstrap over the {rows:,} test rows base and head share (by id)." in markdown


def test_every_family_has_a_seeded_interval(seed_change: tuple[Path, str]) -> None:
    project, _ = seed_change
    intervals = json.loads((project / "reports/intervals.json").read_text())
    metrics = json.loads((project / "reports/metrics.json").read_text())
    assert set(intervals["families"]) == set(metrics["families"])
    for name, family in intervals["families"].items():
        score = family["test"]["macro_f1"]
        assert score["value"] == metrics["families"][name]["test"]["macro_f1"]
        assert score["low"] < score["value"] < score["high"]
    lead = intervals["champion_lead"]
    assert lead["champion"] == json.loads(
        (project / "reports/train/metrics.json").read_text())["champion"]
    predictions = (project / "reports/predictions.csv").read_text().splitlines()
    assert predictions[0] == ("id,label,champion,embeddings_mlp,ensemble,tfidf_linear,"
                              "tfidf_mlp")
    assert len(predictions) == metrics["test"]["rows"] + 1


def test_curves_of_the_epoch_based_families(seed_change: tuple[Path, str]) -> None:
    _, markdown = seed_change
    curves = markdown[markdown.index("### Training curves"):]
    for family in ("embeddings_mlp", "tfidf_mlp"):
        assert f'title "{family}, base main: train_loss, val_loss, val_macro_f1"' in curves
        assert f'title "{family}, head: train_loss, val_loss, val_macro_f1"' in curves
    assert check_markdown(markdown) == []


def test_behavioural_rates_of_every_family(seed_change: tuple[Path, str]) -> None:
    project, markdown = seed_change
    behaviour = json.loads((project / "reports/behaviour.json").read_text())
    assert sum(behaviour["cases"].values()) >= 300
    assert set(behaviour["families"]) == {"embeddings_mlp", "ensemble", "tfidf_linear",
                                          "tfidf_mlp"}
    for rates in behaviour["families"].values():
        assert set(rates) == {"minimum_functionality", "invariance", "directional", "tests"}
    assert "### Behavioural tests" in markdown


def test_dvc_plots_diff_shows_every_family_curve(seed_change: tuple[Path, str]) -> None:
    project, _ = seed_change
    plots = json.loads(run(["dvc", "plots", "diff", "main", "--json"], project).stdout)["data"]
    for family in ("embeddings_mlp", "tfidf_mlp"):
        for metric in ("train_loss", "val_loss", "val_macro_f1"):
            [plot] = plots[f"reports/train/plots/metrics/{family}/{metric}.tsv"]
            assert set(plot["revisions"]) == {"workspace", "main"}  # base beside head
