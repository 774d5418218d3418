"""Family ``embeddings_mlp``: frozen all-MiniLM-L6-v2 sentence embeddings (mean pooling, L2)
and an MLP head.

Training reads the embeddings the embed stage cached by record id (``FitContext.embeddings``)
and never computes them: a missing or stale row is ``MissingEmbeddings`` naming the embed
stage. The model folder carries a byte-for-byte copy of the frozen encoder in ``encoder/``
(docs/families.md says why), so it loads with nothing else, and beside it the same encoder as
an int8 ONNX graph: the served path (``served``), 3 to 4 times faster, whose bits depend on the
CPU (``sentiment.families.parts.onnx_encoder``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from sentiment.data.batches import LabelledTexts, TextBatch
from sentiment.families.base import Family, FitContext
from sentiment.families.parts.embedding_table import lookup
from sentiment.families.parts.encoder import ENCODER_FOLDER, Encoder, load_saved_encoder
from sentiment.families.parts.networks import MLP, architecture
from sentiment.families.parts.training import train_classifier
from sentiment.families.parts.weights import load_network, save_network
from sentiment.params.train import TrainParams

if TYPE_CHECKING:  # onnxruntime loads only on the served path and at save time
    from sentiment.families.parts.onnx_encoder import OnnxEncoder

MIN_ROWS = 64  # CPU matrix products round differently below ~12 rows: pad small batches
PREDICT_BATCH = 64
CPU = torch.device("cpu")


@torch.inference_mode()
def dense_proba(network: MLP, vectors: np.ndarray) -> np.ndarray:
    """Softmax of ``network`` over dense rows, on the network's device; a row's output never
    depends on its batch (short batches are padded with zero rows)."""
    network.eval()
    n_rows = len(vectors)
    inputs = torch.from_numpy(np.ascontiguousarray(vectors, dtype=np.float32)).to(
        next(network.parameters()).device)
    if n_rows < MIN_ROWS:
        inputs = torch.cat([inputs, inputs.new_zeros((MIN_ROWS - n_rows, inputs.shape[1]))])
    return torch.softmax(network(inputs), dim=1)[:n_rows].float().cpu().numpy()


class EmbeddingsMLP(Family):
    name = "embeddings_mlp"

    def __init__(self, encoder: Encoder, network: MLP, arch: dict,
                 device: torch.device = CPU, folder: Path | None = None,
                 fast: OnnxEncoder | None = None) -> None:
        self.encoder, self.network, self.arch, self.device = encoder, network, arch, device
        self.folder = folder  # the model folder it was loaded from
        self.fast = fast  # the int8 encoder, on the served path

    @classmethod
    def fit(cls, train: LabelledTexts, val: LabelledTexts, params: TrainParams,
            context: FitContext) -> EmbeddingsMLP:
        settings = params.embeddings_mlp
        encoder = Encoder.from_setting(settings.encoder, f"train.{cls.name}.encoder",
                                       settings.max_length)
        x_train, x_val = (lookup(context.embeddings, split.ids, split.batch.texts, encoder,
                                 settings.encode_batch_size, context.device)
                          for split in (train, val))
        arch = architecture(encoder.model.dim, settings.hidden_sizes, settings.dropout)
        torch.manual_seed(context.seed)  # the head's initial weights
        network = MLP(**arch, n_classes=len(context.labels), sparse=False)
        inputs = torch.from_numpy(x_train).to(context.device)

        def batch_of(rows: np.ndarray, training: bool) -> torch.Tensor:
            return torch.nn.functional.dropout(inputs[rows], settings.input_dropout, training)

        network = train_classifier(
            network, batch_of, train.labels,
            lambda: dense_proba(network, x_val), val.labels, settings, context, cls.name)
        return cls(encoder, network, arch, context.device)

    def predict_proba(self, batch: TextBatch) -> np.ndarray:
        if not len(batch):
            return np.zeros((0, self.network.body[-1].out_features), dtype=np.float32)
        vectors = (self.fast.embed(batch.texts) if self.fast is not None else
                   self.encoder.embed(batch.texts, PREDICT_BATCH, self.device, progress=False))
        return dense_proba(self.network, vectors)

    def served(self) -> EmbeddingsMLP:
        """The same head fed by the int8 ONNX encoder of the folder it was loaded from."""
        from sentiment.families.parts.onnx_encoder import served_session

        fast = served_session(self.name, self.folder, self.encoder.max_length)
        return EmbeddingsMLP(self.encoder, self.network, self.arch, self.device, self.folder,
                             fast)

    def save(self, folder: Path) -> dict[str, object]:
        from sentiment.families.parts.onnx_encoder import write_int8_graph

        self.encoder.save(folder)
        write_int8_graph(self.encoder, folder / ENCODER_FOLDER)
        save_network(self.network, folder)
        return {"architecture": self.arch, "max_length": self.encoder.max_length}

    @classmethod
    def load(cls, folder: Path, config: dict[str, object], n_labels: int) -> EmbeddingsMLP:
        arch = dict(config["architecture"])
        encoder = load_saved_encoder(folder, int(config["max_length"]))
        network = load_network(folder, MLP(**arch, n_classes=n_labels, sparse=False))
        return cls(encoder, network, arch, folder=folder)
