"""Section ``train``: which families train, what they share, and ``train.<family>`` for each
family of the registry (so adding a family needs no edit here)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, create_model, model_validator

from sentiment.params.base import Strict
from sentiment.params.families import REGISTRY, FamilyName, TfidfParams


class BudgetParams(Strict):
    """Serving constraints the champion must meet on CPU (0 = no constraint)."""

    min_texts_per_s: float = Field(default=0.0, ge=0)
    max_latency_ms: float = Field(default=0.0, ge=0)


class TrainSettings(Strict):
    """What every family's training shares; ``TrainParams`` adds one section per family."""

    device: Literal["auto", "cpu", "cuda"] = "auto"
    families: list[FamilyName] = Field(default_factory=lambda: ["tfidf_linear", "tfidf_mlp"],
                                       min_length=1)
    threads: int = Field(default=1, ge=1, le=256, description="torch threads while training; "
                         "part of the result (see sentiment.kernels), not of the machine")
    budget: BudgetParams = BudgetParams()
    tfidf: TfidfParams = TfidfParams()

    @model_validator(mode="after")
    def _families_consistent(self) -> TrainSettings:
        if len(set(self.families)) != len(self.families):
            raise ValueError("train.families lists a family twice")
        if "ensemble" in self.families:
            missing = [m for m in self.ensemble.members if m not in self.families]
            if missing or "ensemble" in self.ensemble.members:
                raise ValueError("train.ensemble.members must be other families listed in "
                                 f"train.families (missing: {missing or ['ensemble']})")
            if self.families[-1] != "ensemble":
                raise ValueError("train.families: list ensemble last, after its members")
        return self


#: ``train``: the shared settings plus ``train.<family>`` for every family in the registry.
TrainParams = create_model(
    "TrainParams", __base__=TrainSettings, __module__=__name__,
    **{name: (spec.params, spec.params()) for name, spec in REGISTRY.items()})
