"""Model families behind one interface (``base.Family``), looked up in the registry
(``sentiment.params.families.REGISTRY``) by the name a model folder's ``config.json`` records.
Modules are imported on demand, so a family's heavy dependencies (transformers) load only when
it is used."""

from __future__ import annotations

import importlib

from sentiment.errors import ModelLoadError
from sentiment.families.base import Family
from sentiment.params.families import REGISTRY


def family_class(name: str) -> type[Family]:
    """The class of family ``name``; an unknown name is a ModelLoadError listing the known."""
    if name not in REGISTRY:
        raise ModelLoadError(f"unknown model family {name!r} (known: {', '.join(REGISTRY)})")
    module, attribute = REGISTRY[name].implementation.split(":")
    return getattr(importlib.import_module(module), attribute)
