"""A numbered review site on loopback, for crawl concurrency tests and ``make bench-crawl``.

``/reviews?page=N`` (N in 1..pages) holds ``per_page`` records in the demo's markup
(``<article class="review" data-id="p0001-01">``) and a ``rel=next`` link on every page but
the last; other page numbers are 404, and a page in ``broken`` answers 500. ``/sitemap.xml``
is a sitemap index of ``/sitemap-odd.xml`` (the odd pages and ``/about``) and
``/sitemap-even.xml.gz`` (the even pages, gzipped). Every response waits ``latency`` seconds
in its own thread, so waits overlap; the server counts requests per path and the most it held
open at once.
"""

from __future__ import annotations

import gzip
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.stages.scrape.http_reply import reply

HTML = "text/html; charset=utf-8"
XML = "application/xml"
LABELS = ("negative", "neutral", "positive")


@dataclass
class PagedSite:
    """What the site holds and how it answers."""

    pages: int
    per_page: int = 10
    latency: float = 0.0
    broken: frozenset[int] = frozenset()

    def record_ids(self, pages: range | None = None) -> list[str]:
        """The ids of the records on ``pages`` (default: all), sorted."""
        return sorted(f"p{page:04d}-{position:02d}" for page in pages or range(1, self.pages + 1)
                      for position in range(1, self.per_page + 1))

    def page(self, number: int) -> str:
        articles = "".join(
            f'<article class="review" data-id="p{number:04d}-{position:02d}">'
            f'<p class="text">Review {position} of page {number}</p>'
            f'<span class="label">{LABELS[(number + position) % 3]}</span></article>'
            for position in range(1, self.per_page + 1))
        nav = f'<a rel="next" href="/reviews?page={number + 1}">next</a>' \
            if number < self.pages else ""
        return (f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{number}</title>'
                f"</head><body><main>{articles}</main><nav>{nav}</nav></body></html>")

    def sitemap(self, origin: str, name: str) -> bytes:
        if name == "/sitemap.xml":
            entries = "".join(f"<sitemap><loc>{origin}{child}</loc></sitemap>"
                              for child in ("/sitemap-odd.xml", "/sitemap-even.xml.gz"))
            return _xml("sitemapindex", entries).encode()
        odd = name == "/sitemap-odd.xml"
        paths = [f"/reviews?page={page}" for page in range(1 if odd else 2, self.pages + 1, 2)]
        body = _xml("urlset", "".join(f"<url><loc>{origin}{path}</loc></url>"
                                      for path in paths + (["/about"] if odd else [])))
        return body.encode() if odd else gzip.compress(body.encode(), mtime=0)

    def respond(self, target: str, origin: str) -> tuple[int, str, bytes]:
        parts = urlsplit(target)
        if parts.path.startswith("/sitemap"):
            return 200, XML, self.sitemap(origin, parts.path)
        if parts.path == "/about":
            return 200, HTML, b"<!DOCTYPE html><html><body><p>About us</p></body></html>"
        number = parse_qs(parts.query).get("page", [""])[0]
        if parts.path != "/reviews" or not number.isdigit() \
                or not 1 <= int(number) <= self.pages:
            return 404, "text/plain", b"not found\n"
        if int(number) in self.broken:
            return 500, "text/plain", b"boom\n"
        return 200, HTML, self.page(int(number)).encode()


def _xml(root: str, entries: str) -> str:
    return (f'<?xml version="1.0" encoding="UTF-8"?>'
            f'<{root} xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{entries}</{root}>')


@dataclass
class Traffic:
    """Requests per path (with query), and how many are open: now and at most at once (a
    ``with`` block is one open request)."""

    requests: Counter[str] = field(default_factory=Counter)
    open: int = 0
    most_open: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __enter__(self) -> None:
        with self.lock:
            self.open += 1
            self.most_open = max(self.most_open, self.open)

    def __exit__(self, *exc: object) -> None:
        with self.lock:
            self.open -= 1


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _PagedServer

    def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
        server = self.server
        with server.traffic:
            with server.traffic.lock:
                server.traffic.requests[self.path] += 1
            if self.path != "/robots.txt":
                time.sleep(server.site.latency)
            status, content_type, body = server.site.respond(self.path, server.origin)
            reply(self, status, content_type, body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


class _PagedServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, site: PagedSite) -> None:
        self.site = site
        self.traffic = Traffic()
        super().__init__(("127.0.0.1", 0), _Handler)
        host, port = self.server_address[:2]
        self.origin = f"http://{host}:{port}"


@dataclass
class RunningPagedSite:
    site: PagedSite
    origin: str
    traffic: Traffic

    @property
    def template(self) -> str:
        return f"{self.origin}/reviews?page={{page}}"


@contextmanager
def serve_paged(site: PagedSite) -> Iterator[RunningPagedSite]:
    """Serve ``site`` on a free 127.0.0.1 port until the block exits."""
    server = _PagedServer(site)
    thread = threading.Thread(target=server.serve_forever, name="paged-site", daemon=True)
    thread.start()
    try:
        yield RunningPagedSite(site, server.origin, server.traffic)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def paged_scrape_params(origin: str, **changes: Any) -> dict[str, Any]:
    """``scrape`` params for the site: the demo's selectors on a web source."""
    return {"source": "web", "allowed_domains": ["127.0.0.1"],
            "selectors": {"record": "article.review",
                          "fields": {"id": "::attr(data-id)", "text": "p.text::text",
                                     "label": "span.label::text"},
                          "next_page": "a[rel=next]::attr(href)"},
            **changes}
