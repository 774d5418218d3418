"""The first stage on S3 (a real SeaweedFS server) through the real dvc CLI: an ``s3://`` prefix
read by params alone, a refused or unreachable store as one line that leaves the earlier raw
output in place, and a ``dvc import-url`` snapshot that ``dvc update`` refreshes and that
reruns the stage only when the object changed."""

from __future__ import annotations

import gzip
import json
import time
from pathlib import Path

import pytest

from scripts.storage import S3Server, free_port
from tests.conftest import run, write_params

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("isolated_env")]

HEADER = "review_id,body,verdict\n"


def rows(start: int, stop: int) -> str:
    labels = ["negative", "neutral", "positive"]
    return "".join(f"{i},\"review {i}, with a comma\",{labels[i % 3]}\n"
                   for i in range(start, stop))


def credentials(s3: S3Server, secret: str | None = None) -> dict[str, str]:
    return {"AWS_ACCESS_KEY_ID": s3.access_key,
            "AWS_SECRET_ACCESS_KEY": secret or s3.secret_key, "AWS_ENDPOINT_URL": s3.endpoint}


COLUMNS = {"text": "body", "id": "review_id", "label": "verdict"}


def test_an_s3_prefix_by_params_alone_and_its_failures(server: S3Server, project: Path) -> None:
    client = server.client()
    client.put_object(Bucket=server.bucket, Key="reviews/part-1.csv.gz",
                      Body=gzip.compress((HEADER + rows(0, 40)).encode()))
    client.put_object(Bucket=server.bucket, Key="reviews/part-2.csv",
                      Body=(HEADER + rows(40, 60)).encode())
    location = f"s3://{server.bucket}/reviews/"
    write_params(project, {"scrape": {"source": "files", "files": {"location": location},
                                      "columns": COLUMNS}})
    run(["dvc", "repro", "scrape"], project, **credentials(server))
    raw = project / "data/raw/records.jsonl"
    records = [json.loads(line) for line in raw.read_text().splitlines()]
    assert len(records) == 60 and [r["id"] for r in records] == sorted(str(i) for i in range(60))
    report = json.loads((project / "reports/scrape.json").read_text())
    assert [item["path"] for item in report["read"]] == [
        f"s3://{server.bucket}/reviews/part-1.csv.gz", f"s3://{server.bucket}/reviews/part-2.csv"]
    assert all(item["etag"] for item in report["read"])
    before = raw.read_bytes()

    refused = run(["dvc", "repro", "-f", "scrape"], project, check=False,
                  **credentials(server, secret="not-the-secret"))
    errors = [line for line in refused.stderr.splitlines() if line.startswith("ERROR scrape:")]
    assert refused.returncode != 0 and "Traceback" not in refused.stderr
    assert len(errors) == 1 and f"{location}: access denied" in errors[0], refused.stderr
    assert raw.read_bytes() == before

    started = time.monotonic()
    down = run(["dvc", "repro", "-f", "scrape"], project, check=False,
               **{**credentials(server), "AWS_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}"})
    assert down.returncode != 0 and "Traceback" not in down.stderr
    assert time.monotonic() - started < 60
    assert any(line.startswith("ERROR scrape:") and "cannot reach" in line
               for line in down.stderr.splitlines()), down.stderr
    assert raw.read_bytes() == before


def test_an_import_url_snapshot_reruns_the_stage_only_when_it_changed(
        server: S3Server, project: Path) -> None:
    client = server.client()
    client.put_object(Bucket=server.bucket, Key="shop/reviews.csv",
                      Body=(HEADER + rows(0, 30)).encode())
    env = credentials(server)
    run(["dvc", "import-url", f"s3://{server.bucket}/shop/reviews.csv",
         "data/sources/reviews.csv"], project, **env)
    write_params(project, {"scrape": {"source": "files",
                                      "files": {"location": "data/sources/reviews.csv"},
                                      "columns": COLUMNS}})
    run(["dvc", "repro", "scrape"], project, **env)
    assert "didn't change" in run(["dvc", "repro", "scrape"], project, **env).stdout

    client.put_object(Bucket=server.bucket, Key="shop/reviews.csv",
                      Body=(HEADER + rows(0, 45)).encode())
    assert "didn't change" in run(["dvc", "repro", "scrape"], project, **env).stdout
    run(["dvc", "update", "data/sources/reviews.csv.dvc"], project, **env)
    rerun = run(["dvc", "repro", "scrape"], project, **env).stdout
    assert "Running stage 'scrape'" in rerun
    raw = project / "data/raw/records.jsonl"
    assert len(raw.read_text().splitlines()) == 45
