"""A real `secapi serve` process on a free loopback port, for tests that need Granian itself."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

SECAPI = str(Path(sys.executable).parent / "secapi")


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def secapi_server(env: Mapping[str, str], *, workers: int = 1) -> Iterator[str]:
    """Start `secapi serve` with `env`, wait until /health/live answers, yield its base URL, stop it after.

    It runs in its own process group, so its worker processes never outlive the test. Its output goes to a
    temporary file whose tail is printed when it stops: pytest shows it beside a failing test (a server that
    reset a connection once in CI left nothing to read).
    """
    port = free_port()
    log = tempfile.NamedTemporaryFile(prefix="secapi-serve-", suffix=".log", delete=False)  # noqa: SIM115
    process = subprocess.Popen(
        [SECAPI, "serve", "--port", str(port), "--workers", str(workers)],
        env=dict(env),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/health/live", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            pytest.fail("secapi serve did not come up within 30 s")
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            raise
        finally:
            log.close()
            output = Path(log.name)
            print(f"secapi serve on port {port} exited {process.returncode}; its last output:")
            print("\n".join(output.read_text(errors="replace").splitlines()[-40:]))
            output.unlink(missing_ok=True)
