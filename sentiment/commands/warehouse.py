"""`sentiment warehouse load` and `sentiment warehouse query`: the SQL warehouse.

The database is ``--url``, else ``$SENTIMENT_DATABASE_URL``, else the embedded SQLite file
``monitor.warehouse.path`` of params.yaml. Put passwords in the variable, not on the command line
(shells keep a history).
"""

from __future__ import annotations

import argparse
import csv
import logging
import sys
from pathlib import Path

log = logging.getLogger("warehouse")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "warehouse", help="load records and scores into SQL, and query them",
        description="The SQL warehouse: SQLite in a git-ignored file by default, or any "
                    "PostgreSQL named by --url or SENTIMENT_DATABASE_URL.")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    loader = actions.add_parser(
        "load", help="upsert cleaned records, scores and model versions (one transaction)",
        description="Upsert cleaned records and scores (files, folders or s3:// prefixes) in "
                    "one transaction. Without --records or --scores, loads params.yaml's "
                    "paths.interim and monitor.score.output (those that exist).")
    loader.add_argument("--records", action="append", default=[],
                        help="cleaned records (id, text[, text_norm, label]); repeatable")
    loader.add_argument("--scores", action="append", default=[],
                        help="scores written by `sentiment score`; repeatable")
    querier = actions.add_parser(
        "query", help="run one read-only SQL statement and print its rows as CSV",
        description="Run one SQL statement and print the result as CSV (header first). "
                    "Read-only: SQLite is opened read-only and PostgreSQL runs the statement "
                    "in a READ ONLY transaction, so DELETE, DROP or ATTACH fail; --write "
                    "commits it and reports what it changed.")
    querier.add_argument("sql", help='the statement, e.g. "SELECT label, count(*) FROM scores '
                                     'GROUP BY label"')
    querier.add_argument("--write", action="store_true",
                         help="commit the statement (default: read-only) and report the rows "
                              "it affected and each table whose row count changed")
    for sub in (loader, querier):
        sub.add_argument("--url", help="SQLAlchemy database URL (default: "
                                       "$SENTIMENT_DATABASE_URL, else the SQLite file)")
        sub.set_defaults(handler=run)


def _defaults() -> tuple[str, str, str]:
    """params.yaml's interim records, scores output and SQLite path (schema defaults without)."""
    if Path("params.yaml").is_file():
        from sentiment.params.schema import load_params

        params = load_params()
        monitor, paths = params.monitor, params.paths
    else:
        from sentiment.params.monitor import MonitorParams
        from sentiment.params.paths import PathsParams

        monitor, paths = MonitorParams(), PathsParams()
    return paths.interim, monitor.score.output, monitor.warehouse.path


def _load(args: argparse.Namespace, url: str, records: str, scores: str) -> None:
    from sentiment.monitoring.warehouse import load

    if args.records or args.scores:
        record_paths, score_paths = args.records, args.scores
    else:
        record_paths = [records] if Path(records).exists() else []
        score_paths = [scores] if Path(scores).exists() else []
        if not record_paths and not score_paths:
            raise FileNotFoundError(f"nothing to load: neither {records} nor {scores} exists "
                                    "(give --records or --scores)")
    totals = load(url, record_paths, score_paths)
    print(", ".join(f"{table}: {count} rows" for table, count in totals.items()))


def _query(args: argparse.Namespace, url: str) -> None:
    from sentiment.monitoring.warehouse import query

    result = query(url, args.sql, write=args.write)
    if result.columns:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(result.columns)
        writer.writerows(result.rows)
    if result.changed is not None:
        log.warning("written: %s", result.changed)


def run(args: argparse.Namespace) -> int:
    from sentiment.errors import InputError
    from sentiment.monitoring.warehouse import WarehouseError, database_url
    from sentiment.params.base import ParamsError

    try:
        records, scores, path = _defaults()
        url = database_url(args.url, path)
        if args.action == "load":
            _load(args, url, records, scores)
        else:
            _query(args, url)
    except (WarehouseError, InputError, ParamsError, FileNotFoundError) as error:
        log.error("%s", str(error).replace("\n", " "))
        return 2
    return 0
