"""Per-record features that learn nothing from the data set: NLTK tweet tokens.

Uses only what NLTK does without downloaded corpora (TweetTokenizer, Snowball stemmer); stop
words come from the installed ``stop-words`` package.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import cache, lru_cache

import pandas as pd
import pyarrow as pa
import regex
from nltk import redos
from nltk.stem.snowball import SnowballStemmer
from nltk.tokenize import TweetTokenizer, casual
from stop_words import get_stop_words

from sentiment.params.featurize import FeaturizeParams

_TOKENIZER = TweetTokenizer(preserve_case=True, reduce_len=True, strip_handles=False)
# Negations carry sentiment: never drop them with the stop words.
_KEEP = {"no", "not", "nor", "never", "against", "don't", "won't", "can't", "isn't", "aren't"}
# TweetTokenizer's regexes never match across a space, except for a phone number or spaced
# ellipsis dots; an HTML entity (which it decodes first) or other whitespace would change where
# the spaces are. A text with none of these tokenises as the concatenation of its
# space-separated chunks, which repeat across texts and are cached. ``tests/sentiment`` checks
# that this equals TweetTokenizer exactly.
_NOT_CHUNKABLE = regex.compile(
    r"&[^&;\s]+;|[^\S ]|\.\s+\.|\d[ *\-.)]* [ *\-.)(]*\d", regex.UNICODE)
# TweetTokenizer's own patterns, without NLTK's per-match ReDoS timer: the chunks they see here
# are at most _SHORT_CHUNK characters, too short to backtrack for long. Longer ones take the
# tokeniser itself.
_SHORT_CHUNK = 64
_REDUCE_LEN = redos.compile(r"(.)\1{2,}", timeout=None)  # casual.reduce_lengthening's
_HANG = redos.compile(casual.HANG_RE, timeout=None)
_WORDS = redos.compile(_TOKENIZER.PHONE_WORD_RE, timeout=None)


@dataclass(frozen=True)
class TokenSettings:
    """How text becomes tokens; saved with the model so serving tokenises as training did."""

    remove_stopwords: bool = False
    stem: bool = False

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@cache
def _stop_words() -> frozenset[str]:
    return frozenset(get_stop_words("en")) - _KEEP


@cache
def _stemmer() -> SnowballStemmer:
    return SnowballStemmer("english")


@lru_cache(maxsize=1 << 17)
def _short_chunk_tokens(chunk: str) -> tuple[str, ...]:
    """The steps of ``_TOKENIZER.tokenize`` (entities, reduce_len, phone numbers)."""
    if "&" in chunk:
        chunk = casual._replace_html_entities(chunk)
    text = _HANG.sub(r"\1\1\1", _REDUCE_LEN.sub(r"\1\1\1", chunk))
    return tuple(_WORDS.findall(text))


def tweet_tokens(text: str) -> list[str]:
    """Exactly ``TweetTokenizer(reduce_len=True).tokenize(text)``, faster on repeated words."""
    if _NOT_CHUNKABLE.search(text):
        return _TOKENIZER.tokenize(text)
    return [token for chunk in text.split(" ")
            for token in (_short_chunk_tokens(chunk) if len(chunk) <= _SHORT_CHUNK
                          else _TOKENIZER.tokenize(chunk))]


def tokenize(text_norm: str, settings: TokenSettings) -> list[str]:
    """Split normalised text into tokens, optionally without stop words and stemmed."""
    tokens = tweet_tokens(text_norm)
    if settings.remove_stopwords:
        stop = _stop_words()
        tokens = [token for token in tokens if token not in stop]
    if settings.stem:
        stemmer = _stemmer()
        tokens = [stemmer.stem(token) for token in tokens]
    return tokens


def token_settings(params: FeaturizeParams) -> TokenSettings:
    """The tokeniser settings that ``featurize`` params describe."""
    return TokenSettings(remove_stopwords=params.remove_stopwords, stem=params.stem)


def add_tokens(frame: pd.DataFrame, settings: TokenSettings) -> pd.DataFrame:
    """``frame`` with a ``tokens`` column (of its ``text_norm``): featurize's work on a batch;
    pure, so a batch's result never depends on the others."""
    frame = frame.copy()
    frame["tokens"] = [tokenize(text, settings) for text in frame["text_norm"]]
    return frame


def with_tokens_schema(schema: pa.Schema) -> pa.Schema:
    """The features schema: the cleaned rows' schema and a ``tokens`` list of strings."""
    if "tokens" in schema.names:
        schema = schema.remove(schema.get_field_index("tokens"))
    return schema.append(pa.field("tokens", pa.list_(pa.string())))
