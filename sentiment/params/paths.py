"""Section ``paths``: every file and folder a stage reads or writes, declared once."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict

from sentiment.params.base import Strict, read_params


class PathsParams(Strict):
    """Every file and folder a stage reads or writes, declared once."""

    sources: str = "data/sources"  # DVC imports of a team's data: the scrape stage's input
    raw: str = "data/raw/records.jsonl"
    interim: str = "data/interim/clean.parquet"
    features: str = "data/features/features.parquet"
    processed: str = "data/processed"
    embeddings: str = "data/features/embeddings.parquet"
    candidates: str = "models/candidates"
    model: str = "models/sentiment"
    reports: str = "reports"


class _PathsOnly(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    paths: PathsParams = PathsParams()


def load_paths(params_file: str | Path = "params.yaml") -> PathsParams:
    """The ``paths`` section of ``params_file`` alone (the rest is not validated here)."""
    return read_params(_PathsOnly, params_file).paths
