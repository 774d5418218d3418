"""The kernel pins take effect: MKL reports the branch we pin, whatever this CPU's vendor (MKL
silently ignores a branch other than AUTO or COMPATIBLE on non-Intel CPUs)."""

from __future__ import annotations

import re
import subprocess
import sys

from sentiment.kernels import PINNED_ENVIRONMENT

MATMUL = "import sentiment, torch; torch.randn(8, 8) @ torch.randn(8, 8)"


def test_mkl_runs_the_pinned_branch() -> None:
    result = subprocess.run([sys.executable, "-c", MATMUL], capture_output=True, text=True,
                            check=True, env={"MKL_VERBOSE": "1", "MKL_CBWR": "AVX2,STRICT",
                                             "PATH": "/usr/bin:/bin"})
    branches = set(re.findall(r"CNR:([A-Z0-9_]+)", result.stdout + result.stderr))
    assert branches == {PINNED_ENVIRONMENT["MKL_CBWR"]}, result.stdout[-2000:]
