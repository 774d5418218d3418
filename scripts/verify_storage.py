"""Check a DVC remote against this checkout: each object a cached output needs is there and holds
the bytes its hash names. Reports each bad one by the workspace file it stands for.

``verify = true`` (committed in ``.dvc/config``) already makes ``dvc pull`` refuse an object
whose bytes differ from its hash, but DVC's message names only the output ("Checkout failed for
following targets: models/sentiment"); this names the file, and checks without pulling.

Usage (from the repository root)::

    python -m scripts.verify_storage [--remote NAME] [--delete-altered] [TARGET ...]

Exits 1 if any object is missing or altered, 0 if all match; a folder's ``.dir`` listing is
checked like a file, then each file it names. ``--delete-altered`` removes the altered objects
from the remote, and the listing of every folder output of the checkout that names one, the
targets' or not (``dvc push`` takes a folder's files as present while its listing is there:
a file the model folder shares with its candidate's folder stayed missing while the candidate's
listing was left), and forgets what this clone's remote index says the remote holds. A
``dvc push`` from a clone whose cache holds the right bytes then uploads them again.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

log = logging.getLogger("verify_storage")

CHUNK = 1 << 20


@dataclass(frozen=True)
class Problem:
    path: str  # the workspace file the object stands for
    key: str  # the object on the remote, as a URL
    found: str | None  # md5 of the bytes there; None if the object is missing
    listing: str | None = None  # the .dir object of the folder output holding the file

    def __str__(self) -> str:
        if self.found is None:
            return f"{self.path}: missing on the remote ({self.key}); `dvc push` it from a copy"
        return (f"{self.path}: the remote object {self.key} holds other bytes (md5 "
                f"{self.found}), so `dvc pull` refuses it; rerun with --delete-altered, then "
                f"`dvc push` from a clone whose cache holds the right bytes")


def _md5(odb: Any, oid: str) -> tuple[str | None, bytes]:
    """md5 of an object's bytes (None if absent), and the bytes if it is a .dir listing."""
    path = odb.oid_to_path(oid)
    if not odb.fs.exists(path):
        return None, b""
    digest, kept = hashlib.md5(), bytearray()
    with odb.fs.open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            if oid.endswith(".dir"):
                kept += chunk
    return digest.hexdigest(), bytes(kept)


def _url(odb: Any, oid: str) -> str:
    return odb.fs.unstrip_protocol(odb.oid_to_path(oid))


def check_output(odb: Any, path: str, oid: str, listing: str | None = None) -> Iterator[Problem]:
    """Problems of one output: its object and, for a folder, each file its listing names."""
    found, content = _md5(odb, oid)
    if found != oid.removesuffix(".dir"):
        yield Problem(path, _url(odb, oid), found, listing)
        return
    if oid.endswith(".dir"):
        for entry in json.loads(content):
            yield from check_output(odb, str(PurePosixPath(path, entry["relpath"])),
                                    entry["md5"], _url(odb, oid))


def _listings_naming(odb: Any, outs: Sequence[Any], keys: set[str]) -> Iterator[str]:
    """The remote ``.dir`` listings of ``outs`` that name an object among ``keys``."""
    for out in outs:
        oid = out.hash_info.value
        if not oid.endswith(".dir"):
            continue
        found, content = _md5(odb, oid)
        if found == oid.removesuffix(".dir") and any(
                _url(odb, entry["md5"]) in keys for entry in json.loads(content)):
            yield _url(odb, oid)


def _delete(odb: Any, outs: Sequence[Any], altered: Sequence[Problem]) -> None:
    """Remove the altered objects, every listing naming one, and the remote index's word."""
    from dvc_data.hashfile.db import get_index

    keys = {problem.key for problem in altered}
    listings = {problem.listing for problem in altered if problem.listing}
    for key in sorted(keys | listings | set(_listings_naming(odb, outs, keys))):
        odb.fs.rm(key)
        log.warning("deleted %s from the remote", key)
    index = get_index(odb)
    try:
        index.clear()
    finally:
        index.close()
    log.warning("now `dvc push` from a clone whose cache holds the right bytes")


def check(targets: Sequence[str] = (), remote: str | None = None,
          delete_altered: bool = False) -> tuple[int, list[Problem]]:
    """(outputs checked, problems) for the cached outputs of the repo in the current folder;
    with ``delete_altered``, altered objects are removed from the remote."""
    from dvc.repo import Repo

    with Repo() as repo:
        odb = repo.cloud.get_remote_odb(remote, hash_name="md5")
        cached = [out for out in repo.index.outs if out.use_cache and out.hash_info]
        outs = [out for out in cached if not targets or any(
            str(out) == target or str(out).startswith(target.rstrip("/") + "/")
            for target in targets)]
        problems = [problem for out in outs
                    for problem in check_output(odb, str(out), out.hash_info.value)]
        for problem in problems:
            log.error("%s", problem)
        altered = [problem for problem in problems if problem.found is not None]
        if delete_altered and altered:
            _delete(odb, cached, altered)
    return len(outs), problems


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("targets", nargs="*", metavar="TARGET",
                        help="outputs to check (default: every cached output)")
    parser.add_argument("--remote", help="DVC remote (default: the repo's default remote)")
    parser.add_argument("--delete-altered", action="store_true",
                        help="remove altered objects from the remote (then `dvc push` them)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    checked, problems = check(args.targets, args.remote, args.delete_altered)
    if problems:
        sys.exit(1)
    log.info("%d outputs checked: every object on the remote matches its hash", checked)


if __name__ == "__main__":
    main()
