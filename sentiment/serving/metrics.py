"""Prometheus metrics of the service, exposed at ``GET /metrics`` in the text format.

    sentiment_http_requests_total{route, method, status}     requests answered
    sentiment_http_request_duration_seconds{route}           latency histogram
    sentiment_request_texts                                  texts per predict request
    sentiment_texts_scored_total                             texts predicted
    sentiment_predictions_total{label}                       predictions by label
    sentiment_model_info{md5, dvc_lock_md5, git_revision}    1, the model being served
    process_* / python_*                                     CPU, memory, file descriptors, GC

With several uvicorn workers each process counts on its own, so ``sentiment serve --workers N``
sets ``PROMETHEUS_MULTIPROC_DIR`` and every worker answers ``/metrics`` with the sum over all
workers (prometheus-client's multiprocess mode); ``process_*`` and ``python_*`` metrics are then
absent, as that mode cannot aggregate them.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

from sentiment.model.version import ModelVersion

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = CONTENT_TYPE_LATEST
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
TEXTS_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


class Metrics:
    """The service's metrics in a registry of their own (one per app)."""

    def __init__(self, version: ModelVersion, labels: Sequence[str]) -> None:
        self.multiprocess = bool(os.environ.get(MULTIPROCESS_ENV))
        self.registry = CollectorRegistry()
        if self.multiprocess:  # values live in shared files; the collector sums them
            multiprocess.MultiProcessCollector(self.registry)
            own = None
        else:
            for collector in (ProcessCollector, PlatformCollector, GCCollector):
                collector(registry=self.registry)
            own = self.registry
        self.requests = Counter("sentiment_http_requests", "HTTP requests answered",
                                ["route", "method", "status"], registry=own)
        self.latency = Histogram("sentiment_http_request_duration_seconds",
                                 "time from request to response, by route", ["route"],
                                 buckets=LATENCY_BUCKETS, registry=own)
        self.batch = Histogram("sentiment_request_texts", "texts per predict request",
                               buckets=TEXTS_BUCKETS, registry=own)
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        self.texts = Counter("sentiment_texts_scored", "texts predicted", registry=own)
        predictions = Counter("sentiment_predictions", "predictions, by predicted label",
                              ["label"], registry=own)
        self.by_label = {label: predictions.labels(label) for label in labels}
        info = Gauge("sentiment_model_info", "the model being served (value 1)",
                     ["md5", "dvc_lock_md5", "git_revision"], registry=own,
                     multiprocess_mode="max")
        info.labels(version.md5, version.dvc_lock_md5 or "", version.git_revision or "").set(1)

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        """Count and time one answered request (``route`` and ``method`` from a fixed set)."""
        children = self._children.get((route, method, status))
        if children is None:  # labels() takes a lock and builds a key: done once per series
            children = self._children[route, method, status] = (
                self.requests.labels(route, method, str(status)), self.latency.labels(route))
        children[0].inc()
        children[1].observe(seconds)

    def scored(self, labels: Sequence[str]) -> None:
        """Count one predict request's texts and their predicted labels."""
        self.batch.observe(len(labels))
        self.texts.inc(len(labels))
        for label in labels:
            self.by_label[label].inc()

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
