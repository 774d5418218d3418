"""Stage featurize: add NLTK tokens to each cleaned row (learns nothing from the data set).

Streams the rows a batch at a time through ``add_tokens``, in this process or on a Ray
cluster (``compute.engine``); the output bytes are the same either way and for any batch size.
"""

from __future__ import annotations

import logging
from functools import partial

from tqdm import tqdm

from sentiment.compute.choose import engine_from_params
from sentiment.compute.engine import ComputeError
from sentiment.data.features import add_tokens, token_settings, with_tokens_schema
from sentiment.io import ParquetStreamWriter, iter_parquet, parquet_rows, parquet_schema
from sentiment.params.compute import ComputeParams
from sentiment.params.featurize import FeaturizeParams
from sentiment.params.stage import StageParams
from sentiment.runtime import StageError, run_stage

log = logging.getLogger("featurize")


class FeaturizeStageParams(StageParams):
    """The sections of params.yaml this stage reads."""

    compute: ComputeParams = ComputeParams()
    featurize: FeaturizeParams = FeaturizeParams()



def main(params: FeaturizeStageParams, batch_rows: int | None = None) -> None:
    """``batch_rows`` (default ``compute.batch_rows``): rows read, and sent to a worker, at once."""
    settings = token_settings(params.featurize)
    source = params.paths.interim
    schema = with_tokens_schema(parquet_schema(source))
    batches = iter_parquet(source, batch_rows or params.compute.batch_rows)
    try:
        with (engine_from_params(params.compute) as engine,
              ParquetStreamWriter(params.paths.features, schema) as writer,
              tqdm(total=parquet_rows(source), desc="tokenize", unit="row") as progress):
            for frame in engine.map_batches(partial(add_tokens, settings=settings), batches):
                writer.write(frame)
                progress.update(len(frame))
    except ComputeError as error:
        raise StageError(str(error)) from None
    log.info("tokenised %d rows", writer.rows)


if __name__ == "__main__":
    run_stage("featurize", FeaturizeStageParams, main)
