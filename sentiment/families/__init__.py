"""Model families behind one interface (``base.Family``), looked up by the name that a model
folder's ``config.json`` records. Modules are imported on demand, so a family's heavy
dependencies (transformers) load only when it is used."""

from __future__ import annotations

import importlib

from sentiment.errors import ModelLoadError
from sentiment.families.base import Family

_CLASSES = {
    "tfidf_linear": "sentiment.families.tfidf_linear:TfidfLinear",
    "tfidf_mlp": "sentiment.families.tfidf_mlp:TfidfMLP",
    "embeddings_mlp": "sentiment.families.embeddings_mlp:EmbeddingsMLP",
    "transformer": "sentiment.families.transformer:Transformer",
    "ensemble": "sentiment.families.ensemble:Ensemble",
}


def family_class(name: str) -> type[Family]:
    """The class of family ``name``; an unknown name is a ModelLoadError listing the known."""
    if name not in _CLASSES:
        raise ModelLoadError(f"unknown model family {name!r} (known: {', '.join(_CLASSES)})")
    module, attribute = _CLASSES[name].split(":")
    return getattr(importlib.import_module(module), attribute)
