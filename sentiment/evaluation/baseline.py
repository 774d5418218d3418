"""The VADER lexicon baseline, mapped to {negative, neutral, positive} by its compound score."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

COMPOUND_THRESHOLD = 0.05  # VADER's documented cut-off for neutral


def vader_predict(texts: Sequence[str], labels: Sequence[str]) -> np.ndarray:
    """Label indices predicted by VADER's compound score (±0.05 is neutral)."""
    analyzer = SentimentIntensityAnalyzer()
    names = []
    for text in texts:
        compound = analyzer.polarity_scores(text)["compound"]
        if compound >= COMPOUND_THRESHOLD:
            names.append("positive")
        elif compound <= -COMPOUND_THRESHOLD:
            names.append("negative")
        else:
            names.append("neutral")
    return np.array([list(labels).index(name) for name in names], dtype=np.int64)
