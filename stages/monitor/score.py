"""Monitor pipeline, stage score: score ``monitor.score.input`` with the current model."""

from __future__ import annotations

import logging
import os

from sentiment.compute.choose import engine_from_params
from sentiment.compute.engine import ComputeError
from sentiment.errors import InputError
from sentiment.model.predictor import Predictor
from sentiment.monitoring.score import ScoreSettings, model_version, score_to_parquet
from sentiment.params.compute import ComputeParams
from sentiment.params.monitor import MonitorParams
from sentiment.params.stage import StageParams
from sentiment.runtime import StageError, run_stage

log = logging.getLogger("score")


class ScoreStageParams(StageParams):
    """The sections of params.yaml this stage reads."""

    compute: ComputeParams = ComputeParams()
    monitor: MonitorParams = MonitorParams()



def main(params: ScoreStageParams) -> None:
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
    run_stage("score", ScoreStageParams, main)
