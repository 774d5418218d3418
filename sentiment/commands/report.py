"""`sentiment report`: a markdown report of what the workspace changed against a base revision."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from sentiment.data.formats import check_output
from sentiment.errors import InputError

log = logging.getLogger("report")

DEFAULT_THRESHOLD = 0.005  # macro-F1 moves this small are reported as noise


def non_negative(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "report", help="compare metrics, params and plots with a base revision (markdown)",
        description="Write a markdown report comparing the workspace with a base git revision: "
                    "changed params, metric deltas, a macro-F1 verdict and PNG figures of the "
                    "base and head side by side (for `cml comment update --publish`).")
    parser.add_argument("--base", default="main",
                        help="git revision to compare with (default: %(default)s)")
    parser.add_argument("--output", type=Path, default=Path("report.md"),
                        help="markdown file to write (default: %(default)s)")
    parser.add_argument("--images-dir", type=Path,
                        help="folder for the PNG figures (default: <output stem>-images "
                             "next to the output)")
    parser.add_argument("--threshold", type=non_negative, default=DEFAULT_THRESHOLD,
                        help="macro-F1 change within which the verdict is 'within noise' "
                             "(default: %(default)s)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    # Imported here: pandas and matplotlib would slow down every other sub-command's start.
    from sentiment.evaluation.report import ReportError, build_report
    from sentiment.params.base import ParamsError

    images_dir = args.images_dir or args.output.with_name(f"{args.output.stem}-images")
    try:
        check_output(args.output, (".md",))
        check_output(images_dir, folder=True)
        build_report(args.base, args.output, images_dir, args.threshold)
    except (ReportError, ParamsError, InputError) as error:
        log.error("%s", error)
        return 2
    return 0
