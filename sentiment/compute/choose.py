"""How an engine is chosen: by name, or by the ``compute`` params (``RAY_ADDRESS`` wins)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from sentiment.compute.engine import ComputeError, Engine, InProcessEngine

if TYPE_CHECKING:
    from sentiment.params.compute import ComputeParams

ENGINES = ("inprocess", "ray")


def open_engine(engine: str = "inprocess", address: str | None = None,
                max_in_flight: int = 8) -> Engine:
    """The engine named ``engine``; for ``ray``, connected to the cluster at ``address``."""
    if engine == "inprocess":
        return InProcessEngine()
    if engine != "ray":
        raise ComputeError(f"unknown compute engine {engine!r} (expected one of {ENGINES})")
    from sentiment.compute.ray_engine import RayEngine

    return RayEngine(address, max_in_flight=max_in_flight)


def engine_from_params(compute: ComputeParams) -> Engine:
    """The engine the ``compute`` params choose. The ``RAY_ADDRESS`` environment variable wins
    over ``compute.address``, so a machine points every run at its own cluster without editing
    the committed params (and without touching anything DVC tracks)."""
    return open_engine(compute.engine, os.environ.get("RAY_ADDRESS") or compute.address,
                       compute.max_in_flight)
