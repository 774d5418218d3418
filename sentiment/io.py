"""Deterministic readers and writers for the artifacts the stages exchange."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq


def _partial(path: Path) -> Path:
    """Where ``path`` is written before it is renamed into place (same folder, same disk)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.with_name(f".{path.name}.partial")


def write_json(path: str | Path, payload: Any) -> None:
    """Write JSON with sorted keys and a trailing newline, creating parent folders; an earlier
    file is replaced only once the new one is complete."""
    path = Path(path)
    partial = _partial(path)
    partial.write_text(json.dumps(payload, indent=2, sort_keys=True, ensure_ascii=False) + "\n",
                       encoding="utf-8")
    os.replace(partial, path)


def read_json(path: str | Path) -> Any:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def write_jsonl(path: str | Path, records: Iterable[dict[str, Any]]) -> int:
    """Write one JSON object per line (sorted keys); return the number written. An earlier
    file is replaced only once the new one is complete."""
    path = Path(path)
    partial = _partial(path)
    count = 0
    with partial.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, sort_keys=True, ensure_ascii=False) + "\n")
            count += 1
    os.replace(partial, path)
    return count


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    with Path(path).open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def write_parquet(path: str | Path, frame: pd.DataFrame) -> None:
    """Write a frame without its index; parquet output is byte-stable for identical input."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.reset_index(drop=True).to_parquet(path, index=False, compression="zstd")


def read_parquet(path: str | Path) -> pd.DataFrame:
    return pd.read_parquet(path)


# --- Streaming: every stage reads and writes its rows in batches, so its memory is bounded by
# a batch, not the data set. Output bytes never depend on the read batch size: the writer cuts
# row groups of ROW_GROUP_ROWS rows, whatever sizes it is handed.

#: Rows a stage reads, processes and hands to the writer at a time (``--batch-rows`` in tests).
BATCH_ROWS = 20_000
#: Rows per parquet row group of every streamed output (part of the output's bytes).
ROW_GROUP_ROWS = 10_000


def iter_jsonl(path: str | Path, batch_rows: int = BATCH_ROWS
               ) -> Iterator[list[dict[str, Any]]]:
    """The records of a JSONL file, ``batch_rows`` at a time, read line by line."""
    batch: list[dict[str, Any]] = []
    with Path(path).open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                batch.append(json.loads(line))
                if len(batch) >= batch_rows:
                    yield batch
                    batch = []
    if batch:
        yield batch


def parquet_schema(path: str | Path) -> pa.Schema:
    """The Arrow schema of a parquet file, without pandas metadata."""
    return pq.read_schema(path).remove_metadata()


def parquet_rows(path: str | Path) -> int:
    return pq.ParquetFile(path).metadata.num_rows


def iter_parquet(path: str | Path, batch_rows: int = BATCH_ROWS,
                 columns: list[str] | None = None) -> Iterator[pd.DataFrame]:
    """A parquet file as DataFrames of at most ``batch_rows`` rows (fresh RangeIndex each)."""
    with pq.ParquetFile(path) as source:
        for batch in source.iter_batches(batch_size=batch_rows, columns=columns):
            yield batch.to_pandas()


class ParquetStreamWriter:
    """Write DataFrames with one explicit schema into row groups of exactly ``row_group_rows``
    rows (the last may be shorter): the file's bytes depend on the rows, not on how they were
    batched. An optional column that is all-null in one batch keeps its declared type."""

    def __init__(self, path: str | Path, schema: pa.Schema,
                 row_group_rows: int = ROW_GROUP_ROWS) -> None:
        self.path, self.schema, self.row_group_rows = Path(path), schema.remove_metadata(), \
            row_group_rows
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._writer = pq.ParquetWriter(self.path, self.schema, compression="zstd")
        self._pending: list[pa.Table] = []
        self._pending_rows = 0
        self.rows = 0

    def write(self, frame: pd.DataFrame) -> None:
        if frame.empty:
            return
        table = pa.Table.from_pandas(frame.reset_index(drop=True), schema=self.schema,
                                     preserve_index=False).replace_schema_metadata(None)
        self._pending.append(table)
        self._pending_rows += table.num_rows
        self.rows += table.num_rows
        if self._pending_rows >= self.row_group_rows:
            self._flush(final=False)

    def _flush(self, final: bool) -> None:
        table = pa.concat_tables(self._pending).combine_chunks()
        full = table.num_rows if final else table.num_rows - table.num_rows % self.row_group_rows
        for start in range(0, full, self.row_group_rows):
            self._writer.write_table(table.slice(start, self.row_group_rows),
                                     row_group_size=self.row_group_rows)
        rest = table.slice(full)
        self._pending = [rest] if rest.num_rows else []
        self._pending_rows = rest.num_rows

    def close(self) -> None:
        if self._pending_rows:
            self._flush(final=True)
        self._writer.close()

    def __enter__(self) -> ParquetStreamWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
