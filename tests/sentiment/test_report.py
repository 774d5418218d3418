"""The PR report builder against temporary git + DVC repositories with hand-made reports.

Tests on a repository run the real dvc CLI, so they are marked slow (about 30 s in all).
"""

from __future__ import annotations

import logging
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from sentiment.cli import main
from sentiment.evaluation.report import Change, ReportError, build_report, format_delta, verdict
from sentiment.io import write_json
from tests.conftest import REPO_ROOT, run, write_params

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

# Just enough of the pipeline for `dvc metrics diff` and `dvc params diff`: nothing is run.
DVC_YAML = """\
metrics:
  - reports/speed.json
stages:
  train:
    cmd: python -m stages.train
    params: [seed, train]
    metrics:
      - reports/train/metrics.json:
          cache: false
  evaluate:
    cmd: python -m stages.evaluate
    params: [evaluate]
    metrics:
      - reports/metrics.json:
          cache: false
"""

BASE = {"macro_f1": 0.70, "accuracy": 0.72, "negative": 0.80, "neutral": 0.70,
        "positive": 0.60, "vader": 0.4484, "val_loss": [0.9, 0.7, 0.6],
        "families": {"tfidf_linear": (0.70, 0.70)}, "champion": "tfidf_linear"}
HEAD = {"macro_f1": 0.712, "accuracy": 0.715, "negative": 0.83, "neutral": 0.69,
        "positive": 0.60, "vader": 0.4484, "val_loss": [0.8, 0.6, 0.5, 0.45],
        # family: (val macro-F1, test macro-F1)
        "families": {"tfidf_linear": (0.69, 0.705), "embeddings_mlp": (0.74, 0.712)},
        "champion": "embeddings_mlp"}


def write_reports(repo: Path, values: dict[str, Any]) -> None:
    """reports/ as the evaluate and train stages lay it out, from a few numbers."""
    reports = repo / "reports"
    write_json(reports / "metrics.json", {
        "test": {"macro_f1": values["macro_f1"], "accuracy": values["accuracy"], "rows": 6,
                 "per_class": {label: {"f1": values[label], "support": 2}
                               for label in ("negative", "neutral", "positive")}},
        "baseline": {"vader": {"test": {"macro_f1": values["vader"]}}},
        "families": {family: {"test": {"macro_f1": test, "per_class": {
            label: test for label in ("negative", "neutral", "positive")}}}
            for family, (_, test) in values["families"].items()},
    })
    write_json(reports / "speed.json", {
        family: {"train_seconds": 10.0 * rank, "texts_per_s": 1000.0 / rank,
                 "latency_ms": 1.5 * rank}
        for rank, family in enumerate(values["families"], start=1)})
    (reports / "plots").mkdir(parents=True, exist_ok=True)
    (reports / "plots" / "confusion.csv").write_text(
        "actual,predicted\nnegative,negative\nnegative,neutral\nneutral,neutral\n"
        "neutral,neutral\npositive,positive\npositive,negative\n")
    epochs = range(len(values["val_loss"]))
    write_json(reports / "train" / "metrics.json",
               {"step": len(values["val_loss"]) - 1, "val": {"loss": values["val_loss"][-1]},
                "champion": values["champion"],
                "families": {family: {"val": {"macro_f1": val}, "size_mb": 2.5}
                             for family, (val, _) in values["families"].items()}})
    curves = {"train/loss": [1.0 / (step + 1) for step in epochs],
              "val/loss": values["val_loss"],
              "val/macro_f1": [values["macro_f1"] - 0.01 * step for step in epochs][::-1]}
    for name, series in curves.items():
        path = reports / "train" / "plots" / "metrics" / f"{name}.tsv"
        path.parent.mkdir(parents=True, exist_ok=True)
        column = name.split("/")[-1]
        path.write_text(f"step\t{column}\n" + "".join(f"{step}\t{value}\n"
                                                      for step, value in enumerate(series)))


def commit(repo: Path, message: str) -> None:
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-qm", message], repo)


def new_repo(folder: Path, base_metrics: dict[str, Any] | None) -> Path:
    """`main`: params.yaml, dvc.yaml and (optionally) reports; then an empty `feature` branch."""
    folder.mkdir(parents=True)
    run(["git", "init", "-q", "-b", "main"], folder)
    run(["dvc", "init", "-q"], folder)
    shutil.copy(REPO_ROOT / "params.yaml", folder / "params.yaml")
    (folder / "dvc.yaml").write_text(DVC_YAML)
    if base_metrics is not None:
        write_reports(folder, base_metrics)
    commit(folder, "base")
    run(["git", "checkout", "-qb", "feature"], folder)
    return folder


def head_commit(repo: Path) -> Path:
    """On `feature`: other params and other metrics, committed."""
    write_params(repo, {"train": {"tfidf_mlp": {"lr": 0.002, "hidden_sizes": [64]}}})
    write_reports(repo, HEAD)
    commit(repo, "head")
    return repo


def report_for(repo: Path, base: str) -> tuple[str, Path]:
    output = repo.parent / f"out-{base}" / "report.md"
    build_report(base, output, output.parent / "images", threshold=0.005, repo=repo)
    return output.read_text(encoding="utf-8"), output


def table(markdown: str, header: str) -> dict[str, list[str]]:
    """The rows of the markdown table whose header row starts with ``| header |``."""
    lines = markdown.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"| {header} |"))
    rows = {}
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        cells = [cell.strip() for cell in line.strip("|").split(" | ")]
        rows[cells[0]] = cells[1:]
    return rows


def verdict_line(markdown: str) -> str:
    return next(line for line in markdown.splitlines() if line.startswith("**"))


def images(markdown: str, output: Path) -> list[Path]:
    return [output.parent / link for link in re.findall(r"!\[[^]]*\]\(([^)]+)\)", markdown)]


@pytest.fixture(scope="module")
def changed_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two commits whose params and metrics differ: `main` (base) and `feature` (head)."""
    return head_commit(new_repo(tmp_path_factory.mktemp("changed") / "repo", BASE))


@pytest.fixture(scope="module")
def changed(changed_repo: Path) -> tuple[str, Path]:
    return report_for(changed_repo, "main")


@pytest.mark.slow
def test_verdict_first_and_states_the_threshold(changed: tuple[str, Path]) -> None:
    markdown, _ = changed
    assert markdown.startswith("## Model report: `main`")
    assert verdict_line(markdown) == (
        "**✅ macro-F1 +0.0120: 0.7000 → 0.7120 (better; threshold ±0.005)**")
    assert markdown.index("✅") < markdown.index("### Metrics")


@pytest.mark.slow
def test_metric_rows_carry_signed_deltas(changed: tuple[str, Path]) -> None:
    rows = table(changed[0], "metric")
    assert rows == {
        "test macro-F1": ["0.7000", "0.7120", "+0.0120"],
        "test accuracy": ["0.7200", "0.7150", "-0.0050"],
        "test F1 negative": ["0.8000", "0.8300", "+0.0300"],
        "test F1 neutral": ["0.7000", "0.6900", "-0.0100"],
        "test F1 positive": ["0.6000", "0.6000", "0.0000"],
        "VADER baseline macro-F1": ["0.4484", "0.4484", "0.0000"],
    }


@pytest.mark.slow
def test_changed_params_old_and_new(changed: tuple[str, Path]) -> None:
    assert table(changed[0], "param") == {
        "`train.tfidf_mlp.hidden_sizes`": ["[256, 128, 64]", "[64]"],
        "`train.tfidf_mlp.lr`": ["0.001", "0.002"]}


@pytest.mark.slow
def test_images_base_beside_head_by_relative_path(changed: tuple[str, Path]) -> None:
    markdown, output = changed
    linked = images(markdown, output)
    assert [path.name for path in linked] == [
        "confusion-base.png", "confusion-head.png", "curves-base.png", "curves-head.png"]
    assert all(path.read_bytes().startswith(PNG_MAGIC) for path in linked)
    assert "| base `main` | head |" in markdown
    assert not any(Path(link).is_absolute()
                   for link in re.findall(r"\]\(([^)]+\.png)\)", markdown))


@pytest.mark.slow
def test_families_side_by_side_best_validation_first(changed: tuple[str, Path]) -> None:
    markdown, _ = changed
    rows = table(markdown, "family")
    assert list(rows) == ["**embeddings_mlp** (champion)", "tfidf_linear"]
    champion, linear = rows["**embeddings_mlp** (champion)"], rows["tfidf_linear"]
    assert champion[:2] == ["0.7400", "0.7120"]  # new at head: no change to show
    assert linear[:2] == ["0.6900", "0.7050 (+0.0050)"]  # against the base's 0.70
    assert champion[-4:] == ["20.0", "500", "3.0", "2.5"]
    assert linear[-4:] == ["10.0", "1,000", "1.5", "2.5"]
    assert markdown.index("### Model families") < markdown.index("### Params changed")


@pytest.mark.slow
def test_every_dvc_metric_in_the_details(changed: tuple[str, Path]) -> None:
    markdown = changed[0]
    assert "| `reports/train/metrics.json` | `step` | 2 | 3 | +1 |" in markdown
    assert "| `reports/metrics.json` | `test.rows` | 6 | 6 | 0 |" in markdown


@pytest.mark.slow
def test_base_without_metrics_reports_head_only(tmp_path: Path) -> None:
    repo = head_commit(new_repo(tmp_path / "repo", base_metrics=None))
    markdown, output = report_for(repo, "main")
    assert ("The base `main` has no metrics yet: this is the first report; showing head only."
            in markdown)
    assert verdict_line(markdown) == "**🆕 macro-F1 0.7120 (no base metrics to compare with)**"
    assert table(markdown, "metric")["test macro-F1"] == ["0.7120"]
    assert [path.name for path in images(markdown, output)] == [
        "confusion-head.png", "curves-head.png"]
    assert not list(output.parent.glob("images/*-base.png"))


@pytest.mark.slow
def test_base_equal_to_head(changed_repo: Path) -> None:
    markdown, _ = report_for(changed_repo, "HEAD")
    assert verdict_line(markdown) == (
        "**➖ macro-F1 0.0000: 0.7120 → 0.7120 (within noise; threshold ±0.005)**")
    assert {cells[2] for cells in table(markdown, "metric").values()} == {"0.0000"}
    assert "No params changed." in markdown


@pytest.mark.slow
def test_workspace_without_metrics_is_a_clear_error(tmp_path: Path) -> None:
    repo = new_repo(tmp_path / "repo", base_metrics=None)
    with pytest.raises(ReportError, match="no test.macro_f1 in reports/metrics.json"):
        report_for(repo, "main")


@pytest.mark.parametrize(("old", "new", "expected"), [
    (0.700, 0.706, "✅ macro-F1 +0.0060: 0.7000 → 0.7060 (better; threshold ±0.005)"),
    (0.700, 0.694, "❌ macro-F1 -0.0060: 0.7000 → 0.6940 (worse; threshold ±0.005)"),
    (0.700, 0.705, "➖ macro-F1 +0.0050: 0.7000 → 0.7050 (within noise; threshold ±0.005)"),
    (0.700, 0.695, "➖ macro-F1 -0.0050: 0.7000 → 0.6950 (within noise; threshold ±0.005)"),
])
def test_verdict_threshold_is_inclusive(old: float, new: float, expected: str) -> None:
    assert verdict(Change("test.macro_f1", old, new, new - old), 0.005) == expected


@pytest.mark.parametrize(("delta", "expected"), [
    (0.01234, "+0.0123"), (-0.003, "-0.0030"), (0.00004, "0.0000"), (0.0, "0.0000"),
    (2, "+2"), (0, "0"), (None, "—"),
])
def test_format_delta(delta: float | None, expected: str) -> None:
    assert format_delta(delta) == expected


def cli(repo: Path, monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    monkeypatch.chdir(repo)
    with pytest.raises(SystemExit) as exit_info:
        main(["report", *args])
    return exit_info.value.code


@pytest.mark.slow
def test_cli_threshold_and_default_images_dir(changed_repo: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    assert cli(changed_repo, monkeypatch, "--threshold", "0.02", "--output", "cli/pr.md") == 0
    markdown = (changed_repo / "cli" / "pr.md").read_text(encoding="utf-8")
    assert "(within noise; threshold ±0.02)" in verdict_line(markdown)
    assert "](pr-images/confusion-head.png)" in markdown
    assert (changed_repo / "cli" / "pr-images" / "curves-base.png").is_file()


@pytest.mark.slow
def test_cli_unknown_base_exits_2_with_a_message(
        changed_repo: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR):
        assert cli(changed_repo, monkeypatch, "--base", "no-such-branch",
                   "--output", "unknown.md") == 2
    assert "unknown git revision 'no-such-branch'" in caplog.text
    assert not (changed_repo / "unknown.md").exists()
