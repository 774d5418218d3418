"""The whole of ``params.yaml``: every section, and no key outside them.

The ``params`` stage (and every ``sentiment`` command) validates the file with it; a pipeline
stage validates only the sections it reads (``sentiment.params.base.StageParams``), so editing
one section's schema reruns only the stages that read it.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from sentiment.params.base import Strict, read_params, validate
from sentiment.params.clean import CleanParams
from sentiment.params.compute import ComputeParams
from sentiment.params.evaluate import EvaluateParams
from sentiment.params.featurize import FeaturizeParams
from sentiment.params.monitor import MonitorParams
from sentiment.params.paths import PathsParams
from sentiment.params.scrape import ScrapeParams
from sentiment.params.split import SplitParams
from sentiment.params.train import TrainParams


class Params(Strict):
    seed: int = Field(ge=0)
    paths: PathsParams = PathsParams()
    scrape: ScrapeParams
    clean: CleanParams = CleanParams()
    featurize: FeaturizeParams = FeaturizeParams()
    split: SplitParams
    train: TrainParams = TrainParams()
    evaluate: EvaluateParams = EvaluateParams()
    monitor: MonitorParams = MonitorParams()
    compute: ComputeParams = ComputeParams()


def parse_params(raw: object, source: str = "params.yaml") -> Params:
    """Validate a parsed params mapping; raise ParamsError naming each bad key."""
    return validate(Params, raw, source)


def load_params(path: str | Path = "params.yaml") -> Params:
    """Read and validate the whole of ``params.yaml``."""
    return read_params(Params, path)
