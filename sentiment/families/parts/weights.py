"""Safe reading and writing of a family's files: safetensors for arrays, JSON for the rest.

Nothing is unpickled; a missing, unreadable or mismatched file is a ModelLoadError naming it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.numpy import load_file, save_file

from sentiment.errors import ModelLoadError
from sentiment.io import write_json

WEIGHTS_FILE = "model.safetensors"


def read_model_json(path: Path) -> dict:
    if not path.is_file():
        raise ModelLoadError(f"{path}: missing from the model folder (run `dvc pull`)")
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ModelLoadError(f"{path}: not valid JSON ({error})") from None
    if not isinstance(payload, dict):
        raise ModelLoadError(f"{path}: expected a JSON object")
    return payload


def save_arrays(arrays: dict[str, np.ndarray], path: Path) -> None:
    """Deterministic bytes for identical arrays."""
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({name: np.ascontiguousarray(a) for name, a in arrays.items()}, str(path),
              metadata={"format": "np"})


def read_arrays(path: Path) -> dict[str, np.ndarray]:
    if not path.is_file():
        raise ModelLoadError(f"{path}: missing from the model folder (run `dvc pull`)")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as error:
        raise ModelLoadError(f"{path}: not a readable safetensors file ({error})") from None


def save_network(network: torch.nn.Module, folder: Path, file: str = WEIGHTS_FILE) -> None:
    save_arrays({name: tensor.detach().cpu().numpy()
                 for name, tensor in network.state_dict().items()}, folder / file)


def load_network(folder: Path, network: torch.nn.Module, file: str = WEIGHTS_FILE,
                 only_known: bool = False) -> torch.nn.Module:
    """Fill ``network`` (built from the folder's config) with its saved weights, strictly;
    ``only_known`` skips saved arrays the network has no place for (a checkpoint's extra
    buffers), but every parameter must still be there."""
    known = network.state_dict() if only_known else None
    state = {name: torch.from_numpy(array) for name, array in read_arrays(folder / file).items()
             if known is None or name in known}
    try:
        network.load_state_dict(state, strict=True)
    except RuntimeError as error:
        raise ModelLoadError(f"{folder / file}: weights do not match the architecture in "
                             f"config.json: {str(error).splitlines()[0]}") from None
    return network.eval()


__all__ = ["read_model_json", "write_json", "save_arrays", "read_arrays", "save_network",
           "load_network"]
