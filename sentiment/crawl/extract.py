"""Pure extraction: records of one page from its response, configured by ``Selectors``.

No network and no Scrapy engine here, so it is unit-tested on hand-made HTML. Each field is
read as ``render.Scope.text`` lays it out, then post-processed as its ``FieldSpec`` says.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from lxml import etree
from scrapy.http import TextResponse

from sentiment.crawl.render import Scope, compiled
from sentiment.params.scrape import NUMERIC_FIELDS, FieldSelectors, FieldSpec, Selectors

#: Drop reasons every crawl report lists (``duplicate_id`` is decided after the crawl);
#: ``bad_<field>`` and ``missing_<field>`` join them for other numeric and required fields.
DROP_REASONS: tuple[str, ...] = ("bad_confidence", "bad_rating", "duplicate_id", "missing_text")


@dataclass
class PageRecords:
    """What one page yielded: kept records, drops by reason, missing optional fields."""

    records: list[dict[str, Any]] = field(default_factory=list)
    dropped: Counter[str] = field(default_factory=Counter)
    missing_fields: Counter[str] = field(default_factory=Counter)

    @property
    def seen(self) -> int:
        return len(self.records) + sum(self.dropped.values())


class BadValue(ValueError):
    """A field's text is there but is not the number it should be."""


def is_number(name: str, spec: FieldSpec) -> bool:
    return spec.number if spec.number is not None else name in NUMERIC_FIELDS


def drop_reasons(fields: FieldSelectors) -> list[str]:
    """Every reason a record can be dropped for with these fields, sorted."""
    reasons = set(DROP_REASONS)
    for name, spec in fields.configured():
        if is_number(name, spec):
            reasons.add(f"bad_{name}")
        if spec.required and name != "text":
            reasons.add(f"missing_{name}")
    return sorted(reasons)


def stable_id(text: str) -> str:
    """The id of a record whose site gives none: the first 16 hex digits of sha256(text)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def parse_number(raw: str) -> float:
    """A finite float from a field's text; ``ValueError`` otherwise."""
    value = float(raw)
    if not math.isfinite(value):
        raise ValueError(f"not a finite number: {raw!r}")
    return value


@lru_cache(maxsize=256)
def _pattern(regex: str) -> re.Pattern[str]:
    return re.compile(regex)


def post_process(text: str, spec: FieldSpec, number: bool) -> str | float | None:
    """The field's value from its text: ``regex``, then ``count``, then the number.

    None when the text is empty or the regex does not match; ``BadValue`` when a number
    field's value does not parse.
    """
    if text and spec.regex is not None:
        pattern = _pattern(spec.regex)
        match = pattern.search(text)
        if match is None:
            return None
        group = "value" if "value" in pattern.groupindex else min(pattern.groups, 1)
        text = (match.group(group) or "").strip()
    if spec.count is not None and text:
        text = str(text.count(spec.count))
    if not text:
        return None
    if not number:
        return text
    try:
        return parse_number(text)
    except ValueError:
        raise BadValue(text) from None


def read_field(scope: Scope, name: str, spec: FieldSpec) -> str | float | None:
    return post_process(scope.text(spec.css, spec.whitespace), spec, is_number(name, spec))


def extract_record(record: Scope, page_values: dict[str, Any], fields: FieldSelectors,
                   page: PageRecords, url: str) -> None:
    """Extract one record into ``page``: kept (its missing optional fields counted), or
    counted as dropped for the first field that fails."""
    item: dict[str, Any] = {"url": url}
    missing: list[str] = []
    for name, spec in fields.configured():
        try:
            value = (page_values[name] if spec.scope == "page"
                     else read_field(record, name, spec))
            if isinstance(value, BadValue):
                raise value
        except BadValue:
            page.dropped[f"bad_{name}"] += 1
            return
        if value is None and (name == "text" or spec.required):
            page.dropped[f"missing_{name}"] += 1
            return
        if value is None and name != "id":
            missing.append(name)
        item[name] = value
    item["id"] = item.get("id") or stable_id(item["text"])
    page.missing_fields.update(missing)
    page.records.append(item)


def extract_records(response: TextResponse, selectors: Selectors,
                    url: str | None = None) -> PageRecords:
    """Every record on a page; ``url`` (default: the response's) is stored in each record."""
    page = PageRecords()
    fields = selectors.fields
    whole = Scope(response.selector.root)
    page_values: dict[str, Any] = {}
    for name, spec in fields.configured():
        if spec.scope == "page":
            try:
                page_values[name] = read_field(whole, name, spec)
            except BadValue as bad:  # each record of the page is dropped for it
                page_values[name] = bad
    for record in compiled(selectors.record)(whole.root):
        if isinstance(record, etree._Element):
            extract_record(Scope(record), page_values, fields, page,
                           response.url if url is None else url)
    return page
