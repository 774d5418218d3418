"""``RayEngine``: batches as Ray tasks on a running cluster, results in input order.

The driver (a DVC stage, ``sentiment score``) connects with ``ray.init(address=...)``, puts the
function in the object store once, and submits one task per batch, at most ``max_in_flight``
at a time: when that many are out it waits for the oldest, yields it, and submits the next,
so results come back in input order and the driver holds a bounded number of batches. Tasks
spread over the cluster's nodes. Every worker gets, in its runtime environment, the
driver's own ``sentiment`` package (``py_modules``, so the cluster runs the code DVC hashed)
and the kernel pins of ``sentiment.kernels`` as environment variables, set before the worker
process imports NumPy or torch, so its floating-point bits match the driver's.
"""

from __future__ import annotations

import logging
import os
import socket
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

import sentiment
from sentiment.compute.engine import ComputeError, Engine
from sentiment.kernels import PINNED_ENVIRONMENT

T = TypeVar("T")
R = TypeVar("R")

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 5.0
# Addresses ray.init understands that are not a host:port to probe first.
SPECIAL_ADDRESSES = ("auto", "local")


def _apply(fn: Callable[[T], R], batch: T) -> R:
    """What a task runs (importable, so Ray ships it by reference)."""
    return fn(batch)


def first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def probe(address: str) -> None:
    """Fail in one line, at once, when nothing listens at ``host:port`` (``ray.init`` itself
    retries for minutes)."""
    if address in SPECIAL_ADDRESSES:
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise ComputeError(f"Ray address {address!r}: expected host:port (or ray://host:port)")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), CONNECT_TIMEOUT_S):
            pass
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise ComputeError(f"no Ray cluster at {address} ({reason}): start one with "
                           f"`ray start --head --port {port}` or fix RAY_ADDRESS / "
                           "compute.address") from None


def runtime_env() -> dict[str, Any]:
    """What every worker of this job gets: our package and the pinned kernels."""
    env_vars = dict(PINNED_ENVIRONMENT)
    if "PYTHONHASHSEED" in os.environ:
        env_vars["PYTHONHASHSEED"] = os.environ["PYTHONHASHSEED"]
    return {"env_vars": env_vars, "py_modules": [sentiment]}


class RayEngine(Engine):
    """Connects to the Ray cluster at ``address`` (``host:port`` of its head)."""

    remote = True

    def __init__(self, address: str | None, max_in_flight: int = 8) -> None:
        if not address:
            raise ComputeError("compute engine ray needs a cluster address: set RAY_ADDRESS "
                               "or compute.address (sentiment score: --address)")
        if max_in_flight < 1:
            raise ComputeError(f"max_in_flight must be at least 1, not {max_in_flight}")
        try:
            import ray
        except ImportError:
            raise ComputeError("compute engine ray: the ray package is not installed "
                               "(`make install`, or pip install -e '.[ray]')") from None
        self._ray = ray
        self.address = address
        self.max_in_flight = max_in_flight
        probe(address)
        self._owns = not ray.is_initialized()
        if self._owns:
            try:
                ray.init(address=address, runtime_env=runtime_env(), log_to_driver=False,
                         logging_level=logging.WARNING)
            except Exception as error:  # Ray raises several types; each is one user error
                raise ComputeError(f"could not join the Ray cluster at {address}: "
                                   f"{type(error).__name__}: {first_line(error)}") from None
        self._task = ray.remote(num_cpus=1, scheduling_strategy="SPREAD")(_apply)
        log.info("Ray cluster at %s: %g CPUs", address,
                 ray.cluster_resources().get("CPU", 0))

    def map_batches(self, fn: Callable[[T], R], batches: Iterable[T]) -> Iterator[R]:
        ray = self._ray
        function = ray.put(fn)
        pending: deque[tuple[int, Any]] = deque()
        try:
            for index, batch in enumerate(batches):
                pending.append((index, self._task.remote(function, batch)))
                if len(pending) >= self.max_in_flight:
                    yield self._collect(*pending.popleft())
            while pending:
                yield self._collect(*pending.popleft())
        finally:
            for _, ref in pending:  # a failed batch or an abandoned generator: stop the rest
                ray.cancel(ref)

    def _collect(self, index: int, ref: Any) -> Any:
        exceptions = self._ray.exceptions
        try:
            return self._ray.get(ref)
        except exceptions.RayTaskError as error:
            cause = getattr(error, "cause", None) or error
            raise ComputeError(f"batch {index} failed on the Ray cluster: "
                               f"{type(cause).__name__}: {first_line(cause)}") from None
        except exceptions.RayError as error:
            raise ComputeError(f"batch {index} was lost on the Ray cluster: "
                               f"{type(error).__name__}: {first_line(error)}") from None

    def close(self) -> None:
        if self._owns and self._ray.is_initialized():
            self._ray.shutdown()
        self._owns = False
