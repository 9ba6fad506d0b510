"""In-memory sync state and lock, and a source wrapper that records what a sync asked for."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Collection, Iterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

from secapi.domain.osv_imports import RawRecord
from secapi.domain.services.vulndb_sync import Fetched, ModifiedId, SyncSource, SyncState, Validators


class InMemorySyncStates:
    """`SyncStateStore` over a dict; counts saves."""

    def __init__(self) -> None:
        self.rows: dict[str, SyncState] = {}
        self.saves = 0

    async def load(self, resources: Collection[str]) -> dict[str, SyncState]:
        return {key: self.rows[key] for key in resources if key in self.rows}

    async def save(self, states: Sequence[SyncState]) -> None:
        self.saves += 1
        self.rows.update({state.resource: state for state in states})


class InProcessSyncLock:
    """`SyncLock` over an asyncio lock: a second holder is refused at once."""

    def __init__(self) -> None:
        self._lock = asyncio.Lock()

    @asynccontextmanager
    async def hold(self) -> AsyncIterator[bool]:
        if self._lock.locked():
            yield False
            return
        async with self._lock:
            yield True


class RecordingSource:
    """Delegates to a real `SyncSource`, noting each call: `("archive", ecosystem, not_modified)`, ..."""

    def __init__(self, inner: SyncSource) -> None:
        self.inner = inner
        self.location = inner.location
        self.calls: list[tuple[object, ...]] = []

    def resource(self, ecosystem: str | None, name: str) -> str:
        return self.inner.resource(ecosystem, name)

    async def ecosystems(self, validators: Validators | None) -> Fetched[list[str]]:
        fetched = await self.inner.ecosystems(validators)
        self.calls.append(("ecosystems", fetched.not_modified))
        return fetched

    async def modified_ids(self, ecosystem: str, validators: Validators | None) -> Fetched[list[ModifiedId]]:
        fetched = await self.inner.modified_ids(ecosystem, validators)
        self.calls.append(("modified_ids", ecosystem, fetched.not_modified))
        return fetched

    async def archive(self, ecosystem: str, validators: Validators | None) -> Fetched[Path]:
        self.calls.append(("archive", ecosystem))
        return await self.inner.archive(ecosystem, validators)

    def archive_records(self, path: Path) -> Iterator[RawRecord]:
        return self.inner.archive_records(path)

    async def records(self, ecosystem: str, ids: Sequence[str]) -> list[RawRecord]:
        self.calls.append(("records", ecosystem, tuple(ids)))
        return await self.inner.records(ecosystem, ids)

    async def feed(self, location: str, validators: Validators | None) -> Fetched[Path]:
        fetched = await self.inner.feed(location, validators)
        self.calls.append(("feed", location, fetched.not_modified))
        return fetched

    def release(self, path: Path) -> None:
        self.inner.release(path)

    def downloads(self) -> list[tuple[object, ...]]:
        """Calls that fetched something (not a 304)."""
        return [call for call in self.calls if call[-1] is not True]
