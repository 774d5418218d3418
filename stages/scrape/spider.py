"""The review spider, configured only from ``ScrapeParams``, and the crawl runner.

Failures (HTTP errors, timeouts, malformed pages, records without text) are counted in a
``CrawlTally`` and logged; none of them stops the crawl.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

import scrapy
from scrapy.crawler import CrawlerProcess
from scrapy.http import Request, Response, TextResponse
from scrapy.spidermiddlewares.httperror import HttpError
from tqdm import tqdm
from twisted.python.failure import Failure

from sentiment.params import ScrapeParams
from stages.scrape.extract import extract_records
from stages.scrape.results import CrawlTally

log = logging.getLogger("scrape")

START_INDEX = "start_index"  # request meta: which start URL a page descends from
RETRY_REASON_PREFIX = "retry/reason_count/"
LOG_EVERY_PAGES = 50  # progress log line period when stderr is not a terminal


def build_settings(scrape: ScrapeParams) -> dict[str, Any]:
    """The Scrapy settings for a crawl, from params only."""
    return {
        "BOT_NAME": "sentiment",
        "USER_AGENT": scrape.user_agent,
        "ROBOTSTXT_OBEY": scrape.obey_robots,
        "CONCURRENT_REQUESTS": scrape.concurrency,
        "CONCURRENT_REQUESTS_PER_DOMAIN": scrape.concurrency,
        "DOWNLOAD_DELAY": scrape.download_delay,
        "DOWNLOAD_TIMEOUT": scrape.download_timeout,
        "RETRY_ENABLED": scrape.retries > 0,
        "RETRY_TIMES": scrape.retries,
        "RETRY_GIVE_UP_LOG_LEVEL": "WARNING",
        "COOKIES_ENABLED": False,
        "HTTPCACHE_ENABLED": False,
        "AUTOTHROTTLE_ENABLED": False,
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

    def update(self, tally: CrawlTally) -> None:
        if not self.bar.disable:
            self.bar.set_postfix(records=tally.records_collected, refresh=False)
            self.bar.update(1)
        elif tally.pages_fetched % LOG_EVERY_PAGES == 0:
            log.info("crawled %d pages, %d records so far", tally.pages_fetched,
                     tally.records_collected)

    def close(self) -> None:
        self.bar.close()


class ReviewSpider(scrapy.Spider):
    """Follows next-page links from the start URLs and extracts records with the selectors.

    ``max_pages`` caps the page requests issued. Records are collected into ``tally`` with an
    order key (start URL, depth, page, position), so duplicates resolve the same way whatever
    order responses arrive in.
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
        self.requested = 0
        self.progress = _Progress(expected_pages)

    def _may_request(self) -> bool:
        """Count a page request against ``max_pages``; False once the cap is reached."""
        if self.scrape.max_pages and self.requested >= self.scrape.max_pages:
            self.tally.max_pages_reached = True
            return False
        self.requested += 1
        return True

    async def start(self) -> AsyncIterator[Request]:
        for index, url in enumerate(self.start_urls):
            if not self._may_request():
                break
            yield Request(url, callback=self.parse, errback=self.on_error,
                          meta={START_INDEX: index})

    def parse(self, response: Response, **kwargs: Any) -> Iterator[Request]:
        tally = self.tally
        tally.pages_fetched += 1
        try:
            if not isinstance(response, TextResponse):
                tally.pages_not_html += 1
                log.warning("not an HTML page, skipped: %s", response.url)
                return
            if not decodes_cleanly(response):
                tally.pages_bad_encoding += 1
                log.warning("page is not valid %s (undecodable bytes replaced): %s",
                            response.encoding, response.url)
            url = public_url(response.url, self.strip_origin)
            try:
                page = extract_records(response, self.scrape.selectors, url)
            except Exception as error:  # a malformed page must never stop the crawl
                tally.pages_unparseable += 1
                log.warning("could not parse %s: %s: %s", response.url,
                            type(error).__name__, error)
                return
            tally.add_page(page, response.meta.get(START_INDEX, 0),
                           response.meta.get("depth", 0), url)
            if page.dropped:
                log.debug("%s: dropped %s", response.url, dict(page.dropped))
            yield from self._follow_next(response)
        finally:
            self.progress.update(tally)

    def _follow_next(self, response: TextResponse) -> Iterator[Request]:
        css = self.scrape.selectors.next_page
        if not css:
            return
        for target in response.css(css):
            try:
                request = response.follow(target, callback=self.parse, errback=self.on_error,
                                          meta={START_INDEX: response.meta.get(START_INDEX, 0)})
            except ValueError as error:
                log.warning("next-page link without a URL on %s: %s", response.url, error)
                continue
            if not self._may_request():
                return
            yield request

    def on_error(self, failure: Failure) -> None:
        """Count a request that finally failed (after retries); the crawl goes on."""
        request = getattr(failure, "request", None)
        url = request.url if request is not None else "?"
        if failure.check(HttpError):
            status = failure.value.response.status
            self.tally.http_errors[str(status)] += 1
            log.warning("HTTP %d: %s", status, url)
        else:
            name = failure.type.__name__ if failure.type else "Exception"
            self.tally.request_failures[name] += 1
            log.warning("request failed: %s: %s: %s", url, name, failure.getErrorMessage())

    def closed(self, reason: str) -> None:
        self.progress.close()
        for key, value in self.crawler.stats.get_stats().items():
            if key.startswith(RETRY_REASON_PREFIX):
                self.tally.retries[key.removeprefix(RETRY_REASON_PREFIX)] = int(value)
        if reason != "finished":
            log.warning("crawl ended early: %s", reason)


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
