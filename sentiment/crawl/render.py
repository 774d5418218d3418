"""The text of the nodes a CSS selector picks, laid out as a browser would lay it out.

Joining text nodes with ``""`` glues paragraphs together (``"ideas.Anxiety"``) where a page
has no whitespace between tags; joining them with spaces splits words that inline markup
cuts (``un<b>believ</b>able``). Here a page is read as a stream of text nodes and block
boundaries: selected nodes on either side of a block boundary (``<p>``, ``<div>``, ``<li>``,
``<br>``, ...) go on separate lines, nodes inside one block are joined as they stand, and a
skipped node between two selected ones leaves a space. With ``whitespace: collapse`` every
run of HTML whitespace becomes one space, so a minified and a pretty-printed copy of a page
read the same; ``keep`` keeps the nodes' own whitespace (trimmed at line ends).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from functools import lru_cache
from typing import Literal

from lxml import etree
from parsel.csstranslator import css2xpath

#: Elements that start a new line: HTML's block-level and table elements.
BLOCK_TAGS: frozenset[str] = frozenset({
    "address", "article", "aside", "blockquote", "body", "caption", "dd", "details", "dialog",
    "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3",
    "h4", "h5", "h6", "header", "hgroup", "hr", "html", "legend", "li", "main", "menu", "nav",
    "ol", "option", "p", "pre", "section", "summary", "table", "tbody", "td", "tfoot", "th",
    "thead", "title", "tr", "ul",
})
LINE_BREAK_TAG = "br"
#: Elements whose text a browser does not show: left out when their ancestor is selected.
HIDDEN_TAGS: frozenset[str] = frozenset({"script", "style", "template", "noscript"})
#: HTML's whitespace characters (not every Unicode space: a no-break space is content).
_HTML_SPACE = re.compile(r"[ \t\n\r\f]+")

Whitespace = Literal["collapse", "keep"]
#: A text node: the element it belongs to, and whether it is that element's tail.
NodeKey = tuple[etree._Element, bool]
#: A stream item: a text node (key, text) or ``None`` for a line break.
Token = tuple[NodeKey, str] | None


def layout(root: etree._Element) -> list[Token]:
    """The text nodes under ``root`` (its own tail excluded) and the line breaks between them."""
    tokens: list[Token] = []
    _walk(root, tokens)
    return tokens


def _walk(element: etree._Element, tokens: list[Token]) -> None:
    tag = element.tag
    if isinstance(tag, str):  # comments and processing instructions hold no page text
        block = tag in BLOCK_TAGS
        if block or tag == LINE_BREAK_TAG:
            tokens.append(None)
        if element.text:
            tokens.append(((element, False), element.text))
        for child in element:
            _walk(child, tokens)
            if child.tail:
                tokens.append(((child, True), child.tail))
        if block:
            tokens.append(None)


def _shown_nodes(element: etree._Element) -> Iterator[NodeKey]:
    """The text nodes inside ``element`` that a browser shows (not its tail)."""
    if element.text:
        yield element, False
    for child in element:
        if isinstance(child.tag, str) and child.tag not in HIDDEN_TAGS:
            yield from _shown_nodes(child)
        if child.tail:
            yield child, True


def lines_of(tokens: Iterable[Token], selected: set[NodeKey]) -> list[str]:
    """The selected nodes' text, one string per line (line breaks between nodes only)."""
    lines: list[str] = []
    current: list[str] = []
    breaks = skipped = False
    for token in tokens:
        if token is None:
            breaks = True
            continue
        key, text = token
        if key not in selected:
            skipped = True
            continue
        if current and breaks:
            lines.append("".join(current))
            current = []
        elif current and skipped:
            current.append(" ")
        current.append(text)
        breaks = skipped = False
    if current:
        lines.append("".join(current))
    return lines


def tidy(lines: Iterable[str], whitespace: Whitespace) -> str:
    """Lines trimmed (and their whitespace collapsed), empty ones dropped, joined by newlines."""
    if whitespace == "collapse":
        lines = (_HTML_SPACE.sub(" ", line) for line in lines)
    return "\n".join(line for line in (line.strip() for line in lines) if line)


@lru_cache(maxsize=256)
def compiled(css: str) -> etree.XPath:
    """The compiled XPath of a CSS selector (Scrapy's translation: ``::text``, ``::attr()``)."""
    return etree.XPath(css2xpath(css))


class Scope:
    """One root (a record, or a whole page) whose layout is computed once, when first needed."""

    def __init__(self, root: etree._Element) -> None:
        self.root = root
        self._tokens: list[Token] | None = None

    @property
    def tokens(self) -> list[Token]:
        if self._tokens is None:
            self._tokens = layout(self.root)
        return self._tokens

    def text(self, css: str, whitespace: Whitespace) -> str:
        """What ``css`` selects under the root, as text ("" when it selects nothing).

        Elements contribute the text they show, text nodes (``::text``) their own text, and
        attribute values (``::attr(name)``) their value, on a line of their own.
        """
        selected: set[NodeKey] = set()
        values: list[str] = []
        for match in compiled(css)(self.root):
            if isinstance(match, etree._Element):
                selected.update(_shown_nodes(match))
            elif getattr(match, "is_attribute", False):
                values.append(str(match))
            elif getattr(match, "is_text", False) or getattr(match, "is_tail", False):
                selected.add((match.getparent(), bool(match.is_tail)))
        lines = lines_of(self.tokens, selected) if selected else []
        return tidy([*lines, *values], whitespace)
