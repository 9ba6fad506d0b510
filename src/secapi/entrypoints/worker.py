"""`secapi worker`: runs queued scans from Redis (SAQ) and sweeps stale ones."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from typing import Any
from uuid import UUID

from saq import CronJob, Queue, Worker
from saq.types import Context

from secapi.adapters.prometheus.exposition import PrometheusExposition
from secapi.adapters.prometheus.pool import SqlAlchemyPoolMetrics
from secapi.adapters.prometheus.server import MetricsHttpServer
from secapi.adapters.redis.scan_queue import JOB_FUNCTION
from secapi.config import Settings
from secapi.domain.services.metrics_sampling import MetricsSampler
from secapi.domain.services.reset_notifications import ResetNotifier
from secapi.ioc import make_container, run_scan_job, sweep_scans, warm_popular

log = logging.getLogger(__name__)
SWEEP_INTERVAL = 15.0


async def sweep_forever(container: Any, interval: float = SWEEP_INTERVAL) -> None:
    """Sweep stale scans every `interval` seconds, surviving any one failure."""
    while True:
        try:
            await sweep_scans(container)
        except Exception:  # the loop must outlive a database hiccup
            log.exception("scan sweep failed")
        await asyncio.sleep(interval)


async def serve_worker(settings: Settings, stop: asyncio.Event | None = None) -> None:
    """Run a SAQ worker with `settings.worker_concurrency` slots until `stop` is set (or a signal)."""
    if not settings.redis_url:
        raise SystemExit("secapi worker needs SECAPI_REDIS_URL; without Redis the API runs scans in-process")
    container = make_container(settings)
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)

    async def run_scan(_ctx: Context, *, scan_id: str) -> None:
        await run_scan_job(container, UUID(scan_id))

    async def warm_cache(_ctx: Context) -> None:
        await warm_popular(container, settings.cache_warm_top)

    run_scan.__qualname__ = run_scan.__name__ = JOB_FUNCTION
    queue = await container.get(Queue)
    # SAQ enqueues a cron job under one key per run, so several workers still warm once.
    cron = [CronJob(warm_cache, cron=settings.cache_warm_cron, unique=True)] if settings.cache_warm_cron else []
    worker = Worker(queue, functions=[run_scan], concurrency=settings.worker_concurrency, cron_jobs=cron)
    metrics_server = await start_metrics_server(container, settings)
    tasks = [
        asyncio.create_task(worker.start(), name="saq-worker"),
        asyncio.create_task(sweep_forever(container), name="scan-sweeper"),
        asyncio.create_task((await container.get(ResetNotifier)).deliver_forever(), name="reset-notifier"),
    ]
    try:
        await stop.wait()
    finally:
        if metrics_server is not None:
            metrics_server.stop()
        await worker.stop()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await container.close()


async def start_metrics_server(container: Any, settings: Settings) -> MetricsHttpServer | None:
    """Serve this worker's metrics on `worker_metrics_port`, if set (a worker has no API to serve them on)."""
    if not (settings.metrics_enabled and settings.worker_metrics_port):
        return None
    loop = asyncio.get_running_loop()
    sampler = await container.get(MetricsSampler)
    pool = await container.get(SqlAlchemyPoolMetrics)

    def refresh() -> None:
        # Runs in the server's thread: the samples need this worker's event loop.
        try:
            asyncio.run_coroutine_threadsafe(sampler.sample(), loop).result(timeout=settings.health_check_timeout + 2)
        except Exception:
            log.warning("metrics sampling failed; serving the previous values", exc_info=True)
        pool.sample()

    server = MetricsHttpServer(
        await container.get(PrometheusExposition),
        host=settings.worker_metrics_host,
        port=settings.worker_metrics_port,
        token=settings.metrics_token,
        refresh=refresh,
    )
    server.start()
    log.info("worker metrics at http://%s:%d/metrics", settings.worker_metrics_host, server.port)
    return server


def run_worker(settings: Settings) -> None:
    """Blocking entry point for the CLI."""
    asyncio.run(serve_worker(settings))
