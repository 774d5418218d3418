"""What one request costs on this machine, measured once at start for ``/v1/model``.

A text's cost grows with its length up to the encoder's token limit, so the probe is texts of
the longest legal length: their time per text, times the batch limit, bounds a request.
"""

from __future__ import annotations

import time

from sentiment.model.predictor import Predictor
from sentiment.serving.schemas import CostInfo, Limits

PROBE_TEXTS = 4  # longest-length texts timed at start (best of two rounds)
PROBE_WORD = "good "


def measure_cost(predictor: Predictor, limits: Limits) -> CostInfo:
    """Time ``PROBE_TEXTS`` texts of ``max_text_chars`` characters, twice; keep the faster."""
    text = (PROBE_WORD * (limits.max_text_chars // len(PROBE_WORD) + 1))[:limits.max_text_chars]
    texts = [text] * min(PROBE_TEXTS, limits.max_batch_size)
    rounds = []
    for _ in range(2):
        start = time.perf_counter()
        predictor.predict(texts)
        rounds.append((time.perf_counter() - start) / len(texts))
    per_text = min(rounds)
    return CostInfo(longest_text_ms=round(per_text * 1000, 2),
                    largest_request_s=round(per_text * limits.max_batch_size, 2))
