"""Result documents stored once by content, on PostgreSQL and SQLite: repeated scans of one input (a fresh scan,
a scan finished later by a worker, cache hits written in a batch) keep one `scan_results` row between them, and
each scan reads its result back as written."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import msgspec
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from secapi.adapters.sql.engine import create_session_factory
from secapi.adapters.sql.migrate import upgrade
from secapi.adapters.sql.models import ScanModel, ScanResultModel
from secapi.adapters.sql.repositories import SqlScanRepository, SqlUserRepository
from secapi.adapters.sql.results import encoded, store_documents
from secapi.adapters.sql.usage import SqlScanWriter
from secapi.domain.model import Scan, ScanStatus, ScanType, User
from secapi.domain.scan_inputs import LockfileScanInput
from secapi.domain.tiers import Tier

from support.results import scan_result

pytestmark = pytest.mark.integration

AT = datetime(2026, 12, 1, tzinfo=UTC)


@pytest.fixture
async def postgresql(migrated_database: str, clean_state: None) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(migrated_database)
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture
async def sqlite(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path}/secapi.db")
    await upgrade(engine)
    try:
        yield engine
    finally:
        await engine.dispose()


async def test_scans_of_the_same_input_store_one_document_on_postgresql(postgresql: AsyncEngine) -> None:
    await _one_document_per_result(postgresql)


async def test_scans_of_the_same_input_store_one_document_on_sqlite(sqlite: AsyncEngine) -> None:
    await _one_document_per_result(sqlite)


def _queued(user: uuid.UUID, n: int) -> Scan:
    data = LockfileScanInput(filename="poetry.lock", sha256="ab" * 32, size=100)
    return Scan.queued(user, ScanType.DEPENDENCIES, data, "cd" * 32, AT + timedelta(seconds=n))


def _done(scan: Scan, result: object) -> Scan:
    return dataclasses.replace(
        scan, status=ScanStatus.COMPLETED, result=result, started_at=scan.created_at, finished_at=scan.created_at
    )


async def _user(sessions: async_sessionmaker[AsyncSession], email: str) -> User:
    user = User(id=uuid.uuid4(), email=email, tier=Tier.FREE, is_admin=False, created_at=AT)
    await SqlUserRepository(sessions).add(user)
    return user


async def _count(engine: AsyncEngine, model: type[ScanModel] | type[ScanResultModel]) -> int:
    async with engine.connect() as connection:
        return int(await connection.scalar(select(func.count()).select_from(model)) or 0)


async def _one_document_per_result(engine: AsyncEngine) -> None:
    sessions = create_session_factory(engine)
    user = await _user(sessions, "d@x.invalid")
    scans = SqlScanRepository(sessions)
    result = scan_result(target="requirements.txt")

    fresh = _done(_queued(user.id, 0), result)
    await scans.add(fresh)
    by_worker = _queued(user.id, 1)
    await scans.add(by_worker)
    await scans.update(_done(by_worker, result))
    hits = [_done(_queued(user.id, n), None) for n in range(2, 5)]
    await SqlScanWriter(sessions).add_many([(hit, msgspec.json.encode(result)) for hit in hits])

    assert await _count(engine, ScanModel) == 5
    assert await _count(engine, ScanResultModel) == 1, "five scans of one input, one stored document"
    for scan_id in [fresh.id, by_worker.id, *(hit.id for hit in hits)]:
        stored = await scans.get(scan_id)
        assert stored is not None
        assert stored.result == result
    page = await scans.list_for_user(user.id, limit=10, after=None)
    assert [s.result for s in page.items] == [result] * 5

    other = _done(_queued(user.id, 9), scan_result(target="poetry.lock"))
    await scans.add(other)
    assert await _count(engine, ScanResultModel) == 2, "a different result is a document of its own"
    failed = dataclasses.replace(_queued(user.id, 10), status=ScanStatus.FAILED, error="no")
    await scans.add(failed)
    assert await _count(engine, ScanResultModel) == 2
    read = await scans.get_for_user(failed.id, user.id)
    assert read is not None
    assert read.result is None


@pytest.mark.parametrize("writer", ["repository", "batch"])
async def test_a_scan_whose_document_the_sweep_takes_meanwhile_stores_it_again(
    postgresql: AsyncEngine, writer: str
) -> None:
    """The retention sweep locks an unreferenced document, then deletes it; a scan written in between saw it
    stored, waits at its foreign key check, finds it gone, and is written again with the document stored anew."""
    sessions = create_session_factory(postgresql)
    user = await _user(sessions, "r@x.invalid")
    scans = SqlScanRepository(sessions)
    result = scan_result(target="raced/poetry.lock")
    digest, document = encoded(result)
    async with sessions() as session:
        await store_documents(session, [(digest, document)])
        await session.commit()
    scan = _done(_queued(user.id, 0), result)

    async with postgresql.connect() as sweep:
        await sweep.execute(text("SELECT 1 FROM scan_results WHERE digest = :d FOR UPDATE"), {"d": digest})
        if writer == "repository":
            write = asyncio.create_task(scans.add(scan))
        else:
            write = asyncio.create_task(SqlScanWriter(sessions).add_many([(scan, msgspec.json.encode(result))]))
        await _blocked_on_a_lock(postgresql)
        await sweep.execute(text("DELETE FROM scan_results WHERE digest = :d"), {"d": digest})
        await sweep.commit()
    await asyncio.wait_for(write, timeout=10)

    stored = await scans.get(scan.id)
    assert stored is not None
    assert stored.result == result
    assert await _count(postgresql, ScanResultModel) == 1


async def _blocked_on_a_lock(engine: AsyncEngine) -> None:
    query = text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    for _ in range(500):
        async with engine.connect() as connection:
            if await connection.scalar(query):
                return
        await asyncio.sleep(0.01)
    raise AssertionError("the scan's write never waited for the document's lock")


async def test_a_cache_hit_s_document_travels_once_while_the_writer_knows_it_stored(
    postgresql: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A hit's result is nearly always stored already: the batch writer sends its text only the first time."""
    sent: list[list[str]] = []
    execute = asyncpg.Connection.execute

    async def spy(self: asyncpg.Connection, query: str, *args: object, **kwargs: object) -> str:
        if "INSERT INTO scan_results" in query:
            sent.append(list(args[0]))  # type: ignore[call-overload]
        return await execute(self, query, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(asyncpg.Connection, "execute", spy)
    sessions = create_session_factory(postgresql)
    user = await _user(sessions, "m@x.invalid")
    writer = SqlScanWriter(sessions)
    result = msgspec.json.encode(scan_result(target="memo/requirements.txt"))
    digest = encoded(scan_result(target="memo/requirements.txt"))[0]

    for n in range(3):
        await writer.add_many([(_done(_queued(user.id, n), None), result)])

    assert sent == [[digest], [], []]
    assert await _count(postgresql, ScanModel) == 3
    assert await _count(postgresql, ScanResultModel) == 1


async def test_a_document_the_writer_remembers_but_retention_removed_is_stored_again(postgresql: AsyncEngine) -> None:
    """Its scans expired and the sweep took the document; the writer still remembers it as stored. The next hit's
    row fails its foreign key without the text, and the writer sends it again: the hit keeps its result."""
    sessions = create_session_factory(postgresql)
    user = await _user(sessions, "e@x.invalid")
    writer = SqlScanWriter(sessions)
    result = scan_result(target="expired/requirements.txt")
    first = _done(_queued(user.id, 0), None)
    await writer.add_many([(first, msgspec.json.encode(result))])
    async with postgresql.begin() as connection:  # what the retention job does to expired scans, then documents
        await connection.execute(text("DELETE FROM scans WHERE id = :id"), {"id": first.id})
        await connection.execute(text("DELETE FROM scan_results"))

    later = _done(_queued(user.id, 1), None)
    await writer.add_many([(later, msgspec.json.encode(result))])

    stored = await SqlScanRepository(sessions).get(later.id)
    assert stored is not None
    assert stored.result == result
    assert await _count(postgresql, ScanResultModel) == 1


async def test_a_failed_hit_write_quotes_no_value(postgresql: AsyncEngine) -> None:
    """The write goes through the driver, past SQLAlchemy's redaction hook: its error is redacted all the same.
    (A hit of a user deleted meanwhile: PostgreSQL's DETAIL would quote the user's id.)"""
    sessions = create_session_factory(postgresql)
    gone = uuid.uuid4()
    result = msgspec.json.encode(scan_result(target="gone/requirements.txt"))

    with pytest.raises(asyncpg.ForeignKeyViolationError) as raised:
        await SqlScanWriter(sessions).add_many([(_done(_queued(gone, 0), None), result)])

    chain: list[BaseException] = []
    error: BaseException | None = raised.value
    while error is not None and len(chain) < 10:
        chain.append(error)
        error = error.__cause__ or error.__context__
    text = " ".join(f"{e!s} {e!r} {getattr(e, 'detail', '')}" for e in chain)
    assert str(gone) not in text
    assert "fk_scans_user_id_users" in text or "scans" in text, "what failed is still said"
