"""The real stage crawling the second site (tests/stages/scrape/shop_site.py) on loopback:
listing -> product -> paginated reviews, ratings as text, several paragraphs per review."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from sentiment.io import read_jsonl
from tests.stages.scrape.shop_site import (
    FAILS_ONCE,
    PAGE_SIZE,
    RunningShop,
    Shop,
    serve_shop,
    shop_scrape_params,
)

if TYPE_CHECKING:
    from conftest import StageRun

    Runner = Callable[[Path, dict[str, Any]], StageRun]


def expected_records(shop: Shop, origin: str) -> list[dict[str, Any]]:
    """Every review once, as the site's own data says it should read, sorted by id."""
    records = []
    for slug, reviews in shop.reviews.items():
        for index, review in enumerate(reviews):
            page = index // PAGE_SIZE + 1
            records.append({
                "id": review.id, "text": review.text, "rating": review.rating,
                "title": review.title, "author": review.author, "date": review.date,
                "product": review.product, "helpful": review.helpful,
                "url": f"{origin}/products/{slug}/reviews" + (f"?page={page}" if page > 1 else ""),
            })
    return sorted(records, key=lambda record: record["id"])


@dataclass
class ShopCrawl:
    run: StageRun
    site: RunningShop


def crawl(runner: Runner, workdir: Path, minified: bool = False,
          **changes: Any) -> ShopCrawl:
    with serve_shop(minified) as site:
        run = runner(workdir, {**shop_scrape_params(site.origin), **changes})
    return ShopCrawl(run, site)


@pytest.fixture(scope="module")
def pretty(scrape_runner: Runner, tmp_path_factory: pytest.TempPathFactory) -> ShopCrawl:
    return crawl(scrape_runner, tmp_path_factory.mktemp("shop-pretty"))


def test_every_review_arrives_once_with_its_fields(pretty: ShopCrawl) -> None:
    run, site = pretty.run, pretty.site
    assert run.returncode == 0, run.stderr
    records = read_jsonl(run.raw)
    assert records == expected_records(site.shop, site.origin)
    assert len(records) == len(site.shop.all_reviews) == 210
    assert any("\n" in record["text"] for record in records)  # paragraphs kept apart
    stats = json.loads(run.stats.read_text(encoding="utf-8"))
    review_pages = sum(site.shop.pages(slug) for slug in site.shop.reviews)
    assert stats["pages_fetched"] == 2 + 6 + review_pages  # catalog, products, reviews
    assert stats["link_pages"] == 2 + 6 and stats["pages_without_records"] == 0
    assert stats["records_seen"] == stats["records_kept"] == 210
    assert stats["filtered"] == {"max_depth": 0, "offsite": 1, "robots_txt": 1,
                                 "unsupported_scheme": 2}
    assert stats["robots_txt"] == {"obeyed": True, "responses": {"200": 1}, "errors": {}}
    assert stats["retries_by_reason"] == {"503 Service Unavailable": 1}
    assert stats["http_errors"] == {} and stats["request_failures"] == {}
    assert set(stats["dropped"].values()) == {0}
    assert stats["missing_fields"] == {
        "helpful": sum(review.helpful is None for review in site.shop.all_reviews)}
    traffic = site.traffic
    assert traffic.requests[FAILS_ONCE] == 2
    assert all(count == 1 for path, count in traffic.requests.items() if path != FAILS_ONCE)
    assert not any(path.startswith("/account") for path in traffic.requests)
    assert "Traceback" not in run.stderr


def test_a_minified_copy_gives_identical_records(pretty: ShopCrawl, scrape_runner: Runner,
                                                 tmp_path: Path) -> None:
    # With AutoThrottle on, too: it changes the pace, never the records.
    minified = crawl(scrape_runner, tmp_path, minified=True, autothrottle={
        "enabled": True, "start_delay": 0.0, "max_delay": 0.05, "target_concurrency": 4.0})
    assert minified.run.returncode == 0, minified.run.stderr
    assert minified.site.shop.render("/catalog") != pretty.site.shop.render("/catalog")
    same_origin = minified.run.raw.read_text(encoding="utf-8").replace(
        minified.site.origin, pretty.site.origin)
    assert same_origin == pretty.run.raw.read_text(encoding="utf-8")


def test_a_recrawl_through_the_http_cache_downloads_nothing(scrape_runner: Runner,
                                                            tmp_path: Path) -> None:
    cache = {"enabled": True, "dir": str(tmp_path / "httpcache")}
    with serve_shop() as site:
        params = shop_scrape_params(site.origin)
        first = scrape_runner(tmp_path / "first", {**params, "http_cache": cache})
        fetched = sum(site.traffic.bodies.values())
        site.traffic.bodies.clear()
        site.traffic.requests.clear()
        again = scrape_runner(tmp_path / "again", {**params, "http_cache": cache})
        asked, sent = sum(site.traffic.requests.values()), sum(site.traffic.bodies.values())
        unchanged = sum(site.traffic.not_modified.values())
        site.traffic.requests.clear()
        kept = scrape_runner(tmp_path / "kept", {**params,
                                                 "http_cache": {**cache, "policy": "keep"}})
        asked_kept = sum(site.traffic.requests.values())
    for run in (first, again, kept):
        assert run.returncode == 0, run.stderr
        assert run.raw.read_bytes() == first.raw.read_bytes()
    assert fetched == 1 + 32 + 1  # robots.txt, every page, the 503 once
    # revalidate: every page asked about once, each answered 304 without a body.
    assert sent == 0 and asked == unchanged == 1 + 32
    assert "0 downloaded anew" in again.stderr and "33 unchanged (304)" in again.stderr
    assert asked_kept == 0 and "33 page(s) served from the cache" in kept.stderr


@pytest.mark.parametrize(("changes", "cause"), [
    ({"selectors": {"follow": "li.product a[href^=account]::attr(href)",
                    "record_pages": "/account/"}},
     "1 link(s) to pages of records forbidden by robots.txt (scrape.obey_robots)"),
    ({"selectors": {"record_pages": "/products/mug"}},
     "1 link(s) to pages of records outside scrape.allowed_domains"),
    ({"max_depth": 1}, "6 link(s) to pages of records deeper than scrape.max_depth"),
])
def test_an_empty_crawl_names_what_filtered_it(scrape_runner: Runner, tmp_path: Path,
                                               changes: dict[str, Any], cause: str) -> None:
    with serve_shop() as site:
        params = shop_scrape_params(site.origin)
        params["selectors"] = {**params["selectors"], **changes.pop("selectors", {})}
        run = scrape_runner(tmp_path, {**params, **changes})
    assert run.returncode == 2
    assert any(line.endswith(cause) for line in run.stderr.splitlines()), run.stderr
    assert "Traceback" not in run.stderr


@pytest.mark.parametrize("url", ["ftp://127.0.0.1:1/reviews", "http:///reviews",
                                 "127.0.0.1/reviews", "file:///etc/passwd"])
def test_a_start_url_that_is_not_http_is_a_params_error(scrape_runner: Runner, tmp_path: Path,
                                                        url: str) -> None:
    started = time.monotonic()
    run = scrape_runner(tmp_path, {"source": "web", "start_urls": [url]})
    assert run.returncode == 2 and time.monotonic() - started < 30
    assert "scrape.start_urls" in run.stderr and "is not an http:// or https:// URL" in run.stderr
    assert "Traceback" not in run.stderr and not run.raw.exists()
