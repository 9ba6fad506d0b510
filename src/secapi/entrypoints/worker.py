"""`secapi worker`: runs queued scans from Redis (SAQ) and sweeps stale ones.

On SIGTERM or SIGINT it takes no new scans, lets running ones finish for up to
`worker_grace_seconds`, hands the rest back to the queue, and exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable, Coroutine
from typing import Any
from uuid import UUID

from dishka import Provider
from saq import CronJob, Queue, Worker
from saq.types import Context

from secapi.adapters.prometheus.exposition import PrometheusExposition
from secapi.adapters.prometheus.pool import SqlAlchemyPoolMetrics
from secapi.adapters.prometheus.server import MetricsHttpServer
from secapi.adapters.redis.scan_queue import JOB_FUNCTION
from secapi.config import Settings
from secapi.domain.services.metrics_sampling import MetricsSampler
from secapi.entrypoints.background import (
    BackgroundProvider,
    BackgroundWork,
    ScheduledJob,
    start_loops,
    stop_background,
)
from secapi.entrypoints.jobs import hand_back
from secapi.entrypoints.vulndb import run_sync_job
from secapi.ioc import make_container

log = logging.getLogger(__name__)
HAND_BACK_SECONDS = 5.0
"""Of the grace period, at most this much is kept for handing back the scans that did not finish."""
DEQUEUE_TIMEOUT = 1.0
SYNC_JOB_TIMEOUT = 6 * 3600
"""A scheduled sync's time limit (SAQ's default is 10 s): a first sync of every ecosystem takes a while."""
"""An idle slot asks Redis for a job this often, so a stopping worker's idle slots end within it."""


class _Worker(Worker[Context]):
    """SAQ's worker without its own signal handlers: they would replace `serve_worker`'s and skip the grace."""

    SIGNALS: list[signal.Signals] = []


async def serve_worker(settings: Settings, stop: asyncio.Event | None = None, *overrides: Provider) -> None:
    """Run a SAQ worker with `settings.worker_concurrency` slots until `stop` is set (or SIGTERM/SIGINT), and
    the rest of the `BackgroundWork` list; `overrides` replace providers (tests)."""
    if not settings.redis_url:
        raise SystemExit("secapi worker needs SECAPI_REDIS_URL; without Redis the API runs scans in-process")
    sync_cron = settings.vulndb_sync_schedule
    container = make_container(settings, BackgroundProvider(), *overrides)
    work = await container.get(BackgroundWork)  # the same list as an API process on the embedded default
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)
    running: set[asyncio.Task[Any]] = set()

    async def run_scan(_ctx: Context, *, scan_id: str) -> None:
        task = asyncio.current_task()
        assert task is not None
        running.add(task)
        try:
            await work.scan_job(UUID(scan_id))
        except asyncio.CancelledError:
            # Out of grace at shutdown (or past the job timeout): give the scan back, then let SAQ re-queue the job.
            await asyncio.shield(hand_back(container, UUID(scan_id)))
            raise
        finally:
            running.discard(task)

    async def sync_vulndb(_ctx: Context) -> None:
        await run_sync_job(container)

    run_scan.__qualname__ = run_scan.__name__ = JOB_FUNCTION
    queue = await container.get(Queue)
    # SAQ enqueues a cron job under one key per run, so several workers still run each scheduled job once.
    cron = [CronJob(_saq_function(job), cron=job.cron, unique=True, timeout=job.timeout) for job in work.scheduled]
    if sync_cron:
        # unique=True keeps one queued run per tick; the sync's own lock keeps CLI runs and slow ticks apart.
        cron.append(CronJob(sync_vulndb, cron=sync_cron, unique=True, timeout=SYNC_JOB_TIMEOUT))
    grace = max(settings.worker_grace_seconds, 0.0)
    reserve = min(HAND_BACK_SECONDS, grace / 2)
    worker = _Worker(
        queue,
        functions=[run_scan],
        concurrency=settings.worker_concurrency,
        cron_jobs=cron,
        dequeue_timeout=DEQUEUE_TIMEOUT,
        shutdown_grace_period_s=int(grace - reserve),
        cancellation_hard_deadline_s=reserve / 2,
    )
    metrics_server = await start_metrics_server(container, settings)
    saq_task = asyncio.create_task(worker.start(), name="saq-worker")
    background = start_loops(work)
    await asyncio.sleep(0)  # let SAQ reach its wait before a stop that is already set is acted on
    try:
        await stop.wait()
        log.info("stopping: %d running scans get up to %.0f s to finish", len(running), grace - reserve)
    finally:
        deadline = loop.time() + grace
        if metrics_server is not None:
            metrics_server.stop()
        await _stop_saq(worker, saq_task, deadline)
        await work.stop()
        await stop_background(background)
        await container.close()


def _saq_function(job: ScheduledJob) -> Callable[[Context], Coroutine[Any, Any, None]]:
    """`job` as a SAQ function, named after it with underscores (`warm-cache`: SAQ's `warm_cache` job)."""

    async def run(_ctx: Context) -> None:
        await job.run()

    run.__qualname__ = run.__name__ = job.name.replace("-", "_")
    return run


async def _stop_saq(worker: Worker[Context], saq_task: asyncio.Task[None], deadline: float) -> None:
    """Take no new jobs, let the running ones finish within SAQ's grace period, then cancel (hand back) the rest."""
    loop = asyncio.get_running_loop()
    worker.event.set()
    slots = [task for task in worker.tasks if task.get_name() == "process"]
    # SAQ's grace waits for every task; its upkeep loops sleep up to a minute, so end them now
    # (they return quietly once the event is set) and the wait ends as soon as the scans do.
    for task in worker.tasks:
        if task.get_name() != "process":
            task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await worker.stop()
    # A cancelled slot hands its scan back and re-queues the job after SAQ's own wait has ended.
    pending = [task for task in (*slots, saq_task) if not task.done()]
    if pending:
        await asyncio.wait(pending, timeout=max(deadline - loop.time(), 0.1))
    for task in pending:
        task.cancel()


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
