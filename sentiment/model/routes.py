"""The two routes a model folder loads on (light: the CLI reads it before importing torch).

``pinned``: the bits are the same on every x86-64 CPU with AVX2; the pipeline's outputs (the
train and evaluate stages, the monitor pipeline) use it. ``fast``: what ``sentiment predict``,
``sentiment score`` and ``sentiment serve`` use by default: the same weights on each family's
fast inference path (``Family.served``; the int8 ONNX encoder for ``embeddings_mlp``), whose
bits may differ between CPUs within a measured tolerance (docs/reproducibility.md).
"""

from __future__ import annotations

from typing import Literal

Route = Literal["pinned", "fast"]
ROUTES: tuple[Route, ...] = ("pinned", "fast")

