"""Stage featurize: add NLTK tokens to each cleaned row (learns nothing from the data set)."""

from __future__ import annotations

import logging

from tqdm import tqdm

from sentiment.features import token_settings, tokenize
from sentiment.io import read_parquet, write_parquet
from sentiment.params import Params
from stages.common import run_stage

log = logging.getLogger("featurize")


def main(params: Params) -> None:
    frame = read_parquet(params.paths.interim)
    settings = token_settings(params.featurize)
    frame["tokens"] = [tokenize(text, settings)
                       for text in tqdm(frame["text_norm"], desc="tokenize", unit="row")]
    log.info("tokenised %d rows", len(frame))
    write_parquet(params.paths.features, frame)


if __name__ == "__main__":
    run_stage("featurize", main)
