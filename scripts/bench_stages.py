"""Wall time and peak memory of each pipeline stage, and of a no-op `dvc repro`.

Runs every stage as DVC would (``python -m stages.<name>``) in a child process, in DAG order,
on the current params; outputs are rewritten with identical bytes. Usage:
``python scripts/bench_stages.py``.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time

STAGES = ["scrape", "clean", "featurize", "split", "train", "evaluate", "release"]


def measure(args: list[str], cwd: str | None = None, env: dict[str, str] | None = None
            ) -> tuple[float, float]:
    """Run a child process; return (wall seconds, its peak RSS in MiB). Its stderr goes to a
    temporary file (a pipe would fill up with progress bars and stall it), shown on failure."""
    with tempfile.TemporaryFile() as log:
        start = time.perf_counter()
        child = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=log, cwd=cwd, env=env)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - start
        if status != 0:
            log.seek(0)
            sys.exit(f"{' '.join(args)} failed:\n{log.read().decode()[-5000:]}")
    return wall, usage.ru_maxrss / 1024


def main() -> None:
    total = 0.0
    print(f"{'stage':<10} {'wall s':>8} {'peak MiB':>9}")
    for stage in STAGES:
        wall, peak = measure([sys.executable, "-m", f"stages.{stage}"])
        total += wall
        print(f"{stage:<10} {wall:8.1f} {peak:9.0f}", flush=True)
    print(f"{'total':<10} {total:8.1f}")
    subprocess.run(["dvc", "commit", "--force", "--quiet"], check=True)
    wall, peak = measure(["dvc", "repro"])
    print(f"{'no-op dvc repro':<10} {wall:8.1f} {peak:9.0f}")
    print(f"(max RSS of this process tree's children: "
          f"{resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024:.0f} MiB)")


if __name__ == "__main__":
    main()
