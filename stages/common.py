"""What every stage shares: logging set-up, params loading, seeding and clean user errors."""

from __future__ import annotations

import logging
import random
import sys
from collections.abc import Callable

import numpy as np

from sentiment.errors import ModelLoadError
from sentiment.params import Params, ParamsError, load_params


class StageError(RuntimeError):
    """A user-facing failure (bad input, empty crawl): reported in one line, no traceback."""


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (if imported by the stage) from params."""
    random.seed(seed)
    np.random.seed(seed)
    if "torch" in sys.modules:
        import torch

        torch.manual_seed(seed)


def run_stage(name: str, body: Callable[[Params], None]) -> None:
    """Configure logging, validate params, seed, run ``body``; exit 2 on a user error."""
    logging.basicConfig(level=logging.INFO, format=f"%(levelname)s {name}: %(message)s")
    log = logging.getLogger(name)
    try:
        params = load_params()
        seed_everything(params.seed)
        body(params)
    except (ParamsError, StageError, ModelLoadError, FileNotFoundError) as error:
        log.error("%s", error)
        sys.exit(2)
