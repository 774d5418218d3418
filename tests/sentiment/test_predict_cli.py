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
import torch

from sentiment.cli import main
from sentiment.model.folder import save_model
from sentiment.model.predictor import Predictor
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


def stdin(monkeypatch: pytest.MonkeyPatch, data: bytes) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data), encoding="ascii"))


def test_texts_on_standard_input(model_dir: Path, capsys: pytest.CaptureFixture[str],
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Read as UTF-8 whatever the locale says; a byte-order mark and CRLF endings are dropped."""
    stdin(monkeypatch, "\ufeffgreat flight\r\n&amp; 😀 ok\n".encode())
    assert predict(["--model", str(model_dir)]) == 0
    assert lines(capsys.readouterr().out) == expected(model_dir, ["great flight", "&amp; 😀 ok"])


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


def refused(model_dir: Path, args: list[str], caplog: pytest.LogCaptureFixture,
            capsys: pytest.CaptureFixture[str]) -> str:
    """The one error logged by a run that must exit 2 and write nothing to stdout."""
    with caplog.at_level(logging.ERROR):
        assert predict(["--model", str(model_dir), *args]) == 2
    assert capsys.readouterr().out == ""
    [error] = [record.getMessage() for record in caplog.records if record.levelname == "ERROR"]
    assert "\n" not in error
    return error


@pytest.mark.parametrize(("data", "message"), [
    (b"great flight\n\n   \nlost my bag\n\t\n", "standard input line 2, 3, 5: empty"),
    ("ok\n\u3000\ufeff\n".encode(), "standard input line 2: empty"),
    (b"\n" * 7 + b"ok\n", "standard input line 1, 2, 3, 4, 5 and 2 more: empty"),
    (b"ok\nbad \xff\n", "standard input line 2: not UTF-8 (byte 0xff)"),
])
def test_bad_standard_input_is_refused_by_line(model_dir: Path, data: bytes, message: str,
                                               monkeypatch: pytest.MonkeyPatch,
                                               caplog: pytest.LogCaptureFixture,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    stdin(monkeypatch, data)
    assert message in refused(model_dir, [], caplog, capsys)


@pytest.mark.parametrize(("args", "message"), [
    (["great flight", ""], "argument 2: empty or whitespace-only"),
    (["great flight", " \u3000\t"], "argument 2: empty or whitespace-only"),
    (["caf\udce9"], "argument 1: not valid UTF-8 (byte 0xe9)"),
])
def test_bad_arguments_are_refused_by_position(model_dir: Path, args: list[str], message: str,
                                               caplog: pytest.LogCaptureFixture,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert message in refused(model_dir, args, caplog, capsys)


@pytest.mark.parametrize(("name", "content", "message"), [
    ("gaps.parquet", pd.DataFrame({"text": ["great flight", None, "ok", " "]}),
     "gaps.parquet row 2, 4: empty or whitespace-only"),
    ("gaps.csv", b"id,text\n1,great flight\n2,\n", "gaps.csv row 2: empty"),
    ("latin1.csv", "id,text\n1,great flight\n2,café\n".encode("latin-1"),
     "latin1.csv line 3: not UTF-8 (byte 0xe9)"),
    ("surrogate.jsonl", b'{"text": "ok"}\n{"text": "bad \\ud800"}\n',
     "surrogate.jsonl row 2: not valid UTF-8 (lone surrogate U+D800)"),
])
def test_bad_batch_rows_are_refused_by_row(model_dir: Path, tmp_path: Path, name: str,
                                           content: bytes | pd.DataFrame, message: str,
                                           caplog: pytest.LogCaptureFixture,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        write(content, path)
    output = tmp_path / "out.jsonl"
    assert message in refused(model_dir, ["--input", str(path), "--output", str(output)],
                              caplog, capsys)
    assert not output.exists()


def test_csv_with_byte_order_mark(model_dir: Path, tmp_path: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "excel.csv"
    source.write_bytes("\ufefftext\ngreat flight\n".encode())
    assert predict(["--model", str(model_dir), "--input", str(source)]) == 0
    assert lines(capsys.readouterr().out) == expected(model_dir, ["great flight"])


@pytest.fixture(scope="module")
def nan_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model whose weights are NaN: it loads, and every probability it gives is NaN."""
    model = fit()
    with torch.no_grad():
        for weights in model.family.network.parameters():
            weights.fill_(float("nan"))
    folder = tmp_path_factory.mktemp("nan") / "sentiment"
    save_model(model, folder)
    return folder


def test_non_finite_probabilities_are_refused(nan_model_dir: Path, tmp_path: Path,
                                              caplog: pytest.LogCaptureFixture,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert "argument 1: the model gives non-finite probabilities" in refused(
        nan_model_dir, ["great flight"], caplog, capsys)
    output = tmp_path / "out.jsonl"
    output.write_text("earlier predictions\n")
    caplog.clear()
    assert "non-finite" in refused(nan_model_dir, ["great flight", "--output", str(output)],
                                   caplog, capsys)
    assert output.read_text() == "earlier predictions\n"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["out.jsonl"]


@pytest.mark.parametrize(("args", "message"), [
    (["--input", "{tmp}/reviews.csv", "--column", "body"], "no column 'body'"),
    (["--input", "{tmp}/reviews.txt"], "unsupported extension '.txt'"),
    (["--input", "{tmp}/absent.csv"], "absent.csv: no such file"),
    (["x", "--output", "{tmp}/out.csv"], "unsupported output extension '.csv'"),
    (["x", "--input", "{tmp}/reviews.csv"], "not both"),
    (["--model", "{tmp}/nowhere", "x"], "nowhere: no such model folder"),
    (["x", "--workers", "0"], "--workers must be at least 1, got 0"),
    (["x", "--output", "{tmp}/reviews.txt/out.jsonl"],
     "cannot write there, {tmp}/reviews.txt is a file, not a folder"),
    (["x", "--output", "{tmp}/reviews.txt/deeper/out.jsonl"], "reviews.txt is a file"),
    (["x", "--output", "{tmp}/folder.jsonl"], "folder.jsonl: is a folder"),
])
def test_user_errors_exit_2_with_a_message(model_dir: Path, tmp_path: Path,
                                           caplog: pytest.LogCaptureFixture, args: list[str],
                                           message: str) -> None:
    write(pd.DataFrame({"text": TEXTS}), tmp_path / "reviews.csv")
    (tmp_path / "reviews.txt").write_text("great flight\n")
    (tmp_path / "folder.jsonl").mkdir()
    args = [arg.format(tmp=tmp_path) for arg in args]
    with caplog.at_level(logging.ERROR):
        assert predict(["--model", str(model_dir), *args]) == 2
    assert message.format(tmp=tmp_path) in caplog.text


def run_cli(args: list[str], **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(Path(sys.executable).parent / "sentiment"), "predict", *args],
                          capture_output=True, env=tool_env(**env), timeout=120)


def assert_one_line_error(result: subprocess.CompletedProcess, message: str) -> None:
    stderr = result.stderr.decode()
    assert result.returncode == 2
    assert result.stdout == b""
    assert stderr.count("\n") == 1 and "Traceback" not in stderr
    assert message in stderr


def test_missing_model_file_is_one_line_without_traceback(model_dir: Path,
                                                          tmp_path: Path) -> None:
    folder = tmp_path / "model"
    folder.mkdir()
    for path in model_dir.iterdir():
        if path.name != "model.safetensors":
            (folder / path.name).write_bytes(path.read_bytes())
    assert_one_line_error(run_cli(["--model", str(folder), "great flight"]),
                          "model.safetensors: missing from the model folder")


@pytest.mark.parametrize(("args", "message"), [
    (["--workers", "0"], "--workers must be at least 1, got 0"),
    (["--output", "{tmp}/somefile.txt/out.jsonl"], "somefile.txt is a file, not a folder"),
])
def test_bad_options_are_one_line_without_traceback(model_dir: Path, tmp_path: Path,
                                                    args: list[str], message: str) -> None:
    (tmp_path / "somefile.txt").write_text("keep me\n")
    args = [arg.format(tmp=tmp_path) for arg in args]
    assert_one_line_error(run_cli(["--model", str(model_dir), "great flight", *args]), message)
    assert (tmp_path / "somefile.txt").read_text() == "keep me\n"


def test_output_is_utf8_whatever_the_locale(model_dir: Path) -> None:
    result = run_cli(["--model", str(model_dir), "&amp; 😀 ok", "--workers", "1"],
                     PYTHONIOENCODING="latin-1", LC_ALL="C")
    assert result.returncode == 0, result.stderr
    assert lines(result.stdout.decode("utf-8")) == expected(model_dir, ["&amp; 😀 ok"])
