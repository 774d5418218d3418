"""The bad-input corpus: one table of inputs and what each must get, for every command and
endpoint, so the next audit starts from it. A command must exit with the status given and log
one ERROR line holding the fragment (no traceback, nothing written to the named output); an
endpoint must answer the status given with the fragment in its ``detail``.

Add a row when a new way to get it wrong is found; the other modules test the right answers.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pandas as pd
import pytest
import yaml

from sentiment.cli import main
from sentiment.serving.schemas import Limits
from sentiment.serving.service import create_app
from tests.conftest import REPO_ROOT
from tests.sentiment.conftest import serving
from tests.sentiment.test_predict_cli import model_dir  # noqa: F401 (the shared model fixture)

Files = dict[str, bytes | pd.DataFrame]
GOOD = [f"the flight number {i} was great" for i in range(150)]
LABELS = ["negative", "neutral", "positive"]


def scores(probabilities: list[float]) -> pd.DataFrame:
    """A `sentiment score`-like file of 150 rows whose first row holds ``probabilities``."""
    rows = [probabilities] + [[0.2, 0.3, 0.5]] * (len(GOOD) - 1)
    return pd.DataFrame({"text": GOOD, **{f"prob_{label}": [row[k] for row in rows]
                                         for k, label in enumerate(LABELS)}})


# (case id, arguments ({tmp}, {model} and {params} filled in), files to write, exit, fragment)
COMMANDS: list[tuple[str, list[str], Files, int, str]] = [
    ("predict blank argument", ["predict", "ok", " "], {}, 2,
     "argument 2: empty or whitespace-only"),
    ("predict csv blank line", ["predict", "--input", "{tmp}/in.csv"],
     {"in.csv": b"text\ngreat\n\nawful\n"}, 2, "in.csv row 2: empty or whitespace-only"),
    ("predict jsonl number text", ["predict", "--input", "{tmp}/in.jsonl"],
     {"in.jsonl": b'{"text": "ok"}\n{"text": 5}\n'}, 2,
     "in.jsonl row 2: column 'text' holds int 5, not text"),
    ("predict jsonl not json", ["predict", "--input", "{tmp}/in.jsonl"],
     {"in.jsonl": b'{"text": "ok"}\n{oops\n'}, 2, "in.jsonl line 2: not valid JSON"),
    ("predict not parquet", ["predict", "--input", "{tmp}/in.parquet"],
     {"in.parquet": b"text\nnot parquet at all\n"}, 2, "in.parquet: unreadable as parquet"),
    ("predict missing column", ["predict", "--input", "{tmp}/in.csv", "--column", "body"],
     {"in.csv": b"text\nok\n"}, 2, "no column 'body'"),
    ("predict output under a file", ["predict", "ok", "--output", "{tmp}/in.csv/out.jsonl"],
     {"in.csv": b"text\nok\n"}, 2, "in.csv is a file, not a folder"),
    ("score null text", ["score", "--input", "{tmp}/in.parquet", "--output", "{tmp}/o.parquet"],
     {"in.parquet": pd.DataFrame({"text": ["ok", None, "fine", ""]})}, 2,
     "in.parquet row 2, 4: empty or whitespace-only text in 'text'"),
    ("score csv blank line", ["score", "--input", "{tmp}/in.csv", "--output", "{tmp}/o.parquet"],
     {"in.csv": b"id,text\n1,great\n\n3,awful\n"}, 2, "in.csv row 2: empty or whitespace-only"),
    ("score named id column missing",
     ["score", "--input", "{tmp}/in.csv", "--output", "{tmp}/o.parquet", "--id-column", "key"],
     {"in.csv": b"id,text\n1,great\n"}, 2, "in.csv: no column 'key'"),
    ("score not parquet", ["score", "--input", "{tmp}/in.parquet", "--output", "{tmp}/o.parquet"],
     {"in.parquet": b"garbage"}, 2, "in.parquet: unreadable as parquet"),
    ("score output under a file",
     ["score", "--input", "{tmp}/in.csv", "--output", "{tmp}/in.csv/o.parquet"],
     {"in.csv": b"text\nok\n"}, 2, "in.csv is a file, not a folder"),
    ("score output not parquet",
     ["score", "--input", "{tmp}/in.csv", "--output", "{tmp}/o.csv"],
     {"in.csv": b"text\nok\n"}, 2, "o.csv: unsupported output extension '.csv'"),
    ("score latin-1 csv", ["score", "--input", "{tmp}/in.csv", "--output", "{tmp}/o.parquet"],
     {"in.csv": "text\nok\ncafé\n".encode("latin-1")}, 2, "in.csv line 3: not UTF-8 (byte 0xe9)"),
    ("drift one row", ["drift", "--reference", "{tmp}/ref.parquet", "--current",
                       "{tmp}/cur.parquet", "--output-dir", "{tmp}/drift"],
     {"ref.parquet": pd.DataFrame({"text": GOOD}), "cur.parquet": pd.DataFrame({"text": ["x"]})},
     2, "cur.parquet: 1 rows, fewer than the 100 drift needs (monitor.drift.min_rows)"),
    ("drift non-finite probability", ["drift", "--reference", "{tmp}/ref.parquet", "--current",
                                      "{tmp}/cur.parquet", "--output-dir", "{tmp}/drift"],
     {"ref.parquet": pd.DataFrame({"text": GOOD}),
      "cur.parquet": scores([float("nan"), 0.5, 0.5])},
     2, "cur.parquet row 1: prob_negative is nan, not a probability in [0, 1]"),
    ("drift output dir under a file", ["drift", "--reference", "{tmp}/ref.parquet", "--current",
                                       "{tmp}/ref.parquet", "--output-dir", "{tmp}/ref.parquet/d"],
     {"ref.parquet": pd.DataFrame({"text": GOOD})}, 2, "ref.parquet is a file, not a folder"),
    ("report output under a file", ["report", "--output", "{tmp}/in.csv/report.md"],
     {"in.csv": b"text\n"}, 2, "in.csv is a file, not a folder"),
    ("warehouse empty query", ["warehouse", "query", "--url", "sqlite:///{tmp}/w.db", " "], {},
     2, "empty query: give one SQL statement"),
    ("warehouse write without --write",
     ["warehouse", "query", "--url", "sqlite:///{tmp}/w.db", "CREATE TABLE t (x)"],
     {"w.db": b""}, 2, "(queries are read-only; --write lets one change the database)"),
    ("warehouse no database", ["warehouse", "query", "--url", "sqlite:///{tmp}/no.db", "SELECT 1"],
     {}, 2, "no.db: no warehouse there"),
]


def fill(args: list[str], tmp: Path, model: Path) -> list[str]:
    values = {"tmp": str(tmp), "model": str(model), "params": str(REPO_ROOT / "params.yaml")}
    return [arg.format(**values) for arg in args]


def write_files(folder: Path, files: Files) -> None:
    for name, content in files.items():
        if isinstance(content, bytes):
            (folder / name).write_bytes(content)
        else:
            content.to_parquet(folder / name, index=False)


def with_model(args: list[str]) -> list[str]:
    """The model and params for the commands that take them."""
    extra = {"predict": ["--model", "{model}"], "score": ["--model", "{model}"],
             "drift": ["--model", "{model}", "--params", "{params}"]}
    return [args[0], *extra.get(args[0], []), *args[1:]]


@pytest.mark.parametrize(("args", "files", "status", "fragment"),
                         [pytest.param(*row[1:], id=row[0]) for row in COMMANDS])
def test_command(model_dir: Path, tmp_path: Path, args: list[str], files: Files, status: int,  # noqa: F811
                 fragment: str, caplog: pytest.LogCaptureFixture,
                 monkeypatch: pytest.MonkeyPatch) -> None:
    write_files(tmp_path, files)
    before = sorted(path.name for path in tmp_path.iterdir())
    monkeypatch.chdir(tmp_path)
    with caplog.at_level(logging.ERROR), pytest.raises(SystemExit) as stop:
        main(fill(with_model(args), tmp_path, model_dir))
    errors = [record.getMessage() for record in caplog.records if record.levelname == "ERROR"]
    assert stop.value.code == status, errors
    assert len(errors) == 1 and "\n" not in errors[0], errors
    assert fragment in errors[0]
    assert sorted(path.name for path in tmp_path.iterdir()) == before  # nothing written


@pytest.mark.slow  # the S3 client retries the connection for about 5 s
def test_score_s3_endpoint_down(model_dir: Path, tmp_path: Path,  # noqa: F811
                                caplog: pytest.LogCaptureFixture,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {"AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_ACCESS_KEY_ID": "x",
                        "AWS_SECRET_ACCESS_KEY": "y", "AWS_MAX_ATTEMPTS": "1"}.items():
        monkeypatch.setenv(name, value)
    with caplog.at_level(logging.ERROR), pytest.raises(SystemExit) as stop:
        main(["score", "--model", str(model_dir), "--input", "s3://bucket/in.parquet",
              "--output", str(tmp_path / "o.parquet")])
    assert stop.value.code == 2
    [error] = [record.getMessage() for record in caplog.records if record.levelname == "ERROR"]
    assert error.startswith("s3://bucket/in.parquet: cannot reach the S3 endpoint (Could not "
                            "connect") and error.endswith("check AWS_ENDPOINT_URL")


def test_serve_with_an_empty_keys_variable_fails_closed(model_dir: Path,  # noqa: F811
                                                        caplog: pytest.LogCaptureFixture,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENTIMENT_API_KEYS_FILE", "")
    with caplog.at_level(logging.ERROR), pytest.raises(SystemExit) as stop:
        main(["serve", "--model", str(model_dir)])
    assert stop.value.code == 2
    assert "SENTIMENT_API_KEYS_FILE is set but empty" in caplog.text


LIMITS = Limits(max_batch_size=4, max_text_chars=50)
Body = Callable[[], bytes | Iterator[bytes]]

# (case id, body, status, fragment of the detail)
ENDPOINTS: list[tuple[str, Body, int, str]] = [
    ("blank text", lambda: b'{"texts": ["ok", " "]}', 422, "texts[1] is empty or whitespace-only"),
    ("null text", lambda: b'{"texts": [null]}', 422, "texts.0"),
    ("number text", lambda: b'{"texts": [5]}', 422, "texts.0"),
    ("no body", lambda: b"", 422, "is required"),
    ("not json", lambda: b"{oops", 422, "malformed JSON body"),
    ("batch over the limit", lambda: json.dumps({"texts": ["ok"] * 5}).encode(), 413,
     "5 texts exceed max_batch_size=4"),
    ("text over the limit", lambda: json.dumps({"texts": ["x" * 51]}).encode(), 422,
     "texts[0] is longer than max_text_chars=50"),
    ("body over the limit", lambda: b" " * (LIMITS.max_body_bytes + 1), 413,
     f"request body of {LIMITS.max_body_bytes + 1} bytes over max_body_bytes="),
    ("chunked body over the limit", lambda: iter([b" " * 1000] * 10), 413,
     "request body over max_body_bytes="),
    ("long unknown field", lambda: json.dumps({"texts": ["ok"], "f" * 1000: 1}).encode(), 422,
     "f" * 40 + "... (1000 characters): Extra inputs are not permitted"),
]


@pytest.fixture(scope="module")
def client(model_dir: Path) -> Iterator[httpx.Client]:  # noqa: F811
    with serving(create_app(model_dir, LIMITS)) as base, \
            httpx.Client(base_url=base, timeout=30) as session:
        yield session


@pytest.mark.parametrize(("body", "status", "fragment"),
                         [pytest.param(*row[1:], id=row[0]) for row in ENDPOINTS])
def test_endpoint(client: httpx.Client, body: Body, status: int, fragment: str) -> None:
    response = client.post("/v1/predict", content=body(),
                           headers={"content-type": "application/json"})
    assert response.status_code == status, response.text
    detail = response.json()["detail"]
    assert fragment in detail and len(detail) < 300


def test_predict_score_and_serve_share_the_model_folder_rule(model_dir: Path, tmp_path: Path,  # noqa: F811
                                                      caplog: pytest.LogCaptureFixture) -> None:
    """A folder that dvc.lock records with other bytes (labels edited, manifest re-hashed) is
    refused by predict and score as by serve; one no dvc.lock records is named unverifiable
    at start."""
    texts = tmp_path / "texts.csv"
    texts.write_text("text\nok\n")
    score = ["score", "--input", str(texts), "--output", str(tmp_path / "scores.parquet")]
    repo = tmp_path / "repo"
    shutil.copytree(model_dir, repo / "models/sentiment")
    (repo / "dvc.lock").write_text(yaml.safe_dump({"schema": "2.0", "stages": {"release": {
        "cmd": "x", "outs": [{"path": "models/sentiment", "md5": "0" * 32 + ".dir"}]}}}))
    for command in (["predict", "ok"], ["serve"], score):
        caplog.clear()
        with caplog.at_level(logging.WARNING), pytest.raises(SystemExit) as stop:
            main([*command, "--model", str(repo / "models/sentiment")])
        assert stop.value.code == 2
        assert f"differs from {'0' * 32}.dir, which dvc.lock records" in caplog.text
    assert not (tmp_path / "scores.parquet").exists()
    caplog.clear()
    with caplog.at_level(logging.WARNING), pytest.raises(SystemExit) as stop:
        main(["predict", "ok", "--model", str(repo / "models/sentiment"),
              "--allow-unlocked-model"])
    assert stop.value.code == 0 and "(--allow-unlocked-model)" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING), pytest.raises(SystemExit) as stop:
        main(["predict", "ok", "--model", str(model_dir)])
    assert stop.value.code == 0 and "unverifiable: no dvc.lock records this folder" in caplog.text
