"""A model folder for workers that may not see the driver's disk: shipped as bytes, verified
and loaded once per worker process.

The driver reads the folder's files into a ``ModelBundle`` (put in Ray's object store once per
job). A worker writes them, once per node and model, to ``$TMPDIR/sentiment-models/<sha256>``
(a family may read its files again after loading, so the folder stays; a copy found there is
used only if its contents hash to the bundle's digest) and loads that folder with
``load_model``, which checks every file against ``manifest.json`` as the in-process loader does
(nothing is unpickled: safetensors and JSON only). The ``Predictor`` stays cached in the worker
process, keyed by the digest, for every later batch of the job.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from sentiment.errors import ModelLoadError

if TYPE_CHECKING:
    from sentiment.model.predictor import Predictor
    from sentiment.model.routes import Route

_CACHE_SIZE = 2  # models a worker keeps loaded (a job uses one)
_loaded: dict[str, Predictor] = {}


@dataclass(frozen=True)
class ModelBundle:
    """Every file of a model folder (relative POSIX path, bytes), and their SHA-256."""

    digest: str
    files: tuple[tuple[str, bytes], ...] = field(repr=False)
    route: Route = "pinned"  # the route workers load it on

    @classmethod
    def read(cls, folder: str | Path, route: Route = "pinned") -> ModelBundle:
        folder = Path(folder)
        if not folder.is_dir():
            raise ModelLoadError(f"{folder}: no such model folder (run `dvc pull "
                                 "models/sentiment`)")
        files = tuple((path.relative_to(folder).as_posix(), path.read_bytes())
                      for path in sorted(folder.rglob("*")) if path.is_file())
        digest = hashlib.sha256()
        for name, content in files:
            digest.update(f"{name}\0{len(content)}\0".encode())
            digest.update(content)
        return cls(digest.hexdigest(), files, route)

    def predictor(self) -> Predictor:
        """This process's predictor for the bundle, loaded and verified on first use."""
        key = f"{self.digest}:{self.route}"
        predictor = _loaded.get(key)
        if predictor is None:
            predictor = self._load()
            if len(_loaded) >= _CACHE_SIZE:
                _loaded.clear()
            _loaded[key] = predictor
        return predictor

    def folder(self) -> Path:
        """This node's copy of the files, written if missing or different."""
        root = Path(tempfile.gettempdir()) / "sentiment-models"
        final = root / self.digest
        if final.is_dir():
            if ModelBundle.read(final).digest == self.digest:
                return final
            shutil.rmtree(final, ignore_errors=True)  # a damaged copy
        root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=root))
        try:
            for name, content in self.files:
                path = staging / name
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(content)
            try:
                os.rename(staging, final)
            except OSError:  # another worker on this node won the race: use its copy
                if ModelBundle.read(final).digest != self.digest:
                    raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return final

    def _load(self) -> Predictor:
        from sentiment.model.folder import load_model
        from sentiment.model.predictor import Predictor

        return Predictor(load_model(self.folder(), self.route), route=self.route)
