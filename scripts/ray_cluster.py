"""A throw-away Ray cluster on 127.0.0.1: a head and one worker node, one CPU each by default.

Both are real ``ray start`` processes with their own temporary folder (short, under /tmp: Ray's
Unix sockets live under it and a socket path has at most 107 bytes). Each ``ray start`` runs
in a new session, so every process it leaves behind (GCS, raylets, agents, workers) is in a
process group named by its pid; ``stop`` signals those groups and the processes started with
the cluster's folder, and nothing else (``ray stop`` would stop every Ray cluster of this user
on the machine).

Usage (tests and benchmarks)::

    with LocalRayCluster.started() as cluster:
        engine = open_engine("ray", cluster.address)
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from scripts.storage import HOST, free_ports

START_TIMEOUT_S = 180
STOP_GRACE_S = {"SIGTERM": 5, "SIGKILL": 15}  # seconds to wait after each signal
RAY = str(Path(sys.executable).parent / "ray")


@dataclass
class LocalRayCluster:
    temp_dir: Path
    port: int
    dashboard_port: int  # Ray starts its dashboard process even with the dashboard off
    groups: list[int] = field(default_factory=list)

    @property
    def address(self) -> str:
        return f"{HOST}:{self.port}"

    def _ray_start(self, *args: str) -> None:
        # The workers import this checkout's code, as the driver does.
        root = str(Path(__file__).resolve().parents[1])
        # TMPDIR: what workers write (model copies) goes with the cluster's folder.
        env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "TMPDIR": str(self.tmp),
               "PYTHONPATH": os.pathsep.join(filter(None, [root,
                                                           os.environ.get("PYTHONPATH")]))}
        process = subprocess.Popen([RAY, "start", *args], env=env, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True, start_new_session=True)
        self.groups.append(process.pid)
        output, _ = process.communicate(timeout=START_TIMEOUT_S)
        if process.returncode != 0:
            raise RuntimeError(f"ray start {' '.join(args)} exited {process.returncode}:\n"
                               f"{output}")

    @property
    def tmp(self) -> Path:
        return self.temp_dir / "tmp"

    def start(self, worker_nodes: int = 1, cpus: int = 1) -> None:
        self.tmp.mkdir(exist_ok=True)
        self._ray_start("--head", "--node-ip-address", HOST, "--port", str(self.port),
                        "--num-cpus", str(cpus), "--include-dashboard=false",
                        "--dashboard-port", str(self.dashboard_port), "--disable-usage-stats",
                        "--temp-dir", str(self.temp_dir))
        for _ in range(worker_nodes):
            self._ray_start("--address", self.address, "--node-ip-address", HOST,
                            "--num-cpus", str(cpus), "--disable-usage-stats")

    def processes(self) -> list[psutil.Process]:
        """Live (non-zombie) processes of the cluster."""
        marker = re.compile(re.escape(str(self.temp_dir)) + r"(/|\s|$)")
        found = []
        for process in psutil.process_iter(["cmdline", "status"]):
            try:
                if process.info["status"] == psutil.STATUS_ZOMBIE:
                    continue
                in_group = os.getpgid(process.pid) in self.groups
                command = " ".join(process.info["cmdline"] or [])
            except (psutil.Error, ProcessLookupError):
                continue
            if process.pid != os.getpid() and (in_group or marker.search(command)):
                found.append(process)
        return found

    def stop(self) -> list[psutil.Process]:
        """SIGTERM the cluster's processes, then SIGKILL what is left; return survivors."""
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for group in self.groups:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(group, sig)
            for process in self.processes():
                with contextlib.suppress(psutil.Error):
                    process.send_signal(sig)
            deadline = time.monotonic() + STOP_GRACE_S[sig.name]
            while self.processes() and time.monotonic() < deadline:
                time.sleep(0.2)
        survivors = self.processes()
        shutil.rmtree(self.temp_dir, ignore_errors=True)
        return survivors

    @classmethod
    @contextlib.contextmanager
    def started(cls, worker_nodes: int = 1, cpus: int = 1) -> Iterator[LocalRayCluster]:
        cluster = cls(Path(tempfile.mkdtemp(prefix="rt", dir="/tmp")), *free_ports(2))
        try:
            cluster.start(worker_nodes, cpus)
            yield cluster
        finally:
            survivors = cluster.stop()
            if survivors:
                raise RuntimeError(f"Ray processes left running: {survivors}")
