"""Monitor pipeline, stage drift: the scored data against the training data.

Records the report (``drift.json``, a DVC metric, and ``drift.png``) and succeeds even when it
finds drift, so that the figures are versioned and ``dvc metrics diff`` shows them; the verdict
is the report's ``drift`` field (``sentiment drift`` is the command that exits 1 on it).
"""

from __future__ import annotations

import logging
from pathlib import Path

from sentiment.errors import InputError
from sentiment.model.predictor import Predictor
from sentiment.monitoring.drift import check
from sentiment.params.monitor import MonitorParams
from sentiment.params.stage import StageParams
from sentiment.runtime import StageError, run_stage

log = logging.getLogger("drift")


class DriftStageParams(StageParams):
    """The sections of params.yaml this stage reads."""

    monitor: MonitorParams = MonitorParams()



def main(params: DriftStageParams) -> None:
    settings = params.monitor.drift
    reference = str(Path(params.paths.processed) / "train.parquet")
    try:
        with Predictor.load(params.paths.model) as predictor:
            report = check(reference, params.monitor.score.output, predictor, settings.reports,
                           settings, params.seed, params.monitor.score.text_column)
    except InputError as error:
        raise StageError(str(error)) from None
    log.info("%s", report["summary"])


if __name__ == "__main__":
    run_stage("drift", DriftStageParams, main)
