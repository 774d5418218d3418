"""The embed and train stages write the same bytes whatever CPU and core count run them.

Other CPUs are emulated on this one: MKL held to its AVX2 or AVX-512 code paths
(``MKL_ENABLE_INSTRUCTIONS``), NumPy's AVX-512 kernels switched off
(``NPY_DISABLE_CPU_FEATURES``), a user's conflicting kernel settings (which the stages must
override), 1 to 4 threads by default (``OMP_NUM_THREADS``, as a machine with that many cores
would have) and a single CPU (``taskset``).
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest
from numpy._core._multiarray_umath import __cpu_features__

from tests.conftest import run

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
    work = Path(shutil.copytree(project, tmp_path / "work", symlinks=True))
    shutil.rmtree(work / "models")
    (work / OUTPUTS[0]).unlink()
    for stage in ("embed", "train"):
        run([*(prefix or []), "python", "-m", f"stages.{stage}"], work, **env)
    return digest(work)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_same_model_bytes_on_emulated_cpus(built_project: Path, reference: str,
                                           tmp_path: Path, variant: str) -> None:
    assert train_under(built_project, tmp_path, **VARIANTS[variant]) == reference


@pytest.mark.skipif(shutil.which("taskset") is None, reason="needs taskset (util-linux)")
def test_same_model_bytes_on_one_cpu(built_project: Path, reference: str,
                                     tmp_path: Path) -> None:
    assert train_under(built_project, tmp_path, prefix=["taskset", "-c", "0"]) == reference
