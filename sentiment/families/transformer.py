"""Family ``transformer``: all-MiniLM-L6-v2 fine-tuned end to end, mean pooling and a linear
head; AdamW with linear warm-up then linear decay, dynamically padded batches, the epoch with
the best validation macro-F1 kept. bf16 autocast on CUDA only; deterministic kernels on CPU.

The folder holds the fine-tuned encoder (``encoder/model.safetensors``, its config and
tokenizer files), the head (``model.safetensors``) and the served path: encoder and head
together as an int8 ONNX graph (``model.int8.onnx``, logits out; ``served``), made from those
weights the way ``embeddings_mlp``'s encoder graph is (``sentiment.families.parts.onnx_encoder``),
whose bits depend on the CPU. Loading needs nothing else.
"""

from __future__ import annotations

import copy
import logging
import math
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from tqdm import tqdm
from transformers import get_linear_schedule_with_warmup

from sentiment.data.batches import LabelledTexts, TextBatch
from sentiment.families.base import Family, FitContext
from sentiment.families.parts.encoder import (
    Encoder,
    SentenceEncoder,
    kernels_for,
    load_saved_encoder,
    padded,
    run_sorted,
)
from sentiment.families.parts.training import check_finite, class_weights, macro_f1
from sentiment.families.parts.weights import load_network, save_network
from sentiment.params.families import TransformerParams
from sentiment.params.train import TrainParams

if TYPE_CHECKING:  # onnxruntime loads only on the served path and at save time
    from sentiment.families.parts.onnx_encoder import OnnxEncoder

log = logging.getLogger(__name__)
PREDICT_BATCH = 64
GRAPH_FILE = "model.int8.onnx"  # the served classifier, inside the model folder
CPU = torch.device("cpu")


class Classifier(torch.nn.Module):
    """Sentence encoder (mean pooling) → dropout → linear head → logits."""

    def __init__(self, encoder: SentenceEncoder, n_classes: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.encoder = encoder
        self.dropout = torch.nn.Dropout(dropout)
        self.head = torch.nn.Linear(encoder.dim, n_classes)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(self.encoder(input_ids, attention_mask)))


def optimizer_for(model: torch.nn.Module, settings: TransformerParams, device: torch.device
                  ) -> torch.optim.AdamW:
    """AdamW; biases and LayerNorm weights are not decayed."""
    decay, no_decay = [], []
    for name, parameter in model.named_parameters():
        (no_decay if name.endswith("bias") or "LayerNorm" in name else decay).append(parameter)
    return torch.optim.AdamW([{"params": decay, "weight_decay": settings.weight_decay},
                              {"params": no_decay, "weight_decay": 0.0}], lr=settings.lr,
                             fused=device.type in ("cpu", "cuda"))


def class_probabilities(logits: torch.Tensor) -> torch.Tensor:
    return torch.softmax(logits.float(), dim=1)


class Transformer(Family):
    name = "transformer"

    def __init__(self, encoder: Encoder, model: Classifier, device: torch.device = CPU,
                 folder: Path | None = None, fast: OnnxEncoder | None = None) -> None:
        self.encoder, self.model, self.device = encoder, model, device
        self.folder = folder  # where it was loaded from (the served path reads its graph)
        self.fast = fast  # the int8 classifier, on the served path

    @classmethod
    def fit(cls, train: LabelledTexts, val: LabelledTexts, params: TrainParams,
            context: FitContext) -> Transformer:
        settings, device = params.transformer, context.device
        torch.manual_seed(context.seed)
        encoder = Encoder.from_setting(settings.encoder, f"train.{cls.name}.encoder",
                                       settings.max_length)
        model = Classifier(encoder.model, len(context.labels), settings.dropout).to(device)
        ids_train, ids_val = encoder.token_ids(train.batch.texts), encoder.token_ids(
            val.batch.texts)
        steps_per_epoch = math.ceil(len(ids_train) / settings.batch_size)
        optimizer = optimizer_for(model, settings, device)
        schedule = get_linear_schedule_with_warmup(
            optimizer, round(settings.warmup_ratio * settings.epochs * steps_per_epoch),
            settings.epochs * steps_per_epoch)
        weights = (class_weights(train.labels, len(context.labels)).to(device)
                   if settings.class_weighting else None)
        loss_fn = torch.nn.CrossEntropyLoss(weight=weights)
        targets = torch.from_numpy(train.labels.astype(np.int64)).to(device)
        generator = torch.Generator().manual_seed(context.seed)
        autocast = device.type == "cuda" and settings.mixed_precision
        log.info("%s: %d rows, %d steps an epoch in batches of %d on %s%s", cls.name,
                 len(ids_train), steps_per_epoch, settings.batch_size, device,
                 " (bf16 autocast)" if autocast else "")

        best_f1, best_state = -1.0, None
        with kernels_for(device):
            for epoch in range(settings.epochs):
                model.train()
                order = torch.randperm(len(ids_train), generator=generator).numpy()
                total = 0.0
                starts = range(0, len(order), settings.batch_size)
                for start in tqdm(starts, desc=f"{cls.name} epoch {epoch + 1}/{settings.epochs}",
                                  unit="batch"):
                    rows = order[start : start + settings.batch_size]
                    tokens, mask = padded([ids_train[i] for i in rows], device)
                    with torch.autocast("cuda", dtype=torch.bfloat16, enabled=autocast):
                        logits = model(tokens, mask)
                    loss = loss_fn(logits.float(), targets[rows])
                    check_finite(loss, cls.name, epoch)
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    torch.nn.utils.clip_grad_norm_(model.parameters(), settings.max_grad_norm)
                    optimizer.step()
                    schedule.step()
                    total += loss.item() * len(rows)
                probabilities = run_sorted(model, ids_val, PREDICT_BATCH, device,
                                           class_probabilities, autocast=autocast)
                val_f1 = macro_f1(val.labels, probabilities)
                context.log_metric(f"{cls.name}/train_loss", round(total / len(order), 6))
                context.log_metric(f"{cls.name}/val_macro_f1", round(val_f1, 6))
                context.next_step()
                log.info("%s epoch %d: train loss %.4f, val macro-F1 %.4f", cls.name, epoch,
                         total / len(order), val_f1)
                if val_f1 > best_f1:
                    best_f1, context.summary["best_epoch"] = val_f1, epoch
                    best_state = {name: tensor.detach().cpu().clone()
                                  for name, tensor in model.state_dict().items()}
        model.load_state_dict(best_state)
        return cls(encoder, model.eval(), device)

    def predict_proba(self, batch: TextBatch) -> np.ndarray:
        if not len(batch):
            return np.zeros((0, self.model.head.out_features), dtype=np.float32)
        if self.fast is not None:
            return class_probabilities(torch.from_numpy(self.fast.embed(batch.texts))).numpy()
        return run_sorted(self.model, self.encoder.token_ids(batch.texts), PREDICT_BATCH,
                          self.device, class_probabilities)

    def served(self) -> Transformer:
        """The same weights run as the int8 graph of the folder it was loaded from."""
        from sentiment.families.parts.onnx_encoder import served_session

        fast = served_session(self.name, self.folder, self.encoder.max_length, GRAPH_FILE)
        return Transformer(self.encoder, self.model, self.device, self.folder, fast)

    def save(self, folder: Path) -> dict[str, object]:
        from sentiment.families.parts.onnx_encoder import quantised_graph

        body = self.model.encoder.body.state_dict()
        self.encoder.save(folder, {name: tensor.detach().cpu().numpy()
                                   for name, tensor in body.items()})
        save_network(self.model.head, folder)
        on_cpu = copy.deepcopy(self.model).to(CPU)
        (folder / GRAPH_FILE).write_bytes(quantised_graph(on_cpu, self.encoder, "logits"))
        return {"max_length": self.encoder.max_length}

    @classmethod
    def load(cls, folder: Path, config: dict[str, object], n_labels: int) -> Transformer:
        encoder = load_saved_encoder(folder, int(config["max_length"]))
        model = Classifier(encoder.model, n_labels)
        load_network(folder, model.head)
        return cls(encoder, model.eval(), folder=folder)
