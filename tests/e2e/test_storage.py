"""The S3 remote end to end: real `dvc push` / `dvc pull` / `dvc artifacts get` against SeaweedFS.

The tests share one server (free loopback ports, its own data folder), each with a bucket of its
own, and each has its own copy of the built project; the one that kills its server has a server
of its own. Teardown checks that no server process and no socket is left behind.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from scripts.storage import S3Server, free_port
from sentiment.model.predictor import Predictor
from tests.conftest import copy_built, run, tool_env

# isolated_env, server and own_server: tests/s3.py
pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("isolated_env")]

MODEL = "models/sentiment"


@pytest.fixture
def source(built_project: Path, tmp_path: Path) -> Path:
    """A private copy of the built project (git history, DVC cache and outputs)."""
    return copy_built(built_project, tmp_path / "source")


def cached_outputs(repo: Path) -> dict[str, str]:
    """sha256 of every DVC-tracked file under data/ and models/, by relative path (git's own
    files there, such as the shipped data/behaviour/, left out)."""
    in_git = set(run(["git", "ls-files", "data", "models"], repo).stdout.split())
    return {name: hashlib.sha256(path.read_bytes()).hexdigest()
            for folder in ("data", "models") for path in sorted((repo / folder).rglob("*"))
            if path.is_file() and path.suffix != ".dvc"
            and (name := str(path.relative_to(repo))) not in in_git}


def wipe(repo: Path) -> None:
    """Delete the DVC cache and every cached output of ``repo``."""
    shutil.rmtree(repo / ".dvc" / "cache")
    for name in cached_outputs(repo):
        (repo / name).unlink()


def pushed_count(output: str) -> int:
    if "Everything is up to date" in output:
        return 0
    match = re.search(r"(\d+) files? pushed", output)
    assert match, output
    return int(match.group(1))


def bucket_objects(s3: S3Server) -> int:
    client = s3.client()
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=s3.bucket)
    return sum(page.get("KeyCount", 0) for page in pages)


def assert_clear_failure(result: subprocess.CompletedProcess, *phrases: str) -> None:
    """A non-zero exit, an ERROR line naming the cause, and no Python traceback."""
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr, result.stderr
    assert "ERROR" in result.stderr, result.stderr
    for phrase in phrases:
        assert phrase in result.stderr, result.stderr


def test_start_retries_on_fresh_ports_when_one_is_taken(tmp_path: Path) -> None:
    """A port bound by another process between the check and the start: one retry, new ports."""
    s3 = S3Server.create(tmp_path / "s3")
    taken = s3.ports["master.port"]
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", taken))  # bound, not listening: the busy check cannot see it
        s3.start()
        try:
            assert s3.ports["master.port"] != taken
            assert len(set(s3.ports.values())) == len(s3.ports)
            s3.client().head_bucket(Bucket=s3.bucket)
        finally:
            s3.stop()
    assert f"port {taken} " in (tmp_path / "s3" / "weed.log").read_text()


def test_push_wipe_pull_is_byte_identical(server: S3Server, source: Path) -> None:
    before = cached_outputs(source)
    lock = (source / "dvc.lock").read_text()
    assert MODEL + "/model.safetensors" in before
    server.configure_remote(source)
    assert pushed_count(run(["dvc", "push"], source).stdout) == bucket_objects(server) > 0
    assert "in sync" in run(["dvc", "status", "--cloud"], source).stdout

    wipe(source)
    run(["dvc", "pull", "dvc.yaml"], source)
    assert cached_outputs(source) == before
    assert "up to date" in run(["dvc", "status", "dvc.yaml"], source).stdout
    repro = run(["dvc", "repro"], source).stdout
    assert "Running stage" not in repro and "up to date" in repro
    assert (source / "dvc.lock").read_text() == lock


def test_pull_model_alone_into_a_fresh_clone(server: S3Server, source: Path,
                                             tmp_path: Path) -> None:
    server.configure_remote(source)
    run(["dvc", "push"], source)
    clone = tmp_path / "clone"
    run(["git", "clone", "-q", str(source), str(clone)], tmp_path)
    assert cached_outputs(clone) == {}
    server.configure_remote(clone)

    run(["dvc", "pull", MODEL], clone)
    expected = {name: digest for name, digest in cached_outputs(source).items()
                if name.startswith(MODEL + "/")}
    assert cached_outputs(clone) == expected
    objects = [path for path in (clone / ".dvc/cache").rglob("*") if path.is_file()]
    assert len(objects) == len(expected) + 1  # the model's files and its .dir listing
    predictions = Predictor.load(clone / MODEL).predict(["I love this!", "This is awful."])
    assert [set(row["probabilities"]) for row in predictions] == \
        [{"negative", "neutral", "positive"}] * 2


def replace_on_server(s3: S3Server, md5: str) -> bytes:
    """Overwrite the object of ``md5`` on the server with other bytes (one byte flipped)."""
    client = s3.client()
    [key] = [item["Key"] for page in client.get_paginator("list_objects_v2").paginate(
        Bucket=s3.bucket) for item in page.get("Contents", []) if item["Key"].endswith(md5[2:])]
    body = bytearray(client.get_object(Bucket=s3.bucket, Key=key)["Body"].read())
    body[len(body) // 2] ^= 0xFF
    client.put_object(Bucket=s3.bucket, Key=key, Body=bytes(body))
    return bytes(body)


def test_pull_refuses_an_object_replaced_on_the_server(server: S3Server, source: Path,
                                                      tmp_path: Path) -> None:
    """verify = true (committed in .dvc/config): the altered object is refused, not checked out;
    scripts.verify_storage names the file, and its --delete-altered lets a push repair the
    remote; with verify = false DVC would take the altered file silently."""
    server.configure_remote(source)
    run(["dvc", "push"], source)
    # A one-file output whose bytes no other output shares (a model folder's files are shared
    # with the candidate it was copied from, so replacing one would hit both).
    target = "data/features/features.parquet"
    good = cached_outputs(source)
    md5 = hashlib.md5((source / target).read_bytes()).hexdigest()
    altered = replace_on_server(server, md5)
    clone = tmp_path / "clone"
    run(["git", "clone", "-q", str(source), str(clone)], tmp_path)
    server.configure_remote(clone)

    assert_clear_failure(run(["dvc", "pull", "dvc.yaml"], clone, check=False),
                         "Checkout failed for following targets", target)
    assert not (clone / target).exists()
    pulled = cached_outputs(clone)
    assert pulled and pulled == {name: digest for name, digest in good.items()
                                 if name != target}

    audit = run([sys.executable, "-m", "scripts.verify_storage"], clone, check=False)
    assert audit.returncode == 1
    [problem] = audit.stderr.strip().splitlines()
    assert problem.startswith(f"ERROR verify_storage: {target}: the remote object s3://")
    assert md5[2:] in problem and hashlib.md5(altered).hexdigest() in problem
    assert run([sys.executable, "-m", "scripts.verify_storage"], source, check=False
               ).returncode == 1

    run(["dvc", "remote", "modify", "--local", "storage", "verify", "false"], clone)
    run(["dvc", "pull", target], clone)
    assert (clone / target).read_bytes() == altered

    # The repair: delete the altered object, push it again from a good cache.
    run([sys.executable, "-m", "scripts.verify_storage", "--delete-altered"], source,
        check=False)
    assert pushed_count(run(["dvc", "push"], source).stdout) == 1
    run([sys.executable, "-m", "scripts.verify_storage"], source)
    repaired = tmp_path / "repaired"
    run(["git", "clone", "-q", str(source), str(repaired)], tmp_path)
    server.configure_remote(repaired)
    run(["dvc", "pull", target], repaired)
    assert cached_outputs(repaired)[target] == good[target]


def test_repair_of_a_folder_file_lets_a_fresh_clone_pull(server: S3Server, source: Path,
                                                         tmp_path: Path) -> None:
    """The documented repair, on a file of the model folder that its candidate's folder
    shares (two listings name it), checking the model only, from the clone that pushed it (its
    remote index says the object is there): --delete-altered, then `dvc push`; a fresh clone
    pulls it whole. Deleting the model's listing alone left the file missing for good: push
    took it as present because the candidates' listing was."""
    server.configure_remote(source)
    run(["dvc", "push"], source)
    target = f"{MODEL}/config.json"
    good = cached_outputs(source)
    md5 = hashlib.md5((source / target).read_bytes()).hexdigest()
    locked = {out["md5"] for stage in yaml.safe_load((source / "dvc.lock").read_text())["stages"]
              .values() for out in stage.get("outs", []) if out["md5"].endswith(".dir")}
    listings = [source / ".dvc/cache/files/md5" / name[:2] / name[2:] for name in sorted(locked)]
    listings = [path for path in listings if md5 in path.read_text()]  # the outputs' listings
    assert len(listings) >= 2  # the model's and the candidates'
    replace_on_server(server, md5)
    assert run([sys.executable, "-m", "scripts.verify_storage", MODEL], source, check=False
               ).returncode == 1

    repair = run([sys.executable, "-m", "scripts.verify_storage", "--delete-altered", MODEL],
                 source, check=False)
    assert repair.returncode == 1 and "now `dvc push`" in repair.stderr
    assert repair.stderr.count(".dir from the remote") == len(listings)
    assert pushed_count(run(["dvc", "push"], source).stdout) >= 2  # the file and listing(s)
    assert "Everything is up to date" in run(["dvc", "push"], source).stdout
    run([sys.executable, "-m", "scripts.verify_storage"], source)
    assert "in sync" in run(["dvc", "status", "--cloud"], source).stdout

    fresh = tmp_path / "fresh"
    run(["git", "clone", "-q", str(source), str(fresh)], tmp_path)
    server.configure_remote(fresh)
    run(["dvc", "pull", MODEL], fresh)
    assert {name: digest for name, digest in cached_outputs(fresh).items()} == {
        name: digest for name, digest in good.items() if name.startswith(MODEL + "/")}


def test_verify_storage_checks_folder_listings(server: S3Server, source: Path) -> None:
    """An altered .dir listing is named as the folder's and repaired like a file."""
    server.configure_remote(source)
    run(["dvc", "push"], source)
    listing = next(out["md5"] for out in yaml.safe_load((source / "dvc.lock").read_text())[
        "stages"]["release"]["outs"] if out["path"] == MODEL)
    replace_on_server(server, listing)
    audit = run([sys.executable, "-m", "scripts.verify_storage", MODEL], source, check=False)
    assert audit.returncode == 1
    assert f"ERROR verify_storage: {MODEL}: the remote object s3://" in audit.stderr
    assert f"md5/{listing[:2]}/{listing[2:]}" in audit.stderr
    run([sys.executable, "-m", "scripts.verify_storage", "--delete-altered", MODEL], source,
        check=False)
    run(["dvc", "push"], source)
    run([sys.executable, "-m", "scripts.verify_storage", MODEL], source)


def test_verify_storage_passes_on_an_intact_remote(server: S3Server, source: Path) -> None:
    server.configure_remote(source)
    run(["dvc", "push"], source)
    audit = run([sys.executable, "-m", "scripts.verify_storage"], source)
    assert "every object on the remote matches its hash" in audit.stderr
    assert re.search(r"INFO verify_storage: ([1-9]\d*) outputs checked", audit.stderr)


def test_push_interrupted_by_server_kill_resumes(own_server: S3Server, source: Path) -> None:
    blob = source / "data" / "blob"
    blob.mkdir()
    for index in range(1000):  # enough objects for the push to last a few seconds
        (blob / f"{index:04d}.bin").write_bytes(os.urandom(64 * 1024))
    run(["dvc", "add", "data/blob"], source)
    run(["git", "commit", "-qm", "blob"], source)
    before = cached_outputs(source)
    own_server.configure_remote(source)

    # One attempt per request: botocore's default retries make each of the hundreds of
    # failing uploads wait seconds, so a push to a dead server would take many minutes.
    push = subprocess.Popen(["dvc", "push", "-j", "4"], cwd=source, text=True,
                            env=tool_env(AWS_MAX_ATTEMPTS="1"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        while bucket_objects(own_server) < 100:
            assert push.poll() is None, "the push ended before it could be interrupted"
            time.sleep(0.05)
        own_server.stop(kill=True)
        stdout, stderr = push.communicate(timeout=120)
    finally:
        if push.poll() is None:
            push.send_signal(signal.SIGINT)
            push.wait()
    # DVC reports either "failed to push data to the cloud - N files failed to upload" or, when
    # a directory listing was the failing upload, "unexpected error - Could not connect ...".
    assert_clear_failure(subprocess.CompletedProcess(push.args, push.returncode, stdout, stderr),
                         f"Could not connect to the endpoint URL: \"{own_server.endpoint}/")

    own_server.start()
    present = bucket_objects(own_server)
    second = run(["dvc", "push"], source).stdout
    total = bucket_objects(own_server)
    assert 100 <= present < total
    assert pushed_count(second) == total - present

    wipe(source)
    run(["dvc", "pull"], source)  # a plain pull: the monitor's outputs are not cached
    assert cached_outputs(source) == before


@pytest.mark.parametrize("setting, value", [
    ("secret_access_key", "not-the-secret"),
    ("access_key_id", "nobody"),
])
def test_wrong_credentials_fail_clearly(server: S3Server, source: Path, setting: str,
                                        value: str) -> None:
    server.configure_remote(source)
    run(["dvc", "remote", "modify", "--local", "storage", setting, value], source)
    assert_clear_failure(run(["dvc", "push"], source, check=False), "403", "Forbidden")
    assert bucket_objects(server) == 0
    wipe(source)
    assert_clear_failure(run(["dvc", "pull", "dvc.yaml"], source, check=False), "403",
                         "Forbidden")


def test_unreachable_endpoint_fails_clearly(source: Path) -> None:
    endpoint = f"http://127.0.0.1:{free_port()}"
    run(["dvc", "remote", "modify", "--local", "storage", "endpointurl", endpoint], source)
    result = run(["dvc", "push"], source, check=False, AWS_ACCESS_KEY_ID="key",
                 AWS_SECRET_ACCESS_KEY="secret")
    assert_clear_failure(result, "Could not connect to the endpoint URL", endpoint)


def test_artifacts_get_by_version_and_stage(shared_server: S3Server, source: Path,
                                            tmp_path: Path) -> None:
    """The clone of a repository URL has no config.local, so the remote is the bucket
    ``.dvc/config`` names: the shared server's own (which DVC fills by content hash, so what
    another test pushed there changes nothing)."""
    model = {name: digest for name, digest in cached_outputs(source).items()
             if name.startswith(MODEL + "/")}
    run(["gto", "register", "sentiment", "--version", "v1.0.0"], source)
    run(["gto", "assign", "sentiment", "--stage", "prod"], source)  # the version at HEAD
    tags = run(["git", "tag"], source).stdout.split()
    assert sorted(tags) == ["sentiment#prod#1", "sentiment@v1.0.0"]
    shared_server.configure_remote(source)
    run(["dvc", "push"], source)
    shutil.rmtree(source / ".dvc" / "cache")  # the remote is now the only copy

    def fetched(folder: Path) -> dict[str, str]:
        return {f"{MODEL}/{path.relative_to(folder)}": hashlib.sha256(
            path.read_bytes()).hexdigest() for path in folder.rglob("*") if path.is_file()}

    # A local checkout: its .dvc/config.local (endpoint and keys) applies.
    run(["dvc", "artifacts", "get", str(source), "sentiment", "--rev", "v1.0.0",
         "-o", "by-version"], tmp_path)
    assert fetched(tmp_path / "by-version") == model

    # A repository URL is cloned, without config.local: keys and endpoint from the environment.
    (source / ".dvc" / "config.local").unlink()
    run(["dvc", "artifacts", "get", f"file://{source}", "sentiment", "--stage", "prod",
         "-o", "by-stage"], tmp_path, AWS_ACCESS_KEY_ID=shared_server.access_key,
        AWS_SECRET_ACCESS_KEY=shared_server.secret_key, AWS_ENDPOINT_URL_S3=shared_server.endpoint)
    assert fetched(tmp_path / "by-stage") == model
