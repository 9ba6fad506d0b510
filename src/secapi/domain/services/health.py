"""Readiness: are the services we depend on answering?"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from secapi.domain.errors import DependencyUnavailable
from secapi.domain.metrics import MetricsSink, NoMetrics
from secapi.domain.ports import HealthProbe, VulnerabilityStore


@dataclass(frozen=True, slots=True)
class Readiness:
    """Each dependency's state: None when healthy, else why not."""

    checks: dict[str, str | None]

    @property
    def ready(self) -> bool:
        """True when every dependency answered."""
        return all(reason is None for reason in self.checks.values())

    @property
    def failing(self) -> list[str]:
        """Names of the dependencies that did not answer."""
        return [name for name, reason in self.checks.items() if reason is not None]


class ReadinessService:
    """Runs every probe concurrently (each bounds its own time)."""

    def __init__(self, probes: Sequence[HealthProbe], metrics: MetricsSink | None = None) -> None:
        self._probes = tuple(probes)
        self._metrics = metrics or NoMetrics()

    async def check(self) -> Readiness:
        """The state of every dependency (also reported to the metrics sink)."""
        outcomes = await asyncio.gather(*(self._run(probe) for probe in self._probes))
        readiness = Readiness(checks=dict(zip((p.name for p in self._probes), outcomes, strict=True)))
        for name, reason in readiness.checks.items():
            self._metrics.dependency_checked(name, available=reason is None)
        return readiness

    @staticmethod
    async def _run(probe: HealthProbe) -> str | None:
        try:
            await probe.check()
        except DependencyUnavailable as exc:
            return str(exc)
        return None


class VulnDbProbe:
    """Ready only with advisories loaded: an empty database would make every scan answer a false "clean"."""

    name = "vulnerability-database"

    def __init__(self, store: VulnerabilityStore, timeout: float) -> None:
        self._store = store
        self._timeout = timeout

    async def check(self) -> None:
        """Raise `DependencyUnavailable` when no advisories are loaded (or the store cannot say in time)."""
        try:
            async with asyncio.timeout(self._timeout):
                version = await self._store.current_version()
        except TimeoutError as exc:
            raise DependencyUnavailable(
                f"the vulnerability database did not answer within {self._timeout:g} s"
            ) from exc
        if version.version == 0 or version.advisories == 0:
            raise DependencyUnavailable("the vulnerability database holds no advisories (run `secapi vulndb import`)")
