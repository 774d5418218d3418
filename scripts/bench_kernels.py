"""The price of the pinned MKL branch: a float32 matrix product (the shape of MiniLM's feed-forward
layer on a batch of 64 texts of 40 tokens) on one thread, MKL's COMPATIBLE branch (what the
stages pin, identical on Intel and AMD) beside the branch MKL picks for this CPU.

``python -m scripts.bench_kernels`` (``make bench-kernels``); prints GFLOP/s, median of 5 rounds.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys

ROUND = """
import os, time, torch
torch.set_num_threads(1)
a, b = torch.randn(2560, 384), torch.randn(384, 1536)
for _ in range(3): a @ b
start = time.perf_counter()
for _ in range(20): a @ b
print(2 * 2560 * 384 * 1536 * 20 / (time.perf_counter() - start) / 1e9)
"""


def gflops(branch: str) -> float:
    env = {**os.environ, "MKL_CBWR": branch, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    rounds = [float(subprocess.run([sys.executable, "-c", ROUND], env=env, check=True,
                                   capture_output=True, text=True).stdout) for _ in range(5)]
    return statistics.median(rounds)


def main() -> None:
    pinned, auto = gflops("COMPATIBLE"), gflops("AUTO")
    print(f"MKL COMPATIBLE (pinned): {pinned:.1f} GFLOP/s")
    print(f"MKL AUTO (this CPU's):   {auto:.1f} GFLOP/s  ({auto / pinned:.2f}x)")


if __name__ == "__main__":
    main()
