"""The PR report builder against temporary git + DVC repositories with hand-made reports.

Tests on a repository run the real dvc CLI, so they are marked slow (about 30 s in all).
"""

from __future__ import annotations

import logging
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sentiment.cli import main
from sentiment.evaluation.intervals import Interval
from sentiment.evaluation.report import ReportError, build_report, format_delta, judge
from sentiment.io import write_json
from tests.conftest import REPO_ROOT, run, write_params
from tests.markdown import check_markdown

LABELS = ("negative", "neutral", "positive")
ROWS = 600  # test rows of the hand-made predictions

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
      - reports/intervals.json:
          cache: false
      - reports/behaviour.json:
          cache: false
"""

# "correct": the share of rows the champion gets right in the hand-made predictions.
BASE = {"correct": 0.60, "macro_f1": 0.70, "accuracy": 0.72, "negative": 0.80, "neutral": 0.70,
        "positive": 0.60, "vader": 0.4484, "val_loss": [0.9, 0.7, 0.6],
        "families": {"tfidf_linear": (0.70, 0.70)}, "champion": "tfidf_linear"}
HEAD = {"correct": 0.80, "macro_f1": 0.712, "accuracy": 0.715, "negative": 0.83, "neutral": 0.69,
        "positive": 0.60, "vader": 0.4484, "val_loss": [0.8, 0.6, 0.5, 0.45],
        # family: (val macro-F1, test macro-F1)
        "families": {"tfidf_linear": (0.69, 0.705), "embeddings_mlp": (0.74, 0.712)},
        "champion": "embeddings_mlp"}


def predictions_csv(correct: float, rows: int = ROWS, seed: int = 0) -> str:
    """Per-row predictions: the champion right on about ``correct`` of the rows."""
    rng = np.random.default_rng(seed)
    labels = np.arange(rows) % 3
    champion = np.where(rng.random(rows) < correct, labels, (labels + 1) % 3)
    return "id,label,champion,tfidf_linear\n" + "".join(
        f"r{index:04d},{LABELS[label]},{LABELS[guess]},{LABELS[label]}\n"
        for index, (label, guess) in enumerate(zip(labels, champion, strict=True)))


def write_reports(repo: Path, values: dict[str, Any], predictions: bool = True) -> None:
    """reports/ as the evaluate and train stages lay it out, from a few numbers."""
    reports = repo / "reports"
    write_json(reports / "metrics.json", {
        "test": {"macro_f1": values["macro_f1"], "accuracy": values["accuracy"], "rows": 6,
                 "per_class": {label: {"f1": values[label], "support": 2}
                               for label in LABELS}},
        "baseline": {"vader": {"test": {"macro_f1": values["vader"]}}},
        "families": {family: {"test": {"macro_f1": test, "per_class": {
            label: test for label in LABELS}}}
            for family, (_, test) in values["families"].items()},
    })
    families = list(values["families"])
    write_json(reports / "intervals.json", {
        "families": {family: {"test": {"macro_f1": {
            "value": test, "low": test - 0.02, "high": test + 0.02, "confidence": 0.95}}}
            for family, (_, test) in values["families"].items()},
        "champion_lead": {
            "champion": values["champion"], "runner_up": families[0],
            "val_macro_f1_diff": {"value": 0.05, "low": 0.01, "high": 0.09,
                                  "confidence": 0.95}, "significant": True}
        if len(families) > 1 else None})
    write_json(reports / "behaviour.json", {
        "cases": {"minimum_functionality": 252, "invariance": 1764, "directional": 270},
        "families": {family: {"minimum_functionality": round(values["correct"] / 8, 4),
                              "invariance": 0.25, "directional": 0.5,
                              "tests": {"invariance: a URL": 0.0}}
                     for family in values["families"]}})
    if predictions:
        (reports / "predictions.csv").write_text(predictions_csv(values["correct"]))
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
               {"step": len(values["val_loss"]) - 1, "champion": values["champion"],
                "families": {family: {"val": {"macro_f1": val}, "size_mb": 2.5}
                             for family, (val, _) in values["families"].items()}})
    # dvclive's layout: <family>/<metric>.tsv; an epoch-based family and a one-point one.
    curves = {"tfidf_linear/val_macro_f1": [values["families"]["tfidf_linear"][0]]}
    if "embeddings_mlp" in values["families"]:
        curves |= {"embeddings_mlp/train_loss": [1.0 / (step + 1) for step in epochs],
                   "embeddings_mlp/val_loss": values["val_loss"],
                   "embeddings_mlp/val_macro_f1": [0.6 + 0.01 * step for step in epochs]}
    shutil.rmtree(reports / "train" / "plots", ignore_errors=True)
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


def report_for(repo: Path, base: str, **options: Any) -> tuple[str, Path]:
    output = repo.parent / f"out-{base}" / "report.md"
    build_report(base, output, repo=repo, **options)
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


def section(markdown: str, title: str) -> str:
    """The text of one ``### title`` section."""
    start = markdown.index(f"### {title}\n")
    end = markdown.find("\n### ", start + 1)
    return markdown[start:end if end > 0 else None]


@pytest.fixture(scope="module")
def changed_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two commits whose params and metrics differ: `main` (base) and `feature` (head)."""
    return head_commit(new_repo(tmp_path_factory.mktemp("changed") / "repo", BASE))


@pytest.fixture(scope="module")
def changed(changed_repo: Path) -> tuple[str, Path]:
    return report_for(changed_repo, "main")


@pytest.mark.slow
def test_paired_verdict_first_with_its_interval(changed: tuple[str, Path]) -> None:
    markdown, _ = changed
    assert markdown.startswith("## Model report: `main`")
    assert re.fullmatch(r"\*\*✅ macro-F1 \+0\.\d{4} \(95 % CI \+0\.\d{4} to \+0\.\d{4}\): "
                        r"0\.7000 → 0\.7120 \(better\)\*\*", verdict_line(markdown))
    assert (f"Paired bootstrap over the {ROWS} test rows base and head share (by id). "
            "1,000 resamples, seed 20241124.") in markdown
    assert markdown.index("✅") < markdown.index("### Metrics")


@pytest.mark.slow
def test_the_report_is_well_formed_markdown(changed: tuple[str, Path]) -> None:
    assert check_markdown(changed[0]) == []
    assert "![" not in changed[0]  # no image to upload anywhere


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
def test_confusion_matrix_as_tables_base_then_head(changed: tuple[str, Path]) -> None:
    confusion = section(changed[0], "Confusion matrix (test)")
    assert confusion.index("base `main`:") < confusion.index("head:")
    assert table(confusion, "actual ↓ predicted →") == {
        "negative": ["1", "1", "0"], "neutral": ["0", "2", "0"], "positive": ["1", "0", "1"]}


@pytest.mark.slow
def test_training_curves_per_family_base_beside_head(changed: tuple[str, Path]) -> None:
    curves = section(changed[0], "Training curves")
    assert "#### embeddings_mlp" in curves and "#### tfidf_linear" in curves
    rows = table(curves[curves.index("#### embeddings_mlp"):], "curve")
    assert rows["`val_loss`"] == ["—", "4 epochs, last 0.4500, best 0.4500 (epoch 3)"]
    assert rows["`val_macro_f1`"][1] == "4 epochs, last 0.6300, best 0.6300 (epoch 3)"
    linear = table(curves[curves.index("#### tfidf_linear"):], "curve")
    assert linear == {"`val_macro_f1`": ["1 epoch, last 0.7000, best 0.7000 (epoch 0)",
                                         "1 epoch, last 0.6900, best 0.6900 (epoch 0)"]}
    # One chart: embeddings_mlp at head (the only multi-epoch curves).
    assert curves.count("```mermaid") == 1
    assert 'title "embeddings_mlp, head: train_loss, val_loss, val_macro_f1"' in curves
    assert "    line [0.8, 0.6, 0.5, 0.45]" in curves


@pytest.mark.slow
def test_families_side_by_side_with_intervals(changed: tuple[str, Path]) -> None:
    markdown, _ = changed
    rows = table(markdown, "family")
    assert list(rows) == ["**embeddings_mlp** (champion)", "tfidf_linear"]
    champion, linear = rows["**embeddings_mlp** (champion)"], rows["tfidf_linear"]
    assert champion[:3] == ["0.7400", "0.7120", "0.6920 to 0.7320"]
    assert linear[:3] == ["0.6900", "0.7050 (+0.0050)", "0.6850 to 0.7250"]
    assert champion[-4:] == ["20.0", "500", "3.0", "2.5"]
    assert linear[-4:] == ["10.0", "1,000", "1.5", "2.5"]
    assert ("Champion's validation lead over `tfidf_linear`: +0.0500 (95 % CI +0.0100 to "
            "+0.0900), significant (paired bootstrap on the validation rows).") in markdown
    assert markdown.index("### Model families") < markdown.index("### Params changed")


@pytest.mark.slow
def test_behavioural_failure_rates_base_then_head(changed: tuple[str, Path]) -> None:
    rows = table(changed[0], "family | minimum functionality (252 cases)")
    assert rows == {"embeddings_mlp": ["10.0%", "25.0%", "50.0%"],
                    "tfidf_linear": ["7.5% → 10.0%", "25.0% → 25.0%", "50.0% → 50.0%"]}
    assert "invariance (1,764 cases) | directional (270 cases) |" in changed[0]


@pytest.mark.slow
def test_every_dvc_metric_in_the_details(changed: tuple[str, Path]) -> None:
    markdown = changed[0]
    assert "| `reports/train/metrics.json` | `step` | 2 | 3 | +1 |" in markdown
    assert "| `reports/metrics.json` | `test.rows` | 6 | 6 | 0 |" in markdown


@pytest.mark.slow
def test_base_without_metrics_reports_head_only(tmp_path: Path) -> None:
    repo = head_commit(new_repo(tmp_path / "repo", base_metrics=None))
    markdown, _ = report_for(repo, "main")
    assert ("The base `main` has no metrics yet: this is the first report; showing head only."
            in markdown)
    assert verdict_line(markdown) == "**🆕 macro-F1 0.7120 (no base metrics to compare with)**"
    assert table(markdown, "metric")["test macro-F1"] == ["0.7120"]
    assert "base `main`" not in section(markdown, "Training curves")
    assert check_markdown(markdown) == []


@pytest.mark.slow
def test_base_equal_to_head_is_no_significant_change(changed_repo: Path) -> None:
    markdown, _ = report_for(changed_repo, "HEAD")
    assert verdict_line(markdown) == (
        "**➖ macro-F1 +0.0000 (95 % CI +0.0000 to +0.0000): 0.7120 → 0.7120 "
        "(no significant change)**")
    assert "No params changed." in markdown


@pytest.mark.slow
def test_base_without_predictions_falls_back_to_unpaired(tmp_path: Path) -> None:
    repo = new_repo(tmp_path / "repo", None)
    write_reports(repo, BASE, predictions=False)
    commit(repo, "an old run: no per-row predictions")
    markdown, _ = report_for(head_commit(repo), "HEAD~1")
    assert ("The base has no per-row predictions (predictions.csv; a run from before they "
            "were kept): unpaired, the base's score against head's 95 % interval") in markdown
    assert verdict_line(markdown).startswith("**")  # a verdict all the same
    assert "Paired bootstrap" not in markdown


@pytest.mark.slow
def test_changed_rows_fall_back_to_unpaired(tmp_path: Path) -> None:
    repo = head_commit(new_repo(tmp_path / "repo", BASE))
    csv = repo / "reports" / "predictions.csv"
    csv.write_text(predictions_csv(0.8, rows=ROWS + 30))  # new data: 30 more rows
    commit(repo, "new rows")
    markdown, _ = report_for(repo, "main")
    assert (f"The test rows changed ({ROWS} shared, 0 only at base, 30 only at head): "
            "unpaired bootstrap of each side.") in markdown
    assert verdict_line(markdown).startswith("**✅ macro-F1 +")


@pytest.mark.slow
def test_workspace_without_metrics_is_a_clear_error(tmp_path: Path) -> None:
    repo = new_repo(tmp_path / "repo", base_metrics=None)
    with pytest.raises(ReportError, match="no test.macro_f1 in reports/metrics.json"):
        report_for(repo, "main")


@pytest.mark.slow
def test_a_malformed_predictions_file_names_file_line_and_column(changed_repo: Path,
                                                                 tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(changed_repo, repo)
    csv = repo / "reports" / "predictions.csv"
    lines = csv.read_text().splitlines()
    fields = lines[3].split(",")
    lines[3] = ",".join([fields[0], "happy", *fields[2:]])
    csv.write_text("\n".join(lines) + "\n")
    with pytest.raises(ReportError,
                       match=r"reports/predictions.csv: line 4, column 'label': unknown label "
                             r"'happy'"):
        report_for(repo, "main")


@pytest.mark.parametrize(("low", "high", "threshold", "expected"), [
    (0.001, 0.02, 0.0, ("✅", "better")),
    (-0.02, -0.001, 0.0, ("❌", "worse")),
    (-0.001, 0.02, 0.0, ("➖", "no significant change")),
    (0.001, 0.02, 0.005, ("➖", "no significant change")),
    (0.006, 0.02, 0.005, ("✅", "better")),
])
def test_judge_needs_the_whole_interval_beyond_the_threshold(
        low: float, high: float, threshold: float, expected: tuple[str, str]) -> None:
    assert judge(Interval((low + high) / 2, low, high, 0.95), threshold) == expected


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
def test_cli_threshold_and_confidence(changed_repo: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    assert cli(changed_repo, monkeypatch, "--threshold", "0.5", "--confidence", "0.9",
               "--output", "cli/pr.md") == 0
    markdown = (changed_repo / "cli" / "pr.md").read_text(encoding="utf-8")
    assert "(90 % CI" in verdict_line(markdown)
    assert verdict_line(markdown).endswith("(no significant change; threshold ±0.5)**")


@pytest.mark.parametrize(("args", "message"), [
    (["--threshold", "nan"], "--threshold must be a finite number >= 0, got nan"),
    (["--threshold", "-0.01"], "--threshold must be a finite number >= 0, got -0.01"),
    (["--confidence", "-0.95"], "--confidence must be between 0 and 1 (e.g. 0.95), got -0.95"),
    (["--confidence", "95"], "--confidence must be between 0 and 1 (e.g. 0.95), got 95"),
])
def test_cli_rejects_bad_numbers_by_name(args: list[str], message: str, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(tmp_path, monkeypatch, *args) == 2
    assert message in capsys.readouterr().err


@pytest.mark.slow
def test_cli_unknown_base_exits_2_with_a_message(
        changed_repo: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR):
        assert cli(changed_repo, monkeypatch, "--base", "no-such-branch",
                   "--output", "unknown.md") == 2
    assert "unknown git revision 'no-such-branch'" in caplog.text
    assert not (changed_repo / "unknown.md").exists()


def test_families_table_shows_the_cross_validated_mean_when_folds_ran() -> None:
    from sentiment.evaluation.report import Change, Comparison, families_table

    train = {name: Change(name, None, value) for name, value in {
        "champion": "tfidf_mlp", "families.tfidf_mlp.val.macro_f1": 0.70,
        "families.tfidf_linear.val.macro_f1": 0.72, "cv.families.tfidf_mlp.mean": 0.7312,
        "cv.families.tfidf_mlp.sd": 0.0151, "cv.families.tfidf_linear.mean": 0.7204,
        "cv.families.tfidf_linear.sd": 0.0222}.items()}
    comparison = Comparison("main", "a", "b", "reports/metrics.json",
                            {"reports/train/metrics.json": train}, [])
    lines = families_table(comparison)
    assert lines[0].startswith("| family | val macro-F1 | k-fold macro-F1 (mean ± sd) |")
    rows = table("\n".join(lines), "family")
    assert rows["**tfidf_mlp** (champion)"][:2] == ["0.7000", "0.7312 ± 0.0151"]
    assert rows["tfidf_linear"][:2] == ["0.7200", "0.7204 ± 0.0222"]
