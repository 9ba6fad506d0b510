"""What runs in the background of a process that takes scans: one provided list (`BackgroundWork`, from the
container), for `secapi worker` and for the API process on the embedded default (no Redis, so no worker process).

The list holds the scan consumers' job, the loops (sweeper, reset notifier, watch events), the scheduled jobs
(cache warming) and what is stopped at shutdown (archive runs). Each process runs every entry its own way:
a worker takes scans from SAQ (with a shutdown grace that hands unfinished ones back) and schedules with SAQ's
cron (once across workers); the embedded API process takes scans from its in-process queue and schedules in
process. An API process with Redis runs only the shutdown steps: its uploads' archive runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from croniter import croniter
from dishka import AsyncContainer, Provider, Scope, provide

from secapi.adapters.registry.archive_runs import InProcessArchiveRuns
from secapi.config import Settings
from secapi.domain.services.reset_notifications import ResetNotifier
from secapi.domain.services.watches import WatchEventDelivery, WatchRematcher
from secapi.entrypoints.jobs import enforce_retention, run_scan_job, sweep_scans, warm_popular

log = logging.getLogger(__name__)
SWEEP_INTERVAL = 15.0
RETENTION_TIMEOUT = 6 * 3600
"""A retention run's limit: its first run on a large database deletes months of rows, a batch at a time."""


@dataclass(frozen=True)
class BackgroundLoop:
    """A named loop that runs until cancelled."""

    name: str
    run: Callable[[], Coroutine[Any, Any, None]]


@dataclass(frozen=True)
class ScheduledJob:
    """A named job run at each time of a cron expression."""

    name: str
    cron: str
    run: Callable[[], Coroutine[Any, Any, None]]
    timeout: int | None = None
    """Seconds a worker lets one run take (None: SAQ's default, 10 s)."""


@dataclass(frozen=True)
class BackgroundWork:
    """Everything a scan-taking process runs besides requests (see the module's docstring)."""

    scan_job: Callable[[UUID], Coroutine[Any, Any, None]]
    """What a scan consumer runs for one queued scan (in its own request scope)."""
    loops: tuple[BackgroundLoop, ...]
    scheduled: tuple[ScheduledJob, ...]
    on_stop: tuple[BackgroundLoop, ...]
    """Steps run once at shutdown, before the loops are cancelled."""

    SCAN_CONSUMER = "scan-consumer"

    def names(self) -> tuple[str, ...]:
        """Every entry's name, the scan consumers first."""
        scheduled = tuple(job.name for job in self.scheduled)
        return (self.SCAN_CONSUMER, *(loop.name for loop in self.loops), *scheduled, *(s.name for s in self.on_stop))

    async def stop(self) -> None:
        """Run the shutdown steps (each one's failure is logged, not raised)."""
        for step in self.on_stop:
            try:
                await step.run()
            except Exception:
                log.exception("background shutdown step %s failed", step.name)


class BackgroundProvider(Provider):
    """Provides the `BackgroundWork` list; the app factory and `secapi worker` add it to their containers."""

    @provide(scope=Scope.APP)
    async def background_work(
        self,
        container: AsyncContainer,
        settings: Settings,
        notifier: ResetNotifier,
        delivery: WatchEventDelivery,
        rematcher: WatchRematcher,
        archive_runs: InProcessArchiveRuns,
    ) -> BackgroundWork:
        async def scan_job(scan_id: UUID) -> None:
            await run_scan_job(container, scan_id)

        async def warm_cache() -> None:
            await warm_popular(container, settings.cache_warm_top)

        async def retention() -> None:
            await enforce_retention(container)

        warm_cron = settings.cache_warm_schedule  # checked when the settings were built
        retention_cron = settings.retention_schedule
        scheduled: tuple[ScheduledJob, ...] = (ScheduledJob("warm-cache", warm_cron, warm_cache),) if warm_cron else ()
        if retention_cron:
            scheduled += (ScheduledJob("retention", retention_cron, retention, timeout=RETENTION_TIMEOUT),)
        return BackgroundWork(
            scan_job=scan_job,
            loops=(
                BackgroundLoop("scan-sweeper", lambda: sweep_forever(container)),
                BackgroundLoop("reset-notifier", notifier.deliver_forever),
                # scan.new_findings webhooks, taking finished baselines of watches on the way.
                BackgroundLoop("watch-events", lambda: delivery.deliver_forever(rematcher)),
            ),
            scheduled=scheduled,
            # Uploads' scans run where they were received; stopped ones are failed later by the sweeper.
            on_stop=(BackgroundLoop("archive-runs", archive_runs.cancel_all),),
        )


async def sweep_forever(container: AsyncContainer, interval: float = SWEEP_INTERVAL) -> None:
    """Sweep stale scans every `interval` seconds, surviving any one failure."""
    while True:
        try:
            await sweep_scans(container)
        except Exception:  # the loop must outlive a database hiccup
            log.exception("scan sweep failed")
        await asyncio.sleep(interval)


async def on_schedule(job: ScheduledJob) -> None:
    """Run `job` at each time of its cron expression (in UTC, as SAQ's cron), surviving any one failure."""
    times = croniter(job.cron, datetime.now(UTC))
    while True:
        await asyncio.sleep(max(times.get_next(float) - time.time(), 0.0))
        try:
            await job.run()
        except Exception:  # the next time tries again
            log.exception("scheduled job %s failed", job.name)


def start_loops(work: BackgroundWork) -> list[asyncio.Task[None]]:
    """Start every loop of `work` as a task named after it."""
    return [asyncio.create_task(loop.run(), name=loop.name) for loop in work.loops]


def start_scheduled(work: BackgroundWork) -> list[asyncio.Task[None]]:
    """Start a task per scheduled job of `work` that runs it on its schedule (a process with no worker)."""
    return [asyncio.create_task(on_schedule(job), name=job.name) for job in work.scheduled]


async def stop_background(tasks: Sequence[asyncio.Task[None]]) -> None:
    """Cancel the loops and wait for each to end (a failure while ending is not the caller's problem)."""
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
