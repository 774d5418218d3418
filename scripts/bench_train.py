"""Time one model family's fit on one device and report its validation and test macro-F1.

Reads ``data/processed`` (run ``dvc repro split`` or ``dvc pull`` first; embeddings_mlp also
reads ``paths.embeddings`` when the embed stage has filled it) and ``params.yaml``. Prints
seconds per epoch (training plus the validation pass the loop makes) and per 1,000 train rows,
the total fit time (wall and CPU), and the macro-F1 on validation and test. With ``--save``,
it writes the model folder and scores the test split again from it on both routes (pinned and
served, on the CPU): their label agreement and macro-F1 (``route_agreement``, as evaluate
reports them); ``scripts/bench_serve.py --model FOLDER`` then times the two routes.

    python scripts/bench_train.py --family transformer --device cuda --save models/transformer
    python scripts/bench_train.py --family transformer --device cpu --train-rows 1000 \
        --eval-rows 500 --epochs 1
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np
import torch

from sentiment.data.batches import LabelledTexts
from sentiment.data.cleaning import normaliser_settings
from sentiment.data.features import token_settings
from sentiment.data.split_files import read_split
from sentiment.evaluation.metrics import route_agreement
from sentiment.families import family_class
from sentiment.families.base import Family, FitContext
from sentiment.families.parts.training import macro_f1, resolve_device
from sentiment.model.folder import SentimentModel, save_model
from sentiment.model.predictor import Predictor
from sentiment.params.base import LABELS, ParamsError
from sentiment.params.families import FAMILY_NAMES
from sentiment.params.schema import Params, load_params
from sentiment.runtime import seed_everything


def sample(split: LabelledTexts, rows: int, seed: int) -> LabelledTexts:
    """``rows`` rows of ``split`` drawn without replacement (all of it when 0 or more)."""
    if not rows or rows >= len(split.ids):
        return split
    keep = np.sort(np.random.default_rng(seed).permutation(len(split.ids))[:rows])
    return LabelledTexts(split.batch.take(keep), [split.ids[i] for i in keep],
                         split.labels[keep])


def with_epochs(params: Params, family: str, epochs: int | None, device: str | None) -> Params:
    """``params`` with ``train.device`` and the family's epoch count overridden."""
    train = params.train.model_copy(update={"device": device or params.train.device})
    if epochs and family in ("tfidf_mlp", "embeddings_mlp"):
        section = getattr(train, family)
        train = train.model_copy(update={family: section.model_copy(update={
            "max_epochs": epochs, "min_epochs": min(section.min_epochs, epochs)})})
    elif epochs and family == "transformer":
        train = train.model_copy(update={"transformer": train.transformer.model_copy(
            update={"epochs": epochs})})
    return params.model_copy(update={"train": train})


def save_and_compare_routes(family: Family, params: Params, test: LabelledTexts,
                            folder: Path) -> None:
    """Save ``family`` to ``folder``, then print the served route's test scores beside the
    pinned route's, each loaded from the folder on the CPU."""
    save_model(SentimentModel(family, list(LABELS), normaliser_settings(params.clean),
                              token_settings(params.featurize)), folder)
    scores = {}
    for route in ("pinned", "fast"):
        started = time.perf_counter()
        with Predictor.load(folder, route=route) as predictor:
            scores[route] = predictor.predict_proba(test.batch.texts)
        print(f"{route} route on the CPU: test scored in {time.perf_counter() - started:.1f} s")
    report = route_agreement(test.labels, scores["pinned"], scores["fast"], list(LABELS))
    print(f"saved {folder}; served route: {json.dumps(report, sort_keys=True)}")


def synchronised_clock(device: torch.device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--family", choices=FAMILY_NAMES, required=True)
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default=None,
                        help="default: train.device from params.yaml")
    parser.add_argument("--epochs", type=int, default=None, help="override the epoch count")
    parser.add_argument("--train-rows", type=int, default=0, help="sample of train (0: all)")
    parser.add_argument("--eval-rows", type=int, default=0,
                        help="sample of val and of test (0: all)")
    parser.add_argument("--save", type=Path, default=None,
                        help="write the model folder here and compare its two routes on test")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        params = with_epochs(load_params(), args.family, args.epochs, args.device)
        device = resolve_device(params.train.device)
    except ParamsError as error:
        sys.exit(f"bench_train: {error}")
    torch.set_num_threads(params.train.threads)
    if device.type == "cpu":
        torch.use_deterministic_algorithms(True)
    processed = Path(params.paths.processed)
    train, val, test = (sample(read_split(processed / f"{name}.parquet", LABELS), rows,
                               params.seed)
                        for name, rows in (("train", args.train_rows), ("val", args.eval_rows),
                                           ("test", args.eval_rows)))
    stamps: list[float] = []
    context = FitContext(seed=params.seed, device=device, labels=list(LABELS),
                         embeddings=Path(params.paths.embeddings),
                         next_step=lambda: stamps.append(synchronised_clock(device)))
    seed_everything(params.seed)
    started, cpu_started = synchronised_clock(device), time.process_time()
    family = family_class(args.family).fit(train, val, params.train, context)
    fit_seconds = synchronised_clock(device) - started
    fit_cpu_seconds = time.process_time() - cpu_started
    before_val = synchronised_clock(device)
    val_f1 = macro_f1(val.labels, family.predict_proba(val.batch))
    val_pass = synchronised_clock(device) - before_val
    test_f1 = macro_f1(test.labels, family.predict_proba(test.batch))

    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    print(f"family {args.family} on {device} ({name}), torch {torch.__version__}, "
          f"{torch.get_num_threads()} CPU threads")
    print(f"rows: train {len(train.ids)}, val {len(val.ids)}, test {len(test.ids)}")
    if stamps:
        epochs = np.diff([started, *stamps])
        print(f"epochs {len(epochs)}: seconds per epoch median {np.median(epochs):.1f} "
              f"(first {epochs[0]:.1f}, with loading); "
              f"{1000 * np.median(epochs) / len(train.ids):.1f} s per 1,000 train rows per "
              "epoch, the loop's validation pass included")
    print(f"fit total {fit_seconds:.1f} s wall, {fit_cpu_seconds:.1f} s CPU time of this "
          f"process (all threads), best epoch {context.summary.get('best_epoch')}")
    print(f"macro-F1: val {val_f1:.4f}, test {test_f1:.4f} (predicting val from text: "
          f"{val_pass:.1f} s, {len(val.ids) / max(val_pass, 1e-9):.0f} texts/s)")
    if args.save:
        save_and_compare_routes(family, params, test, args.save)


if __name__ == "__main__":
    main()
