"""Retention in SQL: each call deletes one bounded batch in a transaction of its own.

Scans and usage rows go by primary key through a `LIMIT`ed sub-select on the owners' index
(`idx_scans_user_created`, `idx_api_usage_user_timestamp`); scans being claimed or updated are skipped
(`FOR UPDATE SKIP LOCKED`) and taken by a later run. On PostgreSQL, `api_usage` is partitioned by month
(migration 0012): whole months older than the longest retention are dropped (under a short `lock_timeout`,
so a drop waiting for a long query never stalls inserts queued behind it), and the coming months' partitions
are made ahead, taking over any rows the DEFAULT partition caught for them. Result documents are swept in
digest order, a window at a time; a document whose scan is being written is locked by that scan's foreign
key check and skipped.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from uuid import UUID

from sqlalchemy import Executable, ScalarSelect, Table, TextClause, delete, exists, select, text, tuple_
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from secapi.adapters.sql.errors import translate_db_errors
from secapi.adapters.sql.models import ApiUsageModel, ScanModel, ScanResultModel, UserModel
from secapi.domain.retention import ResultSweep, RetentionStore, UsagePurge, month_start, next_month
from secapi.domain.tiers import Tier

log = logging.getLogger(__name__)

API_USAGE: Table = ApiUsageModel.__table__  # type: ignore[assignment]  # a Table at runtime
PARTITION = re.compile(r"api_usage_y(\d{4})m(\d{2})")
DEFAULT_PARTITION = "api_usage_default"
USAGE_COLUMNS = 'id, user_id, endpoint, method, status_code, "timestamp", duration_ms'
LOCK_NOT_AVAILABLE = "55P03"
LOCK_TIMEOUT = "5s"
"""How long a partition drop or attach waits for its table lock before giving up until the next run."""


def partition_name(month: datetime) -> str:
    """The name of the partition holding `month`'s usage rows."""
    return f"api_usage_y{month.year:04d}m{month.month:02d}"


class SqlRetentionStore(RetentionStore):
    """`RetentionStore` over the engine: PostgreSQL (partitioned usage) or SQLite (a plain table)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._postgres = engine.dialect.name == "postgresql"

    async def users_of_tier(self, tier: Tier, *, after: UUID | None, limit: int) -> Sequence[UUID]:
        """Up to `limit` ids of the tier's users after `after`, in id order."""
        query = select(UserModel.id).where(UserModel.tier == tier.value)
        if after is not None:
            query = query.where(UserModel.id > after)
        async with translate_db_errors(), self._engine.connect() as connection:
            return list(await connection.scalars(query.order_by(UserModel.id).limit(limit)))

    async def delete_scans(self, users: Sequence[UUID], *, before: datetime, limit: int) -> int:
        """Delete up to `limit` of these users' scans created before `before` (locked ones wait for a later run)."""
        if not users:
            return 0
        if self._postgres:
            return await self._deleted(_PG_SCANS.bindparams(users=list(users), before=before, limit=limit))
        batch = (
            select(ScanModel.id)
            .where(ScanModel.user_id.in_(users), ScanModel.created_at < before)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return await self._deleted(delete(ScanModel).where(ScanModel.id.in_(batch.scalar_subquery())))

    async def delete_usage(self, users: Sequence[UUID], *, before: datetime, limit: int) -> int:
        """Delete up to `limit` of these users' usage rows before `before` (only the partitions before it)."""
        if not users:
            return 0
        if self._postgres:
            return await self._deleted(_PG_USAGE.bindparams(users=list(users), before=before, limit=limit))
        batch = (
            select(ApiUsageModel.id, ApiUsageModel.timestamp)
            .where(ApiUsageModel.user_id.in_(users), ApiUsageModel.timestamp < before)
            .limit(limit)
        )
        key = tuple_(ApiUsageModel.id, ApiUsageModel.timestamp)
        return await self._deleted(delete(ApiUsageModel).where(key.in_(batch)))

    async def drop_usage_before(self, before: datetime, *, limit: int) -> UsagePurge:
        """Drop the monthly partitions that ended by `before`'s month; then delete up to `limit` rows still
        before it (the DEFAULT partition's on PostgreSQL, SQLite's plain table)."""
        start = month_start(before.astimezone(UTC))
        if not await self._partitioned():
            batch = select(ApiUsageModel.id).where(ApiUsageModel.timestamp < start).limit(limit)
            rows = await self._deleted(delete(ApiUsageModel).where(ApiUsageModel.id.in_(batch.scalar_subquery())))
            return UsagePurge(partitions=(), rows=rows)
        dropped: list[str] = []
        for name, month in await self._partitions():
            if next_month(month) > start:
                continue
            if not await self._locked_ddl(text(f'DROP TABLE "{name}"')):
                # Busy: that month stays until the next run (per-tier deletion never reads it row by row).
                return UsagePurge(partitions=tuple(dropped), rows=0)
            dropped.append(name)
        rows = await self._deleted(_PG_OLD_DEFAULT.bindparams(start=start, limit=limit))
        return UsagePurge(partitions=tuple(dropped), rows=rows)

    async def prepare_usage_months(self, start: datetime, end: datetime) -> Sequence[str]:
        """Attach a partition for each month from `start`'s to `end`'s that has none (PostgreSQL only)."""
        if not await self._partitioned():
            return []
        existing = {name for name, _ in await self._partitions()}
        made: list[str] = []
        month = month_start(start.astimezone(UTC))
        while month <= end:
            name = partition_name(month)
            if name not in existing and await self._attach(name, month, next_month(month)):
                made.append(name)
            month = next_month(month)
        return made

    async def delete_unreferenced_results(self, *, after: str | None, limit: int) -> ResultSweep:
        """Delete the documents no scan references among the next `limit` digests after `after`."""
        window = select(ScanResultModel.digest).order_by(ScanResultModel.digest).limit(limit)
        if after is not None:
            window = window.where(ScanResultModel.digest > after)
        async with translate_db_errors(), self._engine.connect() as connection:
            digests = list(await connection.scalars(window))
        if not digests:
            return ResultSweep(deleted=0, last=None)
        statement: Executable
        if self._postgres:
            statement = _PG_RESULTS.bindparams(first=digests[0], last=digests[-1])
        else:
            statement = delete(ScanResultModel).where(ScanResultModel.digest.in_(_unreferenced(digests)))
        try:
            deleted = await self._deleted(statement)
        except IntegrityError:
            # A scan referencing one of them committed between this statement's snapshot and its lock: nothing
            # is lost (the foreign key refused the delete); the window is looked at again by the next run.
            log.info("result documents %s..%s: one was taken meanwhile; left for the next run", digests[0], digests[-1])
            deleted = 0
        return ResultSweep(deleted=deleted, last=digests[-1] if len(digests) == limit else None)

    async def _deleted(self, statement: Executable) -> int:
        async with translate_db_errors(), self._engine.begin() as connection:
            result = await connection.execute(statement)
            return int(getattr(result, "rowcount", 0) or 0)

    async def _partitioned(self) -> bool:
        if not self._postgres:
            return False
        async with translate_db_errors(), self._engine.connect() as connection:
            kind = await connection.scalar(text("SELECT relkind::text FROM pg_class WHERE oid = 'api_usage'::regclass"))
        return bool(kind == "p")

    async def _partitions(self) -> list[tuple[str, datetime]]:
        """The monthly partitions of `api_usage` (name, first instant), oldest first; none on SQLite."""
        if not self._postgres:
            return []
        query = text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            " WHERE i.inhparent = 'api_usage'::regclass"
        )
        async with translate_db_errors(), self._engine.connect() as connection:
            names = list(await connection.scalars(query))
        months = []
        for name in names:
            match = PARTITION.fullmatch(name)
            if match is not None:
                months.append((name, datetime(int(match[1]), int(match[2]), 1, tzinfo=UTC)))
        return sorted(months, key=lambda item: item[1])

    async def _attach(self, name: str, start: datetime, end: datetime) -> bool:
        """Make `name` for [start, end): rows the DEFAULT partition caught for it move in, then it is attached."""
        bounds = f"FROM ('{start.isoformat()}') TO ('{end.isoformat()}')"
        # Names and columns are this module's constants; the bounds are bound parameters.
        moved = (
            f'WITH moved AS (DELETE FROM {DEFAULT_PARTITION} WHERE "timestamp" >= :start AND "timestamp" < :end'  # noqa: S608
            f' RETURNING {USAGE_COLUMNS}) INSERT INTO "{name}" ({USAGE_COLUMNS}) SELECT {USAGE_COLUMNS} FROM moved'
        )
        statements = [
            text(f'CREATE TABLE "{name}" (LIKE api_usage INCLUDING DEFAULTS)'),
            text(moved).bindparams(start=start, end=end),
            text(f'ALTER TABLE api_usage ATTACH PARTITION "{name}" FOR VALUES {bounds}'),
        ]
        return await self._locked_ddl(*statements)

    async def _locked_ddl(self, *statements: TextClause) -> bool:
        """Run the statements in one transaction that waits at most `LOCK_TIMEOUT` for each lock; False if busy."""
        try:
            async with translate_db_errors(), self._engine.begin() as connection:
                await _lock_timeout(connection)
                for statement in statements:
                    await connection.execute(statement)
        except DBAPIError as exc:
            if getattr(exc.orig, "sqlstate", None) != LOCK_NOT_AVAILABLE and "lock timeout" not in str(exc.orig):
                raise
            log.warning("retention: %s waited too long for a lock; trying again on the next run", statements[0])
            return False
        return True


def _unreferenced(digests: Sequence[str]) -> ScalarSelect[str]:
    return (
        select(ScanResultModel.digest)
        .where(
            ScanResultModel.digest.between(digests[0], digests[-1]),
            ~exists().where(ScanModel.result_digest == ScanResultModel.digest),
        )
        .scalar_subquery()
    )


# PostgreSQL: each user's rows are found through the owner index (a LATERAL probe per user, which the planner
# cannot turn into a sequential scan of the table), then deleted by key from an array (`= ANY(ARRAY(...))`: an
# index condition, never a hash join over the whole table). The usage delete names its users and bound again so
# that only the expired months' partitions are visited.
_PG_SCANS = text(
    "DELETE FROM scans WHERE id = ANY(ARRAY("
    " SELECT s.id FROM unnest(CAST(:users AS uuid[])) AS u(id) CROSS JOIN LATERAL ("
    "  SELECT id FROM scans WHERE user_id = u.id AND created_at < :before LIMIT :limit FOR UPDATE SKIP LOCKED"
    " ) AS s LIMIT :limit))"
)
_PG_USAGE = text(
    'DELETE FROM api_usage WHERE user_id = ANY(CAST(:users AS uuid[])) AND "timestamp" < :before AND id = ANY(ARRAY('
    " SELECT s.id FROM unnest(CAST(:users AS uuid[])) AS u(id) CROSS JOIN LATERAL ("
    '  SELECT id FROM api_usage WHERE user_id = u.id AND "timestamp" < :before LIMIT :limit'
    " ) AS s LIMIT :limit))"
)
_PG_OLD_DEFAULT = text(
    "DELETE FROM api_usage_default WHERE ctid = ANY(ARRAY("
    ' SELECT ctid FROM api_usage_default WHERE "timestamp" < :start LIMIT :limit))'
)
"""The DEFAULT partition (rows of months without a partition, normally none) is not partitioned further."""
_PG_RESULTS = text(
    "DELETE FROM scan_results WHERE digest = ANY(ARRAY("
    " SELECT r.digest FROM scan_results r WHERE r.digest BETWEEN :first AND :last"
    " AND NOT EXISTS (SELECT 1 FROM scans s WHERE s.result_digest = r.digest) FOR UPDATE OF r SKIP LOCKED))"
)


async def _lock_timeout(connection: AsyncConnection) -> None:
    await connection.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
