"""Pages known in advance (a page template, a sitemap) and listing -> detail links are
requested concurrently; the real stage over loopback HTTP. The records never depend on it."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from sentiment.io import read_jsonl
from tests.stages.scrape.paged_site import (
    PagedSite,
    RunningPagedSite,
    Traffic,
    paged_scrape_params,
    serve_paged,
)
from tests.stages.scrape.shop_site import serve_shop, shop_scrape_params

if TYPE_CHECKING:
    from conftest import StageRun

    Runner = Callable[[Path, dict[str, Any]], StageRun]

PAGES = 37
LATENCY = 0.02  # long enough for requests to overlap when they may
SITE = PagedSite(pages=PAGES, latency=LATENCY)


@dataclass
class Crawl:
    run: StageRun
    traffic: Traffic
    origin: str

    def read(self, path: Path) -> str:
        """A file of the run with the site's origin (its random port) written ``ORIGIN``."""
        return path.read_text(encoding="utf-8").replace(self.origin, "ORIGIN")

    @property
    def stats(self) -> dict[str, Any]:
        return json.loads(self.run.stats.read_text(encoding="utf-8"))


def crawl(runner: Runner, workdir: Path, site: PagedSite,
          changes: Callable[[RunningPagedSite], dict[str, Any]]) -> Crawl:
    with serve_paged(site) as running:
        run = runner(workdir, paged_scrape_params(running.origin, **changes(running)))
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    return Crawl(run, running.traffic, running.origin)


def open_ended(concurrency: int) -> Callable[[RunningPagedSite], dict[str, Any]]:
    return lambda site: {"pages": {"template": site.template}, "concurrency": concurrency}


@pytest.fixture(scope="module")
def templated(scrape_runner: Runner,
              tmp_path_factory: pytest.TempPathFactory) -> dict[int, Crawl]:
    """The site crawled from an open-ended page template, one page and 16 pages at a time."""
    return {concurrency: crawl(scrape_runner, tmp_path_factory.mktemp(f"pages-{concurrency}"),
                               SITE, open_ended(concurrency))
            for concurrency in (1, 16)}


def test_an_open_ended_template_reads_every_page_and_stops_at_the_first_missing_one(
        templated: dict[int, Crawl]) -> None:
    for concurrency, run in templated.items():
        assert [record["id"] for record in read_jsonl(run.run.raw)] == SITE.record_ids()
        stats = run.stats
        assert stats["start_urls"] == [f"{run.origin}/reviews?page={{page}}"]
        assert stats["pages_fetched"] == PAGES and stats["http_errors"] == {"404": 1}
        assert stats["records_kept"] == PAGES * SITE.per_page
        assert set(stats["filtered"].values()) == {0}  # next links are left to the template
        assert set(stats["dropped"].values()) == {0}
        pages = {path: count for path, count in run.traffic.requests.items()
                 if path.startswith("/reviews")}
        assert set(pages.values()) == {1}
        assert len(pages) <= PAGES + concurrency  # probes past the end: one window at most


def test_a_template_uses_its_concurrency_and_the_output_does_not_depend_on_it(
        templated: dict[int, Crawl]) -> None:
    one, sixteen = templated[1], templated[16]
    assert one.traffic.most_open == 1
    assert sixteen.traffic.most_open >= 2
    assert one.read(one.run.raw) == sixteen.read(sixteen.run.raw)
    assert one.read(one.run.stats) == sixteen.read(sixteen.run.stats)


def test_a_dead_page_ends_an_open_ended_listing(scrape_runner: Runner, tmp_path: Path) -> None:
    # Page 10 fails for good: pages past it that were already requested are not kept.
    broken = PagedSite(pages=PAGES, latency=LATENCY, broken=frozenset({10}))
    run = crawl(scrape_runner, tmp_path, broken,
                lambda site: {**open_ended(4)(site), "retries": 0})
    assert [record["id"] for record in read_jsonl(run.run.raw)] == \
        broken.record_ids(range(1, 10))
    assert run.stats["http_errors"] == {"500": 1} and run.stats["pages_fetched"] == 9
    assert "numbered pages end before page 10 (HTTP 500;" in run.run.stderr


def test_a_sitemap_index_brings_every_page_it_lists_concurrently(
        scrape_runner: Runner, tmp_path: Path, templated: dict[int, Crawl]) -> None:
    run = crawl(scrape_runner, tmp_path, SITE, lambda site: {
        "sitemap": {"urls": [f"{site.origin}/sitemap.xml"], "match": r"/reviews\?page="},
        "concurrency": 16})
    assert run.read(run.run.raw) == templated[16].read(templated[16].run.raw)
    stats = run.stats
    assert stats["pages_fetched"] == 3 + PAGES and stats["link_pages"] == 3  # 3 sitemaps
    assert stats["http_errors"] == {} and stats["pages_unparseable"] == 0
    assert run.traffic.requests["/about"] == 0  # not matched by sitemap.match
    assert set(run.traffic.requests.values()) == {1}
    assert run.traffic.most_open >= 2


def test_listing_and_detail_pages_are_requested_concurrently(scrape_runner: Runner,
                                                             tmp_path: Path) -> None:
    crawls = {}
    for concurrency in (1, 16):
        with serve_shop(latency=LATENCY) as site:
            run = scrape_runner(tmp_path / str(concurrency),
                                {**shop_scrape_params(site.origin), "concurrency": concurrency})
        assert run.returncode == 0, run.stderr
        crawls[concurrency] = (run.raw.read_text(encoding="utf-8").replace(site.origin, "ORIGIN"),
                               site.traffic.most_open)
    (one, one_open), (sixteen, sixteen_open) = crawls[1], crawls[16]
    assert one_open == 1 and sixteen_open >= 2
    assert one == sixteen
