"""Throughput and single-text latency of every trained family, in one process on the CPU.

Reads ``models/candidates/<family>/`` (run ``make repro`` or ``dvc pull`` first) and the test
split; prints, per family, texts/s on batches of 1,000 texts, the median and p99 latency of
one text, and the folder's size, on the served route (``--route pinned``: today's PyTorch
path). Usage: ``python scripts/bench_families.py [--threads N] [--route fast|pinned]``.
"""

# ruff: noqa: I001  (sentiment must be imported before torch)
from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import sentiment  # noqa: F401  (first: pins the kernels before NumPy and torch load)
import torch
from sentiment.io import read_parquet
from sentiment.params.schema import load_params
from sentiment.model.predictor import Predictor
from sentiment.model.routes import ROUTES
from sentiment.evaluation.selection import folder_size


def time_family(folder: Path, texts: list[str], route: str) -> dict[str, float]:
    with Predictor.load(folder, route=route) as predictor:
        predictor.predict_proba(texts[:8])
        started = time.perf_counter()
        for start in range(0, len(texts), 1000):
            predictor.predict_proba(texts[start : start + 1000])
        texts_per_s = len(texts) / (time.perf_counter() - started)
        latencies = []
        for text in texts[:200]:
            started = time.perf_counter()
            predictor.predict_proba([text])
            latencies.append((time.perf_counter() - started) * 1000)
    latencies.sort()
    return {"texts_per_s": texts_per_s, "p50_ms": statistics.median(latencies),
            "p99_ms": latencies[int(0.99 * (len(latencies) - 1))],
            "size_mb": folder_size(folder) / 2**20}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--texts", type=int, default=3000)
    parser.add_argument("--route", choices=ROUTES, default="fast")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    params = load_params()
    texts = read_parquet(Path(params.paths.processed) / "test.parquet")["text"].tolist()
    texts = texts[: args.texts]
    print(f"{len(texts)} test texts, {args.threads} torch threads, CPU, {args.route} route")
    print(f"{'family':<16}{'texts/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'size MB':>9}")
    for folder in sorted(p for p in Path(params.paths.candidates).iterdir() if p.is_dir()):
        row = time_family(folder, texts, args.route)
        print(f"{folder.name:<16}{row['texts_per_s']:>10,.0f}{row['p50_ms']:>9.2f}"
              f"{row['p99_ms']:>9.2f}{row['size_mb']:>9.1f}")


if __name__ == "__main__":
    main()
