"""Scrape-time sampling of state that no domain event reports: dependencies, vulnerability data, sync, backlog."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable

from secapi.domain.errors import DependencyUnavailable
from secapi.domain.metrics import DependencyChecks, MetricsSink, ScanBacklog
from secapi.domain.ports import Clock, VulnerabilityStore
from secapi.domain.vulndb_sync_ports import SyncStateStore, last_full_success

log = logging.getLogger(__name__)


class MetricsSampler:
    """Reads readiness, the vulnerability database version, the last full sync and the scan backlog into the sink.

    Each part is bounded in time.
    """

    def __init__(
        self,
        readiness: DependencyChecks,
        store: VulnerabilityStore,
        backlog: ScanBacklog,
        clock: Clock,
        metrics: MetricsSink,
        *,
        timeout: float,
        sync_states: SyncStateStore | None = None,
    ) -> None:
        self._readiness = readiness
        self._store = store
        self._backlog = backlog
        self._clock = clock
        self._metrics = metrics
        self._timeout = timeout
        self._sync_states = sync_states

    async def sample(self) -> None:
        """Sample everything concurrently; a part that fails or times out keeps its previous value."""
        await asyncio.gather(
            self._bounded(self._readiness.check()),
            self._bounded(self._vulndb()),
            self._bounded(self._last_sync()),
            self._bounded(self._queued()),
        )

    async def _vulndb(self) -> None:
        current = await self._store.current_version()
        age = None if current.updated_at is None else (self._clock.now() - current.updated_at).total_seconds()
        self._metrics.vulndb_sampled(current.version, current.advisories, age)

    async def _last_sync(self) -> None:
        # From the database, not this process's memory: the API never syncs and a worker forgets on restart.
        # Never synced (imports only): nothing is set, so the gauge stays 0 and the alert uses the data's age.
        if self._sync_states is None:
            return
        finished = await last_full_success(self._sync_states)
        if finished is not None:
            self._metrics.vulndb_sync_sampled(finished.timestamp())

    async def _queued(self) -> None:
        self._metrics.backlog_sampled(await self._backlog.queued_count())

    async def _bounded(self, work: Awaitable[object]) -> None:
        try:
            async with asyncio.timeout(self._timeout):
                await work
        except (DependencyUnavailable, TimeoutError) as exc:
            # Readiness already reports the database as down; a scrape must still answer.
            log.debug("metrics sample skipped: %s", exc)
