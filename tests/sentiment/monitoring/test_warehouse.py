"""The SQL warehouse on SQLite and on a real PostgreSQL server: idempotent, atomic, clear errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

from scripts.postgres import PostgresServer
from sentiment.errors import InputError
from sentiment.monitoring.score import output_schema
from sentiment.monitoring.warehouse import WarehouseError, counts, load, query
from tests.conftest import tool_env

LABELS = ["negative", "neutral", "positive"]
SENTIMENT = str(Path(sys.executable).parent / "sentiment")


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database: a SQLite file, or a fresh database on the PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'warehouse.db'}"
    server: PostgresServer = request.getfixturevalue("postgres")
    name = f"test_{abs(hash(request.node.name)) % 10**9}"
    admin = sa.create_engine(server.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}")
        connection.exec_driver_sql(f"CREATE DATABASE {name}")
    admin.dispose()
    return server.url.rsplit("/", 1)[0] + "/" + name


def records_file(path: Path, count: int, start: int = 0) -> Path:
    ids = range(start, start + count)
    pd.DataFrame({"id": [f"r{i}" for i in ids], "text": [f"text number {i}" for i in ids],
                  "text_norm": [f"text number {i}" for i in ids],
                  "label": [LABELS[i % 3] for i in ids]}).to_parquet(path, index=False)
    return path


def scores_file(path: Path, ids: list[str], version: str, shift: int = 0) -> Path:
    probabilities = [[0.7, 0.2, 0.1], [0.1, 0.7, 0.2], [0.2, 0.1, 0.7]]
    rows = [probabilities[(int(i[1:]) + shift) % 3] for i in ids]
    table = pa.table({
        "id": ids, "text": [f"text number {i[1:]}" for i in ids],
        "label": [LABELS[row.index(max(row))] for row in rows],
        "confidence": [max(row) for row in rows],
        **{f"prob_{label}": [row[k] for row in rows] for k, label in enumerate(LABELS)},
        "model_version": [version] * len(ids)}, schema=output_schema(LABELS))
    pq.write_table(table, path)
    return path


def table_counts(url: str) -> dict[str, int]:
    engine = sa.create_engine(url)
    try:
        return counts(engine)
    finally:
        engine.dispose()


def test_load_twice_adds_nothing_and_versions_compare(url: str, tmp_path: Path) -> None:
    records = records_file(tmp_path / "clean.parquet", 300)
    ids = [f"r{i}" for i in range(250, 320)]  # 20 scored records are not among the cleaned
    old = scores_file(tmp_path / "old.parquet", ids, "aaa.dir")
    new = scores_file(tmp_path / "new.parquet", ids, "bbb.dir", shift=1)
    first = load(url, [str(records)], [str(old), str(new)])
    assert first == {"records": 320, "model_versions": 2, "scores": 140}
    assert load(url, [str(records)], [str(old), str(new)]) == first
    result = query(url, "SELECT count(*) FROM scores a JOIN scores b ON "
                        "a.record_id = b.record_id WHERE a.model_version = 'aaa.dir' "
                        "AND b.model_version = 'bbb.dir' AND a.label <> b.label")
    assert result.rows == [(70,)] and result.changed is None
    result = query(url, "SELECT label, count(*) AS n FROM records WHERE label IS NOT "
                        "NULL AND text LIKE 'text%' GROUP BY label ORDER BY label")
    assert result.columns == ["label", "n"] and result.rows == [
        ("negative", 100), ("neutral", 100), ("positive", 100)]


def loaded(url: str, tmp_path: Path) -> dict[str, int]:
    """Load 300 records and 70 scores of each of two versions; return the table counts."""
    ids = [f"r{i}" for i in range(250, 320)]
    return load(url, [str(records_file(tmp_path / "clean.parquet", 300))],
                [str(scores_file(tmp_path / "old.parquet", ids, "aaa.dir")),
                 str(scores_file(tmp_path / "new.parquet", ids, "bbb.dir", shift=1))])


def writes(url: str, tmp_path: Path) -> list[str]:
    """Statements that change the database or the disk, each in one spelling or another."""
    common = ["DELETE FROM scores", "DROP TABLE records", "delete   from\nscores where 1=1",
              "UPDATE records SET label = 'x'", "CREATE TABLE extra (x INTEGER)",
              "INSERT INTO model_versions VALUES ('v', '[]')",
              "WITH gone AS (DELETE FROM scores RETURNING 1) SELECT count(*) FROM gone"]
    if url.startswith("sqlite"):
        return [*common, f"ATTACH DATABASE '{tmp_path / 'attached.db'}' AS other",
                f"VACUUM INTO '{tmp_path / 'copy.db'}'", "PRAGMA user_version = 7",
                "SELECT 1; DELETE FROM scores"]
    return [*common, "COMMIT; DELETE FROM scores", "DELETE FROM scores; COMMIT",
            "TRUNCATE scores CASCADE", "CREATE TEMP TABLE t AS SELECT * FROM scores",
            "DO $$ BEGIN DELETE FROM scores; END $$"]


def test_queries_are_read_only_by_default(url: str, tmp_path: Path) -> None:
    before = loaded(url, tmp_path)
    for sql in writes(url, tmp_path):
        with pytest.raises(WarehouseError, match="query failed"):
            query(url, sql)
        assert table_counts(url) == before, sql
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        "clean.parquet", "new.parquet", "old.parquet", *(
            ["warehouse.db"] if url.startswith("sqlite") else [])]
    assert query(url, "SELECT count(*) FROM scores").rows == [(140,)]


def test_write_commits_and_says_what_changed(url: str, tmp_path: Path) -> None:
    loaded(url, tmp_path)
    result = query(url, "DELETE FROM scores WHERE model_version = 'aaa.dir'", write=True)
    assert result.columns == [] and result.changed == "70 rows affected; scores: 140 -> 70 rows"
    assert table_counts(url)["scores"] == 70
    dropped = query(url, "DROP TABLE scores", write=True)
    assert dropped.changed is not None and "scores: 70 -> absent rows" in dropped.changed
    with pytest.raises(WarehouseError, match="empty query"):
        query(url, "  \n ", write=True)


def test_a_load_that_fails_midway_changes_nothing(url: str, tmp_path: Path) -> None:
    load(url, [str(records_file(tmp_path / "a.parquet", 100))], [])
    before = table_counts(url)
    broken = tmp_path / "broken.parquet"
    pd.DataFrame({"id": ["x"], "body": ["no text column"]}).to_parquet(broken)
    with pytest.raises(InputError, match="no column 'text'"):
        load(url, [str(records_file(tmp_path / "b.parquet", 50000, start=100)), str(broken)],
             [])
    assert table_counts(url) == before == {"records": 100, "model_versions": 0, "scores": 0}


@pytest.mark.slow
def test_a_load_killed_midway_changes_nothing(url: str, tmp_path: Path) -> None:
    load(url, [str(records_file(tmp_path / "a.parquet", 100))], [])
    big = records_file(tmp_path / "big.parquet", 400000, start=100)
    process = subprocess.Popen(
        [SENTIMENT, "warehouse", "load", "--url", url, "--records", str(big)],
        stderr=subprocess.PIPE, text=True, env=tool_env(), cwd=tmp_path)
    assert process.stderr is not None
    for line in process.stderr:  # the first batch is in, the transaction still open
        if "records: 10000 rows" in line:
            process.kill()
            break
    process.wait(timeout=60)
    assert process.returncode == -9
    assert table_counts(url) == {"records": 100, "model_versions": 0, "scores": 0}


def test_wrong_password_is_one_line(postgres: PostgresServer, tmp_path: Path) -> None:
    wrong = postgres.url.replace(postgres.password, "not-the-password")
    result = subprocess.run([SENTIMENT, "warehouse", "query", "SELECT 1"], capture_output=True,
                            text=True, env=tool_env(SENTIMENT_DATABASE_URL=wrong), cwd=tmp_path)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert "password authentication failed" in result.stderr
    assert "not-the-password" not in result.stderr and "***" in result.stderr


def test_cli_defaults_to_sqlite_and_prints_csv(tmp_path: Path) -> None:
    records_file(tmp_path / "clean.parquet", 5)
    load_run = subprocess.run([SENTIMENT, "warehouse", "load", "--records", "clean.parquet"],
                              capture_output=True, text=True, env=tool_env(), cwd=tmp_path)
    assert load_run.returncode == 0, load_run.stderr
    assert "records: 5 rows" in load_run.stdout
    assert (tmp_path / "warehouse" / "sentiment.db").is_file()
    result = subprocess.run([SENTIMENT, "warehouse", "query",
                             "SELECT id, label FROM records ORDER BY id LIMIT 2"],
                            capture_output=True, text=True, env=tool_env(), cwd=tmp_path)
    assert result.stdout == "id,label\nr0,negative\nr1,neutral\n"
    bad = subprocess.run([SENTIMENT, "warehouse", "query", "SELEKT 1"], capture_output=True,
                         text=True, env=tool_env(), cwd=tmp_path)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1
    assert "query failed" in bad.stderr and "SELEKT" in bad.stderr
    assert "read-only" not in bad.stderr


def test_cli_refuses_a_write_without_the_flag_and_reports_one_with_it(tmp_path: Path) -> None:
    records_file(tmp_path / "clean.parquet", 5)
    env = tool_env()
    subprocess.run([SENTIMENT, "warehouse", "load", "--records", "clean.parquet"], check=True,
                   capture_output=True, env=env, cwd=tmp_path)
    refused = subprocess.run([SENTIMENT, "warehouse", "query", "DELETE FROM records"],
                             capture_output=True, text=True, env=env, cwd=tmp_path)
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1
    assert "readonly database (queries are read-only; --write lets one" in refused.stderr
    written = subprocess.run([SENTIMENT, "warehouse", "query", "--write",
                              "DELETE FROM records WHERE id = 'r0'"],
                             capture_output=True, text=True, env=env, cwd=tmp_path)
    assert written.returncode == 0 and written.stdout == ""
    assert "written: 1 rows affected; records: 5 -> 4 rows" in written.stderr
    empty = subprocess.run([SENTIMENT, "warehouse", "query", ""], capture_output=True,
                           text=True, env=env, cwd=tmp_path)
    assert empty.returncode == 2 and "empty query: give one SQL statement" in empty.stderr


def test_query_on_a_missing_sqlite_file_creates_nothing(tmp_path: Path) -> None:
    with pytest.raises(WarehouseError, match="absent.db: no warehouse there"):
        query(f"sqlite:///{tmp_path / 'absent.db'}", "SELECT 1")
    assert list(tmp_path.iterdir()) == []


def test_unsupported_or_unreachable_database_is_an_error() -> None:
    with pytest.raises(WarehouseError, match="unsupported database 'mysql'"):
        load("mysql://u:p@127.0.0.1:1/db", [], [])
    with pytest.raises(WarehouseError, match=r"cannot connect to .*u:\*\*\*@"):
        query("postgresql://u:secret@127.0.0.1:1/db", "SELECT 1")
