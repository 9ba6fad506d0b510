"""`make_container` takes one-line overrides: the named port is replaced, every other provision is the wiring's."""

from __future__ import annotations

from pathlib import Path

from secapi.adapters.memory.scan_cache import InMemoryScanCache
from secapi.adapters.memory.single_flight import InMemorySingleFlight
from secapi.config import Settings
from secapi.domain.caching import ScanCache, SingleFlight
from secapi.domain.metrics import MetricsSink, NoMetrics
from secapi.domain.ports import Clock
from secapi.domain.services.result_cache import ResultCache
from secapi.ioc import make_container

from support import overrides
from support.fakes import FakeClock


def _settings(tmp_path: Path) -> Settings:
    return Settings.from_env({}, database_url=f"sqlite+aiosqlite:///{tmp_path / 'secapi.db'}")


async def test_an_override_replaces_only_its_port(tmp_path: Path) -> None:
    clock = FakeClock()
    cache = InMemoryScanCache(clock)
    container = make_container(_settings(tmp_path), overrides.clock(clock), overrides.scan_cache(cache))
    try:
        assert await container.get(Clock) is clock
        assert await container.get(ScanCache) is cache
        # Not overridden: the embedded default's own adapters, built as usual.
        assert isinstance(await container.get(SingleFlight), InMemorySingleFlight)
        assert not isinstance(await container.get(MetricsSink), NoMetrics)
        await container.get(ResultCache)  # services depending on the swapped ports still build
    finally:
        await container.close()


async def test_without_overrides_the_wiring_is_untouched(tmp_path: Path) -> None:
    container = make_container(_settings(tmp_path))
    try:
        cache = await container.get(ScanCache)
        assert isinstance(cache, InMemoryScanCache)
        assert not isinstance(await container.get(Clock), FakeClock)
    finally:
        await container.close()
