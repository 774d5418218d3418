"""The sentence-embedding table the embed stage writes and ``embeddings_mlp`` reads.

One row per record: its ``id``, a ``key`` (a hash of the encoder's weights, the truncation
length and the text, so a row computed from another text or encoder is never reused) and the
``embedding`` (float32). Rows that are missing or stale are computed on the spot.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import numpy as np
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


def write_table(path: Path, ids: list[str], keys: list[str], vectors: np.ndarray) -> None:
    """Write the table sorted by id (deterministic bytes for identical inputs)."""
    order = sorted(range(len(ids)), key=ids.__getitem__)
    table = pa.table({"id": [ids[i] for i in order], "key": [keys[i] for i in order],
                      "embedding": [vectors[i].astype(np.float32) for i in order]},
                     schema=SCHEMA)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, compression="zstd")


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


def lookup(path: Path | None, ids: list[str], texts: list[str], encoder: Encoder,
           batch_size: int, device: torch.device) -> np.ndarray:
    """Embeddings of ``texts`` (records ``ids``): from the table where its key matches,
    computed for the rest. The encoder remembers the table's rows, so scoring the same texts
    later in the process (the train stage's validation scores) reuses them."""
    keys = row_keys(encoder_fingerprint(encoder), texts)
    table = read_table(path)
    cached = [table.get(record) for record in ids]
    hits = [entry is not None and entry[0] == key for entry, key in zip(cached, keys, strict=True)]
    missing = [index for index, hit in enumerate(hits) if not hit]
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
