"""Durable quota counters in `rate_limits`: incremented with each consumption, read to rebuild Redis."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import Table, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from secapi.adapters.sql.errors import translate_db_errors
from secapi.adapters.sql.models import RateLimitCounterModel
from secapi.domain.services.quotas import QuotaStore

_COUNTERS: Table = RateLimitCounterModel.__table__  # type: ignore[assignment]


class SqlQuotaStore(QuotaStore):
    """Per-bucket counters with an atomic upsert-increment."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def increment(self, user_id: UUID, quota: str, bucket: int, amount: int) -> None:
        """Add `amount` to one bucket's counter (created at zero)."""
        dialect = postgresql if self._engine.dialect.name == "postgresql" else sqlite
        statement = dialect.insert(_COUNTERS).values(user_id=user_id, quota=quota, bucket=bucket, count=amount)
        statement = statement.on_conflict_do_update(
            index_elements=["user_id", "quota", "bucket"], set_={"count": _COUNTERS.c.count + amount}
        )
        async with translate_db_errors(), self._engine.begin() as connection:
            await connection.execute(statement)

    async def buckets(self, user_id: UUID, quota: str, since: int) -> dict[int, int]:
        """Counters of buckets from `since` on."""
        query = select(_COUNTERS.c.bucket, _COUNTERS.c.count).where(
            _COUNTERS.c.user_id == user_id, _COUNTERS.c.quota == quota, _COUNTERS.c.bucket >= since
        )
        async with translate_db_errors(), self._engine.connect() as connection:
            rows = await connection.execute(query)
            return {int(bucket): int(count) for bucket, count in rows}

    async def take(self, user_id: UUID, quota: str) -> dict[int, int]:
        """Remove and return every bucket of the quota (DELETE ... RETURNING: each count is handed out once)."""
        statement = (
            delete(_COUNTERS)
            .where(_COUNTERS.c.user_id == user_id, _COUNTERS.c.quota == quota)
            .returning(_COUNTERS.c.bucket, _COUNTERS.c.count)
        )
        async with translate_db_errors(), self._engine.begin() as connection:
            rows = await connection.execute(statement)
            return {int(bucket): int(count) for bucket, count in rows}
