"""`sentiment predict`: predict texts given as arguments, on standard input, or in a batch file.

Writes one JSON object per text (``text``, ``label``, ``probabilities``), in input order, to
standard output or to ``--output FILE.jsonl``, always as UTF-8 (one output line per input text).

Input is UTF-8 (a leading byte-order mark is dropped). Like the HTTP service, it refuses rather
than guesses: an empty or whitespace-only text (a blank line on standard input, a missing value
in a batch file), a byte sequence that is not UTF-8, or a model that gives non-finite
probabilities is a one-line error naming the argument, line or row. Input is checked whole
before anything is written; ``--output`` is written through a ``.part`` file.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import math
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING

from sentiment.commands.options import add_route_option
from sentiment.data.formats import FORMATS, check_output, row_numbers
from sentiment.data.text import is_blank
from sentiment.errors import InputError, ModelLoadError

if TYPE_CHECKING:
    from sentiment.model.predictor import Predictor

log = logging.getLogger("predict")

OUTPUT_FORMATS = (".jsonl",)
CHUNK = 4096  # texts per progress-bar step


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
                        help=f"batch file of texts: {', '.join(FORMATS)} (or a folder of them)")
    parser.add_argument("--column", default="text",
                        help="column of --input holding the texts (default: %(default)s)")
    parser.add_argument("--output", type=Path,
                        help="JSON-lines file to write (default: standard output)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="processes for large batches (default: the number of CPUs, "
                             "%(default)s)")
    parser.add_argument("--allow-unlocked-model", action="store_true",
                        help="use a model folder whose bytes differ from what dvc.lock records, "
                             "with a warning (default: refuse it, as `sentiment serve` does)")
    add_route_option(parser)
    parser.set_defaults(handler=run)


def _decode(data: bytes, where: str) -> str:
    """UTF-8 bytes as text (a leading byte-order mark dropped); InputError naming the line."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise InputError(f"{where} line {line}: not UTF-8 (byte {data[error.start]:#04x}); "
                         f"convert it, e.g. with `iconv -f latin1 -t utf-8`") from None


def read_texts(path: Path, column: str) -> list[str]:
    """The ``column`` of a .csv, .jsonl or .parquet file (or a folder of them), row N of the
    result being row N of the file; a missing, blank or non-text value is refused by row."""
    from sentiment.data.tables import read_frame

    return read_frame(str(path), [column], not_blank=[column])[column].tolist()


def _stdin_texts() -> list[str]:
    """One text per line of standard input, read as UTF-8 bytes whatever the locale."""
    if sys.stdin.isatty():
        raise InputError("no texts: give them as arguments, with --input, or on standard input")
    text = _decode(sys.stdin.buffer.read(), "standard input")
    if not text:
        return []
    return [line.removesuffix("\r") for line in text.removesuffix("\n").split("\n")]


def check_texts(texts: Sequence[str], where: str) -> None:
    """Refuse what the service refuses (empty or whitespace-only texts) and text that is not
    valid Unicode (undecodable bytes in an argument, a lone surrogate escaped in JSON),
    naming the ``where`` (argument, line or row) of each, counted from 1."""
    blank = [row for row, text in enumerate(texts, start=1) if is_blank(text)]
    if blank:
        raise InputError(f"{where} {row_numbers(blank)}: empty or whitespace-only text; remove it "
                         f"or give it text (the service refuses it too)")
    for row, text in enumerate(texts, start=1):
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as error:
            code = ord(text[error.start])
            what = (f"byte {code - 0xDC00:#04x}" if 0xDC80 <= code <= 0xDCFF
                    else f"lone surrogate U+{code:04X}")
            raise InputError(f"{where} {row}: not valid UTF-8 ({what})") from None


def _chunks(texts: Sequence[str]) -> Iterator[Sequence[str]]:
    from tqdm import tqdm

    with tqdm(total=len(texts), unit="text", disable=None if len(texts) > CHUNK else True,
              desc="predict") as bar:
        for start in range(0, len(texts), CHUNK):
            chunk = texts[start : start + CHUNK]
            yield chunk
            bar.update(len(chunk))


def write_predictions(predictor: Predictor, texts: Sequence[str], handle: IO[str],
                      where: str = "text") -> None:
    """Predict in chunks (with a progress bar on large inputs), one JSON line per text;
    ModelLoadError, naming the text, if the model gives a non-finite probability."""
    done = 0
    for chunk in _chunks(texts):
        for text, prediction in zip(chunk, predictor.predict(chunk), strict=True):
            done += 1
            if not all(map(math.isfinite, prediction["probabilities"].values())):
                raise ModelLoadError(f"{where} {done}: the model gives non-finite probabilities "
                                     f"(a corrupt model? rebuild it or `dvc pull` it)")
            handle.write(json.dumps({"text": text, **prediction}, ensure_ascii=False) + "\n")


def _write_file(predictor: Predictor, texts: Sequence[str], output: Path, where: str) -> None:
    """Write to ``output`` through a partial file, so a failure leaves any old output whole."""
    partial = output.with_name(output.name + ".part")
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        handle = partial.open("w", encoding="utf-8")
    except OSError as error:
        raise InputError(f"{output}: cannot write there ({error.strerror})") from None
    try:
        with handle:
            write_predictions(predictor, texts, handle, where)
        partial.replace(output)
    finally:
        partial.unlink(missing_ok=True)


def _read(args: argparse.Namespace) -> tuple[list[str], str]:
    """The texts to predict and what one of them is called in an error message."""
    if args.input:
        return read_texts(args.input, args.column), f"{args.input} row"
    if args.texts:
        return args.texts, "argument"
    return _stdin_texts(), "standard input line"


def run(args: argparse.Namespace) -> int:
    from sentiment.model.predictor import Predictor
    from sentiment.model.version import describe, verify_folder

    try:
        if args.workers < 1:
            raise InputError(f"--workers must be at least 1, got {args.workers}")
        if args.output:
            check_output(args.output, OUTPUT_FORMATS)
        if args.input and args.texts:
            raise InputError("give texts as arguments or with --input, not both")
        texts, where = _read(args)
        check_texts(texts, where)
        with Predictor.load(args.model, workers=args.workers, route=args.route) as predictor:
            verify_folder(args.model, describe(args.model)[0], args.allow_unlocked_model)
            if args.output:
                _write_file(predictor, texts, args.output, where)
                log.info("%d predictions written to %s", len(texts), args.output)
            else:
                if isinstance(sys.stdout, io.TextIOWrapper):
                    sys.stdout.reconfigure(encoding="utf-8")
                write_predictions(predictor, texts, sys.stdout, where)
    except (InputError, ModelLoadError) as error:
        log.error("%s", error)
        return 2
    return 0
