"""The SQL warehouse: cleaned records, scores and model versions, through SQLAlchemy.

The embedded default is SQLite in a git-ignored file; ``SENTIMENT_DATABASE_URL`` (or ``--url``)
points the same code at PostgreSQL. Tables (created if missing):

- ``records``: ``id`` (primary key), ``text``, ``text_norm``, ``label`` (the human label;
  NULL for records known only from scoring).
- ``model_versions``: ``version`` (primary key: the model folder's content hash), ``labels``
  (JSON list of its classes).
- ``scores``: ``record_id`` → ``records.id``, ``model_version`` → ``model_versions.version``,
  ``label``, ``confidence``, ``probabilities`` (JSON object); primary key
  ``(record_id, model_version)``; index ``ix_scores_version_label``.

A load is one transaction of upserts keyed by those primary keys: loading the same files
twice changes nothing, and a load that fails or is killed midway leaves the database as it was.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from sentiment.data.tables import list_sources, read_chunks
from sentiment.errors import InputError
from sentiment.monitoring.score import PROB_PREFIX

log = logging.getLogger(__name__)

URL_VARIABLE = "SENTIMENT_DATABASE_URL"
BATCH_ROWS = 10000  # rows per executemany

metadata = sa.MetaData()
records = sa.Table(
    "records", metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("text_norm", sa.Text),
    sa.Column("label", sa.Text),
)
model_versions = sa.Table(
    "model_versions", metadata,
    sa.Column("version", sa.Text, primary_key=True),
    sa.Column("labels", sa.Text, nullable=False),
)
scores = sa.Table(
    "scores", metadata,
    sa.Column("record_id", sa.Text, sa.ForeignKey("records.id"), primary_key=True),
    sa.Column("model_version", sa.Text, sa.ForeignKey("model_versions.version"),
              primary_key=True),
    sa.Column("label", sa.Text, nullable=False),
    sa.Column("confidence", sa.Float, nullable=False),
    sa.Column("probabilities", sa.Text, nullable=False),
    sa.Index("ix_scores_version_label", "model_version", "label"),
)
INSERTS: dict[str, Callable[[sa.Table], Any]] = {
    "sqlite": sqlite.insert, "postgresql": postgresql.insert}


class WarehouseError(RuntimeError):
    """The database cannot be reached or refused the work; one line, password hidden."""


def database_url(url: str | None, default_path: str | Path) -> str:
    """``url``, else ``$SENTIMENT_DATABASE_URL``, else SQLite at ``default_path``."""
    chosen = url or os.environ.get(URL_VARIABLE)
    if chosen:
        return chosen
    Path(default_path).parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{default_path}"


def _first_line(error: BaseException) -> str:
    cause = getattr(error, "orig", None) or error
    text = str(cause).strip()
    return text.splitlines()[0] if text else type(cause).__name__


def connect(url: str) -> sa.Engine:
    """An engine for ``url``, checked by connecting once."""
    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError as error:
        raise WarehouseError(f"invalid database URL: {_first_line(error)}") from None
    shown = parsed.render_as_string(hide_password=True)
    if parsed.get_backend_name() not in INSERTS:
        raise WarehouseError(f"{shown}: unsupported database {parsed.get_backend_name()!r} "
                             f"(use one of {', '.join(INSERTS)})")
    if parsed.drivername == "postgresql":  # SQLAlchemy's default driver is psycopg2
        parsed = parsed.set(drivername="postgresql+psycopg")
    try:
        engine = sa.create_engine(parsed)
    except (sa.exc.ArgumentError, ImportError) as error:
        raise WarehouseError(f"{shown}: {_first_line(error)}") from None
    try:
        with engine.connect():
            pass
    except sa.exc.DBAPIError as error:
        raise WarehouseError(f"cannot connect to {shown}: {_first_line(error)}") from None
    return engine


def _upsert(connection: sa.Connection, table: sa.Table, rows: list[dict[str, Any]],
            update: bool) -> None:
    """Insert ``rows``; on a primary-key conflict update the other columns (or keep the old)."""
    if not rows:
        return
    statement = INSERTS[connection.dialect.name](table)
    keys = [column.name for column in table.primary_key.columns]
    if update:
        statement = statement.on_conflict_do_update(
            index_elements=keys,
            set_={name: statement.excluded[name] for name in rows[0] if name not in keys})
    else:
        statement = statement.on_conflict_do_nothing(index_elements=keys)
    connection.execute(statement, rows)


def _batches(frame: pd.DataFrame, keys: Sequence[str]) -> Iterator[list[dict[str, Any]]]:
    frame = frame.drop_duplicates(subset=list(keys), keep="last")
    frame = frame.astype(object).where(frame.notna(), None)
    for start in range(0, len(frame), BATCH_ROWS):
        yield frame.iloc[start : start + BATCH_ROWS].to_dict("records")


def _probability_columns(path: str) -> list[str]:
    import pyarrow.parquet as pq

    names: list[str] = []
    for source in list_sources(path):
        if source.suffix != ".parquet":
            raise InputError(f"{source.url}: scores must be the parquet `sentiment score` writes")
        with source.fs.open(source.path, "rb") as handle:
            names = pq.ParquetFile(handle).schema_arrow.names
    columns = [name for name in names if name.startswith(PROB_PREFIX)]
    if not columns:
        raise InputError(f"{path}: no {PROB_PREFIX}<label> columns (not a scores file)")
    return columns


def load_records(connection: sa.Connection, path: str) -> int:
    """Upsert cleaned records (``id``, ``text``, optional ``text_norm`` and ``label``)."""
    count = 0
    for chunk in read_chunks(list_sources(path), ["id", "text"], optional=["text_norm", "label"],
                             text=["text"], chunk_rows=BATCH_ROWS):
        chunk["id"] = chunk["id"].astype(str)
        for rows in _batches(chunk, ["id"]):
            _upsert(connection, records, rows, update=True)
            count += len(rows)
            log.info("records: %d rows from %s", count, path)
    return count


def load_scores(connection: sa.Connection, path: str) -> int:
    """Upsert scores, their model versions, and the records they score (kept if present)."""
    probabilities = _probability_columns(path)
    labels = [name.removeprefix(PROB_PREFIX) for name in probabilities]
    required = ["id", "text", "label", "confidence", "model_version", *probabilities]
    count = 0
    for chunk in read_chunks(list_sources(path), required, text=["id", "text", "label"],
                             chunk_rows=BATCH_ROWS):
        versions = [{"version": version, "labels": json.dumps(labels)}
                    for version in sorted(chunk["model_version"].unique())]
        _upsert(connection, model_versions, versions, update=True)
        _upsert(connection, records, [{"id": str(i), "text": t} for i, t in
                                      zip(chunk["id"], chunk["text"], strict=True)],
                update=False)
        rows = pd.DataFrame({
            "record_id": chunk["id"], "model_version": chunk["model_version"],
            "label": chunk["label"], "confidence": chunk["confidence"].astype(float),
            "probabilities": [json.dumps(dict(zip(labels, map(float, row), strict=True)))
                              for row in chunk[probabilities].to_numpy()],
        })
        for batch in _batches(rows, ["record_id", "model_version"]):
            _upsert(connection, scores, batch, update=True)
            count += len(batch)
        log.info("scores: %d rows from %s", count, path)
    return count


def load(url: str, records_paths: Sequence[str], scores_paths: Sequence[str]) -> dict[str, int]:
    """Load the files in one transaction; return the row count of each table afterwards."""
    engine = connect(url)
    try:
        metadata.create_all(engine)
        with engine.begin() as connection:
            for path in records_paths:
                load_records(connection, path)
            for path in scores_paths:
                load_scores(connection, path)
        return counts(engine)
    except sa.exc.DBAPIError as error:
        raise WarehouseError(f"load failed, nothing written: {_first_line(error)}") from None
    finally:
        engine.dispose()


def counts(engine: sa.Engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {table.name: connection.execute(
                    sa.select(sa.func.count()).select_from(table)).scalar_one()
                for table in metadata.sorted_tables}


@dataclass(frozen=True)
class QueryResult:
    """A statement's column names and rows, and with ``write`` what it changed."""

    columns: list[str]
    rows: list[Any]
    changed: str | None = None  # e.g. "2 rows affected; scores: 140 -> 138 rows"


def _read_only_url(url: sa.URL) -> sa.URL:
    """A SQLite URL opened read-only (``mode=ro``): no write, no new file, no ATTACH of one."""
    path = url.database or ""
    if path in ("", ":memory:") or not Path(path).is_file():
        raise WarehouseError(f"{path or 'an in-memory database'}: no warehouse there "
                             "(run `sentiment warehouse load` first)")
    return url.set(database=f"{Path(path).resolve().as_uri()}?mode=ro", query={"uri": "true"})


def _sqlite_read_only(action: int, name: str | None, value: str | None, *_: object) -> int:
    """SQLite authorizer: no ATTACH (it would create a file, even read-only; VACUUM INTO is
    one), no DETACH, no PRAGMA that sets a value."""
    import sqlite3

    refused = action in (sqlite3.SQLITE_ATTACH, sqlite3.SQLITE_DETACH) or (
        action == sqlite3.SQLITE_PRAGMA and value is not None)
    return sqlite3.SQLITE_DENY if refused else sqlite3.SQLITE_OK


def _table_rows(connection: sa.Connection) -> dict[str, int]:
    """Rows of every table in the database (what a write is reported against)."""
    names = sorted(sa.inspect(connection).get_table_names())
    return {name: connection.execute(sa.select(sa.func.count()).select_from(
        sa.table(name))).scalar_one() for name in names}


def _changes(before: dict[str, int], after: dict[str, int], affected: int) -> str:
    rows = f"{affected} rows affected" if affected >= 0 else "no row count"
    tables = [f"{name}: {before.get(name, 'absent')} -> {after.get(name, 'absent')} rows"
              for name in sorted(before.keys() | after.keys())
              if before.get(name) != after.get(name)]
    return "; ".join([rows, *tables]) if tables else f"{rows}; no table's row count changed"


def _execute(connection: sa.Connection, sql: str) -> tuple[list[str], list[Any], int]:
    """One statement through the driver's own cursor, without parameters ('%' and ':' mean
    what SQL says). PostgreSQL gets it prepared (the extended protocol), so a string of several
    statements, such as ``COMMIT; DELETE ...``, is refused; SQLite's driver refuses one itself."""
    cursor = connection.connection.cursor()
    if connection.dialect.name == "postgresql":
        cursor.execute(sql, prepare=True)
    else:
        cursor.execute(sql)
    if cursor.description is None:
        return [], [], cursor.rowcount
    return [column[0] for column in cursor.description], cursor.fetchall(), cursor.rowcount


def query(url: str, sql: str, write: bool = False) -> QueryResult:
    """Run one SQL statement; return its columns and rows (none for a statement without).

    Read-only unless ``write``: SQLite is opened read-only and PostgreSQL runs the statement in
    a READ ONLY transaction that is rolled back, so a DELETE, DROP or ATTACH fails, whatever
    its spelling. With ``write`` the statement is committed and what it changed reported."""
    if not sql.strip():
        raise WarehouseError("empty query: give one SQL statement")
    parsed = sa.make_url(url) if "://" in url else None
    if parsed is not None and parsed.get_backend_name() == "sqlite" and not write:
        url = _read_only_url(parsed).render_as_string(hide_password=False)
    engine = connect(url)
    try:
        with engine.connect() as connection:
            before = _table_rows(connection) if write else {}
            connection.rollback()  # what follows is the driver's own transaction
            driver = connection.connection
            if not write and connection.dialect.name == "postgresql":
                driver.cursor().execute("SET TRANSACTION READ ONLY")
            elif not write:
                driver.dbapi_connection.set_authorizer(_sqlite_read_only)
            try:
                columns, rows, affected = _execute(connection, sql)
            except BaseException:
                driver.rollback()
                raise
            if not write:
                driver.rollback()
                return QueryResult(columns, rows)
            driver.commit()
            return QueryResult(columns, rows, _changes(before, _table_rows(connection), affected))
    except (sa.exc.DBAPIError, engine.dialect.loaded_dbapi.Error) as error:
        message = _first_line(error)
        refused = not write and any(word in message.lower() for word in (
            "read-only", "readonly", "read only", "not authorized", "authorization denied"))
        hint = " (queries are read-only; --write lets one change the database)" if refused \
            else ""
        raise WarehouseError(f"query failed: {message}{hint}") from None
    finally:
        engine.dispose()
