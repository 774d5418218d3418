"""The review spider, configured only from ``ScrapeParams``, and the crawl runner.

Failures (HTTP errors, timeouts, malformed pages, records without text) are counted in a
``CrawlTally`` and logged; none of them stops the crawl.
"""

from __future__ import annotations

import logging
import re
import sys
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import scrapy
from scrapy.crawler import CrawlerProcess
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Request, Response, TextResponse
from scrapy.spidermiddlewares.httperror import HttpError
from tqdm import tqdm
from twisted.python.failure import Failure
from w3lib.html import strip_html5_whitespace
from w3lib.url import canonicalize_url

from sentiment.crawl.extract import extract_records
from sentiment.crawl.results import CrawlTally
from sentiment.crawl.seeds import (
    SITEMAPS,
    START_URLS,
    TEMPLATE_PAGES,
    PageChain,
    SeedKey,
    sitemap_entries,
)
from sentiment.params.scrape import ScrapeParams, host_within

log = logging.getLogger("scrape")

SEED = "seed"  # request meta: the seed key of the page a request descends from (seeds.py)
PAGE_INDEX = "page_index"  # request meta: which page of the template a request is for
FOLLOW_DEPTH = "follow_depth"  # request meta: follow-link hops from the start URL
RETRY_REASON_PREFIX = "retry/reason_count/"
ROBOTS_STATUS_PREFIX = "robotstxt/response_status_count/"
ROBOTS_ERROR_PREFIX = "robotstxt/exception_count/"
LOG_EVERY_PAGES = 50  # progress log line period when stderr is not a terminal


#: Schemes the spider requests; Scrapy's other handlers (ftp, s3, file, data) are switched off,
#: so a link to them is counted and skipped instead of read from disk or left hanging.
SCHEMES: frozenset[str] = frozenset({"http", "https"})
#: Responses the HTTP cache never stores, so a page that failed once is fetched again.
UNCACHED_STATUSES: list[int] = [429, *range(500, 600)]
CACHE_POLICIES = {"revalidate": "scrapy.extensions.httpcache.RFC2616Policy",
                  "keep": "scrapy.extensions.httpcache.DummyPolicy"}


def build_settings(scrape: ScrapeParams) -> dict[str, Any]:
    """The Scrapy settings for a crawl, from params only (the cache folder from the CWD)."""
    throttle, cache = scrape.autothrottle, scrape.http_cache
    return {
        "BOT_NAME": "sentiment",
        "USER_AGENT": scrape.user_agent,
        "ROBOTSTXT_OBEY": scrape.obey_robots,
        "CONCURRENT_REQUESTS": scrape.concurrency,
        "CONCURRENT_REQUESTS_PER_DOMAIN": scrape.concurrency,
        "DOWNLOAD_DELAY": scrape.download_delay,
        "DOWNLOAD_TIMEOUT": scrape.download_timeout,
        "DOWNLOAD_HANDLERS": {"ftp": None, "s3": None, "file": None, "data": None},
        "RETRY_ENABLED": scrape.retries > 0,
        "RETRY_TIMES": scrape.retries,
        "RETRY_GIVE_UP_LOG_LEVEL": "WARNING",
        "COOKIES_ENABLED": False,
        "HTTPCACHE_ENABLED": cache.enabled,
        "HTTPCACHE_DIR": str(Path(cache.dir).resolve()),
        "HTTPCACHE_POLICY": CACHE_POLICIES[cache.policy],
        "HTTPCACHE_EXPIRATION_SECS": cache.expire_after if cache.policy == "keep" else 0,
        "HTTPCACHE_IGNORE_HTTP_CODES": UNCACHED_STATUSES,
        "AUTOTHROTTLE_ENABLED": throttle.enabled,
        "AUTOTHROTTLE_START_DELAY": throttle.start_delay,
        "AUTOTHROTTLE_MAX_DELAY": throttle.max_delay,
        "AUTOTHROTTLE_TARGET_CONCURRENCY": throttle.target_concurrency,
        "TELNETCONSOLE_ENABLED": False,
        "REMOTE_CONTROL_ENABLED": False,
        "LOG_LEVEL": "WARNING",
        "LOG_INSTALL_ROOT_HANDLER": False,  # the stage's logging set-up stays in charge
    }


def public_url(url: str, strip_origin: str | None) -> str:
    """The URL stored in records: without ``strip_origin`` (the demo's random host:port)."""
    if strip_origin and url.startswith(strip_origin):
        return url[len(strip_origin):] or "/"
    return url


def decodes_cleanly(response: TextResponse) -> bool:
    """Whether the body is valid in the encoding the response declares."""
    try:
        response.body.decode(response.encoding)
    except (UnicodeDecodeError, LookupError):
        return False
    return True


class _Progress:
    """A tqdm bar on a terminal, otherwise an INFO line every ``LOG_EVERY_PAGES`` pages."""

    def __init__(self, total: int | None) -> None:
        self.bar = tqdm(total=total, unit="page", desc="scrape", leave=False, dynamic_ncols=True,
                        disable=not sys.stderr.isatty())
        self.pages = self.records = 0

    def update(self, records: int) -> None:
        """One more page read, which held ``records`` records."""
        self.pages += 1
        self.records += records
        if not self.bar.disable:
            self.bar.set_postfix(records=self.records, refresh=False)
            self.bar.update(1)
        elif self.pages % LOG_EVERY_PAGES == 0:
            log.info("crawled %d pages, %d records so far", self.pages, self.records)

    def close(self) -> None:
        self.bar.close()


class ReviewSpider(scrapy.Spider):
    """Crawls from the start URLs, numbered pages and sitemaps; extracts records with the selectors.

    From every page it follows the ``next_page`` links (pagination: same depth) and the
    ``follow`` links (listing -> product -> reviews: one hop deeper, up to ``max_depth``), and
    extracts records from the pages ``record_pages`` matches. Pages known in advance (a page
    template, sitemap entries) are requested at once, up to ``concurrency`` at a time; links
    to a template's pages are left to the template. ``max_pages`` caps the distinct pages
    requested. Links off ``allowed_domains``, to other schemes or beyond ``max_depth`` are
    counted and skipped. Records are collected into ``tally`` with an order key (seed,
    depth, page, position), so duplicates resolve the same way whatever order responses
    arrive in.
    """

    name = "reviews"

    def __init__(self, scrape: ScrapeParams, start_urls: Sequence[str],
                 allowed_domains: Sequence[str], tally: CrawlTally,
                 strip_origin: str | None = None, expected_pages: int | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scrape = scrape
        self.start_urls = list(start_urls)
        self.allowed_domains = list(allowed_domains)
        self.tally = tally
        self.strip_origin = strip_origin
        self.requested: set[str] = set()  # canonical URLs, as Scrapy's duplicate filter sees them
        self.skipped: defaultdict[str, set[str]] = defaultdict(set)  # filter reason -> URLs
        self.record_pages = (re.compile(scrape.selectors.record_pages)
                             if scrape.selectors.record_pages else None)
        self.chain = PageChain(scrape.pages, scrape.concurrency) if scrape.pages else None
        self.sitemap_match = (re.compile(scrape.sitemap.match)
                              if scrape.sitemap and scrape.sitemap.match else None)
        self.progress = _Progress(expected_pages)

    def _may_request(self, url: str) -> bool:
        """Whether to request ``url``: a new page on an allowed host, under ``max_pages``."""
        parts = urlsplit(url)
        if parts.scheme not in SCHEMES:
            return self._filter("unsupported_scheme", url)
        if not host_within(parts.hostname or "", self.allowed_domains):
            return self._filter("offsite", url)
        key = canonicalize_url(url)
        if key in self.requested:
            return False
        if self.scrape.max_pages and len(self.requested) >= self.scrape.max_pages:
            self.tally.max_pages_reached = True
            return False
        self.requested.add(key)
        return True

    def _request(self, url: str, seed: SeedKey, depth: int = 0, sitemap: bool = False) -> Request:
        return Request(url, callback=self.parse_sitemap if sitemap else self.parse,
                       errback=self.on_error, meta={SEED: seed, FOLLOW_DEPTH: depth})

    def _page_request(self, index: int) -> Request:
        """The request for page ``index`` of the template."""
        request = self._request(self.chain.url(index), (TEMPLATE_PAGES, index))
        request.meta[PAGE_INDEX] = index
        return request

    def _is_record_page(self, url: str) -> bool:
        return self.record_pages is None or bool(self.record_pages.search(url))

    def _chained(self, meta: dict[str, Any]) -> int | None:
        """The index of a page of an open-ended template (its end decides what counts)."""
        return meta.get(PAGE_INDEX) if self.chain is not None and self.chain.open_ended else None

    def _filter(self, reason: str, url: str) -> bool:
        """Note a link not followed (counted when the crawl ends); False."""
        self.skipped[reason].add(canonicalize_url(url))
        return False

    def _count_skipped(self) -> None:
        """Count the distinct URLs each filter kept out, and those that held records.

        A page skipped as too deep but reached by a shorter path counts nothing, so the
        counts do not depend on the order responses arrived in.
        """
        for reason, urls in self.skipped.items():
            left = urls - self.requested
            self.tally.filtered[reason] += len(left)
            self.tally.record_links_filtered[reason] += sum(map(self._is_record_page, left))

    async def start(self) -> AsyncIterator[Request]:
        for index, url in enumerate(self.start_urls):
            if self._may_request(url):
                yield self._request(url, (START_URLS, index))
        for index, url in enumerate(self.scrape.sitemap.urls if self.scrape.sitemap else []):
            if self._may_request(url):
                yield self._request(url, (SITEMAPS, index), sitemap=True)
        for index in self.chain.initial() if self.chain else ():
            if self._may_request(self.chain.url(index)):
                yield self._page_request(index)

    def parse(self, response: Response, **kwargs: Any) -> Iterator[Request]:
        index = self._chained(response.meta)
        tally = self.tally if index is None else CrawlTally()
        before = tally.records_collected
        try:
            requests, live = self._read(response, tally)
            if index is not None:
                requests = self._settle(index, tally, live, requests)
        finally:
            self.progress.update(tally.records_collected - before)
        yield from requests

    def _read(self, response: Response, tally: CrawlTally) -> tuple[list[Request], bool]:
        """Count a page, extract its records, and request its links; whether it is live
        (it held a record or a link)."""
        tally.pages_fetched += 1
        if not isinstance(response, TextResponse):
            tally.pages_not_html += 1
            log.warning("not an HTML page, skipped: %s", response.url)
            return [], False
        if not decodes_cleanly(response):
            tally.pages_bad_encoding += 1
            log.warning("page is not valid %s (undecodable bytes replaced): %s",
                        response.encoding, response.url)
        live = False
        if self._is_record_page(response.url):
            live = self._extract(response, tally) > 0
        else:
            tally.link_pages += 1
        requests: list[Request] = []
        for css, hop in ((self.scrape.selectors.next_page, 0), (self.scrape.selectors.follow, 1)):
            urls = self._links(response, css)
            live = live or bool(urls)
            requests += self._follow(response, urls, hop)
        return requests, live

    def _settle(self, index: int, tally: CrawlTally, live: bool,
                requests: list[Request]) -> list[Request]:
        """Hold a page of an open-ended template; the requests it brings: its links and the
        next page of its chain while it is live and before the end."""
        assert self.chain is not None
        following = self.chain.settle(index, tally, live)
        if not live or self.chain.past_end(index):
            return []
        if following is not None and self._may_request(self.chain.url(following)):
            requests.append(self._page_request(following))
        return requests

    def parse_sitemap(self, response: Response, **kwargs: Any) -> Iterator[Request]:
        """Request the pages a sitemap lists (``sitemap.match`` filters them) and the
        sitemaps a sitemap index lists."""
        self.tally.pages_fetched += 1
        self.tally.link_pages += 1
        try:
            kind, locs = sitemap_entries(response.body)
        except ValueError as error:
            self.tally.pages_unparseable += 1
            log.warning("could not read the sitemap %s: %s", response.url, error)
            return
        finally:
            self.progress.update(0)
        seed = response.meta[SEED]
        for position, loc in enumerate(locs):
            url = response.urljoin(loc)
            if kind == "sitemapindex":
                if self._may_request(url):
                    yield self._request(url, (*seed, position), sitemap=True)
            elif self._wanted(url) and self._may_request(url):
                yield self._request(url, (*seed, position))

    def _wanted(self, url: str) -> bool:
        """Whether to request a page a sitemap lists: ``sitemap.match`` finds it, and it is
        not a template's page."""
        matched = self.sitemap_match is None or bool(self.sitemap_match.search(url))
        return matched and not self._templated(url)

    def _extract(self, response: TextResponse, tally: CrawlTally) -> int:
        """Add a page's records to ``tally``; how many record nodes it held."""
        url = public_url(response.url, self.strip_origin)
        try:
            page = extract_records(response, self.scrape.selectors, url)
        except Exception as error:  # a malformed page must never stop the crawl
            tally.pages_unparseable += 1
            log.warning("could not parse %s: %s: %s", response.url, type(error).__name__, error)
            return 0
        tally.add_page(page, response.meta[SEED], response.meta.get("depth", 0), url)
        if page.dropped:
            log.debug("%s: dropped %s", response.url, dict(page.dropped))
        return page.seen

    def _links(self, response: TextResponse, css: str | None) -> list[str]:
        """The absolute URLs of the links ``css`` selects on a page."""
        urls = []
        for target in response.css(css) if css else ():
            href = target.root if isinstance(target.root, str) else target.attrib.get("href")
            if not href or not href.strip():
                log.warning("link without a URL on %s: %s", response.url, target.get())
                continue
            urls.append(response.urljoin(strip_html5_whitespace(href)))
        return urls

    def _templated(self, url: str) -> bool:
        """Whether ``url`` is a page of the template (requested by the template alone)."""
        return self.chain is not None and self.chain.matches(url)

    def _follow(self, response: TextResponse, urls: list[str], hop: int) -> list[Request]:
        """Requests for the links ``urls`` of a page, ``hop`` follow-levels deeper."""
        depth = response.meta.get(FOLLOW_DEPTH, 0) + hop
        requests = []
        for url in urls:
            if self._templated(url):
                continue
            if self.scrape.max_depth and depth > self.scrape.max_depth:
                self._filter("max_depth", url)
            elif self._may_request(url):
                requests.append(self._request(url, response.meta[SEED], depth))
        return requests

    def on_error(self, failure: Failure) -> None:
        """Count a request that finally failed (after retries); the crawl goes on."""
        request = getattr(failure, "request", None)
        index = self._chained(request.meta) if request is not None else None
        tally = self.tally if index is None else CrawlTally()
        # A numbered page that fails ends its listing: logged when the crawl ends.
        level = logging.WARNING if index is None else logging.DEBUG
        self._count_failure(failure, request.url if request is not None else "?", tally, level)
        if index is not None:
            self._settle(index, tally, live=False, requests=[])

    def _count_failure(self, failure: Failure, url: str, tally: CrawlTally, level: int) -> None:
        if failure.check(HttpError):
            status = failure.value.response.status
            tally.http_errors[str(status)] += 1
            log.log(level, "HTTP %d: %s", status, url)
        elif failure.check(IgnoreRequest):  # robots.txt (counted from Scrapy's stats)
            if "robots.txt" in failure.getErrorMessage() and self._is_record_page(url):
                tally.record_links_filtered["robots_txt"] += 1
            log.debug("not requested: %s: %s", url, failure.getErrorMessage())
        else:
            name = failure.type.__name__ if failure.type else "Exception"
            tally.request_failures[name] += 1
            log.log(level, "request failed: %s: %s: %s", url, name, failure.getErrorMessage())

    def _end_listing(self) -> None:
        """Count the pages of an open-ended template up to its end; drop what came past it."""
        if self.chain is None or not self.chain.open_ended:
            return
        counted = self.chain.counted()
        for tally in counted:
            self.tally.merge(tally)
        end = self.chain.end
        if end is None:  # max_pages stopped it first
            return
        past = self.tally.discard(self.chain.descends_past_end, "past_last_page")
        dead = self.chain.tallies[end]
        why = ([f"HTTP {status}" for status in dead.http_errors] + list(dead.request_failures)
               or ["neither a record nor a link"])
        log.info("numbered pages end before page %d (%s; %d page(s) past it not counted%s)",
                 self.chain.number(end), why[0], len(self.chain.tallies) - len(counted),
                 f", {past} record(s) reached from them dropped" if past else "")

    def closed(self, reason: str) -> None:
        self.progress.close()
        self._end_listing()
        self._count_skipped()
        collect_stats(self.crawler.stats.get_stats(), self.tally)
        if reason != "finished":
            log.warning("crawl ended early: %s", reason)


def collect_stats(stats: dict[str, Any], tally: CrawlTally) -> None:
    """Copy what Scrapy counted (retries, robots.txt, offsite redirects) into ``tally``."""
    for key, value in stats.items():
        if key.startswith(RETRY_REASON_PREFIX):
            tally.retries[key.removeprefix(RETRY_REASON_PREFIX)] = int(value)
        elif key.startswith(ROBOTS_STATUS_PREFIX):
            tally.robots_responses[key.removeprefix(ROBOTS_STATUS_PREFIX)] = int(value)
        elif key.startswith(ROBOTS_ERROR_PREFIX):
            name = key.removeprefix(ROBOTS_ERROR_PREFIX).strip("<>'").rpartition(".")[2]
            tally.robots_errors[name.removeprefix("class '")] += int(value)
    tally.filtered["robots_txt"] += int(stats.get("robotstxt/forbidden", 0))
    tally.filtered["offsite"] += int(stats.get("offsite/filtered", 0))  # redirects off-site
    cache = {name: int(stats.get(f"httpcache/{name}", 0))
             for name in ("hit", "revalidate", "firsthand", "invalidate")}
    if any(cache.values()):
        log.info("http cache: %d page(s) served from the cache, %d unchanged (304), "
                 "%d downloaded anew, %d changed since cached", cache["hit"],
                 cache["revalidate"], cache["firsthand"], cache["invalidate"])


class _NoTraceback(logging.Filter):
    """Log a record as a one-line WARNING: for failures the stage already counts."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.exc_info = record.exc_text = None
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def _quiet_process(settings: dict[str, Any]) -> CrawlerProcess:
    """A CrawlerProcess that leaves the stage's logging alone and logs WARNING and up only."""
    previous = logging.root.manager.disable
    logging.disable(logging.INFO)  # the start-up banner Scrapy logs while configuring
    try:
        process = CrawlerProcess(settings)
    finally:
        logging.disable(previous)
    for name in ("scrapy", "twisted"):
        logging.getLogger(name).setLevel(settings["LOG_LEVEL"])
    # An unreachable robots.txt is logged as an ERROR with a traceback; the crawl goes on.
    robots = logging.getLogger("scrapy.downloadermiddlewares.robotstxt")
    if not any(isinstance(item, _NoTraceback) for item in robots.filters):
        robots.addFilter(_NoTraceback())
    return process


def run_crawl(scrape: ScrapeParams, start_urls: Sequence[str], allowed_domains: Sequence[str],
              strip_origin: str | None = None, expected_pages: int | None = None) -> CrawlTally:
    """Crawl with ``CrawlerProcess`` (blocking; the reactor runs once per process)."""
    tally = CrawlTally()
    settings = build_settings(scrape)
    process = _quiet_process(settings)
    failures: list[Failure] = []
    deferred = process.crawl(ReviewSpider, scrape=scrape, start_urls=start_urls,
                             allowed_domains=allowed_domains, tally=tally,
                             strip_origin=strip_origin, expected_pages=expected_pages)
    deferred.addErrback(failures.append)
    process.start()
    if failures:
        failures[0].raiseException()
    return tally
