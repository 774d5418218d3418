"""Stage featurize: add NLTK tokens to each cleaned row (learns nothing from the data set).

Streams the rows a batch at a time through ``add_tokens``."""

from __future__ import annotations

import logging

from tqdm import tqdm

from sentiment.features import add_tokens, token_settings, with_tokens_schema
from sentiment.io import BATCH_ROWS, ParquetStreamWriter, iter_parquet, parquet_rows, parquet_schema
from sentiment.params import Params
from stages.common import run_stage

log = logging.getLogger("featurize")


def main(params: Params, batch_rows: int = BATCH_ROWS) -> None:
    settings = token_settings(params.featurize)
    source = params.paths.interim
    schema = with_tokens_schema(parquet_schema(source))
    with (ParquetStreamWriter(params.paths.features, schema) as writer,
          tqdm(total=parquet_rows(source), desc="tokenize", unit="row") as progress):
        for frame in iter_parquet(source, batch_rows):
            writer.write(add_tokens(frame, settings))
            progress.update(len(frame))
    log.info("tokenised %d rows", writer.rows)


if __name__ == "__main__":
    run_stage("featurize", main)
