"""Section ``monitor``: batch scoring, the SQL warehouse and drift thresholds."""

from __future__ import annotations

from pydantic import ConfigDict, Field

from sentiment.params.base import Strict


class ScoreParams(Strict):
    """Batch scoring (`sentiment score` and the monitor pipeline's score stage)."""

    input: str = Field(default="data/raw/records.jsonl", min_length=1)
    output: str = Field(default="data/monitor/scores.parquet", min_length=1)
    text_column: str = Field(default="text", min_length=1)
    id_column: str = Field(default="id", min_length=1)
    chunk_rows: int = Field(default=20000, ge=1)


class WarehouseParams(Strict):
    """The SQL warehouse; the URL comes from SENTIMENT_DATABASE_URL or --url, never from here."""

    path: str = Field(default="warehouse/sentiment.db", min_length=1)


class DriftThresholds(Strict):
    """Drift beyond any of these fails `sentiment drift` (exit 1)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    prior_jsd: float = Field(default=0.1, gt=0, le=1)
    length_ks: float = Field(default=0.2, gt=0, le=1)
    oov_rate_delta: float = Field(default=0.05, gt=0, le=1)
    confidence_ks: float = Field(default=0.2, gt=0, le=1)
    domain_auc: float = Field(default=0.75, gt=0.5, le=1)
    p_value: float = Field(default=0.01, gt=0, lt=1)


class DriftParams(Strict):
    max_rows: int = Field(default=10000, ge=100)
    #: Fewer rows on either side are refused: a handful of rows "drifts" by chance alone.
    min_rows: int = Field(default=100, ge=10)
    folds: int = Field(default=5, ge=2, le=20)
    hash_features: int = Field(default=2**18, ge=2**10, le=2**24)
    reports: str = Field(default="reports/monitor", min_length=1)
    thresholds: DriftThresholds = DriftThresholds()


class MonitorParams(Strict):
    score: ScoreParams = ScoreParams()
    warehouse: WarehouseParams = WarehouseParams()
    drift: DriftParams = DriftParams()
