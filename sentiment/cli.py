"""The ``sentiment`` command: predict, serve, report, score, warehouse and drift, one module per
sub-command. Each module imports what its work needs (pandas, torch, pydantic...) inside its
handler, so that ``sentiment --help`` and a mistyped option answer at once."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from sentiment.commands import drift, predict, report, score, serve, warehouse

COMMANDS = (predict, report, serve, score, warehouse, drift)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sentiment", description="Sentiment analysis with a DVC-versioned model."
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    sys.exit(args.handler(args) or 0)
