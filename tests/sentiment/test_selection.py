"""Choosing the champion: validation macro-F1 within the budget, never test."""

from __future__ import annotations

import pytest

from sentiment.evaluation.selection import BudgetError, Candidate, select_champion
from sentiment.params.train import BudgetParams


def candidate(name: str, f1: float, texts_per_s: float, latency_ms: float) -> Candidate:
    return Candidate(name, f1, {}, 1, texts_per_s=texts_per_s, latency_ms=latency_ms)


CANDIDATES = [candidate("fast", 0.76, 20000, 0.5), candidate("slow", 0.80, 150, 30.0),
              candidate("tied", 0.80, 100, 40.0)]


def test_best_validation_score_wins_and_the_first_listed_breaks_ties() -> None:
    assert select_champion(CANDIDATES, BudgetParams()).name == "slow"


@pytest.mark.parametrize("budget", [BudgetParams(min_texts_per_s=1000),
                                    BudgetParams(max_latency_ms=5)])
def test_a_budget_keeps_the_best_family_within_it(budget: BudgetParams) -> None:
    assert select_champion(CANDIDATES, budget).name == "fast"


def test_a_budget_no_family_meets_lists_what_each_measured() -> None:
    with pytest.raises(BudgetError, match=r"min_texts_per_s=1e\+06.*fast 20,000 texts/s"):
        select_champion(CANDIDATES, BudgetParams(min_texts_per_s=1e6))
