"""Stage scrape: the first stage: records into ``data/raw`` (+ statistics), from a crawl of a
review site with Scrapy, or from files, S3 objects or a SQL query (docs/data-sources.md).

``python -m stages.scrape``. With ``scrape.source: demo`` the stage serves its own offline
review site (``demo_site``) on 127.0.0.1 for the duration of the crawl.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from sentiment.crawl.demo_site import page_url, serve_demo
from sentiment.crawl.results import CrawlTally, finalize
from sentiment.crawl.spider import run_crawl
from sentiment.data.sources import write_records
from sentiment.errors import InputError
from sentiment.io import write_json, write_jsonl
from sentiment.params.clean import CleanParams
from sentiment.params.scrape import PAGE_PLACEHOLDER, PageTemplate, ScrapeParams
from sentiment.params.stage import StageParams
from sentiment.runtime import StageError, run_stage

log = logging.getLogger("scrape")

DEMO_DOMAINS = ["127.0.0.1"]
STATS_FILE = "scrape.json"


#: Why a link was not followed, as the empty-crawl message says it.
FILTER_CAUSES = {"robots_txt": "forbidden by robots.txt (scrape.obey_robots)",
                 "offsite": "outside scrape.allowed_domains",
                 "max_depth": "deeper than scrape.max_depth",
                 "unsupported_scheme": "not http:// or https://"}


class ScrapeStageParams(StageParams):
    """The sections of params.yaml this stage reads."""

    scrape: ScrapeParams
    clean: CleanParams = CleanParams()  # its label_map checks a source's label column



def describe_empty(tally: CrawlTally, stats: dict[str, Any]) -> str:
    """Why a crawl found nothing, in one line, ending with the params to check."""
    parts = [f"{tally.pages_fetched} page(s) fetched", f"{tally.records_seen} record(s) matched"]
    dropped = {reason: count for reason, count in stats["dropped"].items() if count}
    filtered = {reason: count for reason, count in stats["filtered"].items() if count}
    for label, counts in (("dropped", dropped), ("links filtered", filtered),
                          ("HTTP errors", stats["http_errors"]),
                          ("request failures", stats["request_failures"])):
        if counts:
            parts.append(f"{label} {counts}")
    blocked = {reason: count for reason, count in tally.record_links_filtered.items() if count}
    if blocked:
        hint = ", ".join(f"{count} link(s) to pages of records {FILTER_CAUSES[reason]}"
                         for reason, count in sorted(blocked.items()))
    elif not tally.pages_fetched:
        hint = "check scrape.start_urls"
    elif tally.link_pages == tally.pages_fetched:
        hint = "no fetched page matches scrape.selectors.record_pages"
    else:
        hint = "check scrape.selectors"
    return f"{', '.join(parts)}; {hint}"


def seed_urls(scrape: ScrapeParams) -> list[str]:
    """Where a web crawl starts, as the report and messages say it: the start URLs, the page
    template and the sitemaps."""
    return [*scrape.start_urls, *([scrape.pages.template] if scrape.pages else []),
            *(scrape.sitemap.urls if scrape.sitemap else [])]


def read_source(params: ScrapeStageParams) -> None:
    """Read the files or query ``scrape`` names into ``paths.raw``; record what was read."""
    started = time.monotonic()
    try:
        written, tally = write_records(params.scrape, params.clean.label_map,
                                       Path(params.paths.raw))
    except InputError as error:
        raise StageError(str(error)) from None
    write_json(Path(params.paths.reports) / STATS_FILE,
               tally.report(params.scrape.source, written))
    log.info("kept %d records of %d rows from %d input(s) in %.1f s (%d repeated ids)",
             written, tally.rows_read, len(tally.read), time.monotonic() - started,
             tally.duplicate_ids)


def main(params: ScrapeStageParams) -> None:
    """Crawl or read as ``params.scrape`` says; write ``paths.raw`` and
    ``<paths.reports>/scrape.json``."""
    scrape = params.scrape
    if scrape.source in ("files", "sql"):
        read_source(params)
        return
    started = time.monotonic()
    if scrape.source == "demo":
        with serve_demo(scrape.demo) as site:
            pages = site.site.pages
            crawled = [site.start_url]
            shown = [page_url(1)]
            numbered = PageTemplate(template=site.origin + page_url(PAGE_PLACEHOLDER), last=pages)
            tally = run_crawl(scrape.model_copy(update={"pages": numbered}), [], DEMO_DOMAINS,
                              strip_origin=site.origin,
                              expected_pages=min(pages, scrape.max_pages or pages))
    else:
        crawled = shown = seed_urls(scrape)
        tally = run_crawl(scrape, scrape.start_urls, scrape.allowed_domains)
    records, stats = finalize(tally, scrape, shown)
    if not records:
        raise StageError(f"scrape collected no records from {', '.join(crawled)}: "
                         f"{describe_empty(tally, stats)}")
    write_jsonl(params.paths.raw, records)
    write_json(Path(params.paths.reports) / STATS_FILE, stats)
    problems = {key: stats[key] for key in ("http_errors", "request_failures") if stats[key]}
    log.info("kept %d of %d records from %d pages in %.1f s (dropped %s, retries %d%s)",
             stats["records_kept"], stats["records_seen"], stats["pages_fetched"],
             time.monotonic() - started,
             {reason: count for reason, count in stats["dropped"].items() if count},
             stats["retries"], f", {problems}" if problems else "")


if __name__ == "__main__":
    run_stage("scrape", ScrapeStageParams, main)
