"""Pin what decides the floating-point bits of a result, so every x86-64 CPU with AVX2 and any
core count gives the same bytes.

Numerical libraries pick their kernels by CPU model and thread count: MKL (torch's BLAS) by
the CPU's instruction set and microarchitecture, ATen and oneDNN by the widest SIMD the CPU
has, OpenBLAS (NumPy's and SciPy's BLAS) by its core type. Each choice can change the last
bits of a sum, and training amplifies them into another model. ``pin_kernels`` sets these
libraries to their AVX2 code paths with MKL's strict conditional-numerical-reproducibility
mode (results independent of the thread count). It must run before NumPy, SciPy or torch are
imported, which is why ``sentiment/__init__.py`` calls it: every stage, queued experiment, CLI
call and service gets it, not only runs started by ``make``.
"""

from __future__ import annotations

import os
from pathlib import Path

PINNED_ENVIRONMENT = {
    "MKL_CBWR": "AVX2,STRICT",  # MKL: AVX2 kernels, bitwise independent of the thread count
    "ATEN_CPU_CAPABILITY": "avx2",  # torch's own vectorised kernels
    "DNNL_MAX_CPU_ISA": "AVX2",  # oneDNN (torch's mkldnn backend)
    "ONEDNN_MAX_CPU_ISA": "AVX2",
    "OPENBLAS_CORETYPE": "Haswell",  # NumPy / SciPy BLAS: the AVX2 kernels
}
THREADS_VARIABLE = "SENTIMENT_THREADS"


def pin_kernels() -> None:
    """Force the pinned settings into this process's environment (before numeric imports)."""
    os.environ.update(PINNED_ENVIRONMENT)


def queue_workers() -> int:
    """How many ``dvc exp queue-worker`` processes run on this machine (at least 1)."""
    count = 0
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            argv = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        count += b"queue-worker" in argv
    return max(count, 1)


def thread_count(setting: int) -> int:
    """Threads for torch: ``setting`` if set, else $SENTIMENT_THREADS, else the CPUs shared
    among the running queue workers. Results do not depend on it (see ``pin_kernels``)."""
    if setting:
        return setting
    if os.environ.get(THREADS_VARIABLE, "").isdigit() and int(os.environ[THREADS_VARIABLE]):
        return int(os.environ[THREADS_VARIABLE])
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, (cpus or 1) // queue_workers())
