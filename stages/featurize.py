"""Stage featurize: add NLTK tokens to each cleaned row (learns nothing from the data set)."""

from __future__ import annotations

import logging
from functools import partial

from tqdm import tqdm

from sentiment.compute.engine import ComputeError, chunked, each, engine_from_params
from sentiment.features import token_settings, tokenize
from sentiment.io import read_parquet, write_parquet
from sentiment.params import Params
from stages.common import StageError, run_stage

log = logging.getLogger("featurize")


def main(params: Params) -> None:
    frame = read_parquet(params.paths.interim)
    settings = token_settings(params.featurize)
    batches = chunked(frame["text_norm"].tolist(), params.compute.batch_rows)
    try:
        with (engine_from_params(params.compute) as engine,
              tqdm(total=len(frame), desc="tokenize", unit="row") as bar):
            tokens = []
            for batch in engine.map_batches(partial(each, tokenize, settings=settings), batches):
                tokens.extend(batch)
                bar.update(len(batch))
    except ComputeError as error:
        raise StageError(str(error)) from None
    frame["tokens"] = tokens
    log.info("tokenised %d rows", len(frame))
    write_parquet(params.paths.features, frame)


if __name__ == "__main__":
    run_stage("featurize", main)
