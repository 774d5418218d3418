"""Family ``tfidf_mlp``: word + character TF-IDF (fitted on train) and an MLP over its sparse
rows, with input dropout on the TF-IDF non-zeros."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch

from sentiment.data.batches import LabelledTexts, TextBatch
from sentiment.families.base import Family, FitContext
from sentiment.families.parts.networks import MLP, SparseBatch, architecture
from sentiment.families.parts.tfidf import (
    TfidfFeaturizer,
    load_featurizer,
    save_featurizer,
    transform_batches,
)
from sentiment.families.parts.training import train_classifier
from sentiment.families.parts.weights import load_network, save_network
from sentiment.params.train import TrainParams

MIN_ROWS = 64  # CPU matrix products round differently below ~12 rows: pad small batches
MAX_ROWS = 8192  # rows per forward pass


def drop_inputs(batch: sp.csr_matrix, rate: float, rng: np.random.Generator) -> sp.csr_matrix:
    """Input dropout on the non-zeros of a CSR batch (inverted scaling)."""
    if rate == 0:
        return batch
    batch = batch.copy()
    batch.data *= (rng.random(batch.nnz) >= rate) / (1 - rate)
    return batch


def pad_rows(rows: sp.csr_matrix, n_rows: int) -> sp.csr_matrix:
    """``rows`` followed by empty rows up to ``n_rows``."""
    indptr = np.pad(rows.indptr, (0, n_rows - rows.shape[0]), mode="edge")
    return sp.csr_matrix((rows.data, rows.indices, indptr), shape=(n_rows, rows.shape[1]))


@torch.inference_mode()
def sparse_proba(network: MLP, matrix: sp.csr_matrix, device: torch.device | str = "cpu"
                 ) -> np.ndarray:
    """Softmax of ``network`` over CSR rows; a row's output never depends on its batch."""
    network.eval()
    outputs = [np.zeros((0, network.body[-1].out_features), dtype=np.float32)]
    for start in range(0, matrix.shape[0], MAX_ROWS):
        rows = matrix[start : start + MAX_ROWS]
        n_rows = rows.shape[0]
        padded = pad_rows(rows, MIN_ROWS) if n_rows < MIN_ROWS else rows
        logits = network(SparseBatch.from_csr(padded, device))[:n_rows]
        outputs.append(torch.softmax(logits, dim=1).float().cpu().numpy())
    return np.concatenate(outputs)


class TfidfMLP(Family):
    name = "tfidf_mlp"

    def __init__(self, featurizer: TfidfFeaturizer, network: MLP, arch: dict) -> None:
        self.featurizer, self.network, self.arch = featurizer, network, arch

    @classmethod
    def fit(cls, train: LabelledTexts, val: LabelledTexts, params: TrainParams,
            context: FitContext) -> TfidfMLP:
        featurizer = TfidfFeaturizer(params.tfidf).fit_batches(
            (batch.tokens, batch.norms) for batch in train.batches())
        # random mini-batches of rows: the TF-IDF matrices are held (not the texts)
        x_train = transform_batches(featurizer, ((b.tokens, b.norms) for b in train.batches()))
        x_val = transform_batches(featurizer, ((b.tokens, b.norms) for b in val.batches()))
        settings = params.tfidf_mlp
        arch = architecture(featurizer.n_features, settings.hidden_sizes, settings.dropout)
        network = MLP(**arch, n_classes=len(context.labels), sparse=True)
        rng = np.random.default_rng(context.seed)

        def batch_of(rows: np.ndarray, training: bool) -> SparseBatch:
            matrix = drop_inputs(x_train[rows], settings.input_dropout, rng)
            return SparseBatch.from_csr(matrix, context.device)

        network = train_classifier(
            network, batch_of, train.labels,
            lambda: sparse_proba(network, x_val, context.device), val.labels,
            settings, context, cls.name)
        return cls(featurizer, network, arch)

    def predict_proba(self, batch: TextBatch) -> np.ndarray:
        return sparse_proba(self.network, self.featurizer.transform(batch.tokens, batch.norms))

    def save(self, folder: Path) -> dict[str, object]:
        save_featurizer(self.featurizer, folder)
        save_network(self.network, folder)
        return {"architecture": self.arch}

    @classmethod
    def load(cls, folder: Path, config: dict[str, object], n_labels: int) -> TfidfMLP:
        featurizer = load_featurizer(folder)
        arch = dict(config["architecture"])
        network = load_network(folder, MLP(**arch, n_classes=n_labels, sparse=True))
        return cls(featurizer, network, arch)
