"""Migration 0011 goes up and down, on SQLite and on PostgreSQL, with watches in the table.

Up: the sweeper's partial index `idx_scans_unfinished_created` exists, and `idx_watches_status_kind` covers
(status, kind, created_at, id), so `by_status` reads watches in order; down: neither; the rows are untouched.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from secapi.adapters.sql.migrate import alembic_config, upgrade
from secapi.adapters.sql.models import UserModel, WatchModel
from secapi.adapters.sql.watches import SqlWatchRepository
from secapi.domain.watches import WatchKind, WatchStatus

pytestmark = pytest.mark.integration

AT = datetime(2026, 1, 1, tzinfo=UTC)


async def _downgrade(engine: AsyncEngine, revision: str) -> None:
    def run(connection: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.downgrade(config, revision)

    async with engine.begin() as connection:
        await connection.run_sync(run)


async def _index_columns(engine: AsyncEngine) -> list[str | None]:
    def read(connection: Connection) -> list[str | None]:
        (index,) = [i for i in inspect(connection).get_indexes("watches") if i["name"] == "idx_watches_status_kind"]
        return list(index["column_names"])

    async with engine.connect() as connection:
        return await connection.run_sync(read)


async def _sweeper_index(engine: AsyncEngine) -> bool:
    def read(connection: Connection) -> bool:
        return any(i["name"] == "idx_scans_unfinished_created" for i in inspect(connection).get_indexes("scans"))

    async with engine.connect() as connection:
        return await connection.run_sync(read)


async def _seed(engine: AsyncEngine) -> list[uuid.UUID]:
    user = uuid.uuid4()
    ids = [uuid.uuid4() for _ in range(3)]
    async with engine.begin() as connection:
        await connection.execute(
            UserModel.__table__.insert().values(
                id=user, email="m@x.invalid", tier="free", is_admin=False, created_at=AT
            )
        )
        for n, watch_id in enumerate(ids):
            await connection.execute(
                WatchModel.__table__.insert().values(
                    id=watch_id,
                    user_id=user,
                    kind="image",
                    target="t",
                    status="active",
                    packages=0,
                    findings=0,
                    vulndb_version=0,
                    created_at=AT - timedelta(days=n),
                )
            )
    return ids


@pytest.fixture
async def postgres_engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    name = f"{make_url(database_url).database}_m0011"
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


async def _up_and_down(engine: AsyncEngine) -> None:
    await upgrade(engine, "0010")
    ids = await _seed(engine)
    assert await _index_columns(engine) == ["status", "kind"]
    assert not await _sweeper_index(engine)

    await upgrade(engine, "0011")
    assert await _index_columns(engine) == ["status", "kind", "created_at", "id"]
    assert await _sweeper_index(engine)
    watches = await SqlWatchRepository(engine).by_status(WatchStatus.ACTIVE, kind=WatchKind.IMAGE, limit=10)
    assert [w.id for w in watches] == ids[::-1]  # oldest first

    await _downgrade(engine, "0010")
    assert await _index_columns(engine) == ["status", "kind"]
    assert not await _sweeper_index(engine)
    async with engine.connect() as connection:
        assert await connection.scalar(text("SELECT count(*) FROM watches")) == len(ids)

    await upgrade(engine)
    assert await _index_columns(engine) == ["status", "kind", "created_at", "id"]


async def test_migration_0011_up_and_down_on_postgresql(postgres_engine: AsyncEngine) -> None:
    await _up_and_down(postgres_engine)


async def test_migration_0011_up_and_down_on_sqlite(tmp_path: Path) -> None:
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path}/m.db")
    try:
        await _up_and_down(engine)
    finally:
        await engine.dispose()
