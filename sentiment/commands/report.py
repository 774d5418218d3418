"""`sentiment report`: a markdown report of what the workspace changed against a base revision."""

from __future__ import annotations

import argparse
import logging
import math
from pathlib import Path

from sentiment.data.formats import check_output
from sentiment.errors import InputError

log = logging.getLogger("report")


def threshold(text: str) -> float:
    """A finite macro-F1 difference >= 0 (``nan`` and ``inf`` are rejected by name)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--threshold must be a number, got {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"--threshold must be a finite number >= 0, got {text}")
    return value


def confidence(text: str) -> float:
    """A confidence level strictly between 0 and 1."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--confidence must be a number, got {text!r}") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(
            f"--confidence must be between 0 and 1 (e.g. 0.95), got {text}")
    return value


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "report", help="compare metrics, params and curves with a base revision (markdown)",
        description="Write a markdown report comparing the workspace with a base git revision: "
                    "a paired bootstrap verdict on the champion's test macro-F1, metric deltas, "
                    "the families with their intervals, changed params, the confusion matrix "
                    "and the training curves (markdown tables and Mermaid charts, which GitHub "
                    "renders in a comment itself).")
    parser.add_argument("--base", default="main",
                        help="git revision to compare with (default: %(default)s)")
    parser.add_argument("--output", type=Path, default=Path("report.md"),
                        help="markdown file to write (default: %(default)s)")
    parser.add_argument("--threshold", type=threshold, default=0.0,
                        help="smallest macro-F1 change that counts: better or worse only when "
                             "the whole interval lies beyond it (default: %(default)s)")
    parser.add_argument("--confidence", type=confidence,
                        help="confidence level of the intervals (default: params.yaml "
                             "evaluate.bootstrap.confidence)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    # Imported here: pandas would slow down every other sub-command's start.
    from sentiment.evaluation.report import ReportError, build_report
    from sentiment.params.base import ParamsError

    try:
        check_output(args.output, (".md",))
        build_report(args.base, args.output, args.threshold, args.confidence)
    except (ReportError, ParamsError, InputError) as error:
        log.error("%s", error)
        return 2
    return 0
