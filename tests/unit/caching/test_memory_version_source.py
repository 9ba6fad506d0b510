"""The vulnerability database version is memoised briefly, and a publish is seen at once."""

from __future__ import annotations

import asyncio

from secapi.adapters.memory.versions import InMemoryVersionSource
from secapi.domain.advisories import VulnDbVersion

from support.fakes import FakeClock


class CountingStore:
    """Just enough of a vulnerability store: a version, reads counted, optionally slow."""

    def __init__(self, version: int = 1, delay: float = 0.0) -> None:
        self.version = version
        self.delay = delay
        self.reads = 0

    async def current_version(self) -> VulnDbVersion:
        self.reads += 1
        version = self.version
        await asyncio.sleep(self.delay)
        return VulnDbVersion(version=version, updated_at=None)


async def test_version_is_read_from_the_store_at_most_once_per_ttl() -> None:
    store, clock = CountingStore(version=4), FakeClock()
    source = InMemoryVersionSource(store, ttl=1.0, clock=clock)  # type: ignore[arg-type]

    assert [await source.current() for _ in range(5)] == [4] * 5
    assert store.reads == 1

    store.version = 5
    clock.advance(0.9)
    assert await source.current() == 4
    clock.advance(0.1)
    assert await source.current() == 5
    assert store.reads == 2


async def test_publish_drops_the_memo() -> None:
    store, clock = CountingStore(version=1), FakeClock()
    source = InMemoryVersionSource(store, clock=clock)  # type: ignore[arg-type]
    assert await source.current() == 1

    store.version = 2
    await source.publish(2)

    assert await source.current() == 2


async def test_concurrent_callers_share_one_store_read() -> None:
    store = CountingStore(version=7, delay=0.02)
    source = InMemoryVersionSource(store, clock=FakeClock())  # type: ignore[arg-type]

    assert await asyncio.gather(*(source.current() for _ in range(20))) == [7] * 20
    assert store.reads == 1


async def test_a_read_started_before_publish_is_not_memoised() -> None:
    store = CountingStore(version=1, delay=0.05)
    source = InMemoryVersionSource(store, clock=FakeClock())  # type: ignore[arg-type]

    stale_read = asyncio.create_task(source.current())
    await asyncio.sleep(0.01)  # the read has taken version 1 and is still in flight
    store.version = 2
    await source.publish(2)

    assert await stale_read == 1
    assert await source.current() == 2
