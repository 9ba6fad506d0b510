"""HTTP metrics around the whole app, and the metrics lifespan (pool sampling, leaving the instance's sums)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

from litestar import Litestar
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from secapi.adapters.prometheus.exposition import PrometheusExposition
from secapi.adapters.prometheus.http import PrometheusHttpMetrics
from secapi.adapters.prometheus.pool import SqlAlchemyPoolMetrics
from secapi.entrypoints.http.problems import PROBLEM_TYPE_KEY

CLIENT_CLOSED_REQUEST = 499
"""nginx's status for a request whose client left before an answer: not a server error for the 5xx alert."""

POOL_SAMPLE_INTERVAL = 5.0
"""Seconds between pool samples in each worker process, when several share the metrics (multiprocess mode)."""


def install_http_metrics(app: Litestar) -> None:
    """Measure every request, including those no route matches.

    Litestar runs app middleware inside a matched route, so 404s and 405s would
    pass unseen; the app's ASGI handler (exception handling around the router)
    is wrapped instead.
    """
    app.asgi_handler = http_metrics_middleware(app.asgi_handler)


def http_metrics_middleware(handler: ASGIApp) -> ASGIApp:
    """Count, time and track in flight every HTTP request `handler` serves, by route template and status."""
    metrics: PrometheusHttpMetrics | None = None

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        nonlocal metrics
        if scope["type"] != ScopeType.HTTP:
            await handler(scope, receive, send)
            return
        if metrics is None:
            metrics = await scope["litestar_app"].state.dishka_container.get(PrometheusHttpMetrics)
        started = time.perf_counter()
        status: int | None = None
        cancelled = False

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        metrics.request_started()
        try:
            await handler(scope, receive, capture)
        except asyncio.CancelledError:
            cancelled = True
            raise
        finally:
            route = scope.get("path_template")
            if status is None:  # no answer began: the client went away, or the app failed
                status = CLIENT_CLOSED_REQUEST if cancelled else 500
            metrics.request_finished(scope["method"], route, status, time.perf_counter() - started)
            problem_type = scope.get("state", {}).get(PROBLEM_TYPE_KEY)
            if problem_type is not None:
                metrics.problem(route, status, problem_type)

    return middleware


@contextlib.asynccontextmanager
async def metrics_lifespan(app: Litestar) -> AsyncIterator[None]:
    """Lifespan: in multiprocess mode, keep this worker's pool gauges fresh and leave the live sums at exit."""
    container = app.state.dishka_container
    exposition = await container.get(PrometheusExposition)
    pool = await container.get(SqlAlchemyPoolMetrics)
    sampler: asyncio.Task[None] | None = None
    if exposition.multiprocess:
        # A scrape reaches one worker; the others' pools must already be in the shared files.
        sampler = asyncio.create_task(_sample_pool_forever(pool), name="pool-metrics")
    try:
        yield
    finally:
        if sampler is not None:
            sampler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sampler
        exposition.process_exiting()


async def _sample_pool_forever(pool: SqlAlchemyPoolMetrics) -> None:
    while True:
        pool.sample()
        await asyncio.sleep(POOL_SAMPLE_INTERVAL)
