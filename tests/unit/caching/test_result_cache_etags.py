"""A stored result carries its ETag, so a hit never hashes the result again."""

from __future__ import annotations

from datetime import timedelta

import msgspec

from secapi.adapters.memory.popular import InMemoryPopularInputs
from secapi.adapters.memory.scan_cache import InMemoryScanCache
from secapi.adapters.memory.single_flight import InMemorySingleFlight
from secapi.domain.caching import CachedScan
from secapi.domain.services.result_cache import CacheStatus, ResultCache, etag_of
from secapi.domain.tiers import Tier

from support.fakes import FakeClock


class FixedVersion:
    async def current(self) -> int:
        return 4

    async def publish(self, version: int) -> None:
        return None


def _results(clock: FakeClock) -> tuple[ResultCache, InMemoryScanCache]:
    cache = InMemoryScanCache(clock)
    results = ResultCache(
        cache, FixedVersion(), InMemorySingleFlight(), InMemoryPopularInputs(), clock, follower_wait=1.0
    )
    return results, cache


async def test_the_etag_is_computed_once_when_stored_and_served_from_the_entry() -> None:
    clock = FakeClock()
    results, cache = _results(clock)
    stored = await results.store(
        "scan:dependencies:k", "dependencies", {}, {"findings": [1]}, version=4, tier=Tier.FREE
    )

    found = await results.lookup("scan:dependencies:k", "dependencies", version=4)

    assert found is not None
    assert found.etag == stored.etag == etag_of(bytes(found.result))
    # The header value comes from the stored field: a different one there shows through.
    await cache.set_scan_result("scan:dependencies:k", msgspec.structs.replace(found, etag='"stored"'), 60)
    again = await results.lookup("scan:dependencies:k", "dependencies", version=4)
    assert again is not None
    assert results.info(again, CacheStatus.HIT).etag == '"stored"'


def test_entries_stored_before_the_field_existed_still_get_their_etag() -> None:
    clock = FakeClock()
    results, _ = _results(clock)
    now = clock.now()
    old = CachedScan(
        scan_type="dependencies",
        input={},
        vulndb_version=4,
        created_at=now,
        expires_at=now + timedelta(seconds=60),
        result=msgspec.Raw(b'{"findings":[]}'),
    )
    assert results.info(old, CacheStatus.HIT).etag == etag_of(b'{"findings":[]}')
