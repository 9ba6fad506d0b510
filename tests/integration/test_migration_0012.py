"""Migration 0012 up, down and up again on a copy with data, on PostgreSQL and on SQLite.

Seeded at 0011: scans whose results repeat (CI re-scans of one input), failed scans without one, and usage rows
over several months (on PostgreSQL also one older than the partitions made and one in the future). Up: one
document per distinct result, every scan reads its result as before, every usage row is there (PostgreSQL: each
in its month's partition, the outliers in DEFAULT, ids going on from the sequence). Down: the scans' `result`
column holds each document again and `api_usage` is a plain table with every row. Up again: the same as the
first time.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC, JsonB
from alembic import command
from sqlalchemy import func, select, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from secapi.adapters.sql.engine import create_session_factory, json_text
from secapi.adapters.sql.migrate import alembic_config, upgrade
from secapi.adapters.sql.models import ApiUsageModel, UserModel
from secapi.adapters.sql.repositories import SqlScanRepository
from secapi.adapters.sql.usage import SqlUsageWriter
from secapi.domain.model import UsageRecord

from support.results import as_json, scan_result

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC).replace(microsecond=0)
SCANS_0011 = sa.Table(
    "scans",
    sa.MetaData(),
    sa.Column("id", GUID, primary_key=True),
    sa.Column("user_id", GUID),
    sa.Column("scan_type", sa.String(32)),
    sa.Column("status", sa.String(16)),
    sa.Column("input_data", JsonB),
    sa.Column("input_hash", sa.String(64)),
    sa.Column("result", JsonB, nullable=True),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("created_at", DateTimeUTC(timezone=True)),
    sa.Column("attempts", sa.Integer),
)
"""`scans` as 0011 has it (the model now has `result_digest` instead of `result`)."""
USAGE = ApiUsageModel.__table__


def _months_ago(n: int) -> datetime:
    year, month = divmod(NOW.year * 12 + NOW.month - 1 - n, 12)
    return datetime(year, month + 1, 10, 12, 0, tzinfo=UTC)


async def _downgrade(engine: AsyncEngine, revision: str) -> None:
    def run(connection: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.downgrade(config, revision)

    async with engine.begin() as connection:
        await connection.run_sync(run)


async def _seed(engine: AsyncEngine, *, outliers: bool) -> tuple[dict[uuid.UUID, Any], list[datetime]]:
    """Scans (id -> stored document or None) and the usage rows' timestamps."""
    user = uuid.uuid4()
    documents = [as_json(scan_result(target=f"app{n}/poetry.lock")) for n in range(3)]
    scans: dict[uuid.UUID, Any] = {}
    for n in range(12):
        scans[uuid.uuid4()] = documents[n % 3] if n % 4 else None  # 9 with a result (3 distinct), 3 failed
    stamps = [_months_ago(n) + timedelta(hours=h) for n in range(4) for h in range(3)]
    if outliers:  # older than the partitions the migration makes, and later than the next month
        stamps += [NOW - timedelta(days=365 * 5), NOW + timedelta(days=120)]
    async with engine.begin() as connection:
        await connection.execute(
            UserModel.__table__.insert().values(
                id=user, email="m@x.invalid", tier="pro", is_admin=False, created_at=NOW
            )
        )
        await connection.execute(
            SCANS_0011.insert(),
            [
                {
                    "id": scan_id,
                    "user_id": user,
                    "scan_type": "dependencies",
                    "status": "failed" if document is None else "completed",
                    "input_data": {"filename": "poetry.lock", "sha256": "ab" * 32, "size": 1},
                    "input_hash": "cd" * 32,
                    "result": document,
                    "error": "failed" if document is None else None,
                    "created_at": NOW,
                    "attempts": 1,
                }
                for scan_id, document in scans.items()
            ],
        )
        await connection.execute(
            USAGE.insert(),
            [
                {"user_id": user, "endpoint": "/api/v1/scans", "method": "GET", "status_code": 200}
                | {"timestamp": at, "duration_ms": 1.0}
                for at in stamps
            ],
        )
    return scans, stamps


async def _scalar(engine: AsyncEngine, query: Any) -> Any:
    async with engine.connect() as connection:
        return await connection.scalar(query)


async def _usage(engine: AsyncEngine) -> list[tuple[int, datetime]]:
    async with engine.connect() as connection:
        return sorted((await connection.execute(select(USAGE.c.id, USAGE.c.timestamp))).tuples())


async def _check_upgraded(engine: AsyncEngine, scans: dict[uuid.UUID, Any], usage: list[tuple[int, datetime]]) -> None:
    distinct = {json_text(d) for d in scans.values() if d is not None}
    assert await _scalar(engine, text("SELECT count(*) FROM scan_results")) == len(distinct) == 3
    repository = SqlScanRepository(create_session_factory(engine))
    for scan_id, document in scans.items():
        scan = await repository.get(scan_id)
        assert scan is not None
        assert scan.error == (None if document else "failed")
        assert (None if scan.result is None else as_json(scan.result)) == document
    assert await _usage(engine) == usage


async def _check_partitions(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        rows = (await connection.execute(text('SELECT tableoid::regclass::text, "timestamp" FROM api_usage'))).all()
        kind = await connection.scalar(text("SELECT relkind::text FROM pg_class WHERE oid = 'api_usage'::regclass"))
    assert kind == "p"
    for partition, at in rows:
        at = at.astimezone(UTC)
        if at < _months_ago(36) or at > _months_ago(-2):
            assert partition == "api_usage_default", at
        else:
            assert partition == f"api_usage_y{at.year:04d}m{at.month:02d}", at
    assert {p for p, _ in rows} >= {f"api_usage_y{_months_ago(n):%Ym%m}" for n in range(4)}


async def _up_and_down(engine: AsyncEngine, *, postgres: bool) -> None:
    await upgrade(engine, "0011")
    scans, stamps = await _seed(engine, outliers=postgres)
    usage = await _usage(engine)
    assert len(usage) == len(stamps)

    await upgrade(engine, "0012")
    await _check_upgraded(engine, scans, usage)
    if postgres:
        await _check_partitions(engine)
    # New rows go on: the id sequence survived, and this month's row has its partition.
    (user,) = await _users(engine)
    record = UsageRecord(
        user_id=user, endpoint="/api/v1/usage", method="GET", status_code=200, timestamp=NOW, duration_ms=2.0
    )
    await SqlUsageWriter(create_session_factory(engine)).add_many([record])
    after = await _usage(engine)
    assert len(after) == len(usage) + 1
    assert max(after)[0] > max(usage)[0]
    usage = after
    if postgres:
        await _check_partitions(engine)

    await _downgrade(engine, "0011")
    async with engine.connect() as connection:
        rows = (await connection.execute(select(SCANS_0011.c.id, SCANS_0011.c.result))).all()
        stored = {row[0]: row[1] for row in rows}
        assert await connection.scalar(select(func.count()).select_from(USAGE)) == len(stamps) + 1
    assert stored == scans, "every scan's result column holds its document again"
    assert await _usage(engine) == usage
    if postgres:
        kind = await _scalar(engine, text("SELECT relkind::text FROM pg_class WHERE oid = 'api_usage'::regclass"))
        assert kind == "r"
        assert await _scalar(engine, text("SELECT to_regclass('scan_results') IS NULL"))

    await upgrade(engine)
    await _check_upgraded(engine, scans, usage)
    if postgres:
        await _check_partitions(engine)


async def _users(engine: AsyncEngine) -> list[uuid.UUID]:
    async with engine.connect() as connection:
        return list(await connection.scalars(select(UserModel.id)))


@pytest.fixture
async def postgres_engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    name = f"{make_url(database_url).database}_m0012"
    admin = create_async_engine(make_url(database_url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine = create_async_engine(make_url(database_url).set(database=name))
    try:
        yield engine
    finally:
        await engine.dispose()
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


async def test_migration_0012_up_and_down_with_data_on_postgresql(postgres_engine: AsyncEngine) -> None:
    await _up_and_down(postgres_engine, postgres=True)


async def test_migration_0012_up_and_down_with_data_on_sqlite(tmp_path: Path) -> None:
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path}/m.db")
    try:
        await _up_and_down(engine, postgres=False)
    finally:
        await engine.dispose()
