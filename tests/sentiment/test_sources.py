"""Table sources of the first stage on real files, SQLite and PostgreSQL: records, and every
bad input as a one-line ``InputError`` that leaves an earlier output as it was."""

from __future__ import annotations

import gzip
import json
import sqlite3
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy
import yaml

from scripts.postgres import PostgresServer
from sentiment.data import sources
from sentiment.data.sources import write_records
from sentiment.data.tables import SQL_PASSWORD_ENV
from sentiment.errors import InputError
from sentiment.params.scrape import ScrapeParams

REPO = Path(__file__).resolve().parents[2]
LABEL_MAP = {"negative": "negative", "neutral": "neutral", "positive": "positive"}
CSV = ('review_id;body;stars;headline\n'
       '3;"Great; really\ngood ""value""";5;nice\n'
       '1;bad one;1;meh\n'
       '2;okay;3;\n')


def params(source: str = "files", **update: object) -> ScrapeParams:
    scrape = yaml.safe_load((REPO / "params.yaml").read_text())["scrape"]
    columns = {"text": "body", "id": "review_id", "rating": "stars", "extra": {"title": "headline"}}
    return ScrapeParams(**{**scrape, "source": source, "columns": columns, **update})


def read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


EXPECTED = [{"id": "1", "rating": 1.0, "text": "bad one", "title": "meh"},
            {"id": "2", "rating": 3.0, "text": "okay"},
            {"id": "3", "rating": 5.0, "text": 'Great; really\ngood "value"', "title": "nice"}]


@pytest.fixture
def csv_file(tmp_path: Path) -> Path:
    path = tmp_path / "in" / "reviews.csv"
    path.parent.mkdir()
    path.write_text(CSV, encoding="utf-8")
    return path


def test_csv_with_a_delimiter_quotes_and_newlines_sorted_by_id(csv_file: Path,
                                                              tmp_path: Path) -> None:
    output = tmp_path / "raw.jsonl"
    written, tally = write_records(
        params(files={"location": str(csv_file), "delimiter": ";"}), None, output)
    assert written == 3 and read(output) == EXPECTED
    assert tally.read[0]["size"] == csv_file.stat().st_size and tally.read[0]["blake2b"]


@pytest.mark.parametrize("kind", ["gz", "zip", "tsv", "jsonl", "parquet", "folder", "glob"])
def test_every_file_kind_gives_the_same_records(kind: str, tmp_path: Path) -> None:
    frame = pd.read_csv(pd.io.common.StringIO(CSV), sep=";", dtype=str, keep_default_na=False)
    folder = tmp_path / "in"
    folder.mkdir()
    location, delimiter = folder / "a.csv", ";"
    if kind == "gz":
        location = folder / "a.csv.gz"
        location.write_bytes(gzip.compress(CSV.encode()))
    elif kind == "zip":
        location = folder / "a.csv.zip"
        with zipfile.ZipFile(location, "w") as archive:
            archive.writestr("a.csv", CSV)
    elif kind == "tsv":
        location, delimiter = folder / "a.tsv", None
        frame.to_csv(location, sep="\t", index=False)
    elif kind == "jsonl":
        location = folder / "a.jsonl"
        frame.to_json(location, orient="records", lines=True)
    elif kind == "parquet":
        location = folder / "a.parquet"
        frame.assign(stars=frame["stars"].astype(int), review_id=frame["review_id"].astype(int)
                     ).replace({"headline": {"": None}}).to_parquet(location)
    else:  # two csv files, split between rows
        lines = CSV.split("\n")
        header, first, rest = lines[0], "\n".join(lines[1:3]), "\n".join(lines[3:])
        (folder / "a.csv").write_text(f"{header}\n{first}\n")
        (folder / "b.csv").write_text(f"{header}\n{rest}")
        (folder / "notes.txt").write_text("not a table")
        location = folder if kind == "folder" else folder / "*.csv"
    output = tmp_path / "raw.jsonl"
    write_records(params(files={"location": str(location), "delimiter": delimiter}), None,
                  output, chunk_rows=1)
    assert read(output) == EXPECTED


def test_without_an_id_column_rows_are_numbered_in_source_order(csv_file: Path,
                                                                tmp_path: Path) -> None:
    output = tmp_path / "raw.jsonl"
    scrape = params(files={"location": str(csv_file), "delimiter": ";"},
                    columns={"text": "body", "label": "headline"})
    write_records(scrape, {"nice": "positive", "meh": "negative"}, output)
    assert [(r["id"], r["text"], r.get("label")) for r in read(output)] == [
        ("row-0000000001", 'Great; really\ngood "value"', "nice"),
        ("row-0000000002", "bad one", "meh"), ("row-0000000003", "okay", None)]


def test_records_are_sorted_on_disk_in_runs(csv_file: Path, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sources, "RUN_ROWS", 1)  # one sorted run per row, then the merge
    output = tmp_path / "raw.jsonl"
    write_records(params(files={"location": str(csv_file), "delimiter": ";"}), None, output,
                  chunk_rows=1)
    assert read(output) == EXPECTED
    assert sorted(path.name for path in tmp_path.iterdir()) == ["in", "raw.jsonl"]


BAD_FILES = {
    "missing column": (CSV.replace("body", "bdy"), {}, "no column 'body'"),
    "one column": (CSV, {"delimiter": ","}, "the delimiter ',' finds one column"),
    "not a number": (CSV.replace(";5;", ";five;"), {},
                     "row 1: column 'stars' (scrape.columns.rating) holds 'five', not a number"),
    "empty": ("", {}, "empty file"),
    "header only": (CSV.splitlines()[0] + "\n", {}, "no rows"),
    "duplicate id": (CSV.replace("\n2;", "\n1;"), {},
                     "duplicate id '1' with different texts: "),
    "empty text": (CSV.replace("okay", ""), {}, "row 3: column 'body' (scrape.columns.text) "
                   "is empty"),
    "blank line": (CSV.replace("\n1;", "\n\n1;"), {}, "row 2: column 'body' "
                   "(scrape.columns.text) is empty"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_a_bad_file_is_one_line_and_the_earlier_output_survives(case: str,
                                                                tmp_path: Path) -> None:
    content, files, message = BAD_FILES[case]
    source = tmp_path / "bad.csv"
    source.write_text(content)
    output = tmp_path / "raw.jsonl"
    output.write_text("earlier\n")
    with pytest.raises(InputError) as raised:
        write_records(params(files={"location": str(source), "delimiter": ";", **files}),
                      None, output)
    assert message in str(raised.value) and "\n" not in str(raised.value)
    assert output.read_text() == "earlier\n"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["bad.csv", "raw.jsonl"]


def test_bytes_that_are_not_utf8_name_the_line_and_the_option(tmp_path: Path) -> None:
    source = tmp_path / "latin.csv"
    source.write_bytes(CSV.replace("okay", "d\xe9j\xe0 vu").encode("latin-1"))
    with pytest.raises(InputError, match=r"latin.csv line 5: not UTF-8 \(byte 0xe9\); "
                                         r"set scrape.files.encoding"):
        write_records(params(files={"location": str(source), "delimiter": ";"}), None,
                      tmp_path / "raw.jsonl")
    write_records(params(files={"location": str(source), "delimiter": ";",
                                "encoding": "latin-1"}), None, tmp_path / "raw.jsonl")
    assert read(tmp_path / "raw.jsonl")[1]["text"] == "d\xe9j\xe0 vu"


def test_truncated_gzip_and_an_empty_glob(tmp_path: Path) -> None:
    source = tmp_path / "cut.csv.gz"
    rows = "".join(f"{i};review number {i};4;t\n" for i in range(5000))
    source.write_bytes(gzip.compress((CSV.splitlines()[0] + "\n" + rows).encode())[:3000])
    with pytest.raises(InputError, match=r"cut.csv.gz: truncated gz archive"):
        write_records(params(files={"location": str(source), "delimiter": ";"}), None,
                      tmp_path / "raw.jsonl")
    with pytest.raises(InputError, match=r"nothing-\*.csv: the glob matches no file"):
        write_records(params(files={"location": str(tmp_path / "nothing-*.csv")}), None,
                      tmp_path / "raw.jsonl")


def test_a_label_outside_label_map_names_the_row(csv_file: Path, tmp_path: Path) -> None:
    scrape = params(files={"location": str(csv_file), "delimiter": ";"},
                    columns={"text": "body", "label": "headline"})
    with pytest.raises(InputError, match=r"row 2: label 'meh' in column 'headline' is not in "
                                         r"clean.label_map"):
        write_records(scrape, {"nice": "positive"}, tmp_path / "raw.jsonl")


def test_a_wrong_type_parquet_text_column(tmp_path: Path) -> None:
    source = tmp_path / "a.parquet"
    pd.DataFrame({"body": [1, 2], "review_id": ["a", "b"], "stars": [1, 2],
                  "headline": ["x", "y"]}).to_parquet(source)
    with pytest.raises(InputError, match=r"column 'body' holds int64, not text"):
        write_records(params(files={"location": str(source)}), None, tmp_path / "raw.jsonl")


def sql_params(url: str, **sql: object) -> ScrapeParams:
    return params("sql", sql={"url": url, **sql},
                  columns={"text": "body", "id": "review_id", "rating": "stars",
                           "extra": ["product"]})


def test_sqlite_query_and_table(tmp_path: Path) -> None:
    database = tmp_path / "shop.db"
    with sqlite3.connect(database) as connection:
        connection.execute("CREATE TABLE reviews (review_id INTEGER, body TEXT, stars REAL, "
                           "product TEXT)")
        connection.executemany("INSERT INTO reviews VALUES (?, ?, ?, ?)",
                               [(2, "fine", 3, "lamp"), (1, "awful", 1, None)])
    url = f"sqlite:///{database}"
    output = tmp_path / "raw.jsonl"
    written, tally = write_records(sql_params(url, table="reviews"), None, output)
    assert read(output) == [{"id": "1", "rating": 1.0, "text": "awful"},
                            {"id": "2", "product": "lamp", "rating": 3.0, "text": "fine"}]
    assert tally.read[0]["query"] == "SELECT * FROM reviews" and tally.read[0]["rows"] == 2
    with pytest.raises(InputError, match=r"the query returned no rows"):
        write_records(sql_params(url, query="SELECT * FROM reviews WHERE stars > 9"), None,
                      output)
    with pytest.raises(InputError, match=r"no such table: review\b"):
        write_records(sql_params(url, query="SELECT * FROM review"), None, output)
    assert len(read(output)) == 2  # the earlier output survived both


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    with PostgresServer.started() as server:
        yield server


def test_postgresql_password_from_the_environment_only(postgres: PostgresServer, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    engine = sqlalchemy.create_engine(postgres.url)
    pd.DataFrame({"review_id": range(5000), "body": [f"text {i}" for i in range(5000)],
                  "stars": [i % 5 + 1 for i in range(5000)], "product": "lamp"}
                 ).to_sql("reviews", engine, index=False)
    engine.dispose()
    bare = postgres.url.replace(f":{postgres.password}@", "@")
    with pytest.raises(InputError, match=rf"holds a password; remove it and set "
                                         rf"{SQL_PASSWORD_ENV}"):
        write_records(sql_params(postgres.url, table="reviews"), None, tmp_path / "raw.jsonl")
    monkeypatch.setenv(SQL_PASSWORD_ENV, "wrong-password")
    with pytest.raises(InputError) as raised:
        write_records(sql_params(bare, table="reviews"), None, tmp_path / "raw.jsonl")
    assert "password authentication failed" in str(raised.value)
    assert "wrong-password" not in str(raised.value) and "***" in str(raised.value)
    monkeypatch.setenv(SQL_PASSWORD_ENV, postgres.password)
    written, _ = write_records(sql_params(bare, table="reviews"), None,
                               tmp_path / "raw.jsonl", chunk_rows=700)
    assert written == 5000 and read(tmp_path / "raw.jsonl")[0]["id"] == "0"
    refused = bare.replace(f":{postgres.port}/", ":1/")
    with pytest.raises(InputError, match=r"Connection refused|connection failed"):
        write_records(sql_params(refused, table="reviews"), None, tmp_path / "raw.jsonl")
