"""API keys: a file of key ids and SHA-256 hashes of keys, reloaded when it changes.

The file holds one ``<key-id>:<sha256 hex of the key>`` per line; blank lines and lines
starting with ``#`` are ignored. Only hashes are stored, so the file reveals no key. Keys must
be random (``python -m sentiment.serving.auth <key-id>`` makes one and prints its line), which
is why a plain SHA-256 is enough: there is nothing to guess a dictionary word from.

A request's key is hashed and compared with every stored hash by ``hmac.compare_digest``, so
neither the comparison nor the number of comparisons depends on how much of a key matched.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import logging
import os
import re
import secrets
from collections.abc import Mapping
from pathlib import Path

log = logging.getLogger(__name__)

KEY_ID = re.compile(r"[A-Za-z0-9_.-]{1,64}")
SHA256_HEX = re.compile(r"[0-9a-f]{64}")


KEYS_VARIABLE = "SENTIMENT_API_KEYS_FILE"


class KeyFileError(ValueError):
    """The key file is missing or malformed; the message names the file and line."""


def keys_file_from_env(environ: Mapping[str, str]) -> str | None:
    """``$SENTIMENT_API_KEYS_FILE``; None when unset. Set but empty fails closed: a deployment
    that meant to name its key file and left the value out must not serve without keys."""
    value = environ.get(KEYS_VARIABLE)
    if value is not None and not value.strip():
        raise KeyFileError(f"{KEYS_VARIABLE} is set but empty: name the key file, or unset "
                           "the variable to serve without keys")
    return value


def hash_key(key: str | bytes) -> str:
    """The SHA-256 hex digest stored for a key."""
    return hashlib.sha256(key.encode() if isinstance(key, str) else key).hexdigest()


def parse_keys(text: str, source: Path) -> dict[str, str]:
    """Key id → key hash, from the file's text; ``KeyFileError`` names a bad line."""
    keys: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key_id, _, digest = line.partition(":")
        if not KEY_ID.fullmatch(key_id) or not SHA256_HEX.fullmatch(digest.lower()):
            raise KeyFileError(f"{source}:{number}: expected <key-id>:<sha256 hex of the key> "
                               "(key id: letters, digits, '_', '.', '-')")
        if key_id in keys:
            raise KeyFileError(f"{source}:{number}: key id {key_id!r} appears twice")
        keys[key_id] = digest.lower()
    if not keys:
        raise KeyFileError(f"{source}: no keys (a key file that grants nobody is a mistake; "
                           "run without --api-keys-file for an open service)")
    return keys


class KeyStore:
    """The keys of one file, re-read whenever its size, inode or modification time changes.

    A file that becomes unreadable or malformed locks every protected route (``identify``
    raises ``KeyFileError``) until it is fixed: a typo while revoking a key must not leave the
    revoked key valid.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._signature: tuple[int, int, int] | None = None
        self._keys: dict[str, str] = {}
        self._error: KeyFileError | None = None
        self._refresh()
        if self._error:
            raise self._error

    def __len__(self) -> int:
        return len(self._keys)

    def _refresh(self) -> None:
        try:
            stat = os.stat(self.path)
        except OSError as error:
            self._fail(KeyFileError(f"{self.path}: cannot read the API key file "
                                    f"({error.strerror})"))
            return
        signature = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
        if signature == self._signature:
            return
        self._signature = signature
        try:
            self._keys = parse_keys(self.path.read_text(encoding="utf-8"), self.path)
        except (OSError, UnicodeDecodeError, KeyFileError) as error:
            self._fail(error if isinstance(error, KeyFileError)
                       else KeyFileError(f"{self.path}: cannot read the API key file ({error})"))
            return
        self._error = None
        log.info("API keys loaded from %s: %d key id(s): %s", self.path, len(self._keys),
                 ", ".join(sorted(self._keys)))

    def _fail(self, error: KeyFileError) -> None:
        if str(error) != str(self._error):
            log.error("%s; protected routes answer 503 until it is fixed", error)
        self._signature, self._keys, self._error = None, {}, error

    def identify(self, key: bytes | None) -> str | None:
        """The id of ``key`` if it is valid, else None; ``KeyFileError`` if the file is bad."""
        self._refresh()
        if self._error:
            raise self._error
        if not key:
            return None
        digest = hash_key(key)
        found = None
        for key_id, stored in self._keys.items():  # no early exit: every hash is compared
            if hmac.compare_digest(digest, stored):
                found = key_id
        return found


def main() -> None:
    parser = argparse.ArgumentParser(description="Make a random API key and its key-file line.")
    parser.add_argument("key_id", help="a name for the key (letters, digits, '_', '.', '-')")
    key_id = parser.parse_args().key_id
    if not KEY_ID.fullmatch(key_id):
        parser.error(f"invalid key id {key_id!r}: letters, digits, '_', '.', '-' only")
    key = secrets.token_urlsafe(32)
    print(f"key (give it to the client, store it nowhere else): {key}")
    print(f"line for the API key file: {key_id}:{hash_key(key)}")


if __name__ == "__main__":
    main()
