"""Stage clean: raw crawl records → normalised, labelled, de-duplicated rows + quality report.

Streams the records a batch at a time (``sentiment.data.cleaning.clean_file``): memory is a batch
plus 17 bytes a row for de-duplication."""

from __future__ import annotations

import logging
from pathlib import Path

from sentiment.data.cleaning import clean_file
from sentiment.io import BATCH_ROWS, write_json
from sentiment.params.clean import CleanParams
from sentiment.params.stage import StageParams
from sentiment.runtime import StageError, run_stage

log = logging.getLogger("clean")


class CleanStageParams(StageParams):
    """The sections of params.yaml this stage reads."""

    clean: CleanParams = CleanParams()



def main(params: CleanStageParams, batch_rows: int = BATCH_ROWS) -> None:
    raw, interim = Path(params.paths.raw), Path(params.paths.interim)
    report, has_source = clean_file(raw, interim, params.clean, batch_rows)
    if not report["rows_in"]:
        interim.unlink(missing_ok=True)
        raise StageError(f"{params.paths.raw} holds no records: run the scrape stage first")
    source = params.clean.label_source
    if not has_source:
        interim.unlink(missing_ok=True)
        raise StageError(f"clean.label_source is {source!r} but no record in {params.paths.raw} "
                         f"has a {source}: set scrape.selectors.fields.{source}, or "
                         "clean.label_source (docs/crawling.md)")
    log.info("kept %d of %d rows; dropped %s", report["rows_out"], report["rows_in"],
             report["dropped"])
    if not report["rows_out"]:
        interim.unlink(missing_ok=True)
        raise StageError(f"clean dropped every row of {params.paths.raw}: {report['dropped']}")
    write_json(Path(params.paths.reports) / "clean.json", report)


if __name__ == "__main__":
    run_stage("clean", CleanStageParams, main)
