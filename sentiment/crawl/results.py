"""What a crawl collected, and how it becomes the sorted records and the statistics report.

The report holds counts only (no timestamps, durations, hosts or ports), so two crawls of the
same site give byte-identical files.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any

from sentiment.crawl.extract import PageRecords, drop_reasons
from sentiment.params.scrape import ScrapeParams

#: Where a record was found: (seed key, link depth, page URL, position on the page); the seed
#: key says which start URL, numbered page or sitemap entry the page descends from.
OrderKey = tuple[tuple[int, ...], int, str, int]


@dataclass
class CrawlTally:
    """Everything the spider counts and collects; filled while the crawl runs."""

    items: list[tuple[OrderKey, dict[str, Any]]] = field(default_factory=list)
    records_seen: int = 0
    dropped: Counter[str] = field(default_factory=Counter)
    missing_fields: Counter[str] = field(default_factory=Counter)
    pages_fetched: int = 0
    pages_without_records: int = 0
    pages_bad_encoding: int = 0
    pages_not_html: int = 0
    pages_unparseable: int = 0
    http_errors: Counter[str] = field(default_factory=Counter)
    request_failures: Counter[str] = field(default_factory=Counter)
    retries: Counter[str] = field(default_factory=Counter)
    max_pages_reached: bool = False
    link_pages: int = 0
    filtered: Counter[str] = field(default_factory=Counter)
    record_links_filtered: Counter[str] = field(default_factory=Counter)  # for the error only
    robots_responses: Counter[str] = field(default_factory=Counter)
    robots_errors: Counter[str] = field(default_factory=Counter)

    def add_page(self, page: PageRecords, seed: tuple[int, ...], depth: int, url: str) -> None:
        """Record what one page yielded."""
        self.records_seen += page.seen
        self.dropped.update(page.dropped)
        self.missing_fields.update(page.missing_fields)
        if not page.seen:
            self.pages_without_records += 1
        for position, record in enumerate(page.records):
            self.items.append(((seed, depth, url, position), record))

    @property
    def records_collected(self) -> int:
        return len(self.items)

    def merge(self, other: CrawlTally) -> None:
        """Add everything ``other`` counted and collected to this tally."""
        for item in fields(self):
            mine, theirs = getattr(self, item.name), getattr(other, item.name)
            if isinstance(mine, bool):
                setattr(self, item.name, mine or theirs)
            elif isinstance(mine, int):
                setattr(self, item.name, mine + theirs)
            elif isinstance(mine, Counter):
                mine.update(theirs)
            else:
                mine.extend(theirs)

    def discard(self, unwanted: Callable[[tuple[int, ...]], bool], reason: str) -> int:
        """Drop the records whose seed key is ``unwanted``, counted as ``reason``; how many."""
        kept = [item for item in self.items if not unwanted(item[0][0])]
        dropped = len(self.items) - len(kept)
        self.items = kept
        if dropped:
            self.dropped[reason] += dropped
        return dropped


#: What can keep a link from being requested; each is counted in the report's ``filtered``.
FILTER_REASONS: tuple[str, ...] = ("max_depth", "offsite", "robots_txt", "unsupported_scheme")


def finalize(tally: CrawlTally, scrape: ScrapeParams,
             start_urls: list[str]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The records sorted by id (first occurrence of each id kept) and the crawl report.

    "First" follows the crawl order key, not arrival order, so concurrency cannot change it.
    """
    dropped = Counter({reason: 0 for reason in drop_reasons(scrape.selectors.fields)})
    filtered = Counter({reason: 0 for reason in FILTER_REASONS})
    filtered.update(tally.filtered)
    dropped.update(tally.dropped)
    kept: dict[str, dict[str, Any]] = {}
    for _, record in sorted(tally.items, key=lambda item: item[0]):
        if record["id"] in kept:
            dropped["duplicate_id"] += 1
        else:
            kept[record["id"]] = record
    records = [kept[key] for key in sorted(kept)]
    stats = {
        "source": scrape.source,
        "start_urls": list(start_urls),
        "pages_fetched": tally.pages_fetched,
        "pages_without_records": tally.pages_without_records,
        "pages_bad_encoding": tally.pages_bad_encoding,
        "pages_not_html": tally.pages_not_html,
        "pages_unparseable": tally.pages_unparseable,
        "max_pages_reached": tally.max_pages_reached,
        "link_pages": tally.link_pages,
        "filtered": dict(sorted(filtered.items())),
        "robots_txt": {"obeyed": scrape.obey_robots,
                       "responses": dict(sorted(tally.robots_responses.items())),
                       "errors": dict(sorted(tally.robots_errors.items()))},
        "records_seen": tally.records_seen,
        "records_kept": len(records),
        "dropped": dict(sorted(dropped.items())),
        "missing_fields": dict(sorted(tally.missing_fields.items())),
        "http_errors": dict(sorted(tally.http_errors.items())),
        "request_failures": dict(sorted(tally.request_failures.items())),
        "retries": sum(tally.retries.values()),
        "retries_by_reason": dict(sorted(tally.retries.items())),
    }
    return records, stats
