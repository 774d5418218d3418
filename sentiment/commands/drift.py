"""`sentiment drift`: compare current, scored data with the training data; exit 1 on drift."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from sentiment.data.formats import check_output
from sentiment.errors import ModelLoadError

log = logging.getLogger("drift")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "drift", help="drift report of scored data against the training data",
        description="Compare --current (usually the output of `sentiment score`) with "
                    "--reference (the training data): predicted label mix, text length, "
                    "out-of-vocabulary rate, confidence and a domain-classifier test. Writes "
                    "drift.json and drift.png; prints a one-line summary and exits 1 when any "
                    "measure is beyond its threshold in params.yaml (monitor.drift).")
    parser.add_argument("--reference", required=True,
                        help="training data: file, folder or s3:// prefix with a text column")
    parser.add_argument("--current", required=True,
                        help="data to check: file, folder or s3:// prefix (scores or texts)")
    parser.add_argument("--model", type=Path, default=Path("models/sentiment"),
                        help="model that scores a side without prob_<label> columns "
                             "(default: %(default)s)")
    parser.add_argument("--output-dir", type=Path,
                        help="folder for drift.json and drift.png (default: "
                             "monitor.drift.reports of params.yaml)")
    parser.add_argument("--params", type=Path, default=Path("params.yaml"),
                        help="params file with the thresholds and seed (default: %(default)s)")
    parser.add_argument("--text-column", default="text",
                        help="column holding the texts (default: %(default)s)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from sentiment.errors import InputError
    from sentiment.model.predictor import Predictor
    from sentiment.monitoring.drift import check
    from sentiment.params.base import ParamsError
    from sentiment.params.schema import load_params

    try:
        params = load_params(args.params)
        settings = params.monitor.drift
        output_dir = args.output_dir or Path(settings.reports)
        check_output(output_dir, folder=True)
        with Predictor.load(args.model) as predictor:
            report = check(args.reference, args.current, predictor, output_dir, settings,
                           params.seed, args.text_column)
    except (InputError, ModelLoadError, ParamsError) as error:
        log.error("%s", str(error).replace("\n", " "))
        return 2
    print(report["summary"])
    return 1 if report["drift"] else 0
