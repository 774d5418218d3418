"""Time the train stage's model fitting on one device and report its test macro-F1.

Reads ``data/processed`` (run ``dvc repro split`` or ``dvc pull`` first) and ``params.yaml``;
fits TF-IDF on train, trains the MLP with ``--device`` (default: ``train.device``), prints
seconds per epoch and the test macro-F1. Usage: ``python scripts/bench_train.py --device cuda``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sentiment.model import predict_proba
from sentiment.training import EpochRecord, resolve_device, train_model
from sentiment.vectorizer import TfidfFeaturizer
from sklearn.metrics import f1_score

from sentiment.params import LABELS, load_params


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default=None)
    args = parser.parse_args()
    params = load_params()
    train_params = params.train.model_copy(update={"device": args.device or params.train.device})
    device = resolve_device(train_params.device)
    frames = {name: pd.read_parquet(Path(params.paths.processed) / f"{name}.parquet")
              for name in ("train", "val", "test")}
    tokens = {name: [list(row) for row in frame["tokens"]] for name, frame in frames.items()}
    labels = {name: frame["label"].map(LABELS.index).to_numpy(np.int64)
              for name, frame in frames.items()}
    featurizer = TfidfFeaturizer(train_params.tfidf)
    featurizer.fit(tokens["train"], frames["train"]["text_norm"].tolist())
    matrices = {name: featurizer.transform(tokens[name], frame["text_norm"].tolist())
                for name, frame in frames.items()}

    stamps = [time.perf_counter()]

    def on_epoch(record: EpochRecord) -> None:
        if device.type == "cuda":
            torch.cuda.synchronize()
        stamps.append(time.perf_counter())

    result = train_model(matrices["train"], labels["train"], matrices["val"], labels["val"],
                         len(LABELS), train_params, params.seed, on_epoch=on_epoch)
    epochs = np.diff(stamps)
    name = torch.cuda.get_device_name() if device.type == "cuda" else "cpu"
    test_f1 = f1_score(labels["test"], predict_proba(result.model.cpu(), matrices["test"])
                       .argmax(axis=1), average="macro")
    print(f"device: {device} ({name}), torch {torch.__version__}")
    print(f"epochs: {len(epochs)}, seconds per epoch: median {np.median(epochs):.2f}, "
          f"first {epochs[0]:.2f}, total {epochs.sum():.1f}")
    print(f"best epoch {result.best_epoch}, val macro-F1 "
          f"{result.history[result.best_epoch].val_macro_f1:.4f}, test macro-F1 {test_f1:.4f}")


if __name__ == "__main__":
    main()
