"""GET /metrics over real HTTP: Prometheus text that parses, counters that move with requests."""

from __future__ import annotations

import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from sentiment.model.predictor import Predictor
from sentiment.model.version import folder_md5
from sentiment.serving.schemas import Limits
from sentiment.serving.service import create_app
from tests.conftest import BIN_DIR, tool_env
from tests.e2e.test_serving import free_port, wait_for_health
from tests.sentiment.conftest import serving
from tests.sentiment.test_service import SAMPLES

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(url: str) -> Samples:
    """Every sample of /metrics, keyed by name and labels (parsed by prometheus-client)."""
    response = httpx.get(f"{url}/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    return {(sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(response.text)
            for sample in family.samples}


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


@pytest.fixture(scope="module")
def url(model_dir: Path) -> Iterator[str]:
    with serving(create_app(model_dir, Limits(16, 200))) as base:
        yield base


def test_counters_move_with_requests(url: str, model_dir: Path) -> None:
    before = scrape(url)
    batches = [SAMPLES[:1], SAMPLES[1:4], SAMPLES[4:12]]
    for batch in batches:
        assert httpx.post(f"{url}/v1/predict", json={"texts": batch}).status_code == 200
    assert httpx.post(f"{url}/v1/predict", json={"texts": [""]}).status_code == 422
    assert httpx.get(f"{url}/no/such/page").status_code == 404
    after = scrape(url)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    predict = {"route": "/v1/predict", "method": "POST"}
    assert moved("sentiment_http_requests_total", **predict, status="200") == 3
    assert moved("sentiment_http_requests_total", **predict, status="422") == 1
    assert moved("sentiment_http_requests_total", route="other", method="GET",
                 status="404") == 1
    assert moved("sentiment_http_request_duration_seconds_count", route="/v1/predict") == 4
    assert moved("sentiment_http_request_duration_seconds_sum", route="/v1/predict") > 0
    texts = [text for batch in batches for text in batch]
    assert moved("sentiment_texts_scored_total") == len(texts)
    assert moved("sentiment_request_texts_count") == len(batches)
    expected = Counter(item["label"] for item in Predictor.load(model_dir).predict(texts))
    for label in ("negative", "neutral", "positive"):
        assert moved("sentiment_predictions_total", label=label) == expected[label]


def test_model_version_and_process_metrics(url: str, model_dir: Path) -> None:
    samples = scrape(url)
    [info] = [dict(labels) for name, labels in samples if name == "sentiment_model_info"]
    assert info == {"md5": folder_md5(model_dir), "dvc_lock_md5": "", "git_revision": ""}
    assert value(samples, "process_resident_memory_bytes") > 10_000_000
    assert value(samples, "process_cpu_seconds_total") > 0


@pytest.mark.slow
def test_workers_add_up_their_counts(model_dir: Path) -> None:
    """With --workers 2 every scrape, whichever worker answers it, counts every request."""
    port = free_port()
    server = subprocess.Popen(
        [str(BIN_DIR / "sentiment"), "serve", "--model", str(model_dir), "--port", str(port),
         "--workers", "2", "--no-access-log"], env=tool_env(), stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_health(server, url)
        time.sleep(2)  # let the second worker start too
        with httpx.Client(base_url=url) as client:  # new connections spread over workers
            for _ in range(20):
                response = client.post("/v1/predict", json={"texts": ["fine"]},
                                       headers={"connection": "close"})
                assert response.status_code == 200
        counts = {value(scrape(url), "sentiment_http_requests_total", route="/v1/predict",
                        method="POST", status="200") for _ in range(6)}
        assert counts == {20}
    finally:
        server.terminate()
        server.wait(timeout=30)
