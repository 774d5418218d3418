"""Extraction, settings and result assembly: pure functions on hand-made HTML, no network."""

from __future__ import annotations

import hashlib

import pytest
from scrapy.http import HtmlResponse

from sentiment.crawl.extract import (
    PageRecords,
    drop_reasons,
    extract_records,
    parse_number,
    stable_id,
)
from sentiment.crawl.results import CrawlTally, finalize
from sentiment.crawl.spider import ReviewSpider, build_settings, public_url
from sentiment.params.scrape import FieldSelectors, ScrapeParams, Selectors

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
    tally.add_page(later, seed=(0, 0), depth=1, url="/p2")  # arrives first
    tally.add_page(first, seed=(0, 0), depth=0, url="/p1")
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


STAR_RATINGS = [
    ('<span class="score">8/10</span>', {"css": "span.score", "regex": r"([\d.]+)\s*/\s*10"}, 8.0),
    ('<span class="score">4.5 out of 5 stars</span>',
     {"css": "span.score", "regex": r"(?P<value>[\d.]+) out of \d+"}, 4.5),
    ('<div class="stars" aria-label="Rated 4 out of 5"></div>',
     {"css": "div.stars::attr(aria-label)", "regex": r"Rated ([\d.]+) out of"}, 4.0),
    ('<span class="score">★★★★☆</span>', {"css": "span.score", "count": "★"}, 4.0),
    ('<span class="score">☆☆☆☆☆</span>', {"css": "span.score", "count": "★"}, 0.0),
]


def _one(markup: str, **fields: object) -> PageRecords:
    selectors = Selectors(record="article", fields=FieldSelectors(text="p.text", **fields))
    return extract_records(response(f'<article><p class="text">hi</p>{markup}</article>'),
                           selectors, url="/r")


@pytest.mark.parametrize(("markup", "rating", "expected"), STAR_RATINGS)
def test_ratings_given_as_text(markup: str, rating: dict, expected: float) -> None:
    page = _one(markup, rating=rating)
    assert page.records[0]["rating"] == expected and not page.dropped


def test_a_regex_that_does_not_match_leaves_the_field_missing() -> None:
    page = _one('<span class="score">not rated yet</span>',
                rating={"css": "span.score", "regex": r"(\d+)/10"})
    assert page.records[0]["rating"] is None and page.missing_fields == {"rating": 1}


def test_optional_required_and_extra_fields() -> None:
    fields = FieldSelectors(
        text="div.body", author={"css": "span.by", "regex": r"by (?P<value>.+)"},
        date="time::attr(datetime)", title={"css": "h3", "required": True},
        product={"css": "h1", "scope": "page"},
        helpful={"css": "p.helpful", "regex": r"(\d+) people", "number": True},
        verified="span.badge")
    page = extract_records(response(
        '<h1>Steel <b>Kettle</b></h1>'
        '<article><h3>Great</h3><span class="by">by Ann Lee</span><time datetime="2024-01-02">'
        'Jan</time><div class="body"><p>Boils fast.</p><p>Looks <i>good</i>.</p></div>'
        '<p class="helpful">12 people found this helpful</p></article>'
        '<article><h3>Meh</h3><div class="body">Just fine</div></article>'
        '<article><div class="body">No title</div></article>'
        '<article><h3>Odd</h3><div class="body">x</div><p class="helpful">many people</p>'
        '</article>'), Selectors(record="article", fields=fields), url="/r")
    assert page.records == [
        {"id": stable_id("Boils fast.\nLooks good."), "url": "/r",
         "text": "Boils fast.\nLooks good.", "author": "Ann Lee", "date": "2024-01-02",
         "title": "Great", "product": "Steel Kettle", "helpful": 12.0, "verified": None},
        {"id": stable_id("Just fine"), "url": "/r", "text": "Just fine", "author": None,
         "date": None, "title": "Meh", "product": "Steel Kettle", "helpful": None,
         "verified": None},
        # "many people" holds no number: the regex does not match, so helpful is missing.
        {"id": stable_id("x"), "url": "/r", "text": "x", "author": None, "date": None,
         "title": "Odd", "product": "Steel Kettle", "helpful": None, "verified": None},
    ]
    assert page.dropped == {"missing_title": 1}
    assert page.missing_fields == {"author": 2, "date": 2, "helpful": 2, "verified": 3}
    assert drop_reasons(fields) == ["bad_confidence", "bad_helpful", "bad_rating",
                                    "duplicate_id", "missing_text", "missing_title"]


def test_a_page_field_that_is_not_a_number_drops_each_record_of_the_page() -> None:
    selectors = Selectors(record="article", fields=FieldSelectors(
        text="p", rating={"css": "h1", "scope": "page"}))
    page = extract_records(response("<h1>n/a</h1><article><p>a</p></article>"
                                    "<article><p>b</p></article>"), selectors)
    assert page.records == [] and page.dropped == {"bad_rating": 2}


@pytest.mark.parametrize("deep_link_first", [True, False])
def test_filtered_links_are_distinct_urls_whatever_the_arrival_order(
        deep_link_first: bool) -> None:
    scrape = _scrape(source="web", start_urls=["http://shop.test/"], max_depth=1,
                     allowed_domains=["shop.test"])
    spider = ReviewSpider(scrape, scrape.start_urls, scrape.allowed_domains, CrawlTally())
    reached = "http://shop.test/reviews?b=2&a=1"
    if deep_link_first:
        spider._filter("max_depth", reached)
    assert spider._may_request("http://shop.test/reviews?a=1&b=2#top")
    for url in (reached, "http://shop.test/deeper", "http://shop.test/deeper#x"):
        spider._filter("max_depth", url)
    assert not spider._may_request("http://other.test/reviews")
    assert not spider._may_request("mailto:a@shop.test")
    spider._count_skipped()
    assert spider.tally.filtered == {"max_depth": 1, "offsite": 1, "unsupported_scheme": 1}


def test_politeness_and_cache_settings() -> None:
    default = build_settings(_scrape())
    assert default["HTTPCACHE_ENABLED"] is False and default["AUTOTHROTTLE_ENABLED"] is False
    assert all(default["DOWNLOAD_HANDLERS"][scheme] is None for scheme in ("ftp", "file", "data"))
    tuned = build_settings(_scrape(
        autothrottle={"enabled": True, "start_delay": 0.5, "max_delay": 4.0,
                      "target_concurrency": 2.0},
        http_cache={"enabled": True, "dir": "cache", "policy": "keep", "expire_after": 60}))
    assert tuned["AUTOTHROTTLE_ENABLED"] is True and tuned["AUTOTHROTTLE_MAX_DELAY"] == 4.0
    assert tuned["AUTOTHROTTLE_START_DELAY"] == 0.5
    assert tuned["AUTOTHROTTLE_TARGET_CONCURRENCY"] == 2.0
    assert tuned["HTTPCACHE_ENABLED"] is True and tuned["HTTPCACHE_DIR"].endswith("/cache")
    assert tuned["HTTPCACHE_POLICY"].endswith("DummyPolicy")
    assert tuned["HTTPCACHE_EXPIRATION_SECS"] == 60 and 503 in tuned["HTTPCACHE_IGNORE_HTTP_CODES"]
    assert build_settings(_scrape(http_cache={"enabled": True}))["HTTPCACHE_POLICY"].endswith(
        "RFC2616Policy")
