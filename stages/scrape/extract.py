"""Pure extraction: records of one page from its response, configured by ``Selectors``.

No network and no Scrapy engine here, so it is unit-tested on hand-made HTML.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from parsel import Selector
from scrapy.http import TextResponse

from sentiment.params import Selectors

#: Optional label fields a site may have, in output order; numeric ones are parsed to float.
LABEL_FIELDS: tuple[str, ...] = ("label", "rating", "confidence")
NUMERIC_FIELDS: frozenset[str] = frozenset({"rating", "confidence"})
#: Every reason a record can be dropped for (``duplicate_id`` is decided after the crawl).
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


def stable_id(text: str) -> str:
    """The id of a record whose site gives none: the first 16 hex digits of sha256(text)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def parse_number(raw: str) -> float:
    """A finite float from a field's text; ``ValueError`` otherwise."""
    value = float(raw)
    if not math.isfinite(value):
        raise ValueError(f"not a finite number: {raw!r}")
    return value


def field_text(record: Selector, css: str) -> str:
    """All strings the CSS selector yields inside ``record``, joined and stripped."""
    return "".join(record.css(css).getall()).strip()


def extract_record(record: Selector, selectors: Selectors,
                   page: PageRecords, url: str) -> None:
    """Extract one record node into ``page`` (kept, or counted as dropped)."""
    fields = selectors.fields
    text = field_text(record, fields.text)
    if not text:
        page.dropped["missing_text"] += 1
        return
    item: dict[str, Any] = {"text": text, "url": url}
    item["id"] = (field_text(record, fields.id) if fields.id else "") or stable_id(text)
    for name in LABEL_FIELDS:
        css = getattr(fields, name)
        if css is None:
            continue
        value: str | float | None = field_text(record, css) or None
        if value is None:
            page.missing_fields[name] += 1
        elif name in NUMERIC_FIELDS:
            try:
                value = parse_number(value)
            except ValueError:
                page.dropped[f"bad_{name}"] += 1
                return
        item[name] = value
    page.records.append(item)


def extract_records(response: TextResponse, selectors: Selectors,
                    url: str | None = None) -> PageRecords:
    """Every record on a page; ``url`` (default: the response's) is stored in each record."""
    page = PageRecords()
    for record in response.css(selectors.record):
        extract_record(record, selectors, page, response.url if url is None else url)
    return page
