"""Stage split: train / val / test by a stable hash of the normalised text.

Streams the rows a batch at a time into the three files, each in input order."""

from __future__ import annotations

import logging
from contextlib import ExitStack
from pathlib import Path

from sentiment.data.splitting import SPLITS, SplitCounter, assign_splits
from sentiment.io import BATCH_ROWS, ParquetStreamWriter, iter_parquet, parquet_schema, write_json
from sentiment.params.split import SplitParams
from sentiment.params.stage import StageParams
from sentiment.runtime import StageError, run_stage

log = logging.getLogger("split")


class SplitStageParams(StageParams):
    """The sections of params.yaml this stage reads."""

    split: SplitParams



def main(params: SplitStageParams, batch_rows: int = BATCH_ROWS) -> None:
    source = params.paths.features
    schema = parquet_schema(source)
    counter = SplitCounter()
    with ExitStack() as stack:
        writers = {name: stack.enter_context(ParquetStreamWriter(
            Path(params.paths.processed) / f"{name}.parquet", schema)) for name in SPLITS}
        for frame in iter_parquet(source, batch_rows):
            splits = assign_splits(frame, params.split.fractions, params.split.salt)
            counter.add(frame, splits)
            for name, writer in writers.items():
                writer.write(frame.loc[splits == name])
    for name in SPLITS:
        if not writers[name].rows:
            raise StageError(f"split '{name}' is empty: too few rows ({counter.total}) "
                             f"for split.fractions {params.split.fractions.model_dump()}")
        log.info("%s: %d rows", name, writers[name].rows)
    write_json(Path(params.paths.reports) / "split.json", counter.report())


if __name__ == "__main__":
    run_stage("split", SplitStageParams, main)
