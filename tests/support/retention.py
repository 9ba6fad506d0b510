"""One retention contract for every `RetentionStore`: seeded through each adapter's own writers, checked by what
is left. `check_*` functions take a `Harness`; the unit tests run them on memory and SQLite, the integration
tests on PostgreSQL (partitioned usage)."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

import msgspec
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from secapi.adapters.memory.retention import InMemoryRetentionStore, StoredScan
from secapi.adapters.sql.engine import create_session_factory
from secapi.adapters.sql.models import ApiUsageModel, ScanModel, ScanResultModel
from secapi.adapters.sql.repositories import SqlScanRepository, SqlUserRepository
from secapi.adapters.sql.retention import SqlRetentionStore
from secapi.adapters.sql.usage import SqlUsageWriter
from secapi.domain.findings import ScanResult
from secapi.domain.model import Scan, ScanStatus, ScanType, UsageRecord, User
from secapi.domain.retention import RetentionPolicy, RetentionReport, RetentionService, RetentionStore, UsagePurge
from secapi.domain.scan_inputs import LockfileScanInput
from secapi.domain.tiers import Tier

from support.fakes import FakeClock
from support.results import scan_result

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
SHORT = RetentionPolicy({Tier.FREE: 30, Tier.STARTER: 30, Tier.PRO: 30, Tier.BUSINESS: 60})


class Harness(Protocol):
    """A store and the means to seed it and see what is left."""

    store: RetentionStore

    async def add_user(self, tier: Tier) -> uuid.UUID: ...
    async def add_scan(self, user: uuid.UUID, at: datetime, result: ScanResult | None) -> uuid.UUID: ...
    async def add_usage(self, user: uuid.UUID, at: datetime) -> None: ...
    async def scans(self) -> set[uuid.UUID]: ...
    async def usage(self) -> list[tuple[uuid.UUID, datetime]]: ...
    async def documents(self) -> int: ...


def _scan(user: uuid.UUID, at: datetime, result: ScanResult | None) -> Scan:
    return Scan(
        id=uuid.uuid4(),
        user_id=user,
        scan_type=ScanType.DEPENDENCIES,
        status=ScanStatus.COMPLETED if result is not None else ScanStatus.FAILED,
        input_data=LockfileScanInput(filename="poetry.lock", sha256="ab" * 32, size=10),
        input_hash="cd" * 32,
        created_at=at,
        result=result,
        error=None if result is not None else "failed",
        started_at=at,
        finished_at=at,
        duration_ms=1.0,
    )


@dataclass
class MemoryHarness:
    """The in-memory store, seeded directly."""

    store: InMemoryRetentionStore = field(default_factory=InMemoryRetentionStore)
    _next: int = 0

    async def add_user(self, tier: Tier) -> uuid.UUID:
        user = uuid.uuid4()
        self.store.users[user] = tier
        return user

    async def add_scan(self, user: uuid.UUID, at: datetime, result: ScanResult | None) -> uuid.UUID:
        scan_id, digest = uuid.uuid4(), None
        if result is not None:
            digest = hashlib.sha256(msgspec.json.encode(result)).hexdigest()
            self.store.results[digest] = msgspec.to_builtins(result)
        self.store.scans[scan_id] = StoredScan(user, at, digest)
        return scan_id

    async def add_usage(self, user: uuid.UUID, at: datetime) -> None:
        self._next += 1
        self.store.usage[self._next] = (user, at)

    async def scans(self) -> set[uuid.UUID]:
        return set(self.store.scans)

    async def usage(self) -> list[tuple[uuid.UUID, datetime]]:
        return sorted(self.store.usage.values())

    async def documents(self) -> int:
        return len(self.store.results)


class SqlHarness:
    """The SQL store, seeded through the application's own repositories and writers."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        sessions = create_session_factory(engine)
        self.store: RetentionStore = SqlRetentionStore(engine)
        self._users = SqlUserRepository(sessions)
        self._scans = SqlScanRepository(sessions)
        self._usage = SqlUsageWriter(sessions)

    async def add_user(self, tier: Tier) -> uuid.UUID:
        user = User(id=uuid.uuid4(), email=f"{uuid.uuid4().hex}@x.invalid", tier=tier, is_admin=False, created_at=NOW)
        await self._users.add(user)
        return user.id

    async def add_scan(self, user: uuid.UUID, at: datetime, result: ScanResult | None) -> uuid.UUID:
        scan = _scan(user, at, result)
        await self._scans.add(scan)
        return scan.id

    async def add_usage(self, user: uuid.UUID, at: datetime) -> None:
        await self._usage.add_many(
            [
                UsageRecord(
                    user_id=user, endpoint="/api/v1/scans", method="GET", status_code=200, timestamp=at, duration_ms=1.0
                )
            ]
        )

    async def scans(self) -> set[uuid.UUID]:
        async with self.engine.connect() as connection:
            return set(await connection.scalars(select(ScanModel.id)))

    async def usage(self) -> list[tuple[uuid.UUID, datetime]]:
        async with self.engine.connect() as connection:
            rows = await connection.execute(select(ApiUsageModel.user_id, ApiUsageModel.timestamp))
            return sorted((user, at) for user, at in rows.tuples())

    async def documents(self) -> int:
        async with self.engine.connect() as connection:
            return int(await connection.scalar(select(func.count()).select_from(ScanResultModel)) or 0)


class Recording:
    """Wraps a store and records each delete call's (operation, rows removed, limit)."""

    def __init__(self, store: RetentionStore) -> None:
        self._store = store
        self.calls: list[tuple[str, int, int]] = []
        self.users_of_tier = store.users_of_tier
        self.prepare_usage_months = store.prepare_usage_months
        self.delete_unreferenced_results = store.delete_unreferenced_results

    async def delete_scans(self, users: Sequence[uuid.UUID], *, before: datetime, limit: int) -> int:
        deleted = await self._store.delete_scans(users, before=before, limit=limit)
        self.calls.append(("scans", deleted, limit))
        return deleted

    async def delete_usage(self, users: Sequence[uuid.UUID], *, before: datetime, limit: int) -> int:
        deleted = await self._store.delete_usage(users, before=before, limit=limit)
        self.calls.append(("usage", deleted, limit))
        return deleted

    async def drop_usage_before(self, before: datetime, *, limit: int) -> UsagePurge:
        purge = await self._store.drop_usage_before(before, limit=limit)
        self.calls.append(("old months", purge.rows, limit))
        return purge


async def run(
    store: RetentionStore, policy: RetentionPolicy = SHORT, *, batch: int = 2, users: int = 2
) -> RetentionReport:
    """One retention pass at NOW with small batches (so that every loop turns more than once)."""
    return await RetentionService(store, FakeClock(NOW), policy, batch=batch, users=users).run()


async def check_expired_scans_and_usage_go_per_tier_in_batches(harness: Harness) -> None:
    free = [await harness.add_user(Tier.FREE) for _ in range(3)]
    business = await harness.add_user(Tier.BUSINESS)
    old, recent = NOW - timedelta(days=40), NOW - timedelta(days=10)
    expired = {await harness.add_scan(free[0], old - timedelta(hours=n), None) for n in range(5)}
    expired.add(await harness.add_scan(free[2], old, None))
    kept = {await harness.add_scan(free[0], recent, None), await harness.add_scan(business, old, None)}
    for n in range(5):
        await harness.add_usage(free[1], old - timedelta(hours=n))
    await harness.add_usage(free[1], recent)
    await harness.add_usage(business, old)

    recording = Recording(harness.store)
    report = await run(recording)

    assert await harness.scans() == kept
    assert await harness.usage() == sorted([(free[1], recent), (business, old)])
    assert (report.scans[Tier.FREE], report.usage[Tier.FREE], report.scans[Tier.BUSINESS]) == (6, 5, 0)
    assert all(deleted <= limit for _, deleted, limit in recording.calls)
    scans = [deleted for op, deleted, _ in recording.calls if op == "scans" and deleted]
    assert sum(scans) == 6
    assert max(scans) == 2, "two rows at a time"
    assert len(scans) >= 3
    assert [deleted for op, deleted, _ in recording.calls if op == "usage" and deleted] == [2, 2, 1]


async def check_documents_are_shared_and_unreferenced_ones_go(harness: Harness) -> None:
    free, pro = await harness.add_user(Tier.FREE), await harness.add_user(Tier.PRO)
    shared, alone = scan_result(target="shared.lock"), scan_result(target="alone.lock")
    old, recent = NOW - timedelta(days=40), NOW - timedelta(days=1)
    await harness.add_scan(free, old, shared)
    await harness.add_scan(free, old, shared)
    await harness.add_scan(free, old, alone)
    kept = await harness.add_scan(pro, recent, shared)
    extra = [await harness.add_scan(pro, recent, scan_result(target=f"{n}.lock")) for n in range(3)]
    assert await harness.documents() == 5, "one document per distinct result, however many scans share it"

    report = await run(harness.store)

    assert await harness.scans() == {kept, *extra}
    assert report.results == 1
    assert await harness.documents() == 4


async def check_old_months_go_whatever_the_tier_and_forever_keeps(harness: Harness) -> None:
    business, pro = await harness.add_user(Tier.BUSINESS), await harness.add_user(Tier.PRO)
    ancient = datetime(2026, 8, 20, tzinfo=UTC)  # before October, the month of the longest retention's cutoff
    for n in range(3):
        await harness.add_usage(business, ancient + timedelta(hours=n))
    inside = datetime(2026, 10, 20, tzinfo=UTC)  # 46 days old: kept by business (60), not by pro (30)
    await harness.add_usage(business, inside)
    await harness.add_usage(pro, inside)
    await harness.add_scan(pro, ancient, None)

    report = await run(harness.store)

    assert await harness.usage() == [(business, inside)]
    assert report.usage[Tier.PRO] == 1
    assert report.usage_rows_dropped + sum(report.usage.values()) == 4
    forever = RetentionPolicy({**SHORT.days, Tier.PRO: 0})
    await harness.add_scan(pro, ancient, None)
    await harness.add_usage(pro, ancient)
    await run(harness.store, forever)
    assert len(await harness.scans()) == 1, "a tier kept forever loses nothing"
    assert (pro, ancient) in await harness.usage()
