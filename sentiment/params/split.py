"""Section ``split``: the train / val / test fractions and the hash salt."""

from __future__ import annotations

from pydantic import Field, model_validator

from sentiment.params.base import Strict


class SplitFractions(Strict):
    train: float = Field(gt=0, lt=1)
    val: float = Field(gt=0, lt=1)
    test: float = Field(gt=0, lt=1)

    @model_validator(mode="after")
    def _sum_to_one(self) -> SplitFractions:
        total = self.train + self.val + self.test
        if abs(total - 1.0) > 1e-9:
            raise ValueError(f"split.fractions must sum to 1, got {total:g}")
        return self


class SplitParams(Strict):
    fractions: SplitFractions
    salt: str = ""
    # k-fold cross-validation of the families on train + val (0: off; docs/experiments.md).
    folds: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _folds_off_or_two(self) -> SplitParams:
        if self.folds == 1:
            raise ValueError("split.folds must be 0 (off) or at least 2, got 1")
        return self
