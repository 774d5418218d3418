"""Serving the model `dvc repro` built: `sentiment serve` and `sentiment predict`, end to end.

The service must predict exactly what the evaluate stage predicted: the same probabilities,
bit for bit, on every test row, whether a row arrives alone or in a batch, so the test metrics
recomputed from the service's answers equal the recorded `reports/metrics.json`.
"""

from __future__ import annotations

import json
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
import yaml

from sentiment.evaluation.metrics import classification_metrics
from sentiment.model.predictor import Predictor
from tests.conftest import BIN_DIR, run, tool_env

pytestmark = pytest.mark.slow

MODEL = "models/sentiment"
TEST_ROWS = "data/processed/test.parquet"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_health(server: subprocess.Popen, url: str, seconds: float = 120) -> None:
    """Wait until ``url``/health answers 200; fail with the server's stderr if it exits."""
    deadline = time.monotonic() + seconds
    while True:
        assert server.poll() is None, f"sentiment serve exited:\n{server.stderr.read()}"
        assert time.monotonic() < deadline, f"sentiment serve did not start in {seconds} s"
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.2)


@pytest.fixture(scope="module")
def service(built_project: Path) -> Iterator[str]:
    """`sentiment serve` on the built project's model, on a free loopback port, on the pinned
    route: the one whose bits evaluate's are (the fast route's tolerance: test_served_route)."""
    port = free_port()
    server = subprocess.Popen(
        [str(BIN_DIR / "sentiment"), "serve", "--model", MODEL, "--port", str(port),
         "--route", "pinned", "--no-access-log"], cwd=built_project, env=tool_env(),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_health(server, url)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


def served_probabilities(url: str, texts: list[str], labels: list[str]) -> np.ndarray:
    """The service's probabilities: the first 20 texts one per request, the rest in batches."""
    batches = [[text] for text in texts[:20]] + [texts[start : start + 256]
                                                 for start in range(20, len(texts), 256)]
    rows = []
    with httpx.Client(base_url=url, timeout=60) as client:
        for batch in batches:
            response = client.post("/v1/predict", json={"texts": batch})
            assert response.status_code == 200, response.text
            rows += [[item["probabilities"][label] for label in labels]
                     for item in response.json()["predictions"]]
    return np.array(rows, dtype=np.float32)


def test_service_predicts_exactly_what_evaluate_predicted(built_project: Path,
                                                          service: str) -> None:
    test = pd.read_parquet(built_project / TEST_ROWS)
    texts = test["text"].tolist()
    info = httpx.get(f"{service}/v1/model").json()
    labels = info["labels"]
    served = served_probabilities(service, texts, labels)
    evaluated = Predictor.load(built_project / MODEL).predict_proba(texts)
    # One text at a time against batches: the TF-IDF families give the same bits (tested per
    # family); a MiniLM encoder pads each batch, which moves the last digits only.
    np.testing.assert_array_equal(served.argmax(1), evaluated.argmax(1))
    np.testing.assert_allclose(served, evaluated, atol=1e-5)
    recorded = json.loads((built_project / "reports/metrics.json").read_text())["test"]
    y_true = test["label"].map(labels.index).to_numpy()
    metrics = classification_metrics(y_true, served, labels)
    assert (metrics["accuracy"], metrics["macro_f1"]) == (recorded["accuracy"],
                                                          recorded["macro_f1"])
    assert metrics["roc_auc_ovr"] == pytest.approx(recorded["roc_auc_ovr"], abs=1e-4)
    assert info["metrics"] == recorded


def test_model_version_is_what_dvc_lock_and_git_record(built_project: Path,
                                                       service: str) -> None:
    lock = yaml.safe_load((built_project / "dvc.lock").read_text())
    [locked] = [out["md5"] for out in lock["stages"]["release"]["outs"] if out["path"] == MODEL]
    head = run(["git", "rev-parse", "HEAD"], built_project).stdout.strip()
    version = httpx.get(f"{service}/v1/model").json()["version"]
    assert version == {"md5": locked, "dvc_lock_md5": locked, "git_revision": head,
                       "matches_lock": True}


def test_predict_cli_on_the_test_rows(built_project: Path, tmp_path: Path) -> None:
    output = tmp_path / "predictions.jsonl"
    run([str(BIN_DIR / "sentiment"), "predict", "--model", MODEL, "--input", TEST_ROWS,
         "--output", str(output), "--route", "pinned"], built_project)
    texts = pd.read_parquet(built_project / TEST_ROWS)["text"].tolist()
    lines = [json.loads(line) for line in output.read_text(encoding="utf-8").splitlines()]
    assert [line["text"] for line in lines] == texts
    assert [line["label"] for line in lines] == [
        prediction["label"] for prediction in Predictor.load(built_project / MODEL).predict(texts)]
