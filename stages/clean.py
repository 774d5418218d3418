"""Stage clean: raw crawl records → normalised, labelled, de-duplicated rows + quality report."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from sentiment.cleaning import clean_records
from sentiment.io import read_jsonl, write_json, write_parquet
from sentiment.params import Params
from stages.common import StageError, run_stage

log = logging.getLogger("clean")


def main(params: Params) -> None:
    records = read_jsonl(params.paths.raw)
    if not records:
        raise StageError(f"{params.paths.raw} holds no records: run the scrape stage first")
    source = params.clean.label_source
    if not any(record.get(source) is not None for record in records):
        raise StageError(f"clean.label_source is {source!r} but no record in {params.paths.raw} "
                         f"has a {source}: set scrape.selectors.fields.{source}, or "
                         "clean.label_source (README \"Crawl your own site\")")
    cleaned, report = clean_records(pd.DataFrame.from_records(records), params.clean)
    log.info("kept %d of %d rows; dropped %s", report["rows_out"], report["rows_in"],
             report["dropped"])
    if cleaned.empty:
        raise StageError(f"clean dropped every row of {params.paths.raw}: {report['dropped']}")
    write_parquet(params.paths.interim, cleaned)
    write_json(Path(params.paths.reports) / "clean.json", report)


if __name__ == "__main__":
    run_stage("clean", main)
