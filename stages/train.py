"""Stage train: fit every family in ``train.families`` on train (val for early stopping),
save each candidate, measure it, and name the champion (best validation macro-F1 within the
optional serving budget; test is never looked at), which the release stage publishes."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import torch
from dvclive import Live

from sentiment.data.batches import LabelledTexts, TextBatch
from sentiment.data.cleaning import normaliser_settings
from sentiment.data.features import token_settings
from sentiment.data.split_files import SplitFile
from sentiment.evaluation.crossval import FoldsError, cross_validate
from sentiment.evaluation.selection import (
    THROUGHPUT_TEXTS,
    BudgetError,
    Candidate,
    folder_size,
    measure_speed,
    select_champion,
)
from sentiment.families import family_class
from sentiment.families.base import FitContext
from sentiment.families.parts.encoder import remembered_embeddings
from sentiment.families.parts.training import TrainingDiverged, resolve_device
from sentiment.io import write_json
from sentiment.model.folder import SentimentModel, save_model
from sentiment.model.predictor import Predictor
from sentiment.params.base import LABELS
from sentiment.params.clean import CleanParams
from sentiment.params.featurize import FeaturizeParams
from sentiment.params.split import SplitParams
from sentiment.params.stage import StageParams
from sentiment.params.train import TrainParams
from sentiment.runtime import StageError, run_stage, seed_everything

log = logging.getLogger("train")


class TrainStageParams(StageParams):
    """The sections of params.yaml this stage reads."""

    clean: CleanParams = CleanParams()
    featurize: FeaturizeParams = FeaturizeParams()
    train: TrainParams = TrainParams()
    split: SplitParams | None = None  # only `folds` is read



def main(params: TrainStageParams) -> None:
    # Families and candidates share the frozen encoder's embeddings: compute each once.
    with remembered_embeddings():
        fit_and_select(params)


def fit_and_select(params: TrainStageParams) -> None:
    torch.set_num_threads(params.train.threads)
    torch.use_deterministic_algorithms(True)
    processed, candidates_dir = Path(params.paths.processed), Path(params.paths.candidates)
    train = SplitFile(processed / "train.parquet", LABELS)  # read a batch at a time
    val = SplitFile(processed / "val.parquet", LABELS)
    context = FitContext(seed=params.seed, device=resolve_device(params.train.device),
                         labels=list(LABELS), embeddings=Path(params.paths.embeddings))
    log.info("%d train and %d val rows; families %s on %s with %d threads", len(train),
             len(val), params.train.families, context.device, torch.get_num_threads())
    folds = params.split.folds if params.split else 0
    # Before the final fits: a split.folds the data cannot take fails before anything is written.
    cv = cross_validated(params, train, val, context) if folds else None
    candidates: list[Candidate] = []
    with Live(dir=str(Path(params.paths.reports) / "train"), dvcyaml=None,
              save_dvc_exp=False, report=None) as live:
        logged: set[str] = set()  # the families that logged a curve

        def log_metric(name: str, value: float) -> None:
            logged.add(name.partition("/")[0])
            live.log_metric(name, value)

        context.log_metric, context.next_step = log_metric, live.next_step
        for name in params.train.families:
            live.step = 0
            seed_everything(params.seed)  # each family starts from the same random state
            context.summary = {}
            started = time.perf_counter()
            try:
                family = family_class(name).fit(train, val, params.train, context)
            except TrainingDiverged as error:
                raise StageError(str(error)) from None
            train_seconds = time.perf_counter() - started
            context.trained[name] = family
            folder = candidates_dir / name
            save_model(SentimentModel(family, list(LABELS), normaliser_settings(params.clean),
                                      token_settings(params.featurize)), folder)
            with Predictor.load(folder) as predictor:  # the pinned route: reproducible
                candidate = Candidate.evaluate(name, predictor, val, folder_size(folder),
                                               dict(context.summary))
            if name not in logged:  # no epochs: its validation score as a one-point curve
                log_metric(f"{name}/val_macro_f1", round(candidate.val_macro_f1, 6))
                live.next_step()
            with Predictor.load(folder, route="fast") as served:  # the speed of what is served
                speed = measure_speed(served, val.head(THROUGHPUT_TEXTS).texts, name)
            candidates.append(candidate.with_speed(speed, train_seconds))
            log.info("%s: val macro-F1 %.4f, %.0f s to train", name, candidate.val_macro_f1,
                     train_seconds)
        try:
            champion = select_champion(candidates, params.train.budget, cv and {
                name: float(scores["mean"]) for name, scores in cv.items()})
        except BudgetError as error:
            raise StageError(str(error)) from None
        if cv:
            live.summary["cv"] = {"folds": folds, "families": cv}
        live.summary["champion"] = champion.name
        live.summary["families"] = {c.name: c.quality() for c in candidates}
    write_json(Path(params.paths.reports) / "speed.json",
               {c.name: c.speed() for c in candidates})
    log.info("champion: %s (val macro-F1 %.4f)", champion.name, champion.val_macro_f1)


def cross_validated(params: TrainStageParams, train: SplitFile, val: SplitFile,
                    context: FitContext) -> dict[str, dict[str, object]]:
    """Every family's k-fold macro-F1 on train + val (held in memory: a small-data option)."""
    both = LabelledTexts(TextBatch(*(a + b for a, b in zip(
        (train.batch.texts, train.batch.norms, train.batch.tokens),
        (val.batch.texts, val.batch.norms, val.batch.tokens), strict=True))),
        train.ids + val.ids, np.concatenate([train.labels, val.labels]))
    try:
        cv = cross_validate(both, params.train.families, params.split.folds, params.train,
                            lambda: FitContext(seed=params.seed, device=context.device,
                                               labels=context.labels,
                                               embeddings=context.embeddings))
    except (FoldsError, TrainingDiverged) as error:
        raise StageError(str(error)) from None
    for name, scores in cv.items():
        log.info("%s: %d-fold macro-F1 %.4f ± %.4f", name, params.split.folds, scores["mean"],
                 scores["sd"])
    return cv


if __name__ == "__main__":
    run_stage("train", TrainStageParams, main)
