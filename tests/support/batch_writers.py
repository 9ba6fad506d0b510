"""One check of the batched writers (cache-hit scans, usage rows), run on SQLite and on PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import msgspec
from dishka import AsyncContainer
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from secapi.adapters.sql.models import ApiUsageModel
from secapi.adapters.sql.usage import SqlScanWriter, SqlUsageWriter
from secapi.domain.model import Scan, ScanStatus, ScanType, UsageRecord
from secapi.domain.ports import ScanRepository
from secapi.domain.scan_inputs import LockfileScanInput
from secapi.domain.services.accounts import AccountService
from secapi.domain.tiers import Tier

from support.results import scan_result


async def check_batch_writers(container: AsyncContainer) -> None:
    """Hit rows come back with their result and input as given; usage rows are all counted."""
    async with container() as request:
        user, _ = await (await request.get(AccountService)).create_user(f"{uuid.uuid4()}@example.com", Tier.FREE)
    sessions = await container.get(async_sessionmaker[AsyncSession])
    now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    result = scan_result(target="café ☃/requirements.txt")
    raw = msgspec.json.encode(result).replace("☃".encode(), b"\\u2603")  # JSON text as any encoder may write it
    scans = [
        Scan(
            id=uuid.uuid4(),
            user_id=user.id,
            scan_type=ScanType.DEPENDENCIES,
            status=ScanStatus.COMPLETED,
            input_data=LockfileScanInput(filename=f"poetry-{n}.lock", sha256="ab" * 32, size=n),
            input_hash="cd" * 32,
            created_at=now + timedelta(seconds=n),
            started_at=now,
            finished_at=now,
            duration_ms=0.0,
        )
        for n in range(3)
    ]
    await SqlScanWriter(sessions).add_many([(scan, raw) for scan in scans])
    usage = [
        UsageRecord(
            user_id=user.id, endpoint="/api/v1/scans", method="GET", status_code=200, timestamp=now, duration_ms=1.5 * n
        )
        for n in range(5)
    ]
    await SqlUsageWriter(sessions).add_many(usage)
    await SqlUsageWriter(sessions).add_many([])

    repository = await container.get(ScanRepository)
    for scan in scans:
        stored = await repository.get(scan.id)
        assert stored is not None
        assert stored.result == result
        assert stored.input_data == scan.input_data
        assert (stored.created_at, stored.status) == (scan.created_at, ScanStatus.COMPLETED)
    async with sessions() as session:
        count = await session.scalar(select(func.count()).where(ApiUsageModel.user_id == user.id))
        durations = sorted((await session.scalars(select(ApiUsageModel.duration_ms))).all())
    assert count == 5
    assert durations[-1] == 6.0
