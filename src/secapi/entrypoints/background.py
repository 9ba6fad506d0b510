"""What runs in the background of a process that takes scans: one list, for `secapi worker` and for the API
process on the embedded default (no Redis, so no worker process).

Each loop runs until cancelled and survives its own failures. The scan consumer itself is not in the list:
a worker takes scans from SAQ (with a shutdown grace that hands unfinished ones back), the embedded API
process from its in-process queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

from dishka import AsyncContainer

from secapi.domain.services.reset_notifications import ResetNotifier
from secapi.domain.services.watches import WatchEventDelivery, WatchRematcher
from secapi.entrypoints.jobs import sweep_scans

log = logging.getLogger(__name__)
SWEEP_INTERVAL = 15.0


@dataclass(frozen=True)
class BackgroundLoop:
    """A named loop that runs until cancelled."""

    name: str
    run: Callable[[], Coroutine[Any, Any, None]]


async def sweep_forever(container: AsyncContainer, interval: float = SWEEP_INTERVAL) -> None:
    """Sweep stale scans every `interval` seconds, surviving any one failure."""
    while True:
        try:
            await sweep_scans(container)
        except Exception:  # the loop must outlive a database hiccup
            log.exception("scan sweep failed")
        await asyncio.sleep(interval)


async def background_loops(container: AsyncContainer) -> tuple[BackgroundLoop, ...]:
    """The loops a scan-taking process runs: the stale-scan sweeper, quota-reset webhooks, watch events."""
    notifier = await container.get(ResetNotifier)
    delivery = await container.get(WatchEventDelivery)
    rematcher = await container.get(WatchRematcher)
    return (
        BackgroundLoop("scan-sweeper", lambda: sweep_forever(container)),
        BackgroundLoop("reset-notifier", notifier.deliver_forever),
        # scan.new_findings webhooks, taking finished baselines of watches on the way.
        BackgroundLoop("watch-events", lambda: delivery.deliver_forever(rematcher)),
    )


async def start_background(container: AsyncContainer) -> list[asyncio.Task[None]]:
    """Start every loop of `background_loops` as a task named after it."""
    return [asyncio.create_task(loop.run(), name=loop.name) for loop in await background_loops(container)]


async def stop_background(tasks: Sequence[asyncio.Task[None]]) -> None:
    """Cancel the loops and wait for each to end (a failure while ending is not the caller's problem)."""
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
