"""Family ``ensemble``: a weighted average of other families' probabilities, the weights
chosen on validation macro-F1 over a grid on the simplex. Its members are saved whole in
``members/<family>/``."""

from __future__ import annotations

import itertools
import logging
from pathlib import Path

import numpy as np

from sentiment.data.batches import LabelledTexts, TextBatch, batched_proba
from sentiment.families.base import Family, FitContext
from sentiment.families.parts.training import macro_f1
from sentiment.params.base import ParamsError
from sentiment.params.train import TrainParams

log = logging.getLogger(__name__)


def simplex_grid(n_members: int, step: float) -> list[tuple[float, ...]]:
    """Every weight vector on the grid ``step`` whose weights sum to one, all positive."""
    units = round(1 / step)
    return [tuple(count / units for count in counts)
            for counts in itertools.product(range(1, units + 1), repeat=n_members)
            if sum(counts) == units]


def best_weights(probabilities: list[np.ndarray], y_val: np.ndarray, step: float
                 ) -> tuple[tuple[float, ...], float]:
    """The grid weights with the best validation macro-F1 (the first such, in grid order)."""
    best, best_f1 = None, -1.0
    for weights in simplex_grid(len(probabilities), step):
        f1 = macro_f1(y_val, sum(w * p for w, p in zip(weights, probabilities, strict=True)))
        if f1 > best_f1:
            best, best_f1 = weights, f1
    if best is None:
        raise ParamsError(f"train.ensemble.weight_step={step} leaves no weights for "
                         f"{len(probabilities)} members (use a step of at most "
                         f"1/{len(probabilities)})")
    return best, best_f1


class Ensemble(Family):
    name = "ensemble"

    def __init__(self, members: dict[str, Family], weights: tuple[float, ...]) -> None:
        self.members, self.weights = members, weights

    @classmethod
    def fit(cls, train: LabelledTexts, val: LabelledTexts, params: TrainParams,
            context: FitContext) -> Ensemble:
        members = {name: context.trained[name] for name in params.ensemble.members}
        probabilities = [batched_proba(member.predict_proba, val.batches(), len(context.labels))
                         for member in members.values()]
        weights, f1 = best_weights(probabilities, val.labels, params.ensemble.weight_step)
        log.info("ensemble weights %s: val macro-F1 %.4f",
                 dict(zip(members, weights, strict=True)), f1)
        return cls(members, weights)

    def predict_proba(self, batch: TextBatch) -> np.ndarray:
        total = sum(w * m.predict_proba(batch)
                    for w, m in zip(self.weights, self.members.values(), strict=True))
        return total.astype(np.float32)

    def served(self) -> Ensemble:
        return Ensemble({name: member.served() for name, member in self.members.items()},
                        self.weights)

    def save(self, folder: Path) -> dict[str, object]:
        sections = []
        for (name, member), weight in zip(self.members.items(), self.weights, strict=True):
            member_folder = folder / "members" / name
            member_folder.mkdir(parents=True, exist_ok=True)
            sections.append({"family": name, "weight": weight,
                             "config": member.save(member_folder)})
        return {"members": sections}

    @classmethod
    def load(cls, folder: Path, config: dict[str, object], n_labels: int) -> Ensemble:
        from sentiment.families import family_class

        members, weights = {}, []
        for section in config["members"]:
            name = section["family"]
            members[name] = family_class(name).load(folder / "members" / name,
                                                    section["config"], n_labels)
            weights.append(float(section["weight"]))
        return cls(members, tuple(weights))
