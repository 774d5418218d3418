"""The training loop: mini-batch Adam on sparse TF-IDF, early stopping on validation macro-F1."""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.metrics import f1_score
from tqdm import tqdm

from sentiment.model import SentimentMLP, SparseBatch, predict_proba
from sentiment.params import ParamsError, TrainParams

log = logging.getLogger(__name__)


def resolve_device(setting: str) -> torch.device:
    """``auto`` takes CUDA when available; ``cuda`` without a GPU is a clear error."""
    if setting == "cuda" and not torch.cuda.is_available():
        raise ParamsError("train.device is 'cuda' but torch sees no CUDA device "
                          "(use 'auto' or 'cpu')")
    if setting == "auto":
        setting = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(setting)


def make_deterministic(seed: int, device: torch.device) -> None:
    """Seed torch and, on CPU, insist on deterministic kernels."""
    torch.manual_seed(seed)
    if device.type == "cpu":
        torch.use_deterministic_algorithms(True)


def class_weights(labels: np.ndarray, n_classes: int) -> torch.Tensor:
    """Inverse-frequency weights (n / (k * count)), so each class weighs the same in the loss."""
    counts = np.bincount(labels, minlength=n_classes).astype(np.float64)
    weights = len(labels) / (n_classes * np.maximum(counts, 1))
    return torch.tensor(weights, dtype=torch.float32)


def drop_inputs(batch: sp.csr_matrix, rate: float, rng: np.random.Generator) -> sp.csr_matrix:
    """Input dropout on the non-zeros of a CSR batch (inverted scaling)."""
    if rate == 0:
        return batch
    batch = batch.copy()
    batch.data *= (rng.random(batch.nnz) >= rate) / (1 - rate)
    return batch


@dataclass
class EpochRecord:
    epoch: int
    train_loss: float
    val_macro_f1: float
    val_loss: float


@dataclass
class TrainResult:
    model: SentimentMLP
    best_epoch: int
    history: list[EpochRecord] = field(default_factory=list)


def train_model(
    x_train: sp.csr_matrix,
    y_train: np.ndarray,
    x_val: sp.csr_matrix,
    y_val: np.ndarray,
    n_classes: int,
    params: TrainParams,
    seed: int,
    on_epoch: Callable[[EpochRecord], None] = lambda record: None,
) -> TrainResult:
    """Train the MLP; keep the weights of the epoch with the best validation macro-F1."""
    device = resolve_device(params.device)
    make_deterministic(seed, device)
    log.info("training on %s: %d rows x %d features", device, *x_train.shape)
    model = SentimentMLP(x_train.shape[1], params.hidden_sizes, n_classes, params.dropout)
    model.to(device)
    optimizer = torch.optim.Adam(
        model.parameters(), lr=params.lr, weight_decay=params.weight_decay,
        fused=device.type in ("cpu", "cuda"),
    )
    weights = class_weights(y_train, n_classes).to(device) if params.class_weighting else None
    loss_fn = torch.nn.CrossEntropyLoss(weight=weights, label_smoothing=params.label_smoothing)
    targets = torch.from_numpy(y_train.astype(np.int64)).to(device)
    val_targets = torch.from_numpy(y_val.astype(np.int64))
    generator = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)

    result = TrainResult(model=model, best_epoch=-1)
    best_f1, best_state, stale = -1.0, None, 0
    for epoch in tqdm(range(params.max_epochs), desc="epochs", unit="epoch"):
        model.train()
        order = torch.randperm(x_train.shape[0], generator=generator).numpy()
        total, seen = 0.0, 0
        for start in range(0, len(order), params.batch_size):
            rows = order[start : start + params.batch_size]
            if len(rows) < 2:  # BatchNorm needs two rows to train
                continue
            batch = drop_inputs(x_train[rows], params.input_dropout, rng)
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(SparseBatch.from_csr(batch, device)), targets[rows])
            loss.backward()
            optimizer.step()
            total += loss.item() * len(rows)
            seen += len(rows)
        probabilities = predict_proba(model, x_val, device=str(device))
        val_f1 = float(f1_score(y_val, probabilities.argmax(1), average="macro"))
        val_loss = float(torch.nn.functional.nll_loss(
            torch.log(torch.from_numpy(probabilities).clamp_min(1e-12)), val_targets
        ))
        record = EpochRecord(epoch, total / max(seen, 1), val_f1, val_loss)
        result.history.append(record)
        on_epoch(record)
        log.info("epoch %d: train loss %.4f, val loss %.4f, val macro-F1 %.4f",
                 epoch, record.train_loss, val_loss, val_f1)
        if val_f1 > best_f1:
            best_f1, best_state, stale = val_f1, copy.deepcopy(model.state_dict()), 0
            result.best_epoch = epoch
        else:
            stale += 1
            if stale >= params.patience:
                log.info("early stop: no val macro-F1 gain for %d epochs", stale)
                break
    model.load_state_dict(best_state)
    model.eval()
    return result
