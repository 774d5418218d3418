"""Tabular inputs read in chunks: a csv, jsonl or parquet file, a folder of them, an S3 prefix.

Each chunk is a DataFrame with the columns asked for, checked as it is read: a missing column,
an empty file, a non-text value, a byte sequence that is not UTF-8 or (for the texts to predict)
an empty or whitespace-only text raises ``InputError`` naming the file, the column and the row
or line. Row N of a chunk is row N of its file: a blank line of a CSV or JSON-lines file is a
row without values (refused where a text is required), never skipped, so outputs stay aligned
with inputs.
S3 credentials and endpoint come from the usual ``AWS_*`` environment variables
(``AWS_ENDPOINT_URL`` for a server other than AWS).
"""

from __future__ import annotations

import io
import json
import logging
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from sentiment.data.formats import FORMATS, row_numbers
from sentiment.data.text import is_blank
from sentiment.errors import InputError

log = logging.getLogger(__name__)



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
    except InputError:
        raise
    except Exception as error:  # noqa: BLE001 (fsspec's backends raise their own: botocore's)
        raise InputError(f"{location}: cannot list ({_first_line(error)})") from None
    sources = [Source(fs, name, scheme + name if scheme else name) for name in found]
    for source in sources:
        if source.suffix not in FORMATS:
            raise InputError(f"{source.url}: unsupported extension "
                             f"{source.suffix or '(none)'!r}; use one of {', '.join(FORMATS)}")
    return sources


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def total_parquet_rows(sources: Sequence[Source]) -> int | None:
    """The total row count when every source is parquet (its footer says), else None."""
    if not all(source.suffix == ".parquet" for source in sources):
        return None
    total = 0
    for source in sources:
        try:
            with source.fs.open(source.path, "rb") as handle:
                total += pq.ParquetFile(handle).metadata.num_rows
        except (OSError, pa.ArrowException) as error:
            raise InputError(f"{source.url}: unreadable as parquet ({_first_line(error)})") \
                from None
    return total


def _check_columns(source: Source, present: Sequence[str], required: Sequence[str]) -> None:
    missing = [column for column in required if column not in present]
    if missing:
        raise InputError(f"{source.url}: no column {missing[0]!r} (columns: "
                         f"{', '.join(map(str, present)) or 'none'})")


def _check_text(source: Source, frame: pd.DataFrame, columns: Sequence[str],
                first_row: int) -> None:
    """Text columns hold strings (or nothing), each encodable as UTF-8 (no lone surrogate)."""
    for column in columns:
        for row, value in enumerate(frame[column], start=first_row):
            if value is None or value != value:
                continue
            if not isinstance(value, str):
                raise InputError(f"{source.url} row {row}: column {column!r} holds "
                                 f"{type(value).__name__} {value!r}, not text")
            try:
                value.encode("utf-8")
            except UnicodeEncodeError as error:
                raise InputError(f"{source.url} row {row}: not valid UTF-8 (lone surrogate "
                                 f"U+{ord(value[error.start]):04X})") from None


def _check_not_blank(source: Source, frame: pd.DataFrame, columns: Sequence[str],
                     first_row: int) -> None:
    """The texts to predict: refused, by row, when missing, empty or whitespace-only."""
    for column in columns:
        blank = [row for row, value in enumerate(frame[column], start=first_row)
                 if not isinstance(value, str) or is_blank(value)]
        if blank:
            raise InputError(f"{source.url} row {row_numbers(blank)}: empty or whitespace-only "
                             f"text in {column!r}; remove the row or give it text (predict, "
                             "score and the service all refuse blank texts)")


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


def _bad_utf8_line(source: Source) -> str:
    """Where a file stops being UTF-8: ``line N: not UTF-8 (byte 0x..)`` (read line by line)."""
    with source.fs.open(source.path, "rb") as handle:
        for number, line in enumerate(handle, start=1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError as error:
                return f"line {number}: not UTF-8 (byte {line[error.start]:#04x})"
    return "not UTF-8"


def _csv_chunks(handle: Any, chunk_rows: int) -> Iterator[pd.DataFrame]:
    """Every value as text; a blank line is a row of empty values (not skipped)."""
    text = io.TextIOWrapper(handle, encoding="utf-8-sig", newline="")
    with pd.read_csv(text, dtype=str, keep_default_na=False, skip_blank_lines=False,
                     chunksize=chunk_rows) as reader:
        yield from reader


def _jsonl_chunks(source: Source, handle: Any, chunk_rows: int) -> Iterator[pd.DataFrame]:
    """One object per line, read with the standard library (pandas' reader drops lone
    surrogates and turns a blank line into nothing); a blank line is a row without values."""
    records: list[dict[str, Any]] = []
    for number, raw in enumerate(handle, start=1):
        line = raw.decode("utf-8-sig" if number == 1 else "utf-8")
        try:
            record = {} if is_blank(line) else json.loads(line)
        except json.JSONDecodeError as error:
            raise InputError(f"{source.url} line {number}: not valid JSON ({error.msg})") \
                from None
        if not isinstance(record, dict):
            raise InputError(f"{source.url} line {number}: not a JSON object")
        records.append(record)
        if len(records) == chunk_rows:
            yield pd.DataFrame(records, dtype=object)
            records = []
    if records:
        yield pd.DataFrame(records, dtype=object)


def _text_chunks(source: Source, handle: Any, columns: Sequence[str],
                 chunk_rows: int) -> Iterator[pd.DataFrame]:
    chunks = (_csv_chunks(handle, chunk_rows) if source.suffix == ".csv"
              else _jsonl_chunks(source, handle, chunk_rows))
    for index, frame in enumerate(chunks):
        if index == 0:
            _check_columns(source, list(frame.columns), columns)
        yield frame.reindex(columns=[*frame.columns, *(
            name for name in columns if name not in frame.columns)])


def read_chunks(sources: Sequence[Source], columns: Sequence[str], *,
                optional: Sequence[str] = (), text: Sequence[str] = (),
                not_blank: Sequence[str] = (), chunk_rows: int = 20000
                ) -> Iterator[pd.DataFrame]:
    """Chunks of at most ``chunk_rows`` rows of every source in turn, holding ``columns``
    (required) and those of ``optional`` that the source has; the ``text`` columns must hold
    strings (or nothing), the ``not_blank`` ones non-blank strings in every row. Raises
    ``InputError`` on an empty file, a missing column or unreadable content."""
    for source in sources:
        try:
            if source.fs.size(source.path) == 0:
                raise InputError(f"{source.url}: empty file")
            with source.fs.open(source.path, "rb") as handle:
                if source.suffix == ".parquet":
                    chunks = _parquet_chunks(source, handle, columns, optional,
                                             [*text, *not_blank], chunk_rows)
                else:
                    chunks = _text_chunks(source, handle, columns, chunk_rows)
                first_row = 1
                for frame in chunks:
                    _check_text(source, frame, dict.fromkeys([*text, *not_blank]), first_row)
                    _check_not_blank(source, frame, not_blank, first_row)
                    keep = [*columns, *(name for name in optional
                                        if name in frame.columns and name not in columns)]
                    yield frame[keep].reset_index(drop=True)
                    first_row += len(frame)
        except InputError:
            raise
        except UnicodeDecodeError:
            raise InputError(f"{source.url} {_bad_utf8_line(source)}; convert it, e.g. with "
                             "`iconv -f latin1 -t utf-8`") from None
        except (ValueError, OSError, pa.ArrowException) as error:
            raise InputError(f"{source.url}: unreadable as {source.suffix[1:]} "
                             f"({_first_line(error)})") from None


def read_frame(location: str, columns: Sequence[str], *, optional: Sequence[str] = (),
               text: Sequence[str] = (), not_blank: Sequence[str] = ()) -> pd.DataFrame:
    """Every row at ``location`` as one DataFrame (for inputs that fit in memory)."""
    frames = list(read_chunks(list_sources(location), columns, optional=optional, text=text,
                              not_blank=not_blank))
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)
    if frame.empty:
        raise InputError(f"{location}: no rows")
    return frame
