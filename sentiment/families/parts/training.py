"""The training loop every MLP head shares: mini-batch Adam, early stopping on validation
macro-F1, dvclive curves, and a loud stop when the loss stops being a number."""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable

import numpy as np
import torch
from sklearn.metrics import f1_score
from tqdm import tqdm

from sentiment.families.base import FitContext
from sentiment.params.base import ParamsError
from sentiment.params.families import MLPParams

log = logging.getLogger(__name__)


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; nothing is saved."""


def resolve_device(setting: str) -> torch.device:
    """``auto`` takes CUDA when available; ``cuda`` without a GPU is a clear error."""
    if setting == "cuda" and not torch.cuda.is_available():
        raise ParamsError("train.device is 'cuda' but torch sees no CUDA device "
                          "(use 'auto' or 'cpu')")
    if setting == "auto":
        setting = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(setting)


def class_weights(labels: np.ndarray, n_classes: int) -> torch.Tensor:
    """Inverse-frequency weights (n / (k * count)), so each class weighs the same in the loss."""
    counts = np.bincount(labels, minlength=n_classes).astype(np.float64)
    weights = len(labels) / (n_classes * np.maximum(counts, 1))
    return torch.tensor(weights, dtype=torch.float32)


def effective_batch_size(n_rows: int, params: MLPParams) -> int:
    """``batch_size``, made smaller where needed so an epoch makes ``min_steps_per_epoch``
    updates (a few hundred rows in batches of 256 would give the network two steps an epoch)."""
    return max(2, min(params.batch_size, n_rows // params.min_steps_per_epoch))


def check_finite(loss: torch.Tensor, name: str, epoch: int) -> None:
    if not torch.isfinite(loss):
        raise TrainingDiverged(
            f"{name}: the training loss became {loss.item()} in epoch {epoch}; nothing was "
            f"saved (lower train.{name}.lr, or check the inputs for NaN)")


def macro_f1(y_true: np.ndarray, probabilities: np.ndarray) -> float:
    return float(f1_score(y_true, probabilities.argmax(1), average="macro"))


def train_classifier(
    network: torch.nn.Module,
    batch_of: Callable[[np.ndarray, bool], object],
    y_train: np.ndarray,
    val_proba: Callable[[], np.ndarray],
    y_val: np.ndarray,
    params: MLPParams,
    context: FitContext,
    name: str,
) -> torch.nn.Module:
    """Train ``network`` on rows given by ``batch_of(rows, training)``; keep the weights of the
    epoch with the best validation macro-F1 (``val_proba()`` predicts the validation split)."""
    n_classes = len(context.labels)
    device = context.device
    torch.manual_seed(context.seed)
    network.to(device)
    optimizer = torch.optim.Adam(network.parameters(), lr=params.lr,
                                 weight_decay=params.weight_decay,
                                 fused=device.type in ("cpu", "cuda"))
    weights = class_weights(y_train, n_classes).to(device) if params.class_weighting else None
    loss_fn = torch.nn.CrossEntropyLoss(weight=weights, label_smoothing=params.label_smoothing)
    targets = torch.from_numpy(y_train.astype(np.int64)).to(device)
    generator = torch.Generator().manual_seed(context.seed)
    batch_size = effective_batch_size(len(y_train), params)
    log.info("%s: %d rows in batches of %d on %s", name, len(y_train), batch_size, device)

    best_f1, best_state, stale = -1.0, None, 0
    for epoch in tqdm(range(params.max_epochs), desc=f"{name} epochs", unit="epoch"):
        network.train()
        order = torch.randperm(len(y_train), generator=generator).numpy()
        total, seen = 0.0, 0
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            if len(rows) < 2:  # BatchNorm needs two rows to train
                continue
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(network(batch_of(rows, True)), targets[rows])
            check_finite(loss, name, epoch)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(rows)
            seen += len(rows)
        network.eval()
        probabilities = val_proba()
        val_f1 = macro_f1(y_val, probabilities)
        val_loss = float(torch.nn.functional.nll_loss(
            torch.log(torch.from_numpy(probabilities).clamp_min(1e-12)),
            torch.from_numpy(y_val.astype(np.int64))))
        context.log_metric(f"{name}/train_loss", round(total / max(seen, 1), 6))
        context.log_metric(f"{name}/val_loss", round(val_loss, 6))
        context.log_metric(f"{name}/val_macro_f1", round(val_f1, 6))
        context.next_step()
        log.info("%s epoch %d: train loss %.4f, val loss %.4f, val macro-F1 %.4f",
                 name, epoch, total / max(seen, 1), val_loss, val_f1)
        if val_f1 > best_f1:
            best_f1, best_state, stale = val_f1, copy.deepcopy(network.state_dict()), 0
            context.summary["best_epoch"] = epoch
        else:
            stale += 1
            if stale >= params.patience and epoch + 1 >= params.min_epochs:
                log.info("%s: early stop, no val macro-F1 gain for %d epochs", name, stale)
                break
    network.load_state_dict(best_state)
    network.eval()
    return network.cpu()
