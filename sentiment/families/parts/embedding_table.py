"""The sentence-embedding table the embed stage writes and ``embeddings_mlp`` reads.

One row per record: its ``id``, a ``key`` (a hash of the encoder's weights, the truncation
length and the text, so a row computed from another text or encoder is never reused) and the
``embedding`` (float32). Embedding is the cost of these families, and it belongs to the embed
stage alone: a training run given the table finds every row there or stops with an error naming
the stage to run (never an hour of encoding inside train); without a table (a library caller,
the tests) the rows are computed on the spot.
"""

from __future__ import annotations

import functools
import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import torch

from sentiment.families.parts.encoder import Encoder

log = logging.getLogger(__name__)


def encoder_fingerprint(encoder: Encoder) -> str:
    """SHA-256 of the encoder's weight file and its truncation length."""
    return encoder.fingerprint


def row_keys(fingerprint: str, texts: list[str]) -> list[str]:
    return [hashlib.sha256(f"{fingerprint}\n{text}".encode()).hexdigest()[:24] for text in texts]


SCHEMA = pa.schema([("id", pa.string()), ("key", pa.string()),
                    ("embedding", pa.list_(pa.float32()))])


def rows_table(ids: list[str], keys: list[str], vectors: np.ndarray) -> pa.Table:
    """The rows as a table sorted by id."""
    order = sorted(range(len(ids)), key=ids.__getitem__)
    return pa.table({"id": [ids[i] for i in order], "key": [keys[i] for i in order],
                     "embedding": [vectors[i].astype(np.float32) for i in order]},
                    schema=SCHEMA)


class TableWriter:
    """Writes the table a part at a time (parts in id order, one row group or more each):
    one part gives the bytes of ``pq.write_table``; the bytes depend on the parts, never on
    where or by how many workers they were computed."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.writer = pq.ParquetWriter(path, SCHEMA, compression="zstd")
        self.rows, self.last = 0, ""

    def write(self, table: pa.Table) -> None:
        if table.num_rows:
            ids = table.column("id").to_pylist()
            if ids[0] < self.last:
                raise ValueError(f"embedding parts out of id order at {ids[0]!r}")
            self.last = ids[-1]
        self.writer.write_table(table)
        self.rows += table.num_rows

    def __enter__(self) -> TableWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.writer.close()


def write_table(path: Path, ids: list[str], keys: list[str], vectors: np.ndarray) -> None:
    """Write the table sorted by id (deterministic bytes for identical inputs)."""
    with TableWriter(path) as writer:
        writer.write(rows_table(ids, keys, vectors))


@functools.lru_cache(maxsize=2)
def cached_encoder(setting: str, key: str, max_length: int) -> Encoder:
    """The encoder, loaded once per process (a Ray worker runs many parts)."""
    return Encoder.from_setting(setting, key, max_length)


@dataclass(frozen=True)
class EmbedPart:
    """What one part of the embed stage runs on a frame of records (``id``, ``text``): picklable,
    so an engine runs it in this process or on a Ray worker with the same bits."""

    setting: str
    key: str
    max_length: int
    batch_size: int
    device: str = "cpu"
    workers: int = 1  # forked processes inside the part (in-process engine)

    def __call__(self, frame: pd.DataFrame) -> pa.Table:
        encoder = cached_encoder(self.setting, self.key, self.max_length)
        ids, texts = frame["id"].astype(str).tolist(), frame["text"].tolist()
        vectors = encoder.embed(texts, self.batch_size, torch.device(self.device),
                                progress=False, workers=self.workers)
        return rows_table(ids, row_keys(encoder_fingerprint(encoder), texts), vectors)


def read_table(path: Path | None) -> dict[str, tuple[str, np.ndarray]]:
    """``id → (key, embedding)``; empty when the file is absent or has no rows."""
    if path is None or not path.is_file():
        return {}
    table = pq.read_table(path)
    if table.num_rows == 0:
        return {}
    flat = table.column("embedding").combine_chunks().flatten().to_numpy()
    vectors = flat.astype(np.float32).reshape(table.num_rows, -1)
    return dict(zip(table.column("id").to_pylist(),
                    zip(table.column("key").to_pylist(), vectors, strict=True), strict=True))


class MissingEmbeddings(FileNotFoundError):
    """The embed stage's table lacks rows a family needs: the stage must run first."""


def lookup(path: Path | None, ids: list[str], texts: list[str], encoder: Encoder,
           batch_size: int, device: torch.device) -> np.ndarray:
    """Embeddings of ``texts`` (records ``ids``) from the table at ``path``, where each row's
    key matches; ``MissingEmbeddings`` when a row is absent or stale. With ``path`` None
    every row is computed. The encoder remembers the table's rows, so scoring the same texts
    later in the process (the train stage's validation scores) reuses them."""
    keys = row_keys(encoder_fingerprint(encoder), texts)
    table = read_table(path)
    cached = [table.get(record) for record in ids]
    hits = [entry is not None and entry[0] == key for entry, key in zip(cached, keys, strict=True)]
    missing = [index for index, hit in enumerate(hits) if not hit]
    if path is not None and missing:
        state = "no such file" if not path.is_file() else (
            f"{len(missing)} of {len(ids)} rows missing or computed from another text, "
            "encoder or max_length")
        raise MissingEmbeddings(f"embeddings table {path}: {state}; run the embed stage "
                                "first (`dvc repro embed`)")
    log.info("embeddings: %d of %d rows from %s, %d to compute", len(ids) - len(missing),
             len(ids), path, len(missing))
    vectors = np.zeros((len(ids), encoder.model.dim), dtype=np.float32)
    for index, hit in enumerate(hits):
        if hit:
            vectors[index] = cached[index][1]
    found = [index for index, hit in enumerate(hits) if hit]
    encoder.remember([texts[i] for i in found], vectors[found])
    if missing:
        vectors[missing] = encoder.embed([texts[i] for i in missing], batch_size, device)
    return vectors
