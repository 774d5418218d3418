"""The HTTP service over real HTTP: uvicorn on a free 127.0.0.1 port, a toy model."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
import yaml

from sentiment.model.folder import ModelLoadError
from sentiment.model.predictor import Predictor
from sentiment.model.version import folder_md5
from sentiment.serving.schemas import Limits
from sentiment.serving.service import INLINE_MAX_TEXTS, PAGE, STATIC, create_app
from tests.conftest import run, tool_env
from tests.sentiment.conftest import serving
from tests.sentiment.test_model_artifact import TEXTS

LIMITS = Limits(max_batch_size=16, max_text_chars=200)
SAMPLES = [text for texts in TEXTS.values() for text in texts] + [
    "Great flight!!! @United thanks https://t.co/x", "call 1 (555) 123-4567 . . . now", "😀",
    "&amp; fish &#32;chips", "x", "LOST MY BAG AGAIN", "ok " * 60]


@pytest.fixture(scope="module")
def url(model_dir: Path) -> Iterator[str]:
    with serving(create_app(model_dir, LIMITS)) as base:
        yield base


@pytest.fixture(scope="module")
def client(url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=url, timeout=30) as session:
        yield session


def post(client: httpx.Client, body: bytes) -> httpx.Response:
    return client.post("/v1/predict", content=body, headers={"content-type": "application/json"})


def test_health_docs_and_spec(client: httpx.Client) -> None:
    assert client.get("/health").json() == {"status": "ok"}
    assert "swagger" in client.get("/docs").text.lower()
    spec = client.get("/openapi.json").json()
    texts = spec["components"]["schemas"]["PredictRequest"]["properties"]["texts"]
    assert (texts["maxItems"], texts["items"]["maxLength"]) == (16, 200)
    assert set(spec["paths"]["/v1/predict"]["post"]["responses"]) == {"200", "413", "422"}


def test_docs_load_nothing_from_another_host(client: httpx.Client) -> None:
    """/docs names only its own files (Swagger UI from the fastapi-offline wheel), each served."""
    page = client.get("/docs").text
    links = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert sorted(links) == ["/docs/favicon.png", "/docs/swagger-ui-bundle.js",
                             "/docs/swagger-ui.css"]
    assert "http" not in " ".join(links) and "cdn" not in page
    for link in links:
        response = client.get(link)
        assert response.status_code == 200 and len(response.content) > 1000


@pytest.mark.parametrize(("path", "media_type"), [
    ("/", "text/html"), ("/app.js", "text/javascript"), ("/app.css", "text/css")])
def test_page_files_are_served_as_they_are(client: httpx.Client, path: str,
                                           media_type: str) -> None:
    plain = client.get(path)
    assert plain.status_code == 200
    assert plain.headers["content-type"].startswith(media_type)
    assert plain.content == (STATIC / PAGE[path][0]).read_bytes()
    # Query parameters change nothing (the endpoints take none).
    probed = client.get(path, params={"content": "<script>", "media_type": "text/plain"})
    assert (probed.content, probed.headers["content-type"]) == (
        plain.content, plain.headers["content-type"])


@pytest.mark.parametrize("size", [1, INLINE_MAX_TEXTS, 16])  # on the event loop or a thread
def test_predictions_are_the_predictors_in_order(client: httpx.Client, model_dir: Path,
                                                 size: int) -> None:
    texts = SAMPLES[-size:]
    response = client.post("/v1/predict", json={"texts": texts})
    assert response.status_code == 200
    body = response.json()
    assert body["predictions"] == Predictor.load(model_dir).predict(texts)
    assert body["model_version"] == folder_md5(model_dir)


def test_a_text_alone_gets_exactly_its_batch_probabilities(client: httpx.Client,
                                                           model_dir: Path) -> None:
    expected = Predictor.load(model_dir).predict_proba(SAMPLES)
    alone = [client.post("/v1/predict", json={"texts": [text]}).json()["predictions"][0]
             for text in SAMPLES]
    labels = list(alone[0]["probabilities"])
    served = np.array([[item["probabilities"][label] for label in labels] for item in alone],
                      dtype=np.float32)
    np.testing.assert_array_equal(served, expected)


def test_batch_over_the_limit_is_413_naming_it(client: httpx.Client) -> None:
    response = client.post("/v1/predict", json={"texts": ["fine"] * 17})
    assert response.status_code == 413
    assert response.json()["detail"] == "17 texts exceed max_batch_size=16; split the batch"


def test_text_over_the_limit_is_422_naming_it(client: httpx.Client) -> None:
    response = client.post("/v1/predict", json={"texts": ["fine", "x" * 201]})
    assert response.status_code == 422
    assert response.json()["detail"] == "texts[1] is longer than max_text_chars=200"


@pytest.mark.parametrize("blank", ["", " ", "\t\n ", "\u00a0\u3000\ufeff"])
def test_empty_or_whitespace_text_is_422(client: httpx.Client, blank: str) -> None:
    response = client.post("/v1/predict", json={"texts": ["fine", blank]})
    assert response.status_code == 422
    assert response.json()["detail"] == "texts[1] is empty or whitespace-only"


@pytest.mark.parametrize(("body", "message"), [
    (b'{"texts": ["a"', "malformed JSON"),
    (b"not json", "malformed JSON"),
    (b"\xff\xfe{}", "malformed JSON"),
    (b"", "JSON body"),
    (b"[]", "body"),
    (b'{"texts": "a"}', "texts"),
    (b'{"texts": [1]}', "texts.0"),
    (b'{"texts": []}', "texts"),
    (b'{"texts": ["a"], "extra": 1}', "extra"),
])
def test_malformed_requests_are_422_with_a_message(client: httpx.Client, body: bytes,
                                                   message: str) -> None:
    response = post(client, body)
    assert response.status_code == 422
    assert message in response.json()["detail"]


@pytest.mark.parametrize(("body", "message"), [
    (b"[" * 20_000 + b"]" * 20_000, "malformed JSON body: nested too deeply"),  # < max body
    (b'{"texts": [' + b"9" * 5000 + b"]}", "malformed JSON body: a number with more than 4300"),
])
def test_deep_nesting_and_huge_numbers_are_named(client: httpx.Client, body: bytes,
                                                 message: str) -> None:
    response = post(client, body)
    assert response.status_code == 422
    assert response.json()["detail"].startswith(message)


def test_model_reports_labels_version_metrics_and_limits(model_dir: Path,
                                                         tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(model_dir, repo / "models/sentiment")
    md5 = folder_md5(repo / "models/sentiment")
    lock = {"schema": "2.0", "stages": {
        "release": {"cmd": "python -m stages.release",
                  "outs": [{"path": "models/other", "md5": "0" * 32 + ".dir"},
                           {"path": "models/sentiment", "hash": "md5", "md5": md5}]}}}
    (repo / "dvc.lock").write_text(yaml.safe_dump(lock))
    test_metrics = {"accuracy": 0.5, "macro_f1": 0.4}
    (repo / "reports").mkdir()
    (repo / "reports/metrics.json").write_text(json.dumps({"test": test_metrics}))
    run(["git", "init", "-q"], repo)
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-qm", "model"], repo)
    head = run(["git", "rev-parse", "HEAD"], repo).stdout.strip()
    with serving(create_app(repo / "models/sentiment", LIMITS)) as base:
        info = httpx.get(f"{base}/v1/model").json()
    cost = info.pop("cost")  # measured at start: positive, the largest request = 16 longest texts
    assert cost["longest_text_ms"] > 0
    assert cost["largest_request_s"] == pytest.approx(16 * cost["longest_text_ms"] / 1000,
                                                      abs=0.01)
    assert info == {"labels": ["negative", "neutral", "positive"], "route": "fast",
                    "version": {"md5": md5, "dvc_lock_md5": md5, "git_revision": head,
                                "matches_lock": True},
                    "metrics": test_metrics,
                    "limits": {"max_batch_size": 16, "max_text_chars": 200,
                               "max_body_bytes": 16 * (200 * 12 + 4) + 4096}}


def test_model_outside_a_repository_has_only_its_hash(model_dir: Path, tmp_path: Path) -> None:
    folder = Path(shutil.copytree(model_dir, tmp_path / "loose"))
    with serving(create_app(folder, LIMITS)) as base:
        info = httpx.get(f"{base}/v1/model").json()
    assert info["version"] == {"md5": folder_md5(folder), "dvc_lock_md5": None,
                               "git_revision": None, "matches_lock": None}
    assert info["metrics"] is None


def test_a_model_that_differs_from_dvc_lock_is_refused_unless_allowed(
        model_dir: Path, tmp_path: Path) -> None:
    folder = Path(shutil.copytree(model_dir, tmp_path / "models/sentiment"))
    lock = tmp_path / "dvc.lock"
    lock.write_text(yaml.safe_dump({"schema": "2.0", "stages": {"release": {"outs": [
        {"path": "models/sentiment", "md5": "0" * 32 + ".dir"}]}}}))
    with pytest.raises(ModelLoadError, match=r"differs from 0{32}\.dir, which dvc.lock records"):
        create_app(folder, LIMITS, lock=lock)
    app = create_app(folder, LIMITS, lock=lock, allow_unlocked_model=True)
    with serving(app) as base:
        version = httpx.get(f"{base}/v1/model").json()["version"]
    assert version["matches_lock"] is False and version["md5"] == folder_md5(folder)


def test_named_lock_or_metrics_file_must_exist(model_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nowhere.lock"):
        create_app(model_dir, LIMITS, lock=tmp_path / "nowhere.lock")


def test_broken_model_folder_is_refused_naming_the_file(model_dir: Path,
                                                        tmp_path: Path) -> None:
    folder = Path(shutil.copytree(model_dir, tmp_path / "broken"))
    (folder / "vectorizer.json").unlink()
    with pytest.raises(ModelLoadError, match="vectorizer.json"):
        create_app(folder, LIMITS)


def test_limits_from_the_environment() -> None:
    assert Limits.from_env({"SENTIMENT_MAX_BATCH_SIZE": "3"}) == Limits(3, 5000)
    with pytest.raises(ValueError, match="SENTIMENT_MAX_TEXT_CHARS"):
        Limits.from_env({"SENTIMENT_MAX_TEXT_CHARS": "many"})
    with pytest.raises(ValueError, match="max_batch_size"):
        Limits(max_batch_size=0)


def test_serve_without_a_model_exits_2_naming_it(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", "from sentiment.cli import main; main()", "serve", "--model",
         str(tmp_path / "missing")], capture_output=True, text=True, env=tool_env(), timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "missing: no such model folder" in result.stderr


def schemathesis(url: str, folder: Path, *headers: str) -> None:
    """Run schemathesis over the whole spec (extra ``-H`` headers); assert it found nothing."""
    config = folder / "schemathesis.toml"
    # 413 is how this service rejects a batch over max_batch_size.
    config.write_text('[checks.negative_data_rejection]\n'
                      'expected-statuses = ["400", "413", "422"]\n')
    options = [option for header in headers for option in ("-H", header)]
    result = subprocess.run(
        [str(Path(sys.executable).parent / "schemathesis"), "--config-file", str(config), "run",
         f"{url}/openapi.json", "--checks", "all", "--max-examples", "150", "--seed", "1",
         "--generation-database", "none", "--no-color", *options],
        cwd=folder, capture_output=True, text=True, env=tool_env(), timeout=300)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "No issues found" in result.stdout


def test_schemathesis_finds_no_server_error_or_schema_violation(url: str,
                                                                tmp_path: Path) -> None:
    schemathesis(url, tmp_path)
