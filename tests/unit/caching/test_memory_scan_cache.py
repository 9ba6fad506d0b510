"""The in-process scan cache honours TTLs, patterns, its size bound, and counts hits and misses."""

from __future__ import annotations

from datetime import timedelta

import msgspec
import pytest

from secapi.adapters.memory.scan_cache import InMemoryScanCache
from secapi.domain.caching import CachedScan

from support.fakes import FakeClock


def _entry(clock: FakeClock, ttl: int = 3600, result: bytes = b'{"findings":[]}') -> CachedScan:
    now = clock.now()
    return CachedScan(
        scan_type="dependencies",
        input={"filename": "poetry.lock"},
        vulndb_version=3,
        created_at=now,
        expires_at=now + timedelta(seconds=ttl),
        result=msgspec.Raw(result),
    )


@pytest.fixture
def cache(clock: FakeClock) -> InMemoryScanCache:
    return InMemoryScanCache(clock, max_entries=3)


async def test_stored_entry_comes_back_with_its_result_bytes_untouched(
    cache: InMemoryScanCache, clock: FakeClock
) -> None:
    entry = _entry(clock, result=b'{"findings": [1, 2]}')
    await cache.set_scan_result("scan:dependencies:a", entry, 3600)

    found = await cache.get_scan_result("scan:dependencies:a")

    assert found is not None
    assert bytes(found.result) == b'{"findings": [1, 2]}'
    assert (found.vulndb_version, found.input, found.expires_at) == (3, {"filename": "poetry.lock"}, entry.expires_at)
    assert (cache.sets, cache.gets) == (1, 1)


async def test_entry_expires_after_its_ttl(cache: InMemoryScanCache, clock: FakeClock) -> None:
    await cache.set_scan_result("scan:dependencies:a", _entry(clock, ttl=60), 60)

    clock.advance(59)
    assert await cache.get_scan_result("scan:dependencies:a") is not None
    clock.advance(1)
    assert await cache.get_scan_result("scan:dependencies:a") is None
    assert cache.keys() == []


async def test_entry_past_its_expires_at_is_not_served_even_within_the_ttl(
    cache: InMemoryScanCache, clock: FakeClock
) -> None:
    await cache.set_scan_result("scan:dependencies:a", _entry(clock, ttl=10), 3600)
    clock.advance(10)
    assert await cache.get_scan_result("scan:dependencies:a") is None


async def test_non_positive_ttl_stores_nothing(cache: InMemoryScanCache, clock: FakeClock) -> None:
    await cache.set_scan_result("scan:dependencies:a", _entry(clock), 0)
    await cache.set_scan_result("scan:dependencies:b", _entry(clock), -5)
    assert cache.keys() == []
    assert cache.sets == 0


async def test_invalidate_pattern_removes_exactly_the_matching_keys(clock: FakeClock) -> None:
    cache = InMemoryScanCache(clock)
    for key in ("scan:dependencies:1", "scan:dependencies:2", "scan:docker:1", "scan:docker:2"):
        await cache.set_scan_result(key, _entry(clock), 3600)

    assert await cache.invalidate_pattern("scan:dependencies:*") == 2
    assert await cache.invalidate_pattern("scan:docker:[1]") == 1
    assert cache.keys() == ["scan:docker:2"]
    assert await cache.invalidate_pattern("scan:nothing:*") == 0


async def test_invalidate_does_not_count_expired_keys(cache: InMemoryScanCache, clock: FakeClock) -> None:
    await cache.set_scan_result("scan:dependencies:old", _entry(clock, ttl=5), 5)
    clock.advance(5)
    await cache.set_scan_result("scan:dependencies:new", _entry(clock), 3600)
    assert await cache.invalidate_pattern("scan:*") == 1


@pytest.mark.parametrize("pattern", ["*", "rl:*", "lock:scan:*", "secapi:*", "SCAN:*", "s*"])
async def test_invalidate_refuses_patterns_outside_scan_results(cache: InMemoryScanCache, pattern: str) -> None:
    with pytest.raises(ValueError, match="must start with 'scan:'"):
        await cache.invalidate_pattern(pattern)


async def test_size_bound_evicts_the_least_recently_used(cache: InMemoryScanCache, clock: FakeClock) -> None:
    for key in ("scan:t:a", "scan:t:b", "scan:t:c"):
        await cache.set_scan_result(key, _entry(clock), 3600)
    assert await cache.get_scan_result("scan:t:a") is not None  # a is now the most recently used

    await cache.set_scan_result("scan:t:d", _entry(clock), 3600)

    assert cache.keys() == ["scan:t:c", "scan:t:a", "scan:t:d"]
    assert cache.evictions == 1
    assert await cache.get_scan_result("scan:t:b") is None


async def test_stats_count_hits_misses_and_live_keys(cache: InMemoryScanCache, clock: FakeClock) -> None:
    await cache.set_scan_result("scan:dependencies:a", _entry(clock), 3600)
    await cache.set_scan_result("scan:docker:a", _entry(clock, ttl=5), 5)
    for hit in (True, True, False):
        await cache.record("dependencies", hit=hit)
    await cache.record("docker", hit=False)
    clock.advance(5)

    stats = await cache.get_cache_stats()

    assert stats.hits == {"dependencies": 2}
    assert stats.misses == {"dependencies": 1, "docker": 1}
    assert stats.hit_rate == {"dependencies": pytest.approx(2 / 3), "docker": 0.0}
    assert stats.keys == 1
    assert stats.memory_bytes is not None
    assert stats.memory_bytes > 0
    assert stats.available


async def test_empty_cache_reports_empty_stats(cache: InMemoryScanCache) -> None:
    stats = await cache.get_cache_stats()
    assert (stats.hits, stats.misses, stats.hit_rate, stats.keys, stats.memory_bytes) == ({}, {}, {}, 0, 0)
