"""Fixtures for the scrape stage: a loopback site of broken pages and a stage runner.

Crawls run in a subprocess (``python -m stages.scrape`` in a temporary folder): Scrapy's reactor
can start only once per process.
"""

from __future__ import annotations

import copy
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.stages.scrape.http_reply import reply

REPO = Path(__file__).resolve().parents[3]
STALL_SECONDS = 5.0


def article(text: str | None, *, id: str | None = None, label: str | None = None,
            confidence: str | None = None) -> str:
    """One record in the demo site's markup; None leaves the element out."""
    parts = [f'<article class="review"{f" data-id={id!r}" if id else ""}>']
    if text is not None:
        parts.append(f'<p class="text">{text}</p>')
    if label is not None:
        parts.append(f'<span class="label">{label}</span>')
    if confidence is not None:
        parts.append(f'<span class="confidence">{confidence}</span>')
    return "".join(parts) + "</article>"


def page(*records: str, links: tuple[str, ...] = ()) -> str:
    nav = "".join(f'<a rel="next" href="{href}">next</a>' for href in links)
    return (f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>t</title></head>'
            f"<body>{''.join(records)}<nav>{nav}</nav></body></html>")


HTML = "text/html; charset=utf-8"
BROKEN_ROUTES: dict[str, tuple[int, str, bytes]] = {
    "/start": (200, HTML, page(
        article("Great phone", id="s-1", label="positive", confidence="0.9"),
        article("Awful &amp; slow", id="s-2", label="negative", confidence="0.8"),
        links=("/missing", "/badenc", "/empty", "/binary", "/gone", "/error", "/stall"),
    ).encode()),
    "/missing": (200, HTML, page(
        article(None, id="m-1", label="negative", confidence="0.5"),
        article("   ", id="m-2", label="negative", confidence="0.5"),
        article("No label here", id="m-3", confidence="0.5"),
        article("No id here", label="neutral", confidence="0.6"),
        article("Bad confidence", id="m-5", label="neutral", confidence="n/a"),
        article("A later duplicate", id="s-1", label="neutral", confidence="0.7"),
    ).encode()),
    # Invalid UTF-8 (a Latin-1 é) although the header says utf-8.
    "/badenc": (200, HTML, page(
        article("caf\u00e9 au lait", id="b-1", label="positive", confidence="1.0"),
    ).encode("latin-1")),
    "/empty": (200, HTML, page().encode()),
    "/binary": (200, "image/png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"),
    "/error": (500, "text/plain", b"boom\n"),
}


@dataclass
class LoopbackSite:
    origin: str
    hits: Counter[str]


class _BrokenHandler(BaseHTTPRequestHandler):
    server: _BrokenServer

    def do_GET(self) -> None:  # noqa: N802
        path = self.path.split("?")[0]
        self.server.hits[path] += 1
        if path == "/stall":
            self.server.release.wait(STALL_SECONDS)
            return
        status, content_type, body = BROKEN_ROUTES.get(
            path, (404, "text/plain", b"not found\n"))
        reply(self, status, content_type, body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


class _BrokenServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        self.hits: Counter[str] = Counter()
        self.release = threading.Event()
        super().__init__(("127.0.0.1", 0), _BrokenHandler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # the client hung up on a stalled request


@pytest.fixture
def broken_site() -> Iterator[LoopbackSite]:
    """A loopback site of good and broken pages (see BROKEN_ROUTES; /stall never answers)."""
    server = _BrokenServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    try:
        yield LoopbackSite(origin=f"http://{host}:{port}", hits=server.hits)
    finally:
        server.release.set()
        server.shutdown()
        server.server_close()


@dataclass
class StageRun:
    returncode: int
    stdout: str
    stderr: str
    workdir: Path

    @property
    def raw(self) -> Path:
        return self.workdir / "data" / "raw" / "records.jsonl"

    @property
    def stats(self) -> Path:
        return self.workdir / "reports" / "scrape.json"


def _merge(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """``base`` updated by ``changes``, mappings merged key by key, except ``fields``: a site's
    fields replace the demo's, never mix with them."""
    merged = copy.deepcopy(base)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict) and key != "fields":
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def run_scrape(workdir: Path, scrape: dict[str, Any], timeout: float = 120) -> StageRun:
    """Run ``python -m stages.scrape`` in ``workdir`` with the repo's params, ``scrape`` merged."""
    base = yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))
    params = _merge(base, {"scrape": scrape})
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False),
                                         encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "stages.scrape"], cwd=workdir,
                          capture_output=True, text=True, timeout=timeout, check=False)
    return StageRun(done.returncode, done.stdout, done.stderr, workdir)


@pytest.fixture(scope="session")
def scrape_runner() -> Callable[[Path, dict[str, Any]], StageRun]:
    """``run_scrape(workdir, scrape_overrides) -> StageRun``."""
    return run_scrape


@pytest.fixture(scope="session")
def small_demo_run(tmp_path_factory: pytest.TempPathFactory) -> StageRun:
    """One crawl of the demo site with 250 records on pages of 100, shared by several tests."""
    return run_scrape(tmp_path_factory.mktemp("demo-a"),
                      {"source": "demo", "demo": {"max_records": 250, "page_size": 100}})
