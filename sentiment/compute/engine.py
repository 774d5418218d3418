"""The engine interface, the in-process engine, and how an engine is chosen."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from sentiment.params import ComputeParams

T = TypeVar("T")
R = TypeVar("R")

ENGINES = ("inprocess", "ray")


class ComputeError(RuntimeError):
    """The engine could not run the work (no cluster, Ray missing, a failed batch): one line."""


class Engine:
    """Runs a function over batches. ``remote`` engines pickle the function and each batch to
    other processes, so the function must be importable or picklable and pure."""

    remote = False

    def map_batches(self, fn: Callable[[T], R], batches: Iterable[T]) -> Iterator[R]:
        """``fn(batch)`` for each batch, yielded in input order."""
        raise NotImplementedError

    def close(self) -> None:
        """Release what the engine holds (a cluster connection)."""

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class InProcessEngine(Engine):
    """A plain lazy ``map`` in this process: one batch at a time, nothing to start."""

    def map_batches(self, fn: Callable[[T], R], batches: Iterable[T]) -> Iterator[R]:
        return map(fn, batches)


def each(fn: Callable[..., R], items: Iterable[T], /, *args: object, **kwargs: object) -> list[R]:
    """``[fn(item, *args, **kwargs) for item in items]``: turns a per-row function into a
    per-batch one (``partial(each, tokenize, settings=...)`` pickles by reference)."""
    return [fn(item, *args, **kwargs) for item in items]


def chunked(items: list[T], size: int) -> Iterator[list[T]]:
    """Consecutive slices of at most ``size`` items."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


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
