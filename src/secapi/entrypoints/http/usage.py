"""Attributing each authenticated request to its tenant in `api_usage`, off the request path."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime

from litestar import Litestar
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from secapi.config import Settings
from secapi.domain.model import UsageRecord
from secapi.domain.services.scan_recorder import ScanRecorder
from secapi.domain.services.usage import UsageRecorder
from secapi.entrypoints.http.auth import principal_of

log = logging.getLogger(__name__)
SHUTDOWN_FLUSH_SECONDS = 10.0

UNMATCHED_ENDPOINT = "(unmatched)"
"""The `endpoint` of a usage row whose request matched no route."""


def usage_middleware(app: ASGIApp) -> ASGIApp:
    """Record method, route template, status and duration of every authenticated request."""
    recorder: UsageRecorder | None = None

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        nonlocal recorder
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await app(scope, receive, capture)
        finally:
            principal = principal_of(scope.get("state", {}))
            if principal is not None:
                if recorder is None:
                    recorder = await scope["litestar_app"].state.dishka_container.get(UsageRecorder)
                recorder.record(
                    UsageRecord(
                        user_id=principal.user_id,
                        # The route template, never the raw path: a client's path (NUL bytes, any length)
                        # must not reach the `endpoint` column and fail a whole batch of usage rows.
                        endpoint=(scope.get("path_template") or UNMATCHED_ENDPOINT)[:200],
                        method=scope["method"],
                        status_code=status,
                        timestamp=datetime.now(UTC),
                        duration_ms=(time.perf_counter() - started) * 1000,
                    )
                )

    return middleware


@contextlib.asynccontextmanager
async def usage_flusher(app: Litestar) -> AsyncIterator[None]:
    """Lifespan: flush cache-hit scans and usage every `usage_flush_interval` seconds, and once more at shutdown."""
    container = app.state.dishka_container
    recorder = await container.get(UsageRecorder)
    scans = await container.get(ScanRecorder)
    interval = (await container.get(Settings)).usage_flush_interval

    stop = asyncio.Event()

    async def flush_all() -> None:
        try:
            await scans.flush()
            await recorder.flush()
        except Exception:  # the loop must outlive any one failed flush
            log.exception("flushing cache-hit scans or usage failed")

    async def loop() -> None:
        # Stopped between flushes by an event, never cancelled mid-write: a cancelled asyncpg
        # write could leave shutdown waiting on it forever.
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval)
            await flush_all()

    task = asyncio.create_task(loop(), name="usage-flusher")
    try:
        yield
    finally:
        stop.set()
        done, _ = await asyncio.wait({task}, timeout=SHUTDOWN_FLUSH_SECONDS)
        if not done:
            task.cancel()
            log.warning("usage flusher did not stop within %s s; rows still buffered are lost", SHUTDOWN_FLUSH_SECONDS)
