"""Records from the data a team already has: files, S3 objects or a SQL query, by params alone.

The first stage reads the source through ``sentiment.data.tables`` a batch at a time, maps the
columns ``scrape.columns`` names to record fields, checks each value (a rating that is not a
number, a label outside ``clean.label_map``, an empty id or text, two texts under one id are
one-line ``InputError``s naming the file, row and column) and writes the raw JSONL records
sorted by id, as the crawl does. With an id column the records are sorted on disk (sorted runs,
then a merge), so memory stays a batch whatever the source's size. The output is written to a
temporary file and renamed, so a failure leaves an earlier output as it was.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import heapq
import json
import math
import os
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import count
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sentiment.data.tables import list_sources, read_chunks, read_sql_chunks, sql_url
from sentiment.errors import InputError
from sentiment.params.scrape import ScrapeParams

#: Record fields whose values must be numbers.
NUMERIC = ("rating", "confidence")
RUN_ROWS = 50_000  # records per sorted run on disk
DECODE_HINT = "set scrape.files.encoding (e.g. latin-1 or cp1252)"


@dataclass
class SourceTally:
    """What was read: each input's fingerprint (or the query) and the row counts."""

    read: list[dict[str, Any]] = field(default_factory=list)
    rows_read: int = 0
    duplicate_ids: int = 0

    def report(self, source: str, records_kept: int) -> dict[str, Any]:
        return {"source": source, "read": self.read, "rows_read": self.rows_read,
                "duplicate_ids": self.duplicate_ids, "records_kept": records_kept}


def _plain(value: Any) -> Any:
    """A JSON value for one cell; None where it is missing."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, np.generic):
        return _plain(value.item())
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, str | int | float | bool):
        return value
    if pd.isna(value) is True:
        return None
    return str(value)


def _number(value: Any, where: str, column: str, key: str) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if math.isnan(number) or isinstance(value, bool):
        raise InputError(f"{where}: column {column!r} (scrape.columns.{key}) holds "
                         f"{value!r}, not a number")
    return number


class RecordMaker:
    """Turns a chunk of source rows into raw records, checking each value."""

    def __init__(self, scrape: ScrapeParams, label_map: dict[str, str] | None) -> None:
        self.fields = scrape.columns.fields()
        self.labels = ({key.strip().lower() for key in label_map}
                       if label_map is not None and scrape.columns.label else None)
        self.numbers = count(1)

    @property
    def columns(self) -> list[str]:
        return list(dict.fromkeys(self.fields.values()))

    def records(self, frame: pd.DataFrame, name: str, first_row: int) -> Iterator[dict]:
        """The records of ``frame``; row numbers (1-based data rows) start at ``first_row``."""
        columns = {name_: frame[column].tolist() for name_, column in self.fields.items()}
        for offset in range(len(frame)):
            where = f"{name} row {first_row + offset}"
            record: dict[str, Any] = {}
            for key, values in columns.items():
                value = _plain(values[offset])
                if key in NUMERIC:
                    value = _number(value, where, self.fields[key], key)
                if value is not None and value != "":
                    record[key] = value
            text = record.get("text")
            if not isinstance(text, str):
                raise InputError(f"{where}: column {self.fields['text']!r} "
                                 "(scrape.columns.text) is empty")
            if "id" in self.fields:
                if "id" not in record:
                    raise InputError(f"{where}: column {self.fields['id']!r} "
                                     "(scrape.columns.id) is empty")
                record["id"] = str(record["id"])
            else:
                record["id"] = f"row-{next(self.numbers):010d}"
            label = record.get("label")
            if self.labels is not None and label is not None \
                    and str(label).strip().lower() not in self.labels:
                raise InputError(f"{where}: label {label!r} in column {self.fields['label']!r} "
                                 f"is not in clean.label_map ({', '.join(sorted(self.labels))})")
            yield record | {"_where": where}


def _frames(scrape: ScrapeParams, columns: list[str], tally: SourceTally, chunk_rows: int
            ) -> Iterator[tuple[pd.DataFrame, str, int]]:
    """(chunk, source name, first row number) for every chunk of the source, in order."""
    if scrape.source == "sql":
        statement = scrape.sql.statement()
        shown = sql_url(scrape.sql.url).render_as_string(hide_password=True)
        digest = hashlib.blake2b(digest_size=16)
        rows = 0
        for frame in read_sql_chunks(scrape.sql.url, statement, columns, chunk_rows=chunk_rows):
            digest.update(frame.to_json(orient="values", date_format="iso").encode())
            yield frame, "query", rows + 1
            rows += len(frame)
        tally.read.append({"url": shown, "query": statement, "rows": rows,
                           "blake2b": digest.hexdigest()})
        return
    files = scrape.files
    for source in list_sources(files.location):
        tally.read.append(source.fingerprint())
        rows = 0
        for frame in read_chunks([source], columns, text=[scrape.columns.text],
                                 chunk_rows=chunk_rows, delimiter=files.delimiter,
                                 encoding=files.encoding, decode_hint=DECODE_HINT):
            yield frame, source.url, rows + 1
            rows += len(frame)
        if not rows:
            raise InputError(f"{source.url}: no rows (a header only)")


def _write_run(records: list[dict], folder: Path, index: int) -> Path:
    path = folder / f"run-{index:05d}.jsonl"
    records.sort(key=lambda record: record["id"])
    with path.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, sort_keys=True, ensure_ascii=False) + "\n")
    return path


def _read_run(path: Path) -> Iterator[dict]:
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            yield json.loads(line)


def _unique(records: Iterable[dict], tally: SourceTally) -> Iterator[dict]:
    """Records sorted by id with repeats of an id and text dropped; an id holding two
    different texts is an ``InputError`` naming both rows."""
    previous: tuple[str, str, str] | None = None  # id, text, where
    for record in records:
        where = record.pop("_where")
        if previous is not None and record["id"] == previous[0]:
            if record["text"] != previous[1]:
                raise InputError(f"duplicate id {record['id']!r} with different texts: "
                                 f"{previous[2]} and {where}")
            tally.duplicate_ids += 1
            continue
        previous = record["id"], record["text"], where
        yield record


def write_records(scrape: ScrapeParams, label_map: dict[str, str] | None, output: Path,
                  chunk_rows: int = 20_000) -> tuple[int, SourceTally]:
    """Read the source ``scrape`` names into ``output`` (JSONL sorted by id), replacing it only
    once every row has been read and checked; return the records written and the tally."""
    maker, tally = RecordMaker(scrape, label_map), SourceTally()
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=output.parent, prefix=".source-") as folder:
        runs, pending = [], []
        for frame, name, first_row in _frames(scrape, maker.columns, tally, chunk_rows):
            tally.rows_read += len(frame)
            pending.extend(maker.records(frame, name, first_row))
            if len(pending) >= RUN_ROWS:
                runs.append(_write_run(pending, Path(folder), len(runs)))
                pending = []
        if pending or not runs:
            runs.append(_write_run(pending, Path(folder), len(runs)))
        merged = heapq.merge(*(_read_run(run) for run in runs), key=lambda r: r["id"])
        partial = Path(folder) / "records.jsonl"
        written = 0
        with partial.open("w", encoding="utf-8") as handle:
            for record in _unique(merged, tally):
                handle.write(json.dumps(record, sort_keys=True, ensure_ascii=False) + "\n")
                written += 1
        os.replace(partial, output)
    return written, tally
