"""Stage train: TF-IDF fitted on train only, then the MLP, logged per epoch with dvclive."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
from dvclive import Live

from sentiment.artifact import SentimentModel, save_model
from sentiment.cleaning import normaliser_settings
from sentiment.io import read_parquet
from sentiment.params import LABELS, Params
from sentiment.training import EpochRecord, train_model
from sentiment.vectorizer import TfidfFeaturizer
from stages.common import run_stage
from stages.featurize import token_settings

log = logging.getLogger("train")


def label_ids(frame: pd.DataFrame) -> np.ndarray:
    return frame["label"].map(LABELS.index).to_numpy(dtype=np.int64)


def token_lists(frame: pd.DataFrame) -> list[list[str]]:
    return [list(tokens) for tokens in frame["tokens"]]


def main(params: Params) -> None:
    processed = Path(params.paths.processed)
    train, val = (read_parquet(processed / f"{name}.parquet") for name in ("train", "val"))
    featurizer = TfidfFeaturizer(params.train.tfidf)
    featurizer.fit(token_lists(train), train["text_norm"].tolist())
    x_train = featurizer.transform(token_lists(train), train["text_norm"].tolist())
    x_val = featurizer.transform(token_lists(val), val["text_norm"].tolist())
    log.info("TF-IDF fitted on %d train rows: %d features", len(train), featurizer.n_features)

    with Live(dir=str(Path(params.paths.reports) / "train"), dvcyaml=None,
              save_dvc_exp=False, report=None) as live:
        def log_epoch(record: EpochRecord) -> None:
            live.log_metric("train/loss", round(record.train_loss, 6))
            live.log_metric("val/loss", round(record.val_loss, 6))
            live.log_metric("val/macro_f1", round(record.val_macro_f1, 6))
            live.next_step()

        result = train_model(x_train, label_ids(train), x_val, label_ids(val), len(LABELS),
                             params.train, params.seed, on_epoch=log_epoch)
        best = result.history[result.best_epoch]
        live.summary["best_epoch"] = result.best_epoch
        live.summary["best_val_macro_f1"] = round(best.val_macro_f1, 6)

    save_model(SentimentModel(
        labels=list(LABELS), normaliser=normaliser_settings(params.clean),
        tokens=token_settings(params), featurizer=featurizer,
        network=result.model.cpu(), hidden_sizes=list(params.train.hidden_sizes),
        dropout=params.train.dropout,
    ), params.paths.model)
    log.info("best epoch %d (val macro-F1 %.4f); model saved to %s",
             result.best_epoch, best.val_macro_f1, params.paths.model)


if __name__ == "__main__":
    run_stage("train", main)
