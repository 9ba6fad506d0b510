"""Scrape-time sampling of state that no domain event reports: dependencies, vulnerability data, backlog."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable

from secapi.domain.errors import DependencyUnavailable
from secapi.domain.metrics import MetricsSink, ScanBacklog
from secapi.domain.ports import Clock, VulnerabilityStore
from secapi.domain.services.health import ReadinessService

log = logging.getLogger(__name__)


class MetricsSampler:
    """Reads readiness, the vulnerability database version and the scan backlog into the sink, each bounded in time."""

    def __init__(
        self,
        readiness: ReadinessService,
        store: VulnerabilityStore,
        backlog: ScanBacklog,
        clock: Clock,
        metrics: MetricsSink,
        *,
        timeout: float,
    ) -> None:
        self._readiness = readiness
        self._store = store
        self._backlog = backlog
        self._clock = clock
        self._metrics = metrics
        self._timeout = timeout

    async def sample(self) -> None:
        """Sample everything concurrently; a part that fails or times out keeps its previous value."""
        await asyncio.gather(
            self._bounded(self._readiness.check()), self._bounded(self._vulndb()), self._bounded(self._queued())
        )

    async def _vulndb(self) -> None:
        current = await self._store.current_version()
        age = None if current.updated_at is None else (self._clock.now() - current.updated_at).total_seconds()
        self._metrics.vulndb_sampled(current.version, current.advisories, age)

    async def _queued(self) -> None:
        self._metrics.backlog_sampled(await self._backlog.queued_count())

    async def _bounded(self, work: Awaitable[object]) -> None:
        try:
            async with asyncio.timeout(self._timeout):
                await work
        except (DependencyUnavailable, TimeoutError) as exc:
            # Readiness already reports the database as down; a scrape must still answer.
            log.debug("metrics sample skipped: %s", exc)
