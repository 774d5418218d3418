"""Wall time of a 4-experiment queued grid run with ``dvc queue start -j 1`` and ``-j 2``.

Builds a copy of the project on a configuration of 4,000 records in a temporary git repository,
then queues a 2 x 2 grid of ``train.tfidf_mlp`` params twice and prints how long each run of
the queue took. Usage: ``python -m scripts.bench_queue``.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from tests.conftest import copy_project, queue_is_idle, run, start_queue

GRID = ["-S", "train.tfidf_mlp.lr=0.002,0.001", "-S", "train.tfidf_mlp.dropout=0.3,0.5"]


def time_grid(folder: Path, jobs: int) -> float:
    run(["dvc", "exp", "run", "--queue", *GRID], folder)
    started = time.monotonic()
    start_queue(folder, jobs)
    while not queue_is_idle(folder):
        time.sleep(1)
    elapsed = time.monotonic() - started
    if "Failed" in run(["dvc", "queue", "status"], folder).stdout:
        sys.exit(f"an experiment failed with -j {jobs}: see `dvc queue logs`")
    run(["dvc", "exp", "remove", "--all-commits"], folder)
    return elapsed


def main() -> None:
    with tempfile.TemporaryDirectory() as root:
        folder = copy_project(Path(root) / "project",
                              {"scrape": {"demo": {"max_records": 4000, "page_size": 200}}})
        run(["dvc", "repro"], folder)
        run(["git", "add", "-A"], folder)
        run(["git", "commit", "-qm", "repro"], folder)
        for jobs in (1, 2):
            print(f"-j {jobs}: 4 experiments in {time_grid(folder, jobs):.0f} s", flush=True)


if __name__ == "__main__":
    main()
