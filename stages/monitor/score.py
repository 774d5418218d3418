"""Monitor pipeline, stage score: score ``monitor.score.input`` with the current model."""

from __future__ import annotations

import logging
import os

from sentiment.compute.engine import ComputeError, engine_from_params
from sentiment.monitoring.inputs import InputError
from sentiment.monitoring.score import ScoreSettings, model_version, score_to_parquet
from sentiment.params import Params
from sentiment.predictor import Predictor
from stages.common import StageError, run_stage

log = logging.getLogger("score")


def main(params: Params) -> None:
    settings = params.monitor.score
    try:
        with (Predictor.load(params.paths.model, workers=os.cpu_count() or 1) as predictor,
              engine_from_params(params.compute) as engine):
            rows = score_to_parquet(
                predictor, settings.input, settings.output, model_version(params.paths.model),
                ScoreSettings(settings.text_column, settings.id_column, settings.chunk_rows),
                engine, params.paths.model)
    except (InputError, ComputeError) as error:
        raise StageError(str(error)) from None
    log.info("%d rows of %s scored into %s", rows, settings.input, settings.output)


if __name__ == "__main__":
    run_stage("score", main)
