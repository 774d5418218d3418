"""Text of selected nodes laid out as a browser would: blocks apart, inline words whole."""

from __future__ import annotations

import pytest
from parsel import Selector

from sentiment.crawl.render import Scope
from tests.stages.scrape.shop_site import Shop, minify


def text(markup: str, css: str, whitespace: str = "collapse") -> str:
    return Scope(Selector(text=f"<html><body>{markup}</body></html>").root).text(css, whitespace)


@pytest.mark.parametrize(("markup", "css", "expected"), [
    # Paragraphs with no whitespace between them: the "suicidal ideas.Anxiety".
    ("<div class=b><p>suicidal ideas.</p><p>Anxiety</p></div>", "div.b",
     "suicidal ideas.\nAnxiety"),
    ("<div class=b><p>suicidal ideas.</p><p>Anxiety</p></div>", "div.b ::text",
     "suicidal ideas.\nAnxiety"),
    ("<div class=b><p>one</p><p>two</p></div>", "div.b p::text", "one\ntwo"),
    # Inline markup inside a word or a sentence keeps the words as they are.
    ("<p>un<b>believ</b>able, <a href=x>really</a>!</p>", "p", "unbelievable, really!"),
    ("<p>un<b>believ</b>able</p>", "p ::text", "unbelievable"),
    ("<p>first line<br>second<br/>third</p>", "p", "first line\nsecond\nthird"),
    ("<ul><li>a</li><li>b</li></ul>", "ul", "a\nb"),
    ("<table><tr><td>a</td><td>b</td></tr></table>", "table", "a\nb"),
    # A node the selector skips leaves a space, never glues its neighbours.
    ("<p>Tom &amp; <b>Jerry</b> rock</p>", "p::text", "Tom & rock"),
    ("<p>un<b>believ</b>able</p>", "p::text", "un able"),
    # Scripts and styles inside a selected element are not shown text...
    ("<div class=b>kept<script>var x = 1;</script><style>p {}</style> too</div>", "div.b",
     "kept too"),
    # ...but a selector may ask for one (JSON-LD data, say).
    ('<script type="application/ld+json">{"ratingValue": 4}</script>',
     "script::text", '{"ratingValue": 4}'),
    ("<!-- hidden --><p>shown<!-- no -->text</p>", "p", "showntext"),
    ('<span class=s title="4.5">x</span><span class=s title="3">y</span>', "span.s::attr(title)",
     "4.5\n3"),
    ("<p>nothing here</p>", "div.missing", ""),
    ("<p>   \n  </p>", "p", ""),
])
def test_layout(markup: str, css: str, expected: str) -> None:
    assert text(markup, css) == expected


def test_whitespace_collapse_and_keep() -> None:
    markup = "<p class=t>  two  spaces\n and a\r\nbreak  </p>"
    assert text(markup, "p.t::text") == "two spaces and a break"
    assert text(markup, "p.t::text", "keep") == "two  spaces\n and a\nbreak"
    assert text("<p>a\u00a0b</p>", "p") == "a\u00a0b"  # a no-break space is content


def test_minified_and_pretty_pages_read_the_same() -> None:
    pretty = Shop().review_page("kettle", 1)
    compact = minify(pretty)
    assert len(compact) < len(pretty) * 0.8 and "</p><p>" in compact
    for css in ("div.body", "div.body ::text", "div.body p::text", "p.byline", "h1"):
        got = [Scope(Selector(text=page).root).text(css, "collapse") for page in (pretty, compact)]
        assert got[0] == got[1] and got[0], css
    review = Shop().reviews["kettle"][0]
    article = f'article#{review.id} div.body'
    assert text(pretty.split("<body>", 1)[1], article) == review.text
    assert "\n" in review.text  # several paragraphs
