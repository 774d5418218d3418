"""What counts as an empty text, one rule for the HTTP service and ``sentiment predict``."""

from __future__ import annotations

import re

# Whitespace as JSON Schema (ECMA 262) defines it, so that the service, its OpenAPI spec, any
# client's validator and the CLI agree on every character.
WHITESPACE = r"\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
NOT_BLANK = rf"[^{WHITESPACE}]"
_BLANK = re.compile(rf"[{WHITESPACE}]*")


def is_blank(text: str) -> bool:
    """Whether ``text`` is empty or holds only whitespace."""
    return _BLANK.fullmatch(text) is not None
