"""The model folder: one family's files plus what every family shares, verified on load.

    models/sentiment/
      config.json      format version, family name, labels, normaliser and tokeniser settings,
                       and the family's own section
      manifest.json    SHA-256 and size of every other file in the folder
      README.md        the model card (the released folder only: the release stage adds it
                       and rewrites the manifest with ``write_manifest``)
      ...              the family's files (safetensors and JSON only)

Loading checks the manifest first: a file that is missing, changed (a flipped byte in the
weights, a reordered label list) or not listed is refused with a message that names it, before
anything is parsed. Nothing is ever unpickled.

A folder loads on one of two routes (``sentiment.model.routes``): ``pinned`` (the default),
whose bits are the same on every x86-64 CPU with AVX2, or ``fast``, the served one.
"""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass
from pathlib import Path

from sentiment.data.features import TokenSettings
from sentiment.data.text import NormaliserSettings
from sentiment.errors import ModelLoadError
from sentiment.families import family_class
from sentiment.families.base import Family
from sentiment.families.parts.weights import read_model_json
from sentiment.io import write_json
from sentiment.model.routes import ROUTES, Route

FORMAT_VERSION = 2
CONFIG_FILE = "config.json"
MANIFEST_FILE = "manifest.json"

__all__ = ["ROUTES", "ModelLoadError", "Route", "SentimentModel", "load_model", "save_model",
           "verify_manifest", "write_manifest"]


@dataclass
class SentimentModel:
    """A trained classifier of any family with the text pipeline it was trained with."""

    family: Family
    labels: list[str]
    normaliser: NormaliserSettings
    tokens: TokenSettings


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _files(folder: Path) -> list[str]:
    return sorted(path.relative_to(folder).as_posix() for path in folder.rglob("*")
                  if path.is_file() and path.name != MANIFEST_FILE)


def save_model(model: SentimentModel, folder: str | Path) -> None:
    """Write the folder afresh (deterministic bytes for identical models), manifest last."""
    folder = Path(folder)
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    section = model.family.save(folder)
    write_json(folder / CONFIG_FILE, {
        "format_version": FORMAT_VERSION,
        "family": model.family.name,
        "labels": model.labels,
        "normaliser": model.normaliser.to_dict(),
        "tokens": model.tokens.to_dict(),
        model.family.name: section,
    })
    write_manifest(folder)


def write_manifest(folder: Path) -> None:
    """(Re)write the manifest: the SHA-256 and size of every other file now in ``folder``."""
    write_json(folder / MANIFEST_FILE, {"files": {
        name: {"sha256": _sha256(folder / name), "size": (folder / name).stat().st_size}
        for name in _files(folder)
    }})


def verify_manifest(folder: Path) -> None:
    """Refuse a folder whose files differ from the manifest written when it was saved."""
    listed = read_model_json(folder / MANIFEST_FILE).get("files")
    if not isinstance(listed, dict):
        raise ModelLoadError(f"{folder / MANIFEST_FILE}: no 'files' mapping")
    for name in _files(folder):
        if name not in listed:
            raise ModelLoadError(f"{folder / name}: not in {MANIFEST_FILE} (a file was added "
                                 "to the model folder)")
    for name, expected in sorted(listed.items()):
        path = folder / name
        if not path.is_file():
            raise ModelLoadError(f"{path}: missing from the model folder (run `dvc pull`)")
        if path.stat().st_size != expected.get("size") or _sha256(path) != expected.get(
                "sha256"):
            raise ModelLoadError(f"{path}: contents differ from {MANIFEST_FILE} (corrupted or "
                                 "edited; restore it with `dvc checkout` or `dvc pull`)")


def load_model(folder: str | Path, route: Route = "pinned") -> SentimentModel:
    """Verify, then load a model folder written by ``save_model``, of any family, on
    ``route`` (``pinned``: reproducible bits; ``fast``: the served path)."""
    if route not in ROUTES:
        raise ValueError(f"route {route!r} is not one of {', '.join(ROUTES)}")
    folder = Path(folder)
    if not folder.is_dir():
        raise ModelLoadError(f"{folder}: no such model folder (run `dvc pull models/sentiment`)")
    verify_manifest(folder)
    config = read_model_json(folder / CONFIG_FILE)
    if config.get("format_version") != FORMAT_VERSION:
        raise ModelLoadError(f"{folder / CONFIG_FILE}: format_version "
                             f"{config.get('format_version')!r} is not {FORMAT_VERSION} "
                             "(retrain with `dvc repro`)")
    try:
        name = config["family"]
        labels = [str(label) for label in config["labels"]]
        normaliser = NormaliserSettings(**config["normaliser"])
        tokens = TokenSettings(**config["tokens"])
        family = family_class(name).load(folder, config[name], len(labels))
        if route == "fast":
            family = family.served()
    except (KeyError, TypeError, ValueError) as error:
        if isinstance(error, ModelLoadError):
            raise
        raise ModelLoadError(f"{folder / CONFIG_FILE}: does not describe a model "
                             f"({type(error).__name__}: {error})") from None
    return SentimentModel(family, labels, normaliser, tokens)
