"""The embed and train stages write the same bytes whatever CPU and core count run them.

Other CPUs are emulated on this one: MKL held to its AVX2 or AVX-512 code paths
(``MKL_ENABLE_INSTRUCTIONS``), NumPy's AVX-512 kernels switched off
(``NPY_DISABLE_CPU_FEATURES``), a user's conflicting kernel settings (which the stages must
override), 1 to 4 threads by default (``OMP_NUM_THREADS``, as a machine with that many cores
would have) and a single CPU (``taskset``).

``make test`` rebuilds once under all of them at the same time (4 threads on one CPU, every
other setting together); when that fails, ``pytest -m cross_cpu_matrix`` rebuilds once per
emulated condition and names the one that changes the bytes.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest
from numpy._core._multiarray_umath import __cpu_features__

from tests.conftest import copy_built, run

pytestmark = pytest.mark.slow

AVX512 = " ".join(name for name, present in __cpu_features__.items()
                  if present and name.startswith("AVX512"))
VARIANTS = {
    "mkl-avx2-numpy-avx2-1-thread": {"MKL_ENABLE_INSTRUCTIONS": "AVX2", "OMP_NUM_THREADS": "1",
                                     "NPY_DISABLE_CPU_FEATURES": AVX512},
    "4-threads": {"OMP_NUM_THREADS": "4", "MKL_NUM_THREADS": "4"},
    "user-kernel-settings": {"MKL_CBWR": "AUTO", "ATEN_CPU_CAPABILITY": "default",
                             "DNNL_MAX_CPU_ISA": "SSE41", "OPENBLAS_CORETYPE": "Prescott"},
}


# Every condition at once: the variants' settings merged (the 4-thread count, MKL's and NumPy's
# AVX2 paths, the user's kernel settings) and run on one CPU.
COMBINED = {**VARIANTS["mkl-avx2-numpy-avx2-1-thread"], **VARIANTS["user-kernel-settings"],
            **VARIANTS["4-threads"]}
ONE_CPU = ["taskset", "-c", "0"]
HAS_TASKSET = shutil.which("taskset") is not None

OUTPUTS = ("data/features/embeddings.parquet", "models/candidates")


def digest(project: Path) -> str:
    """One hash over the embeddings and every candidate model's files."""
    digest = hashlib.sha256()
    for output in OUTPUTS:
        root = project / output
        for path in sorted([root] if root.is_file() else root.rglob("*")):
            if path.is_file():
                digest.update(path.relative_to(project).as_posix().encode() + path.read_bytes())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def reference(built_project: Path) -> str:
    return digest(built_project)


def train_under(project: Path, tmp_path: Path, prefix: list[str] | None = None,
                **env: str) -> str:
    work = copy_built(project, tmp_path / "work")
    shutil.rmtree(work / "models")
    (work / OUTPUTS[0]).unlink()
    for stage in ("embed", "train"):
        run([*(prefix or []), "python", "-m", f"stages.{stage}"], work, **env)
    return digest(work)


def test_same_model_bytes_under_every_emulated_condition_at_once(
        built_project: Path, reference: str, tmp_path: Path) -> None:
    assert train_under(built_project, tmp_path, prefix=ONE_CPU if HAS_TASKSET else None,
                       **COMBINED) == reference


@pytest.mark.cross_cpu_matrix
@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_same_model_bytes_on_emulated_cpus(built_project: Path, reference: str,
                                           tmp_path: Path, variant: str) -> None:
    assert train_under(built_project, tmp_path, **VARIANTS[variant]) == reference


@pytest.mark.cross_cpu_matrix
@pytest.mark.skipif(not HAS_TASKSET, reason="needs taskset (util-linux)")
def test_same_model_bytes_on_one_cpu(built_project: Path, reference: str,
                                     tmp_path: Path) -> None:
    assert train_under(built_project, tmp_path, prefix=ONE_CPU) == reference
