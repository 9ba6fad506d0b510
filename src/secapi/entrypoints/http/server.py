"""Running the app under Granian (chosen over uvicorn by benchmarks/asgi_servers.sh)."""

from __future__ import annotations

from granian.constants import Interfaces
from granian.log import LogLevels
from granian.server import Server

APP_FACTORY = "secapi.entrypoints.http.app:app_from_env"


def run_server(*, host: str, port: int, workers: int, log_level: str) -> None:
    """Serve the API with `workers` processes; each builds its app from the environment."""
    Server(
        APP_FACTORY,
        address=host,
        port=port,
        workers=workers,
        interface=Interfaces.ASGI,
        factory=True,
        log_level=LogLevels(log_level.lower()),
        log_access=False,  # access lines would carry paths only, but keep request logs out of the hot path
        respawn_failed_workers=True,
    ).serve()
