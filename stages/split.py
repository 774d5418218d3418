"""Stage split: train / val / test by a stable hash of the normalised text."""

from __future__ import annotations

import logging
from pathlib import Path

from sentiment.io import read_parquet, write_json, write_parquet
from sentiment.params import Params
from sentiment.splitting import SPLITS, assign_splits, split_balance
from stages.common import StageError, run_stage

log = logging.getLogger("split")


def main(params: Params) -> None:
    frame = read_parquet(params.paths.features)
    splits = assign_splits(frame, params.split.fractions, params.split.salt)
    report = split_balance(frame, splits)
    for name in SPLITS:
        part = frame.loc[splits == name]
        if part.empty:
            raise StageError(f"split '{name}' is empty: too few rows ({len(frame)}) "
                             f"for split.fractions {params.split.fractions.model_dump()}")
        write_parquet(Path(params.paths.processed) / f"{name}.parquet", part)
        log.info("%s: %d rows", name, len(part))
    write_json(Path(params.paths.reports) / "split.json", report)


if __name__ == "__main__":
    run_stage("split", main)
