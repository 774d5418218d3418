"""Structured access logs: one JSON object per request, on standard output.

    {"time": "2026-11-26T01:02:03.456Z", "method": "POST", "route": "/v1/predict",
     "status": 200, "latency_ms": 1.234, "texts": 2, "key_id": "alice"}

``texts`` is the number of texts a predict request held (null elsewhere, and for a request
rejected before its texts were read); ``key_id`` names the API key used (null when keys are off
or none was valid). Neither the texts nor any key is ever logged.
"""

from __future__ import annotations

import functools
import json
import logging
import sys
import time

LOGGER = "sentiment.access"


def access_logger() -> logging.Logger:
    """The access logger, writing bare JSON lines to standard output (set up once)."""
    logger = logging.getLogger(LOGGER)
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
    return logger


@functools.lru_cache(maxsize=2)
def _second(epoch_second: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch_second))


def write(logger: logging.Logger, line: str) -> None:
    """Log ``line`` at INFO without ``Logger.info``'s search of the call stack for the caller
    (a third of the cost of a log call inside an ASGI stack); handlers and filters still run."""
    logger.handle(logging.LogRecord(logger.name, logging.INFO, "", 0, line, None, None))


def entry(method: str, route: str, status: int, seconds: float, texts: int | None,
          key_id: str | None, now: float | None = None) -> str:
    """One access-log line (``now``: epoch seconds, the current time by default)."""
    now = time.time() if now is None else now
    stamp = f"{_second(int(now))}.{int(now % 1 * 1000):03d}Z"
    return json.dumps({"time": stamp, "method": method, "route": route, "status": status,
                       "latency_ms": round(seconds * 1000, 3), "texts": texts,
                       "key_id": key_id})
