"""A throw-away PostgreSQL server (Debian's ``postgresql`` package) on 127.0.0.1.

Its own data folder, a free port, password authentication (scram-sha-256) for one user, no Unix
socket. initdb refuses to run as root, so as root the server runs as the ``postgres`` user and
its folder is made under /tmp (test folders under root's home are not reachable by that user).

Usage (tests and benchmarks)::

    with PostgresServer.started() as server:
        engine = sqlalchemy.create_engine(server.url)
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg

from scripts.storage import HOST, free_port

USER = "sentiment"
DATABASE = "sentiment"
SERVICE_USER = "postgres"  # runs the server when we are root


def binary(name: str) -> str:
    """A PostgreSQL server program (initdb, pg_ctl) of the newest installed version."""
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
                   key=lambda path: int(Path(path).parts[4]))
    if not found:
        raise RuntimeError(f"{name} not found: install the Debian package postgresql "
                           "(.ci/install-system-packages)")
    return found[-1]


@dataclass
class PostgresServer:
    root: Path
    port: int
    password: str

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://{USER}:{self.password}@{HOST}:{self.port}/{DATABASE}"

    def _run(self, args: list[str]) -> None:
        prefix = ["runuser", "-u", SERVICE_USER, "--"] if os.geteuid() == 0 else []
        result = subprocess.run(prefix + args, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed:\n{result.stdout}{result.stderr}")

    @classmethod
    def create(cls) -> PostgresServer:
        """initdb a new cluster with one password-protected superuser and its database."""
        root = Path(tempfile.mkdtemp(prefix="sentiment-pg-"))
        server = cls(root=root, port=free_port(), password=secrets.token_hex(16))
        password_file = root / "password"
        password_file.write_text(server.password + "\n")
        if os.geteuid() == 0:
            account = pwd.getpwnam(SERVICE_USER)
            for path in (root, password_file):
                os.chown(path, account.pw_uid, account.pw_gid)
        server._run([binary("initdb"), "-D", str(server.data), "-U", USER, "-E", "UTF8",
                     "--auth=scram-sha-256", f"--pwfile={password_file}", "--no-instructions"])
        password_file.unlink()
        (server.data / "pg_hba.conf").write_text(
            "host all all 127.0.0.1/32 scram-sha-256\n")
        return server

    def start(self) -> None:
        options = (f"-c listen_addresses={HOST} -p {self.port} -c unix_socket_directories='' "
                   "-c fsync=off")
        self._run([binary("pg_ctl"), "-D", str(self.data), "-l", str(self.root / "server.log"),
                   "-o", options, "-w", "-t", "60", "start"])
        with psycopg.connect(host=HOST, port=self.port, user=USER, password=self.password,
                             dbname="postgres", autocommit=True) as connection:
            connection.execute(f"CREATE DATABASE {DATABASE}")

    def stop(self) -> None:
        self._run([binary("pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop"])

    @classmethod
    @contextmanager
    def started(cls) -> Iterator[PostgresServer]:
        """A new server, running for the ``with`` block, then stopped and deleted."""
        server = cls.create()
        try:
            server.start()
            try:
                yield server
            finally:
                server.stop()
        finally:
            shutil.rmtree(server.root, ignore_errors=True)
