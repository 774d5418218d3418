"""`sentiment score`: score a file, a folder or an S3 prefix of texts into a parquet file."""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path

from sentiment.commands.options import add_route_option
from sentiment.commands.serve import positive_int
from sentiment.data.formats import check_output
from sentiment.errors import ModelLoadError

log = logging.getLogger("score")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "score", help="score csv/jsonl/parquet texts (file, folder or s3:// prefix) to parquet",
        description="Score every row of --input (a .csv, .jsonl or .parquet file, a folder of "
                    "them, or an s3:// prefix; AWS_* variables give S3 credentials and "
                    "AWS_ENDPOINT_URL a non-AWS endpoint) with the model, a chunk at a time. "
                    "Writes one parquet row per input row: id, text, label, confidence, "
                    "prob_<label> and model_version. Like predict and the service it refuses "
                    "rather than guesses: a missing, empty or whitespace-only text is an error "
                    "naming its rows, and nothing is written.")
    parser.add_argument("--input", required=True, help="file, folder or s3:// prefix to score")
    parser.add_argument("--output", type=Path, required=True, help="parquet file to write")
    parser.add_argument("--model", type=Path, default=Path("models/sentiment"),
                        help="model folder (default: %(default)s)")
    parser.add_argument("--text-column", default="text",
                        help="column holding the texts (default: %(default)s)")
    parser.add_argument("--id-column", default=None,
                        help="column holding the ids, required when named (default: 'id' if "
                             "the input has it, else ids derived from the text's SHA-256)")
    parser.add_argument("--chunk-rows", type=positive_int, default=20000,
                        help="rows read, scored and written at a time (default: %(default)s)")
    parser.add_argument("--workers", type=positive_int, default=os.cpu_count() or 1,
                        help="prediction processes (default: the number of CPUs, "
                             "%(default)s)")
    parser.add_argument("--engine", choices=("inprocess", "ray"), default="inprocess",
                        help="where the chunks are scored: here, or one task per chunk on a "
                             "Ray cluster (default: %(default)s)")
    parser.add_argument("--address", default=None,
                        help="the Ray cluster's head, host:port (default: $RAY_ADDRESS)")
    parser.add_argument("--max-in-flight", type=positive_int, default=8,
                        help="--engine ray: chunks submitted and not yet written "
                             "(default: %(default)s)")
    add_route_option(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from sentiment.compute.choose import open_engine
    from sentiment.compute.engine import ComputeError
    from sentiment.errors import InputError
    from sentiment.model.predictor import Predictor
    from sentiment.monitoring.score import ScoreSettings, model_version, score_to_parquet

    settings = ScoreSettings(args.text_column, args.id_column or "id", args.chunk_rows,
                             id_required=args.id_column is not None)
    address = args.address or os.environ.get("RAY_ADDRESS")
    try:
        check_output(args.output, (".parquet",))
        with (Predictor.load(args.model, workers=args.workers, route=args.route) as predictor,
              open_engine(args.engine, address, args.max_in_flight) as engine):
            rows = score_to_parquet(predictor, args.input, args.output,
                                    model_version(args.model), settings, engine, args.model)
    except (InputError, ModelLoadError, ComputeError) as error:
        log.error("%s", error)
        return 2
    log.info("%d rows scored into %s", rows, args.output)
    return 0
