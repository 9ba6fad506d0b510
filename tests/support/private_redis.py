"""Redis servers a test starts, pauses and stops itself (never the shared test node or cluster)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TypeVar

import pytest
from redis import Redis as SyncRedis

from support.registry import IN_CI, free_port

CLUSTER_SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "redis_cluster.sh"


def _redis_server() -> str:
    binary = shutil.which("redis-server")
    if binary is None:
        if IN_CI:
            pytest.fail("redis-server is not installed; .ci/run installs it", pytrace=False)
        pytest.skip("redis-server is not installed")
    return binary


class PrivateRedis:
    """A redis-server on a free loopback port."""

    cluster = False

    def __init__(self) -> None:
        self.binary = _redis_server()
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = SyncRedis(port=self.port, socket_connect_timeout=0.2)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
            finally:
                client.close()

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def pause(self) -> None:
        """SIGSTOP: the server stops answering, its data kept."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)


class PrivateCluster:
    """A 3-master Redis Cluster on free loopback ports (scripts/redis_cluster.sh)."""

    cluster = True

    def __init__(self) -> None:
        _redis_server()
        self.directory: Path | None = None
        self.url = ""

    def start(self) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="secapi-cluster-"))
        started = subprocess.run(
            [str(CLUSTER_SCRIPT), "start", str(self.directory)], capture_output=True, text=True, check=False
        )
        if started.returncode != 0:
            self.stop()
            pytest.fail(f"the private cluster did not start: {started.stderr}", pytrace=False)
        self.url = started.stdout.strip().splitlines()[-1]

    def stop(self) -> None:
        if self.directory is not None:
            self._signal(signal.SIGCONT)  # a paused node cannot answer SHUTDOWN
            subprocess.run([str(CLUSTER_SCRIPT), "stop", str(self.directory)], capture_output=True, check=False)
            self.directory = None

    def pause(self) -> None:
        """SIGSTOP every node: the cluster stops answering, its data kept."""
        self._signal(signal.SIGSTOP)

    def resume(self) -> None:
        self._signal(signal.SIGCONT)

    @property
    def ports(self) -> list[int]:
        assert self.directory is not None
        return [int(line) for line in (self.directory / "ports").read_text().split()]

    def _signal(self, sig: signal.Signals) -> None:
        if self.directory is None:
            return
        for pidfile in self.directory.glob("redis-*.pid"):
            pid = pidfile.read_text().strip()
            if pid:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(pid), sig)


ServerT = TypeVar("ServerT", bound="PrivateRedis | PrivateCluster")


@contextlib.contextmanager
def running(server: ServerT) -> Iterator[ServerT]:
    """`server` started for the block, stopped after it (whatever the test did to it)."""
    server.start()
    try:
        yield server
    finally:
        server.stop()
