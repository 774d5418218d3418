"""After training, end to end: the monitor pipeline under real `dvc`, scoring from a real S3
server (SeaweedFS), and the warehouse loaded from params.yaml's defaults."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from scripts.storage import S3Server
from tests.conftest import copy_built, run, write_params

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("isolated_env")]

MONITOR = "pipelines/monitor/dvc.yaml"


@pytest.fixture
def repo(built_project: Path, tmp_path: Path) -> Path:
    return copy_built(built_project, tmp_path / "repo")


def test_monitor_pipeline_scores_checks_drift_and_loads(repo: Path) -> None:
    output = run(["dvc", "repro", MONITOR], repo).stdout
    assert "Running stage 'pipelines/monitor/dvc.yaml:score'" in output
    assert "Running stage 'pipelines/monitor/dvc.yaml:drift'" in output
    assert "Running stage 'release'" not in output  # it scores with the committed model
    raw = pd.read_json(repo / "data/raw/records.jsonl", lines=True, dtype=False)
    scores = pd.read_parquet(repo / "data/monitor/scores.parquet")
    assert scores["id"].tolist() == raw["id"].tolist()
    lock = yaml.safe_load((repo / "dvc.lock").read_text())
    model_md5 = next(out["md5"] for out in lock["stages"]["release"]["outs"]
                     if out["path"] == "models/sentiment")
    assert set(scores["model_version"]) == {model_md5}

    drift = json.loads((repo / "reports/monitor/drift.json").read_text())
    assert drift["rows"]["current"] == len(scores) and not drift["drift"]  # the same corpus
    shown = json.loads(run(["dvc", "metrics", "show", "--json"], repo).stdout)
    assert any("reports/monitor/drift.json" in str(entry) for entry in shown.values())
    assert "up to date" in run(["dvc", "repro", MONITOR], repo).stdout

    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-qm", "monitor"], repo)
    write_params(repo, {"monitor": {"drift": {"max_rows": 200}}})
    run(["dvc", "repro", MONITOR], repo)
    diff = run(["dvc", "metrics", "diff", "--json"], repo).stdout
    assert "reports/monitor/drift.json" in diff and "rows.reference" in diff

    loaded = run(["sentiment", "warehouse", "load"], repo).stdout
    assert f"scores: {len(scores)} rows" in loaded
    assert (repo / "warehouse/sentiment.db").is_file()
    assert "warehouse" not in run(["git", "status", "--porcelain"], repo).stdout
    mix = run(["sentiment", "warehouse", "query",
               "SELECT s.label, count(*) FROM scores s JOIN records r ON r.id = s.record_id "
               "WHERE r.label IS NOT NULL GROUP BY s.label ORDER BY s.label"], repo).stdout
    assert sum(int(line.split(",")[1]) for line in mix.splitlines()[1:]) > 0


def test_score_an_s3_prefix_like_the_local_folder(server: S3Server, repo: Path,
                                                  tmp_path: Path) -> None:
    raw = pd.read_json(repo / "data/raw/records.jsonl", lines=True, dtype=False)
    local = tmp_path / "incoming"
    local.mkdir()
    raw.iloc[:300].to_parquet(local / "part-1.parquet", index=False)
    raw.iloc[300:500].to_json(local / "part-2.jsonl", orient="records", lines=True)
    client = server.client()
    for path in sorted(local.iterdir()):
        client.put_object(Bucket=server.bucket, Key=f"incoming/{path.name}",
                          Body=path.read_bytes())
    credentials = {"AWS_ACCESS_KEY_ID": server.access_key,
                   "AWS_SECRET_ACCESS_KEY": server.secret_key,
                   "AWS_ENDPOINT_URL": server.endpoint, "AWS_DEFAULT_REGION": "us-east-1"}
    run(["sentiment", "score", "--input", f"s3://{server.bucket}/incoming/", "--output",
         str(tmp_path / "s3.parquet")], repo, **credentials)
    run(["sentiment", "score", "--input", str(local), "--output",
         str(tmp_path / "local.parquet")], repo)
    from_s3 = pd.read_parquet(tmp_path / "s3.parquet")
    pd.testing.assert_frame_equal(from_s3, pd.read_parquet(tmp_path / "local.parquet"))
    assert from_s3["id"].tolist() == raw["id"].iloc[:500].tolist()

    # The same rows as `sentiment predict` gives, with the pipeline's real model.
    run(["sentiment", "predict", "--input", str(local / "part-1.parquet"), "--output",
         str(tmp_path / "predict.jsonl")], repo)
    predicted = pd.read_json(tmp_path / "predict.jsonl", lines=True)
    assert from_s3["label"].iloc[:300].tolist() == predicted["label"].tolist()

    wrong = {**credentials, "AWS_SECRET_ACCESS_KEY": "wrong"}
    failed = run(["sentiment", "score", "--input", f"s3://{server.bucket}/incoming/",
                  "--output", str(tmp_path / "x.parquet")], repo, check=False, **wrong)
    assert failed.returncode == 2 and "Traceback" not in failed.stderr
    assert failed.stderr.count("\n") == 1 and "incoming" in failed.stderr
