"""TF-IDF over word n-grams (of the featurize tokens) and character n-grams (of the text).

Fitted on ``train`` only. Its state (vocabularies in JSON, IDF weights in safetensors) is
saved with the model and restored without pickle.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

from sentiment.params import TfidfParams


def word_ngrams(tokens: Sequence[str], n_max: int) -> list[str]:
    """Word n-grams (1..n_max) of a token list, joined by single spaces."""
    grams = list(tokens)
    for n in range(2, n_max + 1):
        grams.extend(" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1))
    return grams


def _word_vectorizer(params: TfidfParams) -> TfidfVectorizer:
    return TfidfVectorizer(
        analyzer=partial(word_ngrams, n_max=params.word_ngram_max),
        min_df=params.min_df,
        max_features=params.max_word_features,
        sublinear_tf=params.sublinear_tf,
        dtype=np.float32,
    )


def _char_vectorizer(params: TfidfParams) -> TfidfVectorizer:
    return TfidfVectorizer(
        analyzer="char_wb",
        ngram_range=(params.char_ngram_min, params.char_ngram_max),
        lowercase=False,
        min_df=params.min_df,
        max_features=params.max_char_features,
        sublinear_tf=params.sublinear_tf,
        dtype=np.float32,
    )


def _sorted_vocabulary(vectorizer: TfidfVectorizer) -> dict[str, int]:
    ordered = sorted(vectorizer.vocabulary_.items(), key=lambda item: item[1])
    return {term: int(index) for term, index in ordered}


class TfidfFeaturizer:
    """Word + character TF-IDF, hstacked into one CSR matrix of float32."""

    def __init__(self, params: TfidfParams) -> None:
        self.params = params
        self.word = _word_vectorizer(params)
        self.char = _char_vectorizer(params) if params.max_char_features > 0 else None

    @property
    def n_features(self) -> int:
        return len(self.word.vocabulary_) + (len(self.char.vocabulary_) if self.char else 0)

    def fit(self, tokens: Sequence[Sequence[str]], texts: Sequence[str]) -> TfidfFeaturizer:
        self.word.fit(tokens)
        if self.char:
            self.char.fit(texts)
        return self

    def transform(self, tokens: Sequence[Sequence[str]], texts: Sequence[str]) -> sp.csr_matrix:
        parts = [self.word.transform(tokens)]
        if self.char:
            parts.append(self.char.transform(texts))
        return sp.hstack(parts, format="csr", dtype=np.float32)

    def state(self) -> tuple[dict[str, object], dict[str, np.ndarray]]:
        """JSON-safe vocabularies and the IDF arrays (for safetensors)."""
        vocabularies = {"word": _sorted_vocabulary(self.word)}
        arrays = {"idf.word": self.word.idf_.astype(np.float32)}
        if self.char:
            vocabularies["char"] = _sorted_vocabulary(self.char)
            arrays["idf.char"] = self.char.idf_.astype(np.float32)
        return {"params": self.params.model_dump(), "vocabulary": vocabularies}, arrays

    @classmethod
    def from_state(cls, state: dict, arrays: dict[str, np.ndarray]) -> TfidfFeaturizer:
        """Rebuild a fitted featurizer from what ``state`` returned."""
        featurizer = cls(TfidfParams.model_validate(state["params"]))
        parts = [("word", featurizer.word)]
        if featurizer.char:
            parts.append(("char", featurizer.char))
        for name, vectorizer in parts:
            vectorizer.vocabulary_ = dict(state["vocabulary"][name])
            vectorizer.idf_ = arrays[f"idf.{name}"].astype(np.float64)
        return featurizer
