"""The engine interface, the in-process engine, and how an engine is chosen."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

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
