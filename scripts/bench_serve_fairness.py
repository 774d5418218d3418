"""Does one largest-legal request starve small ones? Figures, not pass/fail.

Starts ``sentiment serve --model`` on a free 127.0.0.1 port (as bench_serve does), times one
request of max_batch_size texts of max_text_chars characters alone, then sends one-text requests
one after another while that large request runs, and prints their latency (median, worst)
against the same requests on an idle server.

Usage: ``python -m scripts.bench_serve_fairness [--model models/sentiment] [--small 50]``.
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
from pathlib import Path

import httpx

from scripts.bench_serve import free_port, start_server
from sentiment.serving.schemas import Limits

WORDS = ["the", "flight", "was", "late", "again", "but", "the", "crew", "were", "kind", "and",
         "the", "seat", "was", "fine"]


def long_text(chars: int, seed: int) -> str:
    words = [WORDS[(seed + i * 7) % len(WORDS)] for i in range(chars)]
    return " ".join(words)[:chars]


def small_latencies(client: httpx.Client, count: int) -> list[float]:
    seconds = []
    for i in range(count):
        start = time.perf_counter()
        client.post("/v1/predict", json={"texts": [f"lost my bag {i} times"]}).raise_for_status()
        seconds.append(time.perf_counter() - start)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=Path("models/sentiment"))
    parser.add_argument("--small", type=int, default=50, help="one-text requests per phase")
    args = parser.parse_args()
    limits = Limits()
    big = {"texts": [long_text(limits.max_text_chars, seed) for seed in
                     range(limits.max_batch_size)]}
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_server(args.model, port, 1, None)
    try:
        client = httpx.Client(base_url=base, timeout=600)
        small_latencies(client, 5)  # warm-up
        idle = small_latencies(client, args.small)
        start = time.perf_counter()
        client.post("/v1/predict", json=big).raise_for_status()
        alone = time.perf_counter() - start
        done = threading.Event()

        def large() -> None:
            with httpx.Client(base_url=base, timeout=600) as other:
                other.post("/v1/predict", json=big).raise_for_status()
            done.set()

        thread = threading.Thread(target=large)
        thread.start()
        time.sleep(0.5)  # the large request is being predicted
        loaded = small_latencies(client, args.small)
        still_running = not done.is_set()
        thread.join()
        client.close()
    finally:
        server.terminate()
        server.wait(30)
    print(f"large request ({limits.max_batch_size} x {limits.max_text_chars} chars) alone: "
          f"{alone:.1f} s")
    for name, values in (("idle", idle), ("during the large request", loaded)):
        print(f"one-text requests, {name}: median {statistics.median(values) * 1000:.1f} ms, "
              f"worst {max(values) * 1000:.1f} ms ({len(values)} requests)")
    print(f"the large request was still running after the last small one: {still_running}")


if __name__ == "__main__":
    main()
