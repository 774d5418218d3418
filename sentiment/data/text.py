"""Text normalisation shared by training and serving (one function, so no train/serve skew)."""

from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import asdict, dataclass

import ftfy

_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_USER = re.compile(r"(?<![\w@])@\w{1,30}")
_CONTROL = re.compile(r"[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200b-\u200f\ufeff]")
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class NormaliserSettings:
    """The normaliser's settings; saved with the model so serving normalises as training did."""

    lowercase: bool = True
    url_token: str = "<url>"
    user_token: str = "<user>"

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def normalise(text: str, settings: NormaliserSettings) -> str:
    """Repair unicode and HTML entities, mask URLs and @mentions, squash whitespace, fold case."""
    text = html.unescape(html.unescape(text))
    if not text.isascii():
        text = ftfy.fix_text(text, normalization="NFC")
        text = unicodedata.normalize("NFKC", text)
    text = _CONTROL.sub(" ", text)
    text = _URL.sub(f" {settings.url_token} ", text)
    text = _USER.sub(f" {settings.user_token} ", text)
    text = _SPACE.sub(" ", text).strip()
    return text.lower() if settings.lowercase else text

# Whitespace as JSON Schema (ECMA 262) defines it, so that the service, its OpenAPI spec, any
# client's validator and the CLI agree on every character.
WHITESPACE = r"\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
NOT_BLANK = rf"[^{WHITESPACE}]"
_BLANK = re.compile(rf"[{WHITESPACE}]*")


def is_blank(text: str) -> bool:
    """Whether ``text`` is empty or holds only whitespace."""
    return _BLANK.fullmatch(text) is not None
