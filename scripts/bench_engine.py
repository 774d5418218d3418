"""Featurize and batch scoring of N tweets: in process vs on a Ray cluster, same bytes.

Starts a throw-away two-node cluster on 127.0.0.1 (head + one worker node, one CPU each,
``scripts/ray_cluster.py``) unless ``--address`` names a running one. For each engine it times
tokenising the texts (featurize's per-batch work) and ``score_to_parquet`` twice: the first Ray
run includes starting the job's worker processes and loading the model in each, the second
reuses them. It checks that both engines give the same tokens and byte-identical score files.
Usage: ``python scripts/bench_engine.py --rows 20000 --model models/sentiment``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import tempfile
import time
from functools import partial
from pathlib import Path

from scripts.ray_cluster import LocalRayCluster
from sentiment.compute.choose import open_engine
from sentiment.compute.engine import chunked, each
from sentiment.crawl.demo_site import load_corpus
from sentiment.data.features import TokenSettings, tokenize
from sentiment.data.text import NormaliserSettings, normalise
from sentiment.model.predictor import Predictor
from sentiment.monitoring.score import ScoreSettings, model_version, score_to_parquet


def timed(action) -> tuple[float, object]:
    start = time.perf_counter()
    result = action()
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20000)
    parser.add_argument("--model", type=Path, default=Path("models/sentiment"))
    parser.add_argument("--batch-rows", type=int, default=2500, help="featurize rows per task")
    parser.add_argument("--chunk-rows", type=int, default=2500, help="score rows per task")
    parser.add_argument("--address", help="a running Ray cluster (default: start a local one)")
    args = parser.parse_args()
    import pandas as pd  # after sentiment, which pins the kernels before NumPy loads


    texts = [record.text for record in load_corpus(args.rows)]
    norms = [normalise(text, NormaliserSettings()) for text in texts]
    tokens_of = partial(each, tokenize, settings=TokenSettings())
    stack = contextlib.ExitStack()
    folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-engine-")))
    source = folder / "input.parquet"
    pd.DataFrame({"id": [str(i) for i in range(len(texts))], "text": texts}).to_parquet(source)
    version = model_version(args.model)
    settings = ScoreSettings(chunk_rows=args.chunk_rows)
    print(f"{len(texts)} rows; featurize batches of {args.batch_rows}, score chunks of "
          f"{args.chunk_rows}; model {args.model} ({version})")

    with stack:
        address = args.address or stack.enter_context(LocalRayCluster.started()).address
        predictor = stack.enter_context(Predictor.load(args.model, workers=os.cpu_count() or 1))
        tokens, scores = {}, {}
        for name in ("inprocess", "ray"):
            connect, engine = timed(lambda name=name: open_engine(name, address))
            with engine:
                for run in (1, 2):
                    featurize, tokens[name] = timed(lambda engine=engine: [
                        row for batch in engine.map_batches(
                            tokens_of, chunked(norms, args.batch_rows)) for row in batch])
                    output = folder / f"{name}{run}.parquet"
                    score, _ = timed(lambda engine=engine, output=output: score_to_parquet(
                        predictor, str(source), output, version, settings, engine, args.model))
                    scores[name, run] = output.read_bytes()
                    print(f"{name:<9} run {run}: connect {connect:5.1f} s  featurize "
                          f"{featurize:6.1f} s  score {score:6.1f} s", flush=True)
                    connect = 0.0
    print("identical tokens:", tokens["inprocess"] == tokens["ray"])
    print("each engine's two score files identical:",
          all(scores[name, 1] == scores[name, 2] for name in ("inprocess", "ray")))
    print("identical score files across engines:", scores["inprocess", 2] == scores["ray", 2])
    if scores["inprocess", 2] != scores["ray", 2]:
        local, remote = (pd.read_parquet(io.BytesIO(scores[name, 2]))
                         for name in ("inprocess", "ray"))
        probabilities = (local.filter(like="prob_").to_numpy(),
                         remote.filter(like="prob_").to_numpy())
        print(f"  same labels: {(local['label'] == remote['label']).all()}; rows whose "
              f"probabilities differ: {(probabilities[0] != probabilities[1]).any(axis=1).sum()}"
              f" of {len(local)}, by at most {abs(probabilities[0] - probabilities[1]).max():.1e}")


if __name__ == "__main__":
    main()
