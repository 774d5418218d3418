"""The model folder: everything ``sentiment predict`` needs, safetensors and JSON only.

    models/sentiment/
      config.json          labels, architecture, normaliser and tokeniser settings
      vectorizer.json      TF-IDF parameters and vocabularies
      model.safetensors    MLP weights and the TF-IDF IDF arrays

Loading never unpickles anything; a missing or mismatched file is refused with a message
that names it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.numpy import load_file, save_file

from sentiment.errors import ModelLoadError
from sentiment.features import TokenSettings
from sentiment.io import write_json
from sentiment.model import SentimentMLP
from sentiment.text import NormaliserSettings
from sentiment.vectorizer import TfidfFeaturizer

FORMAT_VERSION = 1
CONFIG_FILE = "config.json"
VECTORIZER_FILE = "vectorizer.json"
WEIGHTS_FILE = "model.safetensors"
MODEL_FILES = (CONFIG_FILE, VECTORIZER_FILE, WEIGHTS_FILE)
_IDF_PREFIX = "vectorizer."

__all__ = ["ModelLoadError", "SentimentModel", "load_model", "save_model"]


@dataclass
class SentimentModel:
    """A trained classifier with the text pipeline it was trained with."""

    labels: list[str]
    normaliser: NormaliserSettings
    tokens: TokenSettings
    featurizer: TfidfFeaturizer
    network: SentimentMLP
    hidden_sizes: list[int]
    dropout: float


def save_model(model: SentimentModel, folder: str | Path) -> None:
    """Write the three model files (deterministic bytes for identical weights)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    vectorizer_state, idf_arrays = model.featurizer.state()
    tensors = {name: tensor.detach().cpu().numpy()
               for name, tensor in model.network.state_dict().items()}
    tensors.update({_IDF_PREFIX + name: array for name, array in idf_arrays.items()})
    save_file(tensors, str(folder / WEIGHTS_FILE), metadata={"format": "pt"})
    write_json(folder / VECTORIZER_FILE, vectorizer_state)
    write_json(folder / CONFIG_FILE, {
        "format_version": FORMAT_VERSION,
        "labels": model.labels,
        "architecture": {
            "n_features": model.featurizer.n_features,
            "hidden_sizes": model.hidden_sizes,
            "dropout": model.dropout,
        },
        "normaliser": model.normaliser.to_dict(),
        "tokens": model.tokens.to_dict(),
    })


def _read_json(path: Path) -> dict:
    if not path.is_file():
        raise ModelLoadError(f"{path}: missing from the model folder (run `dvc pull`)")
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ModelLoadError(f"{path}: not valid JSON ({error})") from None
    if not isinstance(payload, dict):
        raise ModelLoadError(f"{path}: expected a JSON object")
    return payload


def _read_weights(path: Path) -> dict[str, np.ndarray]:
    if not path.is_file():
        raise ModelLoadError(f"{path}: missing from the model folder (run `dvc pull`)")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as error:
        raise ModelLoadError(f"{path}: not a readable safetensors file ({error})") from None


def load_model(folder: str | Path) -> SentimentModel:
    """Load and cross-check a model folder written by ``save_model``."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ModelLoadError(f"{folder}: no such model folder (run `dvc pull models/sentiment`)")
    config = _read_json(folder / CONFIG_FILE)
    vectorizer_state = _read_json(folder / VECTORIZER_FILE)
    tensors = _read_weights(folder / WEIGHTS_FILE)
    try:
        if config["format_version"] != FORMAT_VERSION:
            raise ModelLoadError(f"{folder / CONFIG_FILE}: format_version "
                                 f"{config['format_version']} is not {FORMAT_VERSION}")
        labels = list(config["labels"])
        architecture = config["architecture"]
        featurizer = TfidfFeaturizer.from_state(vectorizer_state, {
            name[len(_IDF_PREFIX):]: array for name, array in tensors.items()
            if name.startswith(_IDF_PREFIX)
        })
        network = SentimentMLP(architecture["n_features"], architecture["hidden_sizes"],
                               len(labels), architecture["dropout"])
        normaliser = NormaliserSettings(**config["normaliser"])
        tokens = TokenSettings(**config["tokens"])
    except (KeyError, TypeError, ValueError) as error:
        raise ModelLoadError(f"{folder}: {CONFIG_FILE} and {VECTORIZER_FILE} do not describe "
                             f"a model ({type(error).__name__}: {error})") from None
    if featurizer.n_features != architecture["n_features"]:
        raise ModelLoadError(f"{folder / VECTORIZER_FILE}: {featurizer.n_features} features, "
                             f"but {CONFIG_FILE} says {architecture['n_features']}")
    state = {name: torch.from_numpy(array) for name, array in tensors.items()
             if not name.startswith(_IDF_PREFIX)}
    try:
        network.load_state_dict(state, strict=True)
    except RuntimeError as error:
        raise ModelLoadError(f"{folder / WEIGHTS_FILE}: weights do not match {CONFIG_FILE}: "
                             f"{str(error).splitlines()[0]}") from None
    network.eval()
    return SentimentModel(labels, normaliser, tokens, featurizer, network,
                          list(architecture["hidden_sizes"]), float(architecture["dropout"]))
