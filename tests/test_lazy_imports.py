"""Heavy libraries load only where they are used: each takes seconds to import, and every
stage run, queued experiment and ``sentiment`` call pays for what its modules import."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT, tool_env

# modules (imported together, in one process) -> libraries that importing them must not load
NOT_LOADED = {
    # transformers only when an encoder family trains or an encoder model is loaded
    "stages.train stages.evaluate sentiment.families.tfidf_linear sentiment.families.tfidf_mlp "
    "sentiment.families.ensemble": ("transformers", "onnx", "onnxruntime"),
    # ONNX Runtime only on the served route and when a model folder is written
    "sentiment.families.embeddings_mlp sentiment.model.predictor": ("onnx", "onnxruntime"),
    # `sentiment --help`: each sub-command imports its work's libraries in its handler
    "sentiment.cli": ("numpy", "pandas", "pyarrow", "pydantic", "torch", "transformers", "onnx",
                      "onnxruntime"),
}


@pytest.mark.parametrize("modules", sorted(NOT_LOADED), ids=lambda modules: modules.split()[0])
def test_import_leaves_heavy_libraries_out(modules: str) -> None:
    heavy = NOT_LOADED[modules]
    code = (f"import sys, {', '.join(modules.split())}; "
            f"print(' '.join(sorted(set({heavy!r}) & set(sys.modules))))")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, env=tool_env(),
                            capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "", f"importing {modules} loaded {result.stdout.strip()}"
