"""What the table readers accept and how errors name rows; outputs checked before any work.

Light on purpose (no pandas): the CLI's option parsers import it, and ``sentiment --help``
answers at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from sentiment.errors import InputError

FORMATS = (".csv", ".tsv", ".jsonl", ".parquet")
SHOWN = 5  # row or line numbers named in one error message
#: What an error for bytes that are not UTF-8 suggests.
CONVERT_HINT = "convert it, e.g. with `iconv -f latin1 -t utf-8`"


def row_numbers(rows: Sequence[int]) -> str:
    """``1, 2, 3, 4, 5 and 2 more``: the first few of ``rows``."""
    shown = ", ".join(str(row) for row in rows[:SHOWN])
    return shown + (f" and {len(rows) - SHOWN} more" if len(rows) > SHOWN else "")


def check_output(path: Path, suffixes: Sequence[str] = (), folder: bool = False) -> None:
    """Refuse, before any work, an output that cannot be written: an extension not among
    ``suffixes``, a folder where a file is wanted (or a file where a folder is), or a file
    among its parents."""
    if suffixes and path.suffix.lower() not in suffixes:
        raise InputError(f"{path}: unsupported output extension {path.suffix or '(none)'!r}; "
                         f"use {' or '.join(suffixes)}")
    if folder and path.exists() and not path.is_dir():
        raise InputError(f"{path}: is a file; name a folder")
    if not folder and path.is_dir():
        raise InputError(f"{path}: is a folder; name a file")
    blocker = next((parent for parent in path.parents
                    if parent.exists() and not parent.is_dir()), None)
    if blocker:
        raise InputError(f"{path}: cannot write there, {blocker} is a file, not a folder")
