"""Pages a crawl knows before reading any: numbered pages from a template, sitemap entries.

Knowing them lets Scrapy request them concurrently instead of following next-page links one
at a time. Each seed page carries a seed key (a tuple of ints) that starts its records' order
key, so records resolve the same way whatever order responses arrive in: start URL ``i`` is
``(START_URLS, i)``, the ``k``-th template page ``(TEMPLATE_PAGES, k)`` and the ``q``-th page
of sitemap ``j`` ``(SITEMAPS, j, q)`` (one more index per nested sitemap index).
"""

from __future__ import annotations

import re

from scrapy.utils.gz import gunzip
from scrapy.utils.sitemap import Sitemap

from sentiment.crawl.results import CrawlTally
from sentiment.params.scrape import PAGE_PLACEHOLDER, PageTemplate, page_at

START_URLS, TEMPLATE_PAGES, SITEMAPS = 0, 1, 2
SeedKey = tuple[int, ...]
GZIP_MAGIC = b"\x1f\x8b"  # a sitemap.xml.gz served as is


class PageChain:
    """The pages of a template, and where an open-ended listing ends.

    With ``last`` set, every page is requested at once. Open-ended, the first ``window`` pages
    are; then each live page ``k`` brings page ``k + window``, so which pages before the end
    are requested does not depend on the order responses arrive in. The listing ends at its
    first dead page (an HTTP error, or neither a record nor a link). Each page's counts are
    held apart until the crawl ends; those of the pages up to the end are kept, and pages past
    it (requested while the end was unknown) count nothing.
    """

    def __init__(self, pages: PageTemplate, window: int) -> None:
        self.pages = pages
        self.window = window
        self.tallies: dict[int, CrawlTally] = {}  # page index -> what that page counted
        self.dead: set[int] = set()
        template = re.escape(pages.template).replace(re.escape(PAGE_PLACEHOLDER), r"\d+")
        self._pattern = re.compile(template)

    @property
    def open_ended(self) -> bool:
        return not self.pages.last

    @property
    def end(self) -> int | None:
        """The index of the first dead page found so far (open-ended only)."""
        return min(self.dead, default=None)

    def number(self, index: int) -> int:
        return self.pages.first + index * self.pages.step

    def url(self, index: int) -> str:
        return page_at(self.pages.template, self.number(index))

    def initial(self) -> range:
        """The indexes to request at the start."""
        return range(self.window if self.open_ended else len(self.pages.numbers()))

    def settle(self, index: int, tally: CrawlTally, live: bool) -> int | None:
        """Hold what page ``index`` counted; the index it brings, if any (a live page of an
        open-ended listing, before the end)."""
        self.tallies[index] = tally
        if not live:
            self.dead.add(index)
        end, following = self.end, index + self.window
        if not live or (end is not None and following >= end):
            return None
        return following

    def past_end(self, index: int) -> bool:
        end = self.end
        return end is not None and index > end

    def descends_past_end(self, seed: SeedKey) -> bool:
        """Whether a seed key is a template page after the end of the listing."""
        return seed[0] == TEMPLATE_PAGES and self.past_end(seed[1])

    def counted(self) -> list[CrawlTally]:
        """What the pages up to the end counted, in page order."""
        return [tally for index, tally in sorted(self.tallies.items())
                if not self.past_end(index)]

    def matches(self, url: str) -> bool:
        """Whether ``url`` is one of the template's pages (the chain requests those)."""
        return bool(self._pattern.fullmatch(url))


def sitemap_entries(body: bytes) -> tuple[str, list[str]]:
    """The kind (``urlset``, ``sitemapindex``) and the ``<loc>`` URLs of a sitemap body.

    Gzipped bodies are unpacked; anything that is not a sitemap raises ``ValueError``.
    """
    if body.startswith(GZIP_MAGIC):
        body = gunzip(body)
    try:
        sitemap = Sitemap(body)
        locs = [entry["loc"] for entry in sitemap if entry.get("loc")]
    except Exception as error:  # lxml and the empty-document StopIteration
        raise ValueError(f"not a sitemap: {type(error).__name__}") from None
    if sitemap.type not in ("urlset", "sitemapindex"):
        raise ValueError(f"not a sitemap: the root element is <{sitemap.type}>")
    return sitemap.type, locs
