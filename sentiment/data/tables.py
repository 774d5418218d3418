"""Tabular inputs read in chunks: a csv, tsv, jsonl or parquet file (optionally gzip- or
zip-compressed), a folder of them, a glob, an S3 prefix, or a SQL query.

Each chunk is a DataFrame with the columns asked for, checked as it is read: a missing column,
an empty file, a non-text value, bytes that are not in the stated encoding (UTF-8 unless told),
a truncated archive or (for the texts to predict) an empty or whitespace-only text raises
``InputError`` naming the file, the column and the row or line. Row N of a chunk is row N of
its file: a blank line of a CSV, TSV or JSON-lines file is a row without values (refused where
a text is required), never skipped, so outputs stay aligned with inputs.
S3 credentials and endpoint come from the usual ``AWS_*`` environment variables
(``AWS_ENDPOINT_URL`` for a server other than AWS); a SQL password from ``SQL_PASSWORD_ENV``,
never from a committed URL.
"""

from __future__ import annotations

import codecs
import gzip
import hashlib
import io
import json
import logging
import os
import zipfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from sentiment.data.formats import CONVERT_HINT, FORMATS, row_numbers
from sentiment.data.text import is_blank
from sentiment.errors import InputError

log = logging.getLogger(__name__)

COMPRESSIONS = (".gz", ".zip")
#: The environment variable a SQL source's password is read from.
SQL_PASSWORD_ENV = "SENTIMENT_SQL_PASSWORD"
GLOB_CHARS = "*?["
S3_CONNECT_TIMEOUT_S = 5


@dataclass(frozen=True)
class Source:
    """One input file on a filesystem (local or S3)."""

    fs: Any
    path: str
    url: str

    @property
    def compression(self) -> str:
        """``.gz``, ``.zip`` or ``""``."""
        last = os.path.splitext(self.path)[1].lower()
        return last if last in COMPRESSIONS else ""

    @property
    def suffix(self) -> str:
        """The format's extension, under any compression suffix."""
        path = self.path[: -len(self.compression)] if self.compression else self.path
        return os.path.splitext(path)[1].lower()

    def fingerprint(self) -> dict[str, Any]:
        """What identifies this file's content: its size and the store's checksum (an S3
        ETag, from the listing) or, for a local file, a BLAKE2b of its bytes."""
        info = self.fs.info(self.path)
        tag = info.get("ETag") or info.get("etag")
        if tag:
            return {"path": self.url, "size": int(info["size"]), "etag": str(tag).strip('"')}
        digest = hashlib.blake2b(digest_size=16)
        with self.fs.open(self.path, "rb") as handle:
            while block := handle.read(1 << 20):
                digest.update(block)
        return {"path": self.url, "size": int(info["size"]), "blake2b": digest.hexdigest()}


def _has_format(name: str) -> bool:
    source = Source(None, name, name)
    return source.suffix in FORMATS


def _filesystem(location: str) -> tuple[Any, str]:
    import fsspec

    options: dict[str, Any] = {}
    if location.startswith("s3://"):
        # It logs where it found the credentials at INFO: noise in a one-line error.
        logging.getLogger("aiobotocore.credentials").setLevel(logging.WARNING)
        endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
        options = {"client_kwargs": {"endpoint_url": endpoint}} if endpoint else {}
        # Fail fast on a store that is down: a short connect timeout, no retry storm.
        options["config_kwargs"] = {"connect_timeout": S3_CONNECT_TIMEOUT_S,
                                    "retries": {"max_attempts": 2}}
        fs, path = fsspec.core.url_to_fs(location, **options)
        fs.retries = 2
        return fs, path
    return fsspec.core.url_to_fs(location, **options)


def _unreachable() -> tuple[type[Exception], ...]:
    """The errors of an S3 store that does not answer (botocore's, when it is installed)."""
    try:
        from botocore.exceptions import ConnectionError as Unreachable
    except ImportError:
        return ()
    return (Unreachable,)


def list_sources(location: str) -> list[Source]:
    """The input files at ``location`` (a file, a glob, or every csv/tsv/jsonl/parquet file,
    plain or compressed, below a folder or prefix), sorted by path so the row order is stable."""
    fs, path = _filesystem(location)
    scheme = location.split("://", 1)[0] + "://" if "://" in location else ""
    try:
        if any(char in path for char in GLOB_CHARS):
            found = sorted(name for name in fs.glob(path) if fs.isfile(name))
            if not found:
                raise InputError(f"{location}: the glob matches no file")
        elif fs.isdir(path):
            found = sorted(name for name in fs.find(path) if _has_format(name))
            if not found:
                raise InputError(f"{location}: no {', '.join(FORMATS)} files in it "
                                 f"(plain or {', '.join(COMPRESSIONS)})")
        elif fs.isfile(path):
            found = [path]
        else:
            raise InputError(f"{location}: no such file or folder")
    except InputError:
        raise
    except PermissionError as error:
        raise InputError(f"{location}: access denied ({_first_line(error)})") from None
    except _unreachable() as error:
        raise InputError(f"{location}: cannot reach the S3 endpoint ({_first_line(error)}); "
                         "check AWS_ENDPOINT_URL") from None
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


def _check_columns(source: Source, present: Sequence[str], required: Sequence[str],
                   delimiter: str | None = None) -> None:
    missing = [column for column in required if column not in present]
    if missing and delimiter is not None and len(present) == 1 and len(required) > 1:
        raise InputError(f"{source.url}: the delimiter {delimiter!r} finds one column "
                         f"({str(present[0])[:60]!r}); set the delimiter option")
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


def _is_utf8(encoding: str) -> bool:
    return codecs.lookup(encoding).name == "utf-8"


def _csv_chunks(handle: Any, chunk_rows: int, delimiter: str,
                encoding: str) -> Iterator[pd.DataFrame]:
    """Every value as text; a blank line is a row of empty values (not skipped)."""
    text = io.TextIOWrapper(handle, encoding="utf-8-sig" if _is_utf8(encoding) else encoding,
                            newline="")
    with pd.read_csv(text, dtype=str, keep_default_na=False, skip_blank_lines=False,
                     sep=delimiter, chunksize=chunk_rows) as reader:
        yield from reader


def _jsonl_chunks(source: Source, handle: Any, chunk_rows: int,
                  encoding: str) -> Iterator[pd.DataFrame]:
    """One object per line, read with the standard library (pandas' reader drops lone
    surrogates and turns a blank line into nothing); a blank line is a row without values."""
    first = "utf-8-sig" if _is_utf8(encoding) else encoding
    records: list[dict[str, Any]] = []
    for number, raw in enumerate(handle, start=1):
        line = raw.decode(first if number == 1 else encoding)
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


def _text_chunks(source: Source, handle: Any, columns: Sequence[str], chunk_rows: int,
                 delimiter: str | None, encoding: str) -> Iterator[pd.DataFrame]:
    if source.suffix in (".csv", ".tsv"):
        delimiter = delimiter or ("\t" if source.suffix == ".tsv" else ",")
        chunks = _csv_chunks(handle, chunk_rows, delimiter, encoding)
    else:
        delimiter = None
        chunks = _jsonl_chunks(source, handle, chunk_rows, encoding)
    for index, frame in enumerate(chunks):
        if index == 0:
            _check_columns(source, list(frame.columns), columns, delimiter)
        yield frame.reindex(columns=[*frame.columns, *(
            name for name in columns if name not in frame.columns)])


@contextmanager
def _opened(source: Source) -> Iterator[IO[bytes]]:
    """The source's bytes, decompressed (a zip holds exactly one file)."""
    with source.fs.open(source.path, "rb") as raw:
        if source.compression == ".gz":
            with gzip.GzipFile(fileobj=raw) as handle:
                yield handle
        elif source.compression == ".zip":
            with zipfile.ZipFile(raw) as archive:
                members = [info for info in archive.infolist() if not info.is_dir()]
                if len(members) != 1:
                    raise InputError(f"{source.url}: a zip source must hold exactly one file "
                                     f"(it holds {len(members)})")
                with archive.open(members[0]) as handle:
                    yield handle
        else:
            yield raw


def _bad_line(source: Source, encoding: str) -> str:
    """Where a file stops being in ``encoding``: ``line N: not UTF-8 (byte 0x..)`` (the
    decompressed bytes, read line by line; the header is line 1)."""
    name = "UTF-8" if _is_utf8(encoding) else encoding
    with _opened(source) as handle:
        for number, line in enumerate(handle, start=1):
            try:
                line.decode(encoding)
            except UnicodeDecodeError as error:
                return f"line {number}: not {name} (byte {line[error.start]:#04x})"
    return f"not {name}"


def read_chunks(sources: Sequence[Source], columns: Sequence[str], *,
                optional: Sequence[str] = (), text: Sequence[str] = (),
                not_blank: Sequence[str] = (), chunk_rows: int = 20000,
                delimiter: str | None = None, encoding: str = "utf-8",
                decode_hint: str = CONVERT_HINT) -> Iterator[pd.DataFrame]:
    """Chunks of at most ``chunk_rows`` rows of every source in turn, holding ``columns``
    (required) and those of ``optional`` that the source has; the ``text`` columns must hold
    strings (or nothing), the ``not_blank`` ones non-blank strings in every row. ``delimiter``
    (csv/tsv; default ``,`` and tab) and ``encoding`` apply to the text formats; bytes not in
    ``encoding`` are an error naming the line and suggesting ``decode_hint``. Raises
    ``InputError`` on an empty file, a missing column, a truncated archive or unreadable
    content."""
    for source in sources:
        try:
            if source.fs.size(source.path) == 0:
                raise InputError(f"{source.url}: empty file")
            with _opened(source) as handle:
                if source.suffix == ".parquet":
                    chunks = _parquet_chunks(source, handle, columns, optional,
                                             [*text, *not_blank], chunk_rows)
                else:
                    chunks = _text_chunks(source, handle, columns, chunk_rows, delimiter,
                                          encoding)
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
            raise InputError(f"{source.url} {_bad_line(source, encoding)}; {decode_hint}") \
                from None
        except EOFError as error:
            raise InputError(f"{source.url}: truncated {source.compression[1:]} archive "
                             f"({_first_line(error)})") from None
        except (ValueError, OSError, pa.ArrowException) as error:
            raise InputError(f"{source.url}: unreadable as {source.suffix[1:]} "
                             f"({_first_line(error)})") from None


def sql_url(url: str) -> Any:
    """``url`` as a SQLAlchemy URL with the password from ``SQL_PASSWORD_ENV`` (a password
    written in the URL itself is refused: params.yaml is committed)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError as error:
        raise InputError(f"SQL URL {url!r}: {_first_line(error)}") from None
    if parsed.password:
        raise InputError(f"SQL URL {parsed.render_as_string(hide_password=True)}: holds a "
                         f"password; remove it and set {SQL_PASSWORD_ENV} instead")
    password = os.environ.get(SQL_PASSWORD_ENV)
    return parsed.set(password=password) if password else parsed


def read_sql_chunks(url: str, query: str, columns: Sequence[str], *,
                    optional: Sequence[str] = (), chunk_rows: int = 20000
                    ) -> Iterator[pd.DataFrame]:
    """The rows of ``query`` (streamed with a server-side cursor), ``chunk_rows`` at a time,
    as ``read_chunks`` gives them. A refused connection or a SQL error is an ``InputError``
    naming the URL with its password masked; a query with no rows is one too."""
    import sqlalchemy
    from sqlalchemy.exc import SQLAlchemyError

    target = sql_url(url)
    shown = target.render_as_string(hide_password=True)
    rows = 0
    try:
        engine = sqlalchemy.create_engine(target)
        with engine.connect() as connection:
            result = connection.execution_options(stream_results=True).execute(
                sqlalchemy.text(query))
            names = list(result.keys())
            _check_columns(Source(None, shown, shown), names, columns)
            keep = [*columns, *(name for name in optional
                                if name in names and name not in columns)]
            for part in result.partitions(chunk_rows):
                rows += len(part)
                yield pd.DataFrame.from_records(part, columns=names)[keep]
        engine.dispose()
    except SQLAlchemyError as error:
        cause = getattr(error, "orig", None) or error
        raise InputError(f"{shown}: {_first_line(cause)}") from None
    if not rows:
        raise InputError(f"{shown}: the query returned no rows ({query[:80]!r})")


def read_frame(location: str, columns: Sequence[str], *, optional: Sequence[str] = (),
               text: Sequence[str] = (), not_blank: Sequence[str] = ()) -> pd.DataFrame:
    """Every row at ``location`` as one DataFrame (for inputs that fit in memory)."""
    frames = list(read_chunks(list_sources(location), columns, optional=optional, text=text,
                              not_blank=not_blank))
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)
    if frame.empty:
        raise InputError(f"{location}: no rows")
    return frame
