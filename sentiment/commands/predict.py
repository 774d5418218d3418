"""`sentiment predict`: predict texts given as arguments, on standard input, or in a batch file.

Writes one JSON object per text (``text``, ``label``, ``probabilities``), in input order, to
standard output or to ``--output FILE.jsonl``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING

from sentiment.errors import ModelLoadError

if TYPE_CHECKING:
    from sentiment.predictor import Predictor

log = logging.getLogger("predict")

INPUT_FORMATS = (".csv", ".jsonl", ".parquet")
OUTPUT_FORMATS = (".jsonl",)
CHUNK = 4096  # texts per progress-bar step


class InputError(ValueError):
    """A batch file that cannot be read as asked; the message names the file or column."""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "predict", help="predict the sentiment of texts (arguments, stdin or a batch file)",
        description="Predict the sentiment of texts given as arguments, one per line on "
                    "standard input, or in a batch file (--input). Writes JSON lines: text, "
                    "label and the probability of each class.")
    parser.add_argument("texts", nargs="*", metavar="TEXT",
                        help="texts to predict (default: read lines from standard input)")
    parser.add_argument("--model", type=Path, default=Path("models/sentiment"),
                        help="model folder (default: %(default)s)")
    parser.add_argument("--input", type=Path,
                        help=f"batch file of texts: {', '.join(INPUT_FORMATS)}")
    parser.add_argument("--column", default="text",
                        help="column of --input holding the texts (default: %(default)s)")
    parser.add_argument("--output", type=Path,
                        help="JSON-lines file to write (default: standard output)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="processes for large batches (default: the number of CPUs, "
                             "%(default)s)")
    parser.set_defaults(handler=run)


def read_texts(path: Path, column: str) -> list[str]:
    """The ``column`` of a .csv, .jsonl or .parquet file, as strings (missing values → "")."""
    import pandas as pd

    suffix = path.suffix.lower()
    if suffix not in INPUT_FORMATS:
        raise InputError(f"{path}: unsupported extension {path.suffix or '(none)'!r}; "
                         f"use one of {', '.join(INPUT_FORMATS)}")
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    try:
        if suffix == ".csv":
            frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        elif suffix == ".jsonl":
            frame = pd.read_json(path, lines=True, dtype=False)
        else:
            frame = pd.read_parquet(path)
    except (ValueError, OSError, pd.errors.ParserError) as error:
        raise InputError(f"{path}: unreadable as {suffix[1:]} ({error})") from None
    if column not in frame.columns:
        raise InputError(f"{path}: no column {column!r} (columns: "
                         f"{', '.join(map(str, frame.columns)) or 'none'})")
    values = frame[column]
    missing = int(values.isna().sum())
    if missing:
        log.warning("%s: %d rows have no %r; predicted as empty texts", path, missing, column)
    return ["" if value is None or value != value else str(value) for value in values]


def _stdin_texts() -> list[str]:
    if sys.stdin.isatty():
        raise InputError("no texts: give them as arguments, with --input, or on standard input")
    return [line.rstrip("\r\n") for line in sys.stdin if line.strip()]


def _chunks(texts: Sequence[str]) -> Iterator[Sequence[str]]:
    from tqdm import tqdm

    with tqdm(total=len(texts), unit="text", disable=None if len(texts) > CHUNK else True,
              desc="predict") as bar:
        for start in range(0, len(texts), CHUNK):
            chunk = texts[start : start + CHUNK]
            yield chunk
            bar.update(len(chunk))


def write_predictions(predictor: Predictor, texts: Sequence[str], handle: IO[str]) -> None:
    """Predict in chunks (with a progress bar on large inputs), one JSON line per text."""
    for chunk in _chunks(texts):
        for text, prediction in zip(chunk, predictor.predict(chunk), strict=True):
            handle.write(json.dumps({"text": text, **prediction}, ensure_ascii=False) + "\n")


def run(args: argparse.Namespace) -> int:
    from sentiment.predictor import Predictor

    try:
        if args.output and args.output.suffix.lower() not in OUTPUT_FORMATS:
            raise InputError(f"{args.output}: unsupported output extension "
                             f"{args.output.suffix or '(none)'!r}; use .jsonl")
        if args.input and args.texts:
            raise InputError("give texts as arguments or with --input, not both")
        texts = (read_texts(args.input, args.column) if args.input
                 else args.texts or _stdin_texts())
        with Predictor.load(args.model, workers=max(args.workers, 1)) as predictor:
            if args.output:
                args.output.parent.mkdir(parents=True, exist_ok=True)
                with args.output.open("w", encoding="utf-8") as handle:
                    write_predictions(predictor, texts, handle)
                log.info("%d predictions written to %s", len(texts), args.output)
            else:
                write_predictions(predictor, texts, sys.stdout)
    except (InputError, ModelLoadError) as error:
        log.error("%s", error)
        return 2
    return 0
