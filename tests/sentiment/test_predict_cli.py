"""`sentiment predict`: texts as arguments, on standard input and in batch files."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from sentiment.artifact import save_model
from sentiment.cli import main
from sentiment.predictor import Predictor
from tests.conftest import tool_env
from tests.sentiment.test_model_artifact import fit

TEXTS = ["great flight", "lost my bag again", "the seat is blue", "&amp; 😀 ok"]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("cli") / "sentiment"
    save_model(fit(), folder)
    return folder


def expected(model_dir: Path, texts: list[str]) -> list[dict]:
    return [{"text": text, **prediction}
            for text, prediction in zip(texts, Predictor.load(model_dir).predict(texts),
                                        strict=True)]


def predict(args: list[str]) -> int:
    with pytest.raises(SystemExit) as stop:
        main(["predict", *args])
    return stop.value.code


def lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines()]


def test_texts_as_arguments(model_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert predict(["--model", str(model_dir), *TEXTS]) == 0
    assert lines(capsys.readouterr().out) == expected(model_dir, TEXTS)


def test_texts_on_standard_input(model_dir: Path, capsys: pytest.CaptureFixture[str],
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("great flight\n\n   \nlost my bag again\r\n"))
    assert predict(["--model", str(model_dir)]) == 0
    assert lines(capsys.readouterr().out) == expected(model_dir, TEXTS[:2])


def write(frame: pd.DataFrame, path: Path) -> Path:
    if path.suffix == ".csv":
        frame.to_csv(path, index=False)
    elif path.suffix == ".jsonl":
        frame.to_json(path, orient="records", lines=True, force_ascii=False)
    else:
        frame.to_parquet(path, index=False)
    return path


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_batch_file_to_jsonl(model_dir: Path, tmp_path: Path, suffix: str) -> None:
    texts = TEXTS * 3
    source = write(pd.DataFrame({"id": range(len(texts)), "review": texts}),
                   tmp_path / f"reviews{suffix}")
    output = tmp_path / "out/predictions.jsonl"
    assert predict(["--model", str(model_dir), "--input", str(source), "--column", "review",
                    "--output", str(output)]) == 0
    assert lines(output.read_text(encoding="utf-8")) == expected(model_dir, texts)


def test_missing_values_are_predicted_as_empty_texts(model_dir: Path, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    source = write(pd.DataFrame({"text": ["great flight", None]}), tmp_path / "gaps.parquet")
    assert predict(["--model", str(model_dir), "--input", str(source)]) == 0
    assert [row["text"] for row in lines(capsys.readouterr().out)] == ["great flight", ""]


@pytest.mark.parametrize(("args", "message"), [
    (["--input", "{tmp}/reviews.csv", "--column", "body"], "no column 'body'"),
    (["--input", "{tmp}/reviews.txt"], "unsupported extension '.txt'"),
    (["--input", "{tmp}/absent.csv"], "absent.csv: no such file"),
    (["x", "--output", "{tmp}/out.csv"], "unsupported output extension '.csv'"),
    (["x", "--input", "{tmp}/reviews.csv"], "not both"),
    (["--model", "{tmp}/nowhere", "x"], "nowhere: no such model folder"),
])
def test_user_errors_exit_2_with_a_message(model_dir: Path, tmp_path: Path,
                                           caplog: pytest.LogCaptureFixture, args: list[str],
                                           message: str) -> None:
    write(pd.DataFrame({"text": TEXTS}), tmp_path / "reviews.csv")
    (tmp_path / "reviews.txt").write_text("great flight\n")
    args = [arg.format(tmp=tmp_path) for arg in args]
    with caplog.at_level(logging.ERROR):
        assert predict(["--model", str(model_dir), *args]) == 2
    assert message in caplog.text


def test_missing_model_file_is_one_line_without_traceback(model_dir: Path,
                                                          tmp_path: Path) -> None:
    folder = tmp_path / "model"
    folder.mkdir()
    for path in model_dir.iterdir():
        if path.name != "model.safetensors":
            (folder / path.name).write_bytes(path.read_bytes())
    result = subprocess.run(
        [str(Path(sys.executable).parent / "sentiment"), "predict", "--model", str(folder),
         "great flight"], capture_output=True, text=True, env=tool_env(), timeout=120)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert "model.safetensors: missing from the model folder" in result.stderr
