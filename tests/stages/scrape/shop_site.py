"""A second review site, unlike the demo: a shop whose reviews sit on each product's pages.

``/catalog`` lists products over two pages; each product page (``/products/<slug>``) links to
its paginated reviews (``/products/<slug>/reviews?page=N``); every link is relative. A review
is an ``<article class="review" id="r-0001">`` with a title, a byline (author, ``<time>``), a
star rating given only as text (``aria-label="Rated 4 out of 5"``, shown as ``★★★★☆``), a body
of several paragraphs with inline markup, and sometimes a "found this helpful" line; the
product name is in the page header, outside the review. Product pages show two "top reviews"
in the same markup (so a crawl must not take records from them), the catalogue also links to
a page robots.txt forbids, to another host, and to ``mailto:`` and ``ftp://`` URLs, and one
reviews page fails once with a 503.

Pages are pretty-printed or minified (``Shop(minified=True)``); both read the same. Every page
has an ``ETag``, and a request whose ``If-None-Match`` matches gets a bodiless 304. The server
counts requests per path and the bodies it sent.

Run it by hand for the worked example in docs/crawling.md:
``python -m tests.stages.scrape.shop_site``.
"""

from __future__ import annotations

import argparse
import hashlib
import html
import random
import re
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.stages.scrape.paged_site import Traffic as OpenRequests

SEED = 20241124
PAGE_SIZE = 10
PRODUCTS: tuple[tuple[str, str, int], ...] = (  # slug, name, number of reviews
    ("kettle", "Steel Kettle", 42), ("toaster", "Two-Slot Toaster", 36),
    ("blender", "Glass Blender", 31), ("grinder", "Coffee Grinder", 38),
    ("scale", "Kitchen Scale", 29), ("lamp", "Desk Lamp", 34),
)
CATALOG_PAGES = ((0, 1, 2, 3), (4, 5))  # product indexes listed on catalog pages 1 and 2
FAILS_ONCE = "/products/toaster/reviews?page=2"
ROBOTS_TXT = "User-agent: *\nDisallow: /account/\n"
AUTHORS = ("Ann", "Bo", "Chidi", "Dana", "Emeka", "Fern", "Goran", "Hana", "Ivo", "Jun")

# Sentences by sentiment; {p} is the product. A body is several paragraphs of them.
SENTENCES: dict[str, tuple[str, ...]] = {
    "negative": (
        "The {p} broke after two weeks.", "Support never answered my emails.",
        "It feels cheap and the finish is already peeling.", "I regret buying the {p}.",
        "It stopped working the day the warranty ran out.", "Loud, slow and flimsy.",
        "The manual is useless and half the parts were missing.",
        "I returned it and would not buy it again.", "A waste of money.",
        "The {p} overheats and smells of burnt plastic.",
    ),
    "neutral": (
        "The {p} does what the box says, nothing more.", "Delivery took a week.",
        "It is about what you would expect for the price.", "The colour is a bit darker.",
        "Setup took ten minutes.", "I have used the {p} for a month so far.",
        "It is smaller than the photos suggest.", "Average build, average results.",
        "Some days it works better than others.", "The cable could be longer.",
    ),
    "positive": (
        "I love the {p}.", "Works perfectly every single morning.",
        "Great value for the money.", "Solid build and a lovely finish.",
        "Setup was quick and the instructions were clear.",
        "Best purchase I have made this year.", "My whole family uses the {p} daily.",
        "It is quiet, fast and easy to clean.", "Highly recommended to anyone.",
        "The {p} exceeded my expectations.",
    ),
}
TITLES = {"negative": ("Disappointed", "Avoid", "Not worth it"),
          "neutral": ("It is fine", "Okay", "Does the job"),
          "positive": ("Excellent", "Love it", "Great buy")}


@dataclass(frozen=True)
class Review:
    """One review as the site holds it, and as a crawl should read it."""

    id: str
    product: str
    title: str
    author: str
    date: str
    rating: float
    paragraphs: tuple[tuple[str, ...], ...]  # sentences of each paragraph
    helpful: int | None

    @property
    def text(self) -> str:
        """The body as a reader sees it: one line per paragraph."""
        return "\n".join(" ".join(sentences) for sentences in self.paragraphs)


def _sentiment(rating: float) -> str:
    return "negative" if rating <= 2 else "neutral" if rating < 4 else "positive"


def make_reviews() -> dict[str, list[Review]]:
    """Every product's reviews, newest first; a pure function of ``SEED``, all texts distinct."""
    rng = random.Random(SEED)
    reviews: dict[str, list[Review]] = {}
    seen: set[str] = set()
    number = 0
    for slug, name, count in PRODUCTS:
        reviews[slug] = []
        while len(reviews[slug]) < count:
            rating = rng.choice((1, 1.5, 2, 2, 3, 3, 3, 3.5, 4, 4, 4.5, 5, 5))
            mood = _sentiment(rating)
            paragraphs = tuple(
                tuple(sentence.format(p=name.lower())
                      for sentence in rng.sample(SENTENCES[mood], rng.randint(1, 3)))
                for _ in range(rng.randint(1, 3)))
            review = Review(
                id=f"r-{number + 1:04d}", product=name, title=rng.choice(TITLES[mood]),
                author=rng.choice(AUTHORS),
                date=f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
                rating=rating, paragraphs=paragraphs,
                helpful=rng.randint(1, 40) if rng.random() < 0.4 else None)
            if review.text in seen:
                continue
            seen.add(review.text)
            reviews[slug].append(review)
            number += 1
    return reviews


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _paragraph(sentences: tuple[str, ...]) -> str:
    """A paragraph, its first sentence's first word in <b> and lines wrapped as an editor would."""
    first, _, rest = sentences[0].partition(" ")
    words = f"<b>{_e(first)}</b> {_e(rest)}".split(" ") + [
        word for sentence in sentences[1:] for word in _e(sentence).split(" ")]
    lines = [" ".join(words[start:start + 6]) for start in range(0, len(words), 6)]
    return "<p>\n        " + "\n        ".join(lines) + "\n      </p>"


def _stars(rating: float) -> str:
    label = f"{rating:g}"
    return (f'<span class="stars" aria-label="Rated {label} out of 5">'
            f"{'★' * int(rating)}{'☆' * (5 - int(rating))}</span>")


def render_review(review: Review) -> str:
    helpful = (f'\n    <p class="helpful">{review.helpful} people found this helpful</p>'
               if review.helpful is not None else "")
    body = "\n      ".join(_paragraph(sentences) for sentences in review.paragraphs)
    return f"""
  <article class="review" id="{review.id}">
    <h3 class="title">{_e(review.title)}</h3>
    {_stars(review.rating)}
    <p class="byline">
      By <a class="author" href="/users/{review.author.lower()}">{_e(review.author)}</a>
      on <time datetime="{review.date}">{review.date}</time>
    </p>
    <div class="body">
      {body}
    </div>{helpful}
  </article>"""


def _document(title: str, main: str, nav: str = "") -> str:
    return f"""<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <title>{_e(title)}</title>
  </head>
  <body>
    <header><a href="/catalog">Shop</a></header>
    <main>
{main}
    </main>
    <nav>{nav}</nav>
  </body>
</html>
"""


# Tags around which whitespace carries no meaning (a minifier drops it; inline tags keep one).
_BLOCK = r"(?:html|head|body|header|main|nav|section|ul|li|div|p|h1|h2|h3|article|title|meta)"
_AROUND_BLOCK = re.compile(rf"\s*(</?{_BLOCK}\b[^>]*>)\s*")
_SPACES = re.compile(r"\s+")


def minify(page: str) -> str:
    """What an HTML minifier makes of a page: no whitespace around block tags, single spaces."""
    return _AROUND_BLOCK.sub(r"\1", _SPACES.sub(" ", page)).strip()


class Shop:
    """The pages of the shop, rendered on demand."""

    def __init__(self, minified: bool = False) -> None:
        self.minified = minified
        self.reviews = make_reviews()
        self.names = {slug: name for slug, name, _ in PRODUCTS}

    @property
    def all_reviews(self) -> list[Review]:
        return [review for reviews in self.reviews.values() for review in reviews]

    def pages(self, slug: str) -> int:
        return -(-len(self.reviews[slug]) // PAGE_SIZE)

    def catalog(self, page: int) -> str:
        cards = [f'      <li class="product"><a href="products/{slug}">'
                 f"{_e(self.names[slug])}</a></li>"
                 for slug in (PRODUCTS[index][0] for index in CATALOG_PAGES[page - 1])]
        if page == 1:
            cards += ['      <li class="product"><a href="account/members-only">Members only</a>'
                      "</li>",
                      '      <li class="product"><a href="http://partner.example/products/mug">'
                      "Partner mug</a></li>",
                      '      <li class="product"><a href="mailto:sales@shop.test">Ask us</a></li>',
                      '      <li class="product"><a href="ftp://127.0.0.1:1/catalogue.pdf">'
                      "Catalogue (PDF)</a></li>"]
        nav = '<a rel="next" href="catalog?page=2">next</a>' if page == 1 else ""
        return _document(f"Catalog, page {page}", "      <ul class=\"products\">\n"
                         + "\n".join(cards) + "\n      </ul>", nav)

    def product(self, slug: str) -> str:
        top = "".join(render_review(review) for review in self.reviews[slug][:2])
        name = _e(self.names[slug])
        return _document(self.names[slug], f"""      <h1 class="product-name">{name}</h1>
      <p class="description">Our best-selling {name.lower()}.</p>
      <section class="top-reviews">{top}
      </section>
      <a class="all-reviews" href="{slug}/reviews">See all reviews</a>""")

    def review_page(self, slug: str, page: int) -> str:
        start = (page - 1) * PAGE_SIZE
        items = "".join(render_review(review)
                        for review in self.reviews[slug][start:start + PAGE_SIZE])
        nav = (f'<a rel="next" href="reviews?page={page + 1}">next</a>'
               if page < self.pages(slug) else "")
        name = _e(self.names[slug])
        return _document(f"Reviews of {self.names[slug]}", f"""\
      <h1>Reviews of <span class="product-name">{name}</span></h1>
      <section class="reviews">{items}
      </section>""", nav)

    def render(self, target: str) -> str | None:
        """The HTML of a path and query, or None for a missing page."""
        parts = urlsplit(target)
        number = parse_qs(parts.query).get("page", ["1"])[0]
        if not number.isdigit():
            return None
        page = int(number)
        segments = parts.path.strip("/").split("/")
        body: str | None = None
        if segments == ["catalog"] and page in (1, 2):
            body = self.catalog(page)
        elif len(segments) >= 2 and segments[0] == "products" and segments[1] in self.reviews:
            if len(segments) == 2:
                body = self.product(segments[1])
            elif segments[2:] == ["reviews"] and 1 <= page <= self.pages(segments[1]):
                body = self.review_page(segments[1], page)
        if body is None:
            return None
        return minify(body) if self.minified else body


@dataclass
class Traffic(OpenRequests):
    """What the server saw: requests per path (and query), bodies sent, 304s, the most
    requests open at once."""

    bodies: Counter[str] = field(default_factory=Counter)
    not_modified: Counter[str] = field(default_factory=Counter)
    failed_once: bool = False


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _ShopServer

    def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
        traffic = self.server.traffic
        with traffic.lock:
            traffic.requests[self.path] += 1
            fail = self.path == FAILS_ONCE and not traffic.failed_once
            traffic.failed_once |= fail
        with traffic:
            time.sleep(self.server.latency)
            self._answer(fail)

    def _answer(self, fail: bool) -> None:
        if self.path == "/robots.txt":
            self._send(200, "text/plain; charset=utf-8", ROBOTS_TXT.encode())
        elif fail:
            self._send(503, "text/plain; charset=utf-8", b"try again\n")
        elif (page := self.server.shop.render(self.path)) is None:
            self._send(404, "text/plain; charset=utf-8", b"not found\n")
        else:
            self._send(200, "text/html; charset=utf-8", page.encode())

    def _send(self, status: int, content_type: str, body: bytes) -> None:
        etag = f'"{hashlib.sha256(body).hexdigest()[:16]}"'
        traffic = self.server.traffic
        if status == 200 and self.headers.get("If-None-Match") == etag:
            with traffic.lock:
                traffic.not_modified[self.path] += 1
            self.send_response(304)
            self.send_header("ETag", etag)
            self.end_headers()
            return
        with traffic.lock:
            traffic.bodies[self.path] += 1
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if status == 200:
            self.send_header("ETag", etag)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


class _ShopServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, shop: Shop, port: int, latency: float) -> None:
        self.shop = shop
        self.traffic = Traffic()
        self.latency = latency
        super().__init__(("127.0.0.1", port), _Handler)


@dataclass
class RunningShop:
    shop: Shop
    origin: str
    traffic: Traffic


@contextmanager
def serve_shop(minified: bool = False, port: int = 0,
               latency: float = 0.0) -> Iterator[RunningShop]:
    """Serve a shop on 127.0.0.1 (a free port unless given) until the block exits; every
    response waits ``latency`` seconds (in its own thread)."""
    server = _ShopServer(Shop(minified), port, latency)
    thread = threading.Thread(target=server.serve_forever, name="shop-site", daemon=True)
    thread.start()
    host, bound = server.server_address[:2]
    try:
        yield RunningShop(server.shop, f"http://{host}:{bound}", server.traffic)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def shop_scrape_params(origin: str) -> dict[str, Any]:
    """The ``scrape`` params that crawl the shop (docs/crawling.md shows them)."""
    return {
        "source": "web",
        "start_urls": [f"{origin}/catalog"],
        "allowed_domains": ["127.0.0.1"],
        "selectors": {
            "record": "article.review",
            "fields": {
                "id": "::attr(id)",
                "text": "div.body",
                "rating": {"css": "span.stars::attr(aria-label)",
                           "regex": r"Rated (?P<value>[\d.]+) out of"},
                "title": "h3.title",
                "author": "a.author",
                "date": "time::attr(datetime)",
                "product": {"css": "h1 span.product-name", "scope": "page"},
                "helpful": {"css": "p.helpful", "regex": r"(\d+) people", "number": True},
            },
            "next_page": "a[rel=next]::attr(href)",
            "follow": "li.product a::attr(href), a.all-reviews::attr(href)",
            "record_pages": r"/reviews(\?|$)",
        },
        "max_depth": 2,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--minified", action="store_true")
    args = parser.parse_args()
    with serve_shop(args.minified, args.port) as running:
        print(f"serving the shop at {running.origin}/catalog (Ctrl-C stops it)", flush=True)
        threading.Event().wait()


if __name__ == "__main__":
    main()
