"""The scrape and clean sections of params.yaml: bad values name their key before any work."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from sentiment.params.base import ParamsError
from sentiment.params.clean import CleanParams
from sentiment.params.schema import parse_params
from tests.conftest import REPO_ROOT, deep_update

SHOP = "http://127.0.0.1:8765/catalog"
PAGES = "http://127.0.0.1:8765/reviews?page={page}"
SITEMAP = "http://127.0.0.1:8765/sitemap.xml"


def parse(changes: dict[str, Any]) -> None:
    base = yaml.safe_load((REPO_ROOT / "params.yaml").read_text(encoding="utf-8"))
    parse_params(deep_update(base, changes))


@pytest.mark.parametrize(("changes", "key", "words"), [
    ({"scrape": {"source": "web", "start_urls": ["ftp://127.0.0.1/x"]}}, "scrape.start_urls",
     "'ftp://127.0.0.1/x' is not an http:// or https:// URL with a host"),
    ({"scrape": {"start_urls": ["https:///reviews"]}}, "scrape.start_urls", "with a host"),
    ({"scrape": {"start_urls": ["shop.test/reviews"]}}, "scrape.start_urls", "http://"),
    ({"scrape": {"start_urls": [SHOP], "allowed_domains": ["http://127.0.0.1"]}},
     "scrape.allowed_domains", "not a host name"),
    ({"scrape": {"start_urls": [SHOP], "allowed_domains": ["shop.test"]}},
     "scrape.allowed_domains", "start URL 'http://127.0.0.1:8765/catalog' is outside"),
    ({"scrape": {"selectors": {"record": "article["}}}, "scrape.selectors.record",
     "not a valid CSS selector"),
    ({"scrape": {"selectors": {"fields": {"text": "p::txet"}}}},
     "scrape.selectors.fields.text.css", "not a valid CSS selector"),
    ({"scrape": {"selectors": {"fields": {"rating": {"css": "b", "regex": "(\\d"}}}}},
     "scrape.selectors.fields.rating.regex", "not a valid regular expression"),
    ({"scrape": {"selectors": {"fields": {"rating": {"css": "b", "regx": "x"}}}}},
     "scrape.selectors.fields.rating.regx", "unknown key"),
    ({"scrape": {"selectors": {"fields": {"ratings": "b"}}}}, "scrape.selectors.fields",
     "'ratings' looks like a typo of 'rating'"),
    ({"scrape": {"selectors": {"fields": {"url": "a::attr(href)"}}}}, "scrape.selectors.fields",
     "'url' must be lower_snake_case and not one of"),
    ({"scrape": {"selectors": {"record_pages": "[a-"}}}, "scrape.selectors.record_pages",
     "not a valid regular expression"),
    ({"scrape": {"download_timeout": float("inf")}}, "scrape.download_timeout", "finite"),
    ({"scrape": {"autothrottle": {"max_delay": float("nan")}}}, "scrape.autothrottle.max_delay",
     "finite"),
    ({"scrape": {"http_cache": {"policy": "forever"}}}, "scrape.http_cache.policy",
     "'revalidate' or 'keep'"),
    ({"scrape": {"source": "web", "pages": {"template": "http://127.0.0.1/reviews?p=1"}}},
     "scrape.pages.template", "has no {page} for the page number"),
    ({"scrape": {"source": "web", "pages": {"template": "127.0.0.1/r?page={page}"}}},
     "scrape.pages.template", "is not an http:// or https:// URL with a host"),
    ({"scrape": {"source": "web", "pages": {"template": PAGES, "first": 5, "last": 2}}},
     "scrape.pages", "scrape.pages.last (2) is below first (5); 0 means open-ended"),
    ({"scrape": {"source": "web", "pages": {"template": PAGES, "step": 0}}},
     "scrape.pages.step", "greater than or equal to 1"),
    ({"scrape": {"source": "web", "pages": {"template": PAGES, "lastt": 3}}},
     "scrape.pages.lastt", "unknown key"),
    ({"scrape": {"source": "web", "allowed_domains": ["shop.test"], "pages": {"template": PAGES}}},
     "scrape.pages", "'http://127.0.0.1:8765/reviews?page=1' is outside "
     "scrape.allowed_domains"),
    ({"scrape": {"sitemap": {"urls": [SITEMAP]}}}, "scrape.sitemap",
     "scrape.sitemap applies to source 'web' only"),
    ({"scrape": {"source": "web", "sitemap": {"urls": []}}}, "scrape.sitemap.urls",
     "at least 1 item"),
    ({"scrape": {"source": "web", "sitemap": {"urls": ["ftp://127.0.0.1/s.xml"]}}},
     "scrape.sitemap.urls", "is not an http:// or https:// URL"),
    ({"scrape": {"source": "web", "sitemap": {"urls": [SITEMAP], "match": "(page"}}},
     "scrape.sitemap.match", "not a valid regular expression"),
    ({"scrape": {"source": "web"}}, "scrape",
     "scrape.start_urls must list at least one URL when source is 'web' (or set scrape.pages"),
    ({"clean": {"preset": "essays"}}, "clean.preset", "'tweets' or 'reviews'"),
    ({"clean": {"rating_max": float("inf")}}, "clean.rating_max", "finite"),
    ({"clean": {"rating_thresholds": {"unit": "fraction", "negative_max": 2,
                                      "positive_min": 4}}}, "clean.rating_thresholds",
     "between 0 and 1"),
    ({"clean": {"rating_max": 3}}, "clean", "positive_min must not exceed rating_max"),
])
def test_bad_values_name_the_key(changes: dict[str, Any], key: str, words: str) -> None:
    with pytest.raises(ParamsError) as caught:
        parse(changes)
    assert key in str(caught.value) and words in str(caught.value)


def test_a_preset_switches_every_key_it_owns_and_written_keys_win() -> None:
    tweets, reviews = CleanParams(), CleanParams(preset="reviews")
    assert (tweets.label_source, tweets.max_chars, tweets.rating_cutoffs()) == \
        ("label", 1000, (2.0, 4.0))
    assert (reviews.label_source, reviews.max_chars, reviews.rating_cutoffs()) == \
        ("rating", 20000, (2.0, 4.0))
    ten = CleanParams.model_validate({"preset": "reviews", "rating_max": 10, "max_chars": 5000,
                                      "rating_thresholds": {"positive_min": 0.7}})
    assert ten.max_chars == 5000 and ten.rating_cutoffs() == (4.0, 7.0)
    assert ten.rating_thresholds.unit == "fraction"
    stars = CleanParams(rating_thresholds={"negative_max": 1, "positive_min": 4.5})
    assert stars.rating_cutoffs() == (1.0, 4.5)


def test_the_repository_params_keep_the_tweet_defaults() -> None:
    parsed = parse_params(yaml.safe_load((REPO_ROOT / "params.yaml").read_text()))
    assert parsed.clean.preset == "tweets" and parsed.clean.max_chars == 1000
    assert parsed.scrape.http_cache.enabled is False and parsed.scrape.autothrottle.enabled is False
    assert [name for name, _ in parsed.scrape.selectors.fields.configured()] == \
        ["id", "text", "label", "confidence"]
