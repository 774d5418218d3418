"""Batch scoring: every row of a (possibly large) input to a parquet file of predictions.

Output columns, one row per input row in input order: ``id`` (the input's, or derived from the
text), ``text``, ``label``, ``confidence`` (the top probability), ``prob_<label>`` for each
class, and ``model_version`` (the content hash of the model folder, as ``dvc.lock`` records
it). Input is read, scored and written a chunk at a time, so memory stays bounded; the file is
written under a temporary name and renamed at the end, so a failed run leaves no partial output.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from sentiment.data.formats import check_output
from sentiment.data.tables import list_sources, read_chunks, total_parquet_rows
from sentiment.errors import InputError
from sentiment.model.bundle import ModelBundle
from sentiment.model.version import describe

if TYPE_CHECKING:
    from sentiment.compute.engine import Engine
    from sentiment.model.predictor import Predictor

log = logging.getLogger(__name__)

PROB_PREFIX = "prob_"


@dataclass(frozen=True)
class ScoreSettings:
    """Which columns hold the texts and ids; ``id_required``: the id column was named, so an
    input without it is an error rather than ids derived from the texts."""

    text_column: str = "text"
    id_column: str = "id"
    chunk_rows: int = 20000
    id_required: bool = False


def model_version(folder: str | Path) -> str:
    """The model folder's content hash (``<md5>.dir``), which ``dvc.lock`` records for it."""
    version, _ = describe(folder)
    if version.dvc_lock_md5 and version.dvc_lock_md5 != version.md5:
        log.warning("%s differs from what dvc.lock records (%s): scores carry the folder's "
                    "own hash %s", folder, version.dvc_lock_md5, version.md5)
    return version.md5


def text_id(text: str) -> str:
    """A stable id for a text without one: the first 16 hex digits of its SHA-256."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def output_schema(labels: Sequence[str]) -> pa.Schema:
    return pa.schema([("id", pa.string()), ("text", pa.string()), ("label", pa.string()),
                      ("confidence", pa.float32()),
                      *((PROB_PREFIX + label, pa.float32()) for label in labels),
                      ("model_version", pa.string())])


def _ids(frame: pd.DataFrame, texts: list[str], settings: ScoreSettings) -> list[str]:
    if settings.id_column not in frame.columns:
        return [text_id(text) for text in texts]
    values = frame[settings.id_column]
    missing = values.isna()
    if missing.any():
        log.warning("%d rows have no %r: their ids are derived from the text",
                    int(missing.sum()), settings.id_column)
    return [text_id(text) if gap else str(value)
            for value, gap, text in zip(values, missing, texts, strict=True)]


def score_frame(predictor: Predictor, frame: pd.DataFrame, version: str,
                settings: ScoreSettings) -> pa.Table:
    """One chunk of input rows → one table of scores (schema ``output_schema``)."""
    texts = list(frame[settings.text_column])  # non-blank strings: read_chunks checks
    probabilities = np.asarray(predictor.predict_proba(texts), dtype=np.float32)
    labels = predictor.labels
    columns: dict[str, object] = {
        "id": _ids(frame, texts, settings),
        "text": texts,
        "label": [labels[index] for index in probabilities.argmax(axis=1)],
        "confidence": probabilities.max(axis=1),
        **{PROB_PREFIX + label: probabilities[:, index] for index, label in enumerate(labels)},
        "model_version": [version] * len(texts),
    }
    return pa.table(columns, schema=output_schema(labels))


def score_tables(predictor: Predictor, location: str, version: str,
                 settings: ScoreSettings, engine: Engine | None = None,
                 model: str | Path | None = None) -> Iterator[pa.Table]:
    """Score every row at ``location`` a chunk at a time, with a progress bar; a remote
    ``engine`` scores the chunks on its workers with the model folder ``model``."""
    from tqdm import tqdm

    score = functools.partial(score_frame, predictor, version=version, settings=settings)
    if engine is not None and engine.remote:
        if model is None:
            raise ValueError("a remote engine needs the model folder")
        score = RemoteScorer(ModelBundle.read(model, predictor.route), version, settings)
    sources = list_sources(location)
    ids = [settings.id_column]
    chunks = read_chunks(sources, [settings.text_column, *(ids if settings.id_required else [])],
                         optional=[] if settings.id_required else ids,
                         not_blank=[settings.text_column], chunk_rows=settings.chunk_rows)
    with tqdm(total=total_parquet_rows(sources), unit="text", desc="score", disable=None) as bar:
        for table in map(score, chunks) if engine is None else engine.map_batches(score, chunks):
            yield table
            bar.update(table.num_rows)


def score_to_parquet(predictor: Predictor, location: str, output: str | Path, version: str,
                     settings: ScoreSettings, engine: Engine | None = None,
                     model: str | Path | None = None) -> int:
    """Write the scores of every row at ``location`` to ``output``; return the row count."""
    output = Path(output)
    check_output(output, (".parquet",))
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(f".{output.name}.partial")
    rows = 0
    try:
        with pq.ParquetWriter(partial, output_schema(predictor.labels),
                              compression="zstd") as writer:
            for table in score_tables(predictor, location, version, settings, engine, model):
                writer.write_table(table)
                rows += table.num_rows
        if rows == 0:
            raise InputError(f"{location}: no rows to score")
        os.replace(partial, output)
    finally:
        partial.unlink(missing_ok=True)
    return rows


@dataclass(frozen=True)
class RemoteScorer:
    """``score_frame`` with the bundle's predictor: what a scoring task runs on a worker."""

    model: ModelBundle
    version: str
    settings: ScoreSettings

    def __call__(self, frame: pd.DataFrame) -> pa.Table:
        return score_frame(self.model.predictor(), frame, self.version, self.settings)
