"""Pin what decides the floating-point bits of a result, so every x86-64 CPU with AVX2 and any
core count gives the same bytes.

Numerical libraries pick their kernels by CPU model and thread count: MKL (torch's BLAS) by
the CPU's instruction set and microarchitecture, ATen and oneDNN by the widest SIMD the CPU
has, OpenBLAS (NumPy's and SciPy's BLAS) by its core type. Each choice can change the last
bits of a sum, and training amplifies them into another model. ``pin_kernels`` holds these
libraries to code paths every x86-64 CPU runs alike: AVX2 for ATen, oneDNN and OpenBLAS, and
for MKL its conditional-numerical-reproducibility COMPATIBLE branch, the one branch MKL runs
the same way on Intel and AMD processors (about 2.2 times slower in a float32 matrix product
than its AVX2 branch, measured with ``make bench-kernels``). It must run before NumPy or
torch are imported, which is why ``sentiment/__init__.py`` and ``stages/__init__.py`` call
it: every stage, queued experiment, CLI call and service gets it, not only runs started by
``make``.

The thread count also changes the bits (torch splits its reductions by thread), so training
uses a fixed number of threads from ``params.yaml`` (``train.threads``, default 1), whatever
the machine's core count: the same params give the same bytes on 2 cores or 64.
"""

from __future__ import annotations

import os

PINNED_ENVIRONMENT = {
    # MKL: its COMPATIBLE branch (SSE2 without approximate reciprocals), the only branch MKL runs
    # alike on Intel and AMD: any other request is honoured on Intel CPUs only and silently
    # becomes AUTO (the CPU's own branch) elsewhere, so AMD and Intel differed in the last bits.
    "MKL_CBWR": "COMPATIBLE",
    "ATEN_CPU_CAPABILITY": "avx2",  # torch's own vectorised kernels
    "DNNL_MAX_CPU_ISA": "AVX2",  # oneDNN (torch's mkldnn backend)
    "ONEDNN_MAX_CPU_ISA": "AVX2",
    "OPENBLAS_CORETYPE": "Haswell",  # NumPy / SciPy BLAS: the AVX2 kernels
}


def pin_kernels() -> None:
    """Force the pinned settings into this process's environment (before numeric imports)."""
    os.environ.update(PINNED_ENVIRONMENT)
