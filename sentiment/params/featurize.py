"""Section ``featurize``: the tokeniser's settings."""

from __future__ import annotations

from sentiment.params.base import Strict


class FeaturizeParams(Strict):
    remove_stopwords: bool = False
    stem: bool = False
