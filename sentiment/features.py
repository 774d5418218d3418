"""Per-record features that learn nothing from the data set: NLTK tweet tokens.

Uses only what NLTK does without downloaded corpora (TweetTokenizer, Snowball stemmer); stop
words come from the installed ``stop-words`` package.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import cache

from nltk.stem.snowball import SnowballStemmer
from nltk.tokenize import TweetTokenizer
from stop_words import get_stop_words

_TOKENIZER = TweetTokenizer(preserve_case=True, reduce_len=True, strip_handles=False)
# Negations carry sentiment: never drop them with the stop words.
_KEEP = {"no", "not", "nor", "never", "against", "don't", "won't", "can't", "isn't", "aren't"}


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


def tokenize(text_norm: str, settings: TokenSettings) -> list[str]:
    """Split normalised text into tokens, optionally without stop words and stemmed."""
    tokens = _TOKENIZER.tokenize(text_norm)
    if settings.remove_stopwords:
        stop = _stop_words()
        tokens = [token for token in tokens if token not in stop]
    if settings.stem:
        stemmer = _stemmer()
        tokens = [stemmer.stem(token) for token in tokens]
    return tokens
