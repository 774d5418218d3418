"""Extraction, settings and result assembly: pure functions on hand-made HTML, no network."""

from __future__ import annotations

import hashlib

import pytest
from scrapy.http import HtmlResponse

from sentiment.params import FieldSelectors, ScrapeParams, Selectors
from stages.scrape.extract import PageRecords, extract_records, parse_number, stable_id
from stages.scrape.results import CrawlTally, finalize
from stages.scrape.spider import build_settings, public_url

SELECTORS = Selectors(
    record="article.review",
    fields=FieldSelectors(id="::attr(data-id)", text="p.text ::text", label="span.label::text",
                          confidence="span.confidence::text", rating="span.stars::attr(title)"),
    next_page="a[rel=next]::attr(href)",
)


def response(body: str, url: str = "http://shop.test/reviews?page=1") -> HtmlResponse:
    return HtmlResponse(url, body=f"<html><body>{body}</body></html>".encode(), encoding="utf-8")


def test_all_fields() -> None:
    page = extract_records(response(
        '<article class="review" data-id="r-1"><p class="text">\n  Tom &amp; <b>Jerry</b>\r'
        '</p><span class="label">positive</span><span class="confidence"> 0.75 </span>'
        '<span class="stars" title="4.5">★★★★</span></article>'), SELECTORS)
    assert page.records == [{"id": "r-1", "text": "Tom & Jerry", "label": "positive",
                             "confidence": 0.75, "rating": 4.5,
                             "url": "http://shop.test/reviews?page=1"}]
    assert not page.dropped and not page.missing_fields


def test_missing_text_is_dropped_and_counted() -> None:
    page = extract_records(response(
        '<article class="review" data-id="a"><span class="label">negative</span></article>'
        '<article class="review" data-id="b"><p class="text">  \n </p></article>'
        '<article class="review" data-id="c"><p class="text">kept</p></article>'), SELECTORS)
    assert [record["id"] for record in page.records] == ["c"]
    assert page.dropped == {"missing_text": 2}
    assert page.seen == 3


def test_missing_label_keeps_the_record_with_none() -> None:
    page = extract_records(response(
        '<article class="review" data-id="a"><p class="text">no label</p></article>'), SELECTORS)
    assert page.records[0]["label"] is None and page.records[0]["confidence"] is None
    assert page.missing_fields == {"label": 1, "confidence": 1, "rating": 1}
    assert not page.dropped


@pytest.mark.parametrize(("markup", "reason"), [
    ('<span class="confidence">n/a</span>', "bad_confidence"),
    ('<span class="confidence">nan</span>', "bad_confidence"),
    ('<span class="stars" title="four">x</span>', "bad_rating"),
])
def test_unparseable_number_drops_the_record(markup: str, reason: str) -> None:
    page = extract_records(response(
        f'<article class="review" data-id="a"><p class="text">hi</p>{markup}</article>'),
        SELECTORS)
    assert page.records == [] and page.dropped == {reason: 1}


def test_page_without_records() -> None:
    page = extract_records(response("<p class='text'>not in an article</p>"), SELECTORS)
    assert page == PageRecords()


def test_missing_id_falls_back_to_a_stable_text_hash() -> None:
    page = extract_records(response(
        '<article class="review"><p class="text">same text</p></article>'
        '<article class="review" data-id=""><p class="text">same text</p></article>'), SELECTORS)
    assert [record["id"] for record in page.records] == [stable_id("same text")] * 2
    assert stable_id("same text") == hashlib.sha256(b"same text").hexdigest()[:16]


def test_unconfigured_fields_are_left_out() -> None:
    selectors = Selectors(record="li", fields=FieldSelectors(text="::text"))
    page = extract_records(response("<ul><li>one</li><li>two</li></ul>"), selectors, url="/x")
    assert page.records == [{"id": stable_id("one"), "text": "one", "url": "/x"},
                            {"id": stable_id("two"), "text": "two", "url": "/x"}]


def test_parse_number() -> None:
    assert parse_number(" 3 ") == 3.0
    for bad in ("", "inf", "3/5", "1,5"):
        with pytest.raises(ValueError):
            parse_number(bad)


def test_finalize_sorts_by_id_and_keeps_the_first_duplicate_in_crawl_order() -> None:
    tally = CrawlTally()
    later = PageRecords(records=[{"id": "b", "text": "second"}, {"id": "a", "text": "a"}])
    first = PageRecords(records=[{"id": "b", "text": "first"}], dropped={"missing_text": 1})
    tally.add_page(later, start_index=0, depth=1, url="/p2")  # arrives first
    tally.add_page(first, start_index=0, depth=0, url="/p1")
    tally.pages_fetched = 2
    scrape = ScrapeParams(selectors=SELECTORS, source="web", start_urls=["http://shop.test/"])
    records, stats = finalize(tally, scrape, ["http://shop.test/"])
    assert records == [{"id": "a", "text": "a"}, {"id": "b", "text": "first"}]
    assert stats["dropped"] == {"bad_confidence": 0, "bad_rating": 0, "duplicate_id": 1,
                                "missing_text": 1}
    assert stats["records_seen"] == 4 and stats["records_kept"] == 2
    assert stats["pages_fetched"] == 2


def _scrape(**changes: object) -> ScrapeParams:
    return ScrapeParams(selectors=SELECTORS, **changes)


def test_settings_come_from_params() -> None:
    settings = build_settings(_scrape(concurrency=3, download_delay=0.5, download_timeout=2.0,
                                      obey_robots=False, user_agent="ua/1", retries=0))
    assert settings["CONCURRENT_REQUESTS"] == 3
    assert settings["DOWNLOAD_DELAY"] == 0.5 and settings["DOWNLOAD_TIMEOUT"] == 2.0
    assert settings["ROBOTSTXT_OBEY"] is False and settings["USER_AGENT"] == "ua/1"
    assert settings["RETRY_ENABLED"] is False and settings["RETRY_TIMES"] == 0
    assert settings["TELNETCONSOLE_ENABLED"] is False
    assert settings["LOG_LEVEL"] in {"INFO", "WARNING"}
    assert build_settings(_scrape(retries=2))["RETRY_ENABLED"] is True


def test_public_url_hides_the_demo_origin() -> None:
    assert public_url("http://127.0.0.1:4242/reviews?page=3", "http://127.0.0.1:4242") \
        == "/reviews?page=3"
    assert public_url("http://shop.test/a", None) == "http://shop.test/a"
