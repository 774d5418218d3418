"""API keys over real HTTP: none, wrong, right, a key file that changes or breaks."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from sentiment.serving.auth import KeyFileError, KeyStore, hash_key, parse_keys
from sentiment.serving.schemas import Limits
from sentiment.serving.service import create_app
from tests.sentiment.conftest import serving
from tests.sentiment.test_service import schemathesis

KEYS = {"alice": "alice-secret-key-0123456789", "bob": "bob-secret-key-9876543210"}
BODY = {"texts": ["great flight"]}


def write_keys(path: Path, keys: dict[str, str]) -> None:
    path.write_text("# key-id:sha256\n" + "".join(f"{key_id}:{hash_key(key)}\n"
                                                    for key_id, key in keys.items()))


@pytest.fixture(scope="module")
def key_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("keys") / "api-keys"
    write_keys(path, KEYS)
    return path


@pytest.fixture(scope="module")
def url(model_dir: Path, key_file: Path) -> Iterator[str]:
    with serving(create_app(model_dir, Limits(16, 200), api_keys=key_file)) as base:
        yield base


def predict(url: str, key: str | None) -> httpx.Response:
    headers = {"X-API-Key": key} if key is not None else {}
    return httpx.post(f"{url}/v1/predict", json=BODY, headers=headers, timeout=30)


def test_predict_needs_a_valid_key(url: str) -> None:
    missing, wrong = predict(url, None), predict(url, KEYS["alice"] + "x")
    assert (missing.status_code, wrong.status_code) == (401, 401)
    assert missing.json()["detail"].startswith("no API key")
    assert wrong.json()["detail"].startswith("an invalid API key")
    for key in KEYS.values():
        assert predict(url, key).status_code == 200


def test_health_metrics_model_and_page_stay_open(url: str) -> None:
    for path in ("/health", "/metrics", "/v1/model", "/"):
        assert httpx.get(f"{url}{path}").status_code == 200, path


def test_the_spec_declares_the_key(url: str) -> None:
    spec = httpx.get(f"{url}/openapi.json").json()
    assert spec["components"]["securitySchemes"]["ApiKey"] == {
        "type": "apiKey", "in": "header", "name": "X-API-Key"}
    assert spec["paths"]["/v1/predict"]["post"]["security"] == [{"ApiKey": []}]
    assert "401" in spec["paths"]["/v1/predict"]["post"]["responses"]


def test_a_changed_key_file_is_reloaded(model_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "api-keys"
    write_keys(path, KEYS)
    with serving(create_app(model_dir, Limits(16, 200), api_keys=path)) as base:
        assert predict(base, KEYS["alice"]).status_code == 200
        write_keys(path, {"bob": KEYS["bob"], "carol": "carol-secret-key-00000000000"})
        assert predict(base, KEYS["alice"]).status_code == 401  # revoked
        assert predict(base, "carol-secret-key-00000000000").status_code == 200  # added
        path.write_text("carol:not-a-hash\n")  # a broken file locks predict, loudly
        broken = predict(base, KEYS["bob"])
        assert broken.status_code == 503
        assert "API key file is invalid" in broken.json()["detail"]
        path.unlink()
        assert predict(base, KEYS["bob"]).status_code == 503
        write_keys(path, {"bob": KEYS["bob"]})
        assert predict(base, KEYS["bob"]).status_code == 200


@pytest.mark.parametrize(("text", "message"), [
    ("alice:" + "0" * 63, r"keys:2: expected <key-id>:<sha256"),
    ("alice key:" + "0" * 64, r"keys:2: expected"),
    (f"a:{'0' * 64}\na:{'1' * 64}", r"keys:3: key id 'a' appears twice"),
    ("# nobody", r"no keys"),
])
def test_a_malformed_key_file_is_named_by_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "keys"
    path.write_text("# comment\n" + text + "\n")
    with pytest.raises(KeyFileError, match=message):
        parse_keys(path.read_text(), path)
    with pytest.raises(KeyFileError, match=message):
        KeyStore(path)


def test_a_missing_key_file_is_refused_at_start(model_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="nowhere: cannot read the API key file"):
        create_app(model_dir, Limits(16, 200), api_keys=tmp_path / "nowhere")


def test_schemathesis_with_keys_on(url: str, tmp_path: Path) -> None:
    schemathesis(url, tmp_path, f"X-API-Key: {KEYS['bob']}")
