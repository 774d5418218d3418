"""The container without a container engine: the Dockerfile passes hadolint, compose.yaml
agrees with it, the model stage's exact `dvc pull` fetches the model from a real S3 server with
a credentials file, and the image's exact start command (its CMD, with its ENV) serves as a
plain process, access-logged as JSON with the key id, and passes the image's HEALTHCHECK."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest
import yaml

import scripts.storage as storage
from sentiment.model.folder import save_model
from sentiment.model.version import folder_md5, locked_md5
from sentiment.serving.auth import hash_key
from tests.conftest import BIN_DIR, REPO_ROOT, copy_built, run, tool_env
from tests.e2e.test_serving import free_port, wait_for_health
from tests.sentiment.test_model_artifact import fit

pytestmark = pytest.mark.slow

KEY = "a-long-random-key-for-the-container-test"


def instructions(dockerfile: Path) -> list[tuple[str, str, str]]:
    """(stage, instruction, arguments) for each instruction, continuation lines joined."""
    text = re.sub(r"\\\n", " ", dockerfile.read_text())
    stage, result = "", []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        instruction, _, arguments = line.partition(" ")
        if instruction == "FROM":
            stage = arguments.split(" AS ")[-1]
        result.append((stage, instruction, arguments.strip()))
    return result


def stage(name: str) -> list[tuple[str, str]]:
    return [(instruction, arguments) for stage_name, instruction, arguments
            in instructions(REPO_ROOT / "Dockerfile") if stage_name == name]


def image_settings() -> tuple[dict[str, str], list[str], list[str], str]:
    """The runtime stage's ENV, CMD, HEALTHCHECK command and WORKDIR."""
    runtime = stage("runtime")
    env = {}
    for name, args in runtime:
        if name == "ENV":
            env.update(pair.split("=", 1) for pair in shlex.split(args))
    [cmd] = [json.loads(args) for name, args in runtime if name == "CMD"]
    [health] = [json.loads(args[args.index("CMD") + 3:]) for name, args in runtime
                if name == "HEALTHCHECK"]
    [workdir] = [args for name, args in runtime if name == "WORKDIR"]
    return env, cmd, health, workdir


def test_dockerfile_passes_hadolint() -> None:
    result = subprocess.run([str(BIN_DIR / "hadolint"), str(REPO_ROOT / "Dockerfile")],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_image_runs_as_non_root_with_a_healthcheck() -> None:
    steps = instructions(REPO_ROOT / "Dockerfile")
    stages = [args.split(" AS ")[-1] for _, name, args in steps if name == "FROM"]
    assert stages == ["build", "model", "runtime", "baked"]
    [user] = [args for stage, name, args in steps if stage == "runtime" and name == "USER"]
    assert not user.startswith(("0", "root"))
    assert "torch==2.13.0" in next(args for _, name, args in steps if name == "RUN")


def test_compose_mounts_the_model_where_the_image_looks() -> None:
    env, _, _, _ = image_settings()
    service = yaml.safe_load((REPO_ROOT / "compose.yaml").read_text())["services"]["api"]
    assert service["build"]["target"] == "runtime"
    targets = {volume.split(":")[1] for volume in service["volumes"]}
    assert env["SENTIMENT_MODEL"] in targets
    assert service["ports"] == [f"127.0.0.1:{env['SENTIMENT_PORT']}:{env['SENTIMENT_PORT']}"]


def test_the_start_command_serves_as_a_plain_process(tmp_path: Path) -> None:
    env, cmd, health, workdir = image_settings()
    assert cmd[0] == "sentiment" and env["SENTIMENT_HOST"] == "0.0.0.0"
    # The image's layout in a temporary folder: WORKDIR holds models/sentiment.
    srv = tmp_path / workdir.strip("/")
    save_model(fit(), srv / "models/sentiment")
    keys = tmp_path / "api-keys"
    keys.write_text(f"alice:{hash_key(KEY)}\n")
    port = free_port()
    # The image's ENV, with the paths of this folder, loopback, a free port and a key file.
    overrides = {"SENTIMENT_MODEL": str(tmp_path / env["SENTIMENT_MODEL"].strip("/")),
                 "SENTIMENT_HOST": "127.0.0.1", "SENTIMENT_PORT": str(port),
                 "SENTIMENT_API_KEYS_FILE": str(keys), "PATH": tool_env()["PATH"]}
    process_env = tool_env(**{**env, **overrides})
    server = subprocess.Popen([shutil.which(cmd[0], path=process_env["PATH"]), *cmd[1:]],
                              cwd=srv, env=process_env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_health(server, url)
        assert subprocess.run(health, env=process_env, timeout=30).returncode == 0
        assert httpx.post(f"{url}/v1/predict", json={"texts": ["fine"]}).status_code == 401
        answer = httpx.post(f"{url}/v1/predict", json={"texts": ["fine", "bad"]},
                            headers={"X-API-Key": KEY})
        assert answer.status_code == 200
    finally:
        server.terminate()
        stdout, stderr = server.communicate(timeout=30)
    assert subprocess.run(health, env=process_env, capture_output=True,
                          timeout=30).returncode != 0  # the service is gone
    assert "API keys required" in stderr
    assert KEY not in stdout + stderr
    lines = [json.loads(line) for line in stdout.splitlines()]
    predicts = [line for line in lines if line["route"] == "/v1/predict"]
    assert [(line["status"], line["texts"], line["key_id"]) for line in predicts] == [
        (401, None, None), (200, 2, "alice")]
    assert all(line["latency_ms"] > 0 and line["time"].endswith("Z") for line in lines)


def test_the_model_stage_pulls_the_model_with_a_credentials_file(
        built_project: Path, shared_server: storage.S3Server, tmp_path: Path) -> None:
    """The `model` stage's COPY and RUN, as plain files and a shell: the credentials come as
    the secret's file would (AWS_SHARED_CREDENTIALS_FILE for its mount target), the endpoint
    as the build argument. The stage pulls from the bucket ``.dvc/config`` names: the shared
    server's own, which no other test uses."""
    source = copy_built(built_project, tmp_path / "source")
    shared_server.configure_remote(source)
    run(["dvc", "push", "models/sentiment"], source)
    context = tmp_path / "context"  # the model stage's WORKDIR, filled by its COPYs
    model_stage = stage("model")
    for instruction, arguments in model_stage:
        if instruction == "COPY":
            *names, destination = arguments.split()
            for name in names:
                target = context / destination / (name if destination == "./" else "")
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source / name, target)
    [command] = [arguments for instruction, arguments in model_stage if instruction == "RUN"]
    mount, _, script = command.partition(" ")
    assert mount.startswith("--mount=type=secret,id=aws,target=/root/.aws/credentials")
    credentials = tmp_path / "aws-credentials"
    credentials.write_text(f"[default]\naws_access_key_id = {shared_server.access_key}\n"
                           f"aws_secret_access_key = {shared_server.secret_key}\n")
    env = {name: value for name, value in tool_env().items() if not name.startswith("AWS_")}
    env.update(AWS_SHARED_CREDENTIALS_FILE=str(credentials),
               AWS_ENDPOINT_URL_S3=shared_server.endpoint,
               DVC_SITE_CACHE_DIR=str(tmp_path / "dvc-site-cache"))
    result = subprocess.run(["sh", "-c", script], cwd=context, env=env, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    model = context / "models/sentiment"
    assert folder_md5(model) == locked_md5(context / "dvc.lock", model) is not None
