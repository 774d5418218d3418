"""The MLP classifier head: an input layer (sparse or dense) then Linear → BatchNorm → ReLU →
Dropout blocks, and the sparse-input layer that makes TF-IDF rows cheap."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class SparseBatch:
    """Rows of a CSR matrix as the (indices, offsets, values) triple that embedding_bag takes."""

    indices: torch.Tensor
    offsets: torch.Tensor
    values: torch.Tensor

    @classmethod
    def from_csr(cls, matrix: sp.csr_matrix, device: torch.device | str = "cpu") -> SparseBatch:
        return cls(
            indices=torch.from_numpy(matrix.indices.astype(np.int64)).to(device),
            offsets=torch.from_numpy(matrix.indptr[:-1].astype(np.int64)).to(device),
            values=torch.from_numpy(matrix.data.astype(np.float32)).to(device),
        )


class SparseLinear(nn.Module):
    """``nn.Linear`` for sparse rows: y = x W + b, as a weighted embedding-bag sum.

    Touches only the non-zero inputs, so a 60k-feature TF-IDF layer costs what a row's ~260
    non-zeros cost. Initialised like ``nn.Linear``.
    """

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__()
        bound = 1 / math.sqrt(in_features)
        self.weight = nn.Parameter(torch.empty(in_features, out_features).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(out_features).uniform_(-bound, bound))

    def forward(self, batch: SparseBatch) -> torch.Tensor:
        summed = F.embedding_bag(
            batch.indices, self.weight, batch.offsets, mode="sum",
            per_sample_weights=batch.values,
        )
        return summed + self.bias


class MLP(nn.Module):
    """input → [Linear → BatchNorm → ReLU → Dropout] × len(hidden_sizes) → Linear → logits.

    The first Linear reads sparse rows (``SparseBatch``) when ``sparse`` is true, dense float
    tensors otherwise.
    """

    def __init__(self, n_features: int, hidden_sizes: Sequence[int], n_classes: int,
                 dropout: float, sparse: bool) -> None:
        super().__init__()
        widths = list(hidden_sizes)
        self.input = (SparseLinear if sparse else nn.Linear)(n_features, widths[0])
        layers: list[nn.Module] = []
        for index, width in enumerate(widths):
            if index > 0:
                layers.append(nn.Linear(widths[index - 1], width))
            layers += [nn.BatchNorm1d(width), nn.ReLU(), nn.Dropout(dropout)]
        layers.append(nn.Linear(widths[-1], n_classes))
        self.body = nn.Sequential(*layers)

    def forward(self, batch: SparseBatch | torch.Tensor) -> torch.Tensor:
        return self.body(self.input(batch))


def architecture(n_features: int, hidden_sizes: Sequence[int], dropout: float) -> dict:
    """The JSON description ``MLP`` is rebuilt from."""
    return {"n_features": n_features, "hidden_sizes": list(hidden_sizes), "dropout": dropout}
