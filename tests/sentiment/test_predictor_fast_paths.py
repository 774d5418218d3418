"""The throughput shortcuts compute what the libraries they replace compute: exactly for the
tokeniser and the sparsity pattern, to the last bit of float32 for TF-IDF values (whose logs are
taken in float64, see ``sentiment.vectorizer``)."""

from __future__ import annotations

import random

import numpy as np
import pytest
import scipy.sparse as sp
from nltk.tokenize import TweetTokenizer

from sentiment.data.features import TokenSettings, tokenize, tweet_tokens
from sentiment.data.text import NormaliserSettings, normalise
from sentiment.families.parts.tfidf import TfidfFeaturizer
from sentiment.model.folder import SentimentModel
from sentiment.model.predictor import POOL_MIN_TEXTS, Predictor
from sentiment.params.families import TfidfParams
from tests.sentiment.test_model_artifact import fit

REFERENCE = TweetTokenizer(preserve_case=True, reduce_len=True, strip_handles=False)
TRICKY = [
    "", " ", "  double  spaces  ", "call 555 123 4567 or +1 (800) 555-1234 now",
    "wait . . . what.. ok . .", "fish &amp; chips &#32;x &#46;5 &lt;3 AT&T Q&A",
    "tab\tand\nnewline\u00a0nbsp\u2028sep \x1c file sep", "soooooo gooood :-) :( <3 </3 -->",
    "@user_1 #hash-tag e.mail@example.com www.example.com/a?b=c https://t.co/AbC",
    "flags 🇬🇧🇫🇷 skin 👍🏽 zwj 👨\u200d👩\u200d👧", "2 1/2 hours, 10:30, 3.5, -4", "x" * 80,
    "a" + "1" * 70 + " 23 4567",
]
PIECES = list("aAb .,;:!?&#@-_'()<>/+*=0123456789😀") + [
    " ", "  ", "\t", "&amp;", "&#32;", "&lt;", ". .", "555 ", "123-4567", ":-)", "#tag",
    "@me", "www.x.com", "http://a.b/c d", "sooooo", "\u00a0", "é"]


def fuzz(count: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choice(PIECES) for _ in range(rng.randint(0, 30))) for _ in range(count)]


@pytest.mark.parametrize("text", TRICKY)
def test_tweet_tokens_equal_tweet_tokenizer(text: str) -> None:
    assert tweet_tokens(text) == REFERENCE.tokenize(text)


def test_tweet_tokens_equal_tweet_tokenizer_on_random_text() -> None:
    for text in fuzz(4000):
        assert tweet_tokens(text) == REFERENCE.tokenize(text), repr(text)


def test_transform_matches_scikit_learn() -> None:
    rng = random.Random(1)
    words = ["great", "flight", "lost", "bag", "delay", "crew", "seat", "not", "never",
             "soooo", "good", ":)", "#fail", "<user>", "<url>", "café", "ok"]
    corpus = [" ".join(rng.choices(words, k=rng.randint(1, 12))) for _ in range(300)]
    texts = [normalise(text, NormaliserSettings()) for text in corpus + fuzz(300, seed=2)]
    tokens = [tokenize(text, TokenSettings()) for text in texts]
    featurizer = TfidfFeaturizer(TfidfParams(min_df=1, max_word_features=500,
                                             max_char_features=800))
    featurizer.fit(tokens[:300], texts[:300])
    restored = TfidfFeaturizer.from_state(*featurizer.state())  # as loaded from a model folder
    fast = featurizer.transform(tokens, texts)
    loaded = restored.transform(tokens, texts)
    reference = sp.hstack([featurizer.word.transform(tokens), featurizer.char.transform(texts)],
                          format="csr", dtype=np.float32)
    for name in ("indptr", "indices", "data"):
        assert getattr(fast, name).dtype == getattr(reference, name).dtype
        np.testing.assert_array_equal(getattr(fast, name), getattr(loaded, name))
        if name != "data":
            np.testing.assert_array_equal(getattr(fast, name), getattr(reference, name))
    np.testing.assert_array_max_ulp(fast.data, reference.data, maxulp=1)


@pytest.fixture(scope="module")
def model() -> SentimentModel:
    return fit()


def test_pool_predicts_exactly_what_one_process_predicts(model: SentimentModel) -> None:
    texts = fuzz(POOL_MIN_TEXTS + 37, seed=3)
    single = Predictor(model).predict_proba(texts)
    with Predictor(model, workers=2) as pooled:
        np.testing.assert_array_equal(pooled.predict_proba(texts), single)
        assert pooled._pool is not None  # the pool did the work


def test_no_texts_no_rows(model: SentimentModel) -> None:
    assert Predictor(model).predict_proba([]).shape == (0, 3)
