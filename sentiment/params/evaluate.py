"""Section ``evaluate``: the test report's settings."""

from __future__ import annotations

from pydantic import Field

from sentiment.params.base import Strict


class EvaluateParams(Strict):
    top_mistakes: int = Field(default=50, ge=0)
    calibration_bins: int = Field(default=10, ge=2)
