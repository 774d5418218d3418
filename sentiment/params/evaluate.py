"""Section ``evaluate``: the test report's settings."""

from __future__ import annotations

from pydantic import Field

from sentiment.params.base import Strict


class BootstrapParams(Strict):
    """Bootstrap intervals of macro-F1 (seeded by the top-level ``seed``)."""

    resamples: int = Field(default=1000, ge=100)
    confidence: float = Field(default=0.95, gt=0, lt=1)


class EvaluateParams(Strict):
    top_mistakes: int = Field(default=50, ge=0)
    calibration_bins: int = Field(default=10, ge=2)
    bootstrap: BootstrapParams = BootstrapParams()
    behaviour: str = Field(default="data/behaviour/checklist.yaml", min_length=1)
