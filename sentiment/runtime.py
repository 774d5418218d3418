"""What every stage shares: logging set-up, params loading, seeding and clean user errors."""

from __future__ import annotations

import logging
import random
import sys
from collections.abc import Callable
from typing import TypeVar

import numpy as np

from sentiment.errors import ModelLoadError
from sentiment.params.base import ParamsError, read_params
from sentiment.params.paths import PathsParams
from sentiment.params.stage import StageParams

Stage = TypeVar("Stage", bound=StageParams)


class StageError(RuntimeError):
    """A user-facing failure (bad input, empty crawl): reported in one line, no traceback."""


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (if imported by the stage) from params."""
    random.seed(seed)
    np.random.seed(seed)
    if "torch" in sys.modules:
        import torch

        torch.manual_seed(seed)


def way_back(reports: str = PathsParams().reports) -> str:
    """How to return to the last committed params and outputs after a failed stage.

    ``dvc repro`` has by then recorded the stages that succeeded in ``dvc.lock`` and may have
    left partial outputs of the failed one, so the lock and the git-tracked reports go back
    with ``params.yaml``, and ``--force`` lets ``dvc checkout`` replace the partial outputs.
    """
    return (f"nothing committed is lost; to go back to the last committed params and outputs "
            f"run `git checkout -- params.yaml dvc.lock {reports} && dvc checkout --force` "
            f"(`dvc pull` if the cache lacks them), or fix the error and rerun `dvc repro`")


def run_stage(name: str, schema: type[Stage], body: Callable[[Stage], None]) -> None:
    """Configure logging, validate the sections of params.yaml that ``schema`` declares, seed,
    run ``body``; exit 2 on a user error, 1 on any other failure (with its traceback), each
    followed by the way back."""
    logging.basicConfig(level=logging.INFO, format=f"%(levelname)s {name}: %(message)s")
    log = logging.getLogger(name)
    reports = PathsParams().reports
    try:
        params = read_params(schema)
        reports = params.paths.reports
        seed_everything(params.seed)
        body(params)
    except (ParamsError, StageError, ModelLoadError, FileNotFoundError) as error:
        log.error("%s", error)
        log.info("%s", way_back(reports))
        sys.exit(2)
    except Exception:
        log.exception("failed unexpectedly")
        log.info("%s", way_back(reports))
        sys.exit(1)
