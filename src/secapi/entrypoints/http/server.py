"""Running the app under Granian (chosen over uvicorn by benchmarks/asgi_servers.sh)."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

from granian.constants import Interfaces, Loops
from granian.log import LogLevels
from granian.server import Server

from secapi.adapters.prometheus.exposition import MULTIPROC_ENV, multiprocess_dir, prepare_multiprocess_dir

APP_FACTORY = "secapi.entrypoints.http.app:app_from_env"


class AddressInUse(Exception):
    """The address to serve on is taken or cannot be bound; the message is the one line to show."""


def check_address_free(host: str, port: int) -> None:
    """Raise `AddressInUse` unless `host:port` can be listened on now (Granian would print a long traceback)."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as servers do: TIME_WAIT is no conflict
            probe.bind(address)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise AddressInUse(
            f"cannot serve on {host}:{port}: {reason}. Stop the process using it, or pick another port "
            f"(`make run PORT=8001`, `secapi serve --port 8001`)."
        ) from exc


def run_server(*, host: str, port: int, workers: int, log_level: str, metrics_enabled: bool = True) -> None:
    """Serve the API with `workers` processes; each builds its app from the environment."""
    check_address_free(host, port)
    with _shared_metrics(enabled=metrics_enabled and workers > 1):
        Server(
            APP_FACTORY,
            address=host,
            port=port,
            workers=workers,
            interface=Interfaces.ASGI,
            loop=Loops.auto,  # uvloop where installed (a dependency off Windows): ~30 % more cache hits per core
            factory=True,
            log_level=LogLevels(log_level.lower()),
            log_access=False,  # access lines would carry paths only, but keep request logs out of the hot path
            respawn_failed_workers=True,
        ).serve()


@contextlib.contextmanager
def _shared_metrics(*, enabled: bool) -> Iterator[None]:
    """Let the workers sum their metrics through files in one directory for this run, emptied at start.

    A directory named in `PROMETHEUS_MULTIPROC_DIR` is used (and emptied) as is;
    otherwise a temporary one is made and removed at exit.
    """
    preset = multiprocess_dir()
    if not enabled and preset is None:
        yield
        return
    path = Path(preset) if preset else Path(tempfile.mkdtemp(prefix="secapi-metrics-"))
    prepare_multiprocess_dir(path)
    os.environ[MULTIPROC_ENV] = str(path)
    try:
        yield
    finally:
        if preset is None:
            os.environ.pop(MULTIPROC_ENV, None)
            shutil.rmtree(path, ignore_errors=True)
