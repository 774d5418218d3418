"""Section ``clean``: labels, length limits and the normaliser's settings."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from sentiment.params.base import LABELS, Finite


class RatingThresholds(Finite):
    """A rating r maps to negative if r <= negative_max, positive if r >= positive_min.

    ``unit: site`` gives both in the site's own units (stars, points); ``unit: fraction`` gives
    them as fractions of ``clean.rating_max``.
    """

    unit: Literal["site", "fraction"] = "site"
    negative_max: float = Field(default=2.0, ge=0)
    positive_min: float = Field(default=4.0, ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> RatingThresholds:
        if self.negative_max >= self.positive_min:
            raise ValueError("clean.rating_thresholds.negative_max must be below positive_min")
        if self.unit == "fraction" and self.positive_min > 1:
            raise ValueError("clean.rating_thresholds are fractions of rating_max (unit: "
                             "fraction), so they must lie between 0 and 1")
        return self


#: What ``clean.preset`` sets; a key written in params.yaml wins over its preset.
CLEAN_PRESETS: dict[str, dict[str, Any]] = {
    "tweets": {"label_source": "label", "min_chars": 3, "max_chars": 1000,
               "rating_thresholds": {"unit": "site", "negative_max": 2.0, "positive_min": 4.0}},
    "reviews": {"label_source": "rating", "min_chars": 3, "max_chars": 20000,
                "rating_thresholds": {"unit": "fraction", "negative_max": 0.4,
                                      "positive_min": 0.8}},
}


class CleanParams(Finite):
    preset: Literal["tweets", "reviews"] = "tweets"
    label_source: Literal["label", "rating"] = "label"
    label_map: dict[str, Literal["negative", "neutral", "positive"]] = Field(
        default_factory=lambda: {label: label for label in LABELS}
    )
    rating_max: float = Field(default=5.0, gt=0, description="the site's rating scale")
    rating_thresholds: RatingThresholds = RatingThresholds()
    min_confidence: float = Field(default=0.0, ge=0.0, le=1.0)
    min_chars: int = Field(default=3, ge=1)
    max_chars: int = Field(default=1000, ge=1)
    lowercase: bool = True
    url_token: str = "<url>"
    user_token: str = "<user>"

    @model_validator(mode="before")
    @classmethod
    def _apply_preset(cls, data: object) -> object:
        if not isinstance(data, dict):
            return data
        preset = CLEAN_PRESETS.get(data.get("preset", "tweets"))
        if preset is None:
            return data  # the Literal names the valid presets
        merged = {**preset, **data}
        if isinstance(data.get("rating_thresholds"), dict):
            merged["rating_thresholds"] = {**preset["rating_thresholds"],
                                           **data["rating_thresholds"]}
        return merged

    @model_validator(mode="after")
    def _bounds(self) -> CleanParams:
        if self.min_chars > self.max_chars:
            raise ValueError("clean.min_chars must not exceed clean.max_chars")
        if self.rating_thresholds.unit == "site" \
                and self.rating_thresholds.positive_min > self.rating_max:
            raise ValueError("clean.rating_thresholds.positive_min must not exceed rating_max")
        return self

    def rating_cutoffs(self) -> tuple[float, float]:
        """``(negative_max, positive_min)`` in the site's units."""
        thresholds = self.rating_thresholds
        scale = self.rating_max if thresholds.unit == "fraction" else 1.0
        return thresholds.negative_max * scale, thresholds.positive_min * scale
