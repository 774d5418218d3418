"""Tabular inputs read in chunks: a csv, jsonl or parquet file, a folder of them, an S3 prefix.

Each chunk is a DataFrame with the columns asked for, checked as it is read: a missing column,
an empty file or a non-text column raises ``InputError`` naming the file and the column.
S3 credentials and endpoint come from the usual ``AWS_*`` environment variables
(``AWS_ENDPOINT_URL`` for a server other than AWS).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from sentiment.errors import InputError

log = logging.getLogger(__name__)

FORMATS = (".csv", ".jsonl", ".parquet")


@dataclass(frozen=True)
class Source:
    """One input file on a filesystem (local or S3)."""

    fs: Any
    path: str
    url: str

    @property
    def suffix(self) -> str:
        return os.path.splitext(self.path)[1].lower()


def _filesystem(location: str) -> tuple[Any, str]:
    import fsspec

    options: dict[str, Any] = {}
    if location.startswith("s3://"):
        # It logs where it found the credentials at INFO: noise in a one-line error.
        logging.getLogger("aiobotocore.credentials").setLevel(logging.WARNING)
        endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
        options = {"client_kwargs": {"endpoint_url": endpoint}} if endpoint else {}
    return fsspec.core.url_to_fs(location, **options)


def list_sources(location: str) -> list[Source]:
    """The input files at ``location`` (a file, or every csv/jsonl/parquet file below a folder
    or prefix), sorted by path so that the row order is stable."""
    fs, path = _filesystem(location)
    scheme = location.split("://", 1)[0] + "://" if "://" in location else ""
    try:
        if fs.isdir(path):
            found = sorted(name for name in fs.find(path)
                           if os.path.splitext(name)[1].lower() in FORMATS)
            if not found:
                raise InputError(f"{location}: no {', '.join(FORMATS)} files in it")
        elif fs.isfile(path):
            found = [path]
        else:
            raise InputError(f"{location}: no such file or folder")
    except (OSError, PermissionError) as error:
        raise InputError(f"{location}: cannot list ({error})") from None
    sources = [Source(fs, name, scheme + name if scheme else name) for name in found]
    for source in sources:
        if source.suffix not in FORMATS:
            raise InputError(f"{source.url}: unsupported extension "
                             f"{source.suffix or '(none)'!r}; use one of {', '.join(FORMATS)}")
    return sources


def total_parquet_rows(sources: Sequence[Source]) -> int | None:
    """The total row count when every source is parquet (its footer says), else None."""
    if not all(source.suffix == ".parquet" for source in sources):
        return None
    total = 0
    for source in sources:
        with source.fs.open(source.path, "rb") as handle:
            total += pq.ParquetFile(handle).metadata.num_rows
    return total


def _check_columns(source: Source, present: Sequence[str], required: Sequence[str]) -> None:
    missing = [column for column in required if column not in present]
    if missing:
        raise InputError(f"{source.url}: no column {missing[0]!r} (columns: "
                         f"{', '.join(map(str, present)) or 'none'})")


def _check_text(source: Source, frame: pd.DataFrame, columns: Sequence[str]) -> None:
    for column in columns:
        values = frame[column]
        bad = values[values.notna() & ~values.map(lambda value: isinstance(value, str))]
        if len(bad):
            raise InputError(f"{source.url}: column {column!r} holds non-text values "
                             f"(e.g. {bad.iloc[0]!r} of type {type(bad.iloc[0]).__name__})")


def _parquet_chunks(source: Source, handle: Any, columns: Sequence[str],
                    optional: Sequence[str], text: Sequence[str],
                    chunk_rows: int) -> Iterator[pd.DataFrame]:
    parquet = pq.ParquetFile(handle)
    schema = parquet.schema_arrow
    _check_columns(source, schema.names, columns)
    for column in text:
        kind = schema.field(column).type
        if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)
                or pa.types.is_string_view(kind) or pa.types.is_null(kind)):
            raise InputError(f"{source.url}: column {column!r} holds {kind}, not text")
    wanted = [*columns, *(name for name in optional if name in schema.names)]
    for batch in parquet.iter_batches(batch_size=chunk_rows, columns=wanted):
        yield batch.to_pandas()


def _text_chunks(source: Source, handle: Any, columns: Sequence[str], text: Sequence[str],
                 chunk_rows: int) -> Iterator[pd.DataFrame]:
    if source.suffix == ".csv":
        reader = pd.read_csv(handle, dtype=str, keep_default_na=False, chunksize=chunk_rows)
    else:
        reader = pd.read_json(handle, lines=True, dtype=False, chunksize=chunk_rows)
    with reader:
        for frame in reader:
            _check_columns(source, list(frame.columns), columns)
            _check_text(source, frame, text)
            yield frame


def read_chunks(sources: Sequence[Source], columns: Sequence[str], *,
                optional: Sequence[str] = (), text: Sequence[str] = (),
                chunk_rows: int = 20000) -> Iterator[pd.DataFrame]:
    """Chunks of at most ``chunk_rows`` rows of every source in turn, holding ``columns``
    (required), those of ``optional`` that the source has, and checking that the ``text``
    columns hold strings (or nothing). Raises ``InputError`` on an empty file, a missing
    column or unreadable content."""
    for source in sources:
        if source.fs.size(source.path) == 0:
            raise InputError(f"{source.url}: empty file")
        try:
            with source.fs.open(source.path, "rb") as handle:
                if source.suffix == ".parquet":
                    chunks = _parquet_chunks(source, handle, columns, optional, text, chunk_rows)
                else:
                    chunks = _text_chunks(source, handle, columns, text, chunk_rows)
                for frame in chunks:
                    keep = [*columns, *(name for name in optional
                                        if name in frame.columns and name not in columns)]
                    yield frame[keep].reset_index(drop=True)
        except (ValueError, OSError, pa.ArrowException) as error:
            if isinstance(error, InputError):
                raise
            first = str(error).strip().splitlines()[0] if str(error).strip() else type(error)
            raise InputError(f"{source.url}: unreadable as {source.suffix[1:]} ({first})") \
                from None


def read_frame(location: str, columns: Sequence[str], *, optional: Sequence[str] = (),
               text: Sequence[str] = ()) -> pd.DataFrame:
    """Every row at ``location`` as one DataFrame (for inputs that fit in memory)."""
    frames = list(read_chunks(list_sources(location), columns, optional=optional, text=text))
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)
    if frame.empty:
        raise InputError(f"{location}: no rows")
    return frame
