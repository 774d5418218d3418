"""Serving benchmarks: figures, not pass/fail. The champion on each route (``pinned``, today's
PyTorch path with the same bits on every CPU, then ``fast``, the served int8 encoder) side by
side in one run, with the fast route's ratio to the pinned one; then every family.

1. In process, one thread: batch throughput (``Predictor.predict_proba`` on N distinct texts
   from ``data/processed``, after a warm-up on other texts), single-text latency p50, and the
   pool of processes for large batches.
2. HTTP, against ``sentiment serve --route R`` on a free 127.0.0.1 port with its Prometheus
   metrics and the JSON access log on (written to a file): latency p50 / p99 of sequential
   one-text requests (httpx), requests per second with C concurrent keep-alive connections (a
   bare asyncio load generator, bounded by a request count and a time limit), the server's CPU
   time per request (which other load on the machine changes much less than requests/s), and
   the largest request the service accepts (256 texts of 5,000 characters).
3. The web page's first load: the bytes of ``/`` and of every asset it names.
4. Every family in ``models/candidates`` on both routes: throughput and single-text p50.

Usage: ``python scripts/bench_serve.py [--model models/sentiment] [--texts 10000]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import httpx
import pandas as pd
import psutil

from sentiment.model.predictor import Predictor
from sentiment.model.routes import ROUTES
from sentiment.serving.schemas import Limits


def corpus(data: Path) -> list[str]:
    """Every distinct text of the processed splits, test first."""
    frames = [pd.read_parquet(data / f"{split}.parquet", columns=["text"])
              for split in ("test", "val", "train") if (data / f"{split}.parquet").is_file()]
    if not frames:
        sys.exit(f"{data}: no test/val/train.parquet (run `dvc pull` or `make repro`)")
    return list(dict.fromkeys(pd.concat(frames)["text"].tolist()))


def throughput(model: Path, texts: list[str], warmup: list[str], workers: int,
               route: str) -> tuple[float, float, float]:
    """(texts per second on ``texts`` after a warm-up on others, then on them again, median
    single-text latency in ms on the first 200 of them), on one thread per process."""
    import torch

    torch.set_num_threads(1)
    rates = []
    with Predictor.load(model, workers=workers, route=route) as predictor:
        predictor.predict_proba(warmup)
        for _ in range(2):
            start = time.perf_counter()
            predictor.predict_proba(texts)
            rates.append(len(texts) / (time.perf_counter() - start))
        latencies = []
        for text in texts[:200]:
            start = time.perf_counter()
            predictor.predict_proba([text])
            latencies.append((time.perf_counter() - start) * 1000)
    return rates[0], rates[1], statistics.median(latencies)


def throughput_in_fresh_process(*args: object) -> tuple[float, float, float]:
    """``throughput`` in a new interpreter, so no cache carries over between measurements."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=context) as pool:
        return pool.submit(throughput, *args).result()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(model: Path, port: int, workers: int, access_log: Path | None,
                 route: str) -> subprocess.Popen:
    """``sentiment serve --route route`` with its JSON access log going to ``access_log``
    (None: no log)."""
    log_option = "--json-access-log" if access_log else "--no-access-log"
    with access_log.open("w") if access_log else open(os.devnull, "w") as log:
        server = subprocess.Popen(
            [sys.executable, "-c", "from sentiment.cli import main; main()", "serve",
             "--model", str(model), "--host", "127.0.0.1", "--port", str(port),
             "--workers", str(workers), log_option, "--route", route,
             "--allow-unlocked-model"],
            stdout=log, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"sentiment serve exited {server.returncode}:\n{server.stderr.read()}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return server
        except httpx.TransportError:
            time.sleep(0.2)
    server.kill()
    sys.exit("sentiment serve did not answer /health within 120 s")


def first_load_bytes(url: str) -> dict[str, int]:
    """Bytes of the page and of each asset its HTML names (href / src on this server)."""
    response = httpx.get(f"{url}/")
    if response.status_code == 404:  # a version of the service without the page
        return {}
    page = response.content
    sizes = {"/": len(page)}
    for name in re.findall(rb'(?:href|src)="([^":]+)"', page):
        response = httpx.get(f"{url}/{name.decode()}")
        response.raise_for_status()
        sizes[name.decode()] = len(response.content)
    return sizes


def cpu_seconds(process: psutil.Process) -> float:
    """User + system CPU seconds of a process and its children (uvicorn's workers)."""
    return sum(sum(each.cpu_times()[:2]) for each in [process, *process.children(True)])


def percentile(values: list[float], q: int) -> float:
    """The q-th percentile (1 <= q <= 99)."""
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def sequential_latency(url: str, texts: list[str], requests: int) -> list[float]:
    """Milliseconds per one-text request, one after another on a keep-alive connection."""
    timings = []
    with httpx.Client(base_url=url, timeout=30) as client:
        for index in range(requests + 50):
            start = time.perf_counter()
            response = client.post("/v1/predict", json={"texts": [texts[index % len(texts)]]})
            elapsed = (time.perf_counter() - start) * 1000
            response.raise_for_status()
            if index >= 50:  # the first requests warm the connection and caches
                timings.append(elapsed)
    return timings


def request_bytes(port: int, texts: list[str]) -> bytes:
    body = json.dumps({"texts": texts}).encode()
    return (f"POST /v1/predict HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
            ).encode() + body


async def load(port: int, texts: list[str], batch: int, concurrency: int, max_requests: int,
               max_seconds: float) -> tuple[int, float, list[float]]:
    """(requests done, seconds, latencies in ms) with ``concurrency`` keep-alive connections,
    each sending its next request as soon as the last is answered. A bare asyncio HTTP/1.1
    client: an HTTP library would cost more CPU than the server on a 2-core machine."""
    requests = [request_bytes(port, [texts[(index * batch + k) % len(texts)]
                                     for k in range(batch)]) for index in range(1000)]
    latencies: list[float] = []
    counter = iter(range(max_requests))
    start = time.perf_counter()
    deadline = start + max_seconds

    async def connection() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for index in counter:
                if time.perf_counter() > deadline:
                    return
                sent = time.perf_counter()
                writer.write(requests[index % len(requests)])
                head = await reader.readuntil(b"\r\n\r\n")
                if not head.startswith(b"HTTP/1.1 200"):
                    raise RuntimeError(head.decode(errors="replace"))
                length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))
                await reader.readexactly(length)
                latencies.append((time.perf_counter() - sent) * 1000)
        finally:
            writer.close()

    await asyncio.gather(*(connection() for _ in range(concurrency)))
    return len(latencies), time.perf_counter() - start, latencies


def largest_request_seconds(url: str, texts: list[str]) -> float:
    """Seconds for one request of the most texts of the longest length the service accepts."""
    limits = Limits()
    long = " ".join(texts)[: limits.max_text_chars * limits.max_batch_size]
    batch = [long[index * limits.max_text_chars : (index + 1) * limits.max_text_chars]
             for index in range(limits.max_batch_size)]
    start = time.perf_counter()
    httpx.post(f"{url}/v1/predict", json={"texts": batch}, timeout=300).raise_for_status()
    return time.perf_counter() - start


def bench_http(args: argparse.Namespace, texts: list[str], route: str) -> dict[str, float]:
    """The HTTP figures of the champion served on ``route`` (printed as they come)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    access_log = (Path(tempfile.mkdtemp(prefix="bench-serve-")) / "access.jsonl"
                  if args.access_log else None)
    server = start_server(args.model, port, args.server_workers, access_log, route)
    figures = {}
    try:
        print(f"  HTTP, sentiment serve --route {route} --workers {args.server_workers} on "
              f"{url}; JSON access log: {access_log or 'off'}")
        latencies = sequential_latency(url, texts, args.requests)
        figures["http_p50_ms"] = percentile(latencies, 50)
        print(f"    one text per request, sequential ({len(latencies)} requests): "
              f"p50 {figures['http_p50_ms']:.2f} ms, p99 {percentile(latencies, 99):.2f} ms")
        process = psutil.Process(server.pid)
        for size in (1, 32):
            cpu = cpu_seconds(process)
            done, seconds, lat = asyncio.run(load(port, texts, size, args.concurrency,
                                                  args.load_requests, args.load_seconds))
            cpu_ms = (cpu_seconds(process) - cpu) * 1000 / done
            figures.setdefault("http_requests_per_s", done / seconds)
            print(f"    {size:>2} text{'s' if size > 1 else ' '} per request, "
                  f"{args.concurrency} concurrent: {done / seconds:8,.0f} requests/s "
                  f"({done * size / seconds:,.0f} texts/s), p50 {percentile(lat, 50):.1f} ms, "
                  f"p99 {percentile(lat, 99):.1f} ms ({done} requests in {seconds:.1f} s); "
                  f"server CPU {cpu_ms:.2f} ms/request")
        figures["largest_request_s"] = largest_request_seconds(url, texts)
        print(f"    the largest request (256 texts of 5,000 characters): "
              f"{figures['largest_request_s']:.2f} s")
        sizes = first_load_bytes(url)
        if sizes and route == ROUTES[-1]:
            print(f"    web page first load: {sum(sizes.values()):,} bytes (" +
                  ", ".join(f"{name} {size:,}" for name, size in sizes.items()) + ")")
    finally:
        server.terminate()
        server.wait(timeout=30)
    if access_log:
        with access_log.open() as lines:
            print(f"    access log: {sum(1 for _ in lines):,} JSON lines")
    return figures


def bench_route(args: argparse.Namespace, texts: list[str], route: str) -> dict[str, float]:
    """Every figure of the champion on ``route``."""
    batch, warmup = texts[: args.texts], texts[args.texts : 2 * args.texts]
    print(f"\n{route} route")
    figures: dict[str, float] = {}
    if not args.http_only:
        for workers in sorted({1, args.pool_workers}):
            first, again, p50 = throughput_in_fresh_process(args.model, batch, warmup, workers,
                                                            route)
            print(f"  in process, {workers} process{'es' if workers > 1 else '  '}: "
                  f"{first:8,.0f} texts/s first sight / {again:8,.0f} texts/s again; "
                  f"one text p50 {p50:.2f} ms")
            if workers == 1:
                figures.update(texts_per_s=first, p50_ms=p50)
    return {**figures, **bench_http(args, texts, route)}


FIGURES = {"texts_per_s": ("in process, texts/s in batches (1 thread)", True),
           "p50_ms": ("in process, one text p50 (ms)", False),
           "http_p50_ms": ("HTTP one text p50 (ms)", False),
           "http_requests_per_s": ("HTTP requests/s, 1 text, 16 connections", True),
           "largest_request_s": ("HTTP 256 x 5,000 characters (s)", False)}


def print_comparison(results: dict[str, dict[str, float]]) -> None:
    """The routes side by side, with the fast route's gain over the pinned one."""
    pinned, fast = (results[route] for route in ROUTES)
    print("\n| figure | pinned (today) | fast (served) | fast vs pinned |\n"
          "| --- | --- | --- | --- |")
    for key, (title, higher_is_better) in FIGURES.items():
        if key in pinned and key in fast:
            gain = fast[key] / pinned[key] if higher_is_better else pinned[key] / fast[key]
            print(f"| {title} | {pinned[key]:,.2f} | {fast[key]:,.2f} | {gain:.2f}x |")


def bench_families(candidates: Path, texts: list[str]) -> None:
    """Every family on both routes: texts/s in batches and single-text p50, one thread."""
    folders = sorted(path for path in candidates.iterdir() if path.is_dir()) \
        if candidates.is_dir() else []
    if not folders:
        return
    print(f"\nevery family in {candidates}, one thread, {len(texts):,} texts\n"
          "| family | pinned texts/s | pinned p50 ms | fast texts/s | fast p50 ms |\n"
          "| --- | --- | --- | --- | --- |")
    for folder in folders:
        cells = []
        for route in ROUTES:
            rate, _, p50 = throughput_in_fresh_process(folder, texts, texts[:50], 1, route)
            cells += [f"{rate:,.0f}", f"{p50:.2f}"]
        print(f"| {folder.name} | {' | '.join(cells)} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=Path("models/sentiment"))
    parser.add_argument("--data", type=Path, default=Path("data/processed"))
    parser.add_argument("--texts", type=int, default=10_000, help="batch for throughput")
    parser.add_argument("--pool-workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--requests", type=int, default=1000, help="sequential requests")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--load-requests", type=int, default=20_000)
    parser.add_argument("--load-seconds", type=float, default=10.0)
    parser.add_argument("--server-workers", type=int, default=1)
    parser.add_argument("--http-only", action="store_true", help="skip the in-process part")
    parser.add_argument("--access-log", action=argparse.BooleanOptionalAction, default=True,
                        help="serve with the JSON access log on, to a file (default: on; off "
                             "passes --no-access-log, which older versions also accept)")
    parser.add_argument("--candidates", type=Path, default=Path("models/candidates"))
    parser.add_argument("--family-texts", type=int, default=1000,
                        help="texts per family in the every-family table")
    args = parser.parse_args()

    texts = corpus(args.data)
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}; "
          f"{min(args.texts, len(texts)):,} distinct texts from {args.data}, warm-up on "
          f"{len(texts[args.texts : 2 * args.texts]):,} others")
    results = {route: bench_route(args, texts, route) for route in ROUTES}
    print_comparison(results)
    if not args.http_only:
        bench_families(args.candidates, texts[: args.family_texts])


if __name__ == "__main__":
    main()
