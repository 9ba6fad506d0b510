"""HTTP metrics around the whole app, and the metrics lifespan (pool sampling, leaving the instance's sums)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from litestar import Litestar

from secapi.adapters.prometheus.exposition import PrometheusExposition
from secapi.adapters.prometheus.pool import SqlAlchemyPoolMetrics

POOL_SAMPLE_INTERVAL = 5.0
"""Seconds between pool samples in each worker process, when several share the metrics (multiprocess mode)."""


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
