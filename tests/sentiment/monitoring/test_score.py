"""`sentiment score`: the same predictions as `sentiment predict`, in chunks, with clear errors."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from sentiment.cli import main
from sentiment.model.version import folder_md5
from sentiment.monitoring.score import text_id
from tests.conftest import tool_env
from tests.sentiment.monitoring.conftest import tweets
from tests.sentiment.test_predict_cli import write


def score(args: list[str]) -> int:
    with pytest.raises(SystemExit) as stop:
        main(["score", *args])
    return stop.value.code


def predicted(model_dir: Path, source: Path, column: str,
              capsys: pytest.CaptureFixture[str]) -> list[dict]:
    with pytest.raises(SystemExit):
        main(["predict", "--model", str(model_dir), "--input", str(source), "--column", column])
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_scores_match_predict_row_for_row(model_dir: Path, tmp_path: Path, suffix: str,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    texts = [text.replace("\r", " ") for text in tweets(300)]  # pandas' CSV splits at \r
    source = write(pd.DataFrame({"id": [f"r{i}" for i in range(len(texts))], "body": texts}),
                   tmp_path / f"batch{suffix}")
    output = tmp_path / "scores.parquet"
    assert score(["--model", str(model_dir), "--input", str(source), "--output", str(output),
                  "--text-column", "body", "--chunk-rows", "70", "--workers", "1"]) == 0
    scores = pd.read_parquet(output)
    expected = predicted(model_dir, source, "body", capsys)
    assert len(scores) == len(expected) == len(texts)
    assert scores["id"].tolist() == [f"r{i}" for i in range(len(texts))]
    assert scores["text"].tolist() == [row["text"] for row in expected]
    assert scores["label"].tolist() == [row["label"] for row in expected]
    # score works in chunks of 70 rows here, predict in pieces of 500: a matrix product's last
    # bit may depend on how many rows it multiplies at once (MKL's branch on this CPU), so the
    # two may differ by a float32 step (about 1.2e-7 relative), never more.
    for label in expected[0]["probabilities"]:
        assert scores[f"prob_{label}"].tolist() == pytest.approx(
            [row["probabilities"][label] for row in expected], abs=0, rel=5e-7)
    assert (scores["confidence"] == scores.filter(like="prob_").max(axis=1)).all()
    assert set(scores["model_version"]) == {folder_md5(model_dir)}


def test_folder_input_ids_derived_and_output_byte_identical(model_dir: Path,
                                                            tmp_path: Path) -> None:
    texts = tweets(120)
    folder = tmp_path / "incoming"
    folder.mkdir()
    write(pd.DataFrame({"text": texts[:50]}), folder / "a.jsonl")
    write(pd.DataFrame({"text": texts[50:], "id": range(50, 120)}), folder / "b.parquet")
    (folder / "notes.txt").write_text("not an input\n")
    outputs = [tmp_path / f"run{run}.parquet" for run in (1, 2)]
    for output in outputs:
        assert score(["--model", str(model_dir), "--input", str(folder), "--output",
                      str(output), "--chunk-rows", "32", "--workers", "1"]) == 0
    assert outputs[0].read_bytes() == outputs[1].read_bytes()
    scores = pd.read_parquet(outputs[0])
    assert scores["text"].tolist() == texts
    assert scores["id"].tolist() == [text_id(t) for t in texts[:50]] + [str(i) for i in
                                                                        range(50, 120)]
    assert pq.ParquetFile(outputs[0]).metadata.num_row_groups > 1  # written a chunk at a time


def test_workers_give_the_same_scores(model_dir: Path, tmp_path: Path) -> None:
    source = write(pd.DataFrame({"text": tweets(2500)}), tmp_path / "many.parquet")
    frames = []
    for workers in ("1", "2"):
        output = tmp_path / f"w{workers}.parquet"
        assert score(["--model", str(model_dir), "--input", str(source), "--output",
                      str(output), "--workers", workers]) == 0
        frames.append(pd.read_parquet(output))
    pd.testing.assert_frame_equal(*frames)


def put(path: Path, content: str) -> Path:
    path.write_text(content, encoding="utf-8")
    return path


@pytest.mark.parametrize(("make", "message"), [
    (lambda d: write(pd.DataFrame({"body": ["x"]}), d / "in.csv"), "no column 'text'"),
    (lambda d: put(d / "in.csv", ""), "in.csv: empty file"),
    (lambda d: write(pd.DataFrame({"text": [1, 2]}), d / "in.parquet"),
     "column 'text' holds int64, not text"),
    (lambda d: write(pd.DataFrame({"text": [3.5, 2.0]}), d / "in.jsonl"),
     "in.jsonl row 1: column 'text' holds float 3.5, not text"),
    (lambda d: write(pd.DataFrame({"text": []}, dtype=str), d / "in.parquet"), "no rows"),
    (lambda d: put(d / "in.jsonl", "{not json\n"),
     "in.jsonl line 1: not valid JSON"),
    (lambda d: d / "absent.csv", "absent.csv: no such file or folder"),
    (lambda d: put(d / "in.txt", "x"), "unsupported extension"),
])
def test_bad_input_is_one_error_line(model_dir: Path, tmp_path: Path, make, message: str,
                                     caplog: pytest.LogCaptureFixture) -> None:
    source = make(tmp_path)
    output = tmp_path / "out" / "scores.parquet"
    with caplog.at_level(logging.ERROR):
        assert score(["--model", str(model_dir), "--input", str(source), "--output",
                      str(output)]) == 2
    errors = [record.getMessage() for record in caplog.records if record.levelname == "ERROR"]
    assert len(errors) == 1 and message in errors[0] and "\n" not in errors[0]
    assert not output.parent.exists() or not list(output.parent.iterdir())  # nothing partial


def test_cli_error_has_no_traceback(model_dir: Path, tmp_path: Path) -> None:
    source = write(pd.DataFrame({"body": ["x"]}), tmp_path / "in.csv")
    result = subprocess.run(
        [str(Path(sys.executable).parent / "sentiment"), "score", "--model", str(model_dir),
         "--input", str(source), "--output", str(tmp_path / "s.parquet")],
        capture_output=True, text=True, env=tool_env(), timeout=120)
    assert result.returncode == 2
    lines = result.stderr.splitlines()  # the unverifiable-folder warning, then the error
    assert len(lines) == 2 and "unverifiable" in lines[0] and "Traceback" not in result.stderr
    assert "no column 'text'" in lines[1]
