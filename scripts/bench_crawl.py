"""Crawl rate against a loopback site that answers every page after 100 ms.

Serves ``tests/stages/scrape/paged_site.py`` (``--pages`` pages of 10 reviews, each response
delayed ``--latency`` seconds in its own thread) and crawls it with the stage's spider: by
next-page links, from an open-ended page template and from a sitemap, at concurrency 16 and 1.
Each crawl runs in a child process (Scrapy's reactor starts once per process) and times the
crawl alone. Usage: ``python -m scripts.bench_crawl [--pages 320] [--latency 0.1]``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from typing import Any

from sentiment.crawl.spider import run_crawl
from sentiment.params.scrape import ScrapeParams
from tests.stages.scrape.paged_site import PagedSite, paged_scrape_params, serve_paged

#: (what, concurrency, scrape params beyond the site's selectors) per crawl; {origin} is filled.
CRAWLS: tuple[tuple[str, int, dict[str, Any]], ...] = (
    ("next-page links", 16, {"start_urls": ["{origin}/reviews?page=1"]}),
    ("page template", 16, {"pages": {"template": "{origin}/reviews?page={{page}}"}}),
    ("sitemap", 16, {"sitemap": {"urls": ["{origin}/sitemap.xml"], "match": "/reviews"}}),
    ("page template", 1, {"pages": {"template": "{origin}/reviews?page={{page}}"}}),
)


def crawl(scrape: dict[str, Any]) -> dict[str, float]:
    """Crawl once (in this process); pages fetched, records and seconds."""
    params = ScrapeParams.model_validate(scrape)
    started = time.perf_counter()
    tally = run_crawl(params, params.start_urls, params.allowed_domains)
    return {"pages": tally.pages_fetched, "records": tally.records_collected,
            "seconds": time.perf_counter() - started}


def fill(value: Any, origin: str) -> Any:
    """``value`` with ``{origin}`` filled in its strings (``{{page}}`` becomes ``{page}``)."""
    if isinstance(value, dict):
        return {key: fill(item, origin) for key, item in value.items()}
    if isinstance(value, list):
        return [fill(item, origin) for item in value]
    return value.format(origin=origin) if isinstance(value, str) else value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=320)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--child", help=argparse.SUPPRESS)  # one crawl's params, as JSON
    args = parser.parse_args()
    if args.child:
        print(json.dumps(crawl(json.loads(args.child))))
        return
    site = PagedSite(pages=args.pages, latency=args.latency)
    print(f"{args.pages} pages of {site.per_page} reviews, {args.latency * 1000:.0f} ms per "
          "response, on loopback")
    print(f"{'source':<16} {'concurrency':>11} {'pages':>6} {'seconds':>8} {'pages/s':>8} "
          f"{'most open':>9}")
    for what, concurrency, changes in CRAWLS:
        with serve_paged(site) as running:
            scrape = paged_scrape_params(running.origin, concurrency=concurrency,
                                         **fill(changes, running.origin))
            done = subprocess.run([sys.executable, "-m", "scripts.bench_crawl", "--child",
                                   json.dumps(scrape)], capture_output=True, text=True,
                                  check=False)
            if done.returncode:
                sys.exit(f"the {what} crawl failed:\n{done.stderr}")
            result = json.loads(done.stdout.splitlines()[-1])
            most_open = running.traffic.most_open
        print(f"{what:<16} {concurrency:>11} {result['pages']:>6} {result['seconds']:>8.2f} "
              f"{result['pages'] / result['seconds']:>8.1f} {most_open:>9}", flush=True)


if __name__ == "__main__":
    main()
