"""One `secapi vulndb sync` at a time without Redis: a PostgreSQL advisory lock, or a file lock beside SQLite."""

from __future__ import annotations

import fcntl
import hashlib
import os
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from secapi.adapters.sql.errors import translate_db_errors
from secapi.domain.vulndb_sync_ports import SyncLock

SYNC_ADVISORY_LOCK = 0x5EC_5_7C  # an application-wide constant key; the test suite's run lock is another
"""The advisory lock key syncs take on PostgreSQL."""


class PostgresAdvisorySyncLock(SyncLock):
    """`SyncLock` as `pg_try_advisory_lock` on a connection held for the sync (freed if the process dies)."""

    def __init__(self, engine: AsyncEngine, *, key: int = SYNC_ADVISORY_LOCK) -> None:
        self._engine = engine
        self._key = key

    @asynccontextmanager
    async def hold(self) -> AsyncIterator[bool]:
        """Yield whether the lock was taken; it is held until the block ends."""
        async with translate_db_errors(), self._engine.connect() as connection:
            taken = bool(await connection.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": self._key}))
            await connection.commit()
            try:
                yield taken
            finally:
                if taken:
                    await connection.scalar(text("SELECT pg_advisory_unlock(:key)"), {"key": self._key})
                    await connection.commit()


class FileSyncLock(SyncLock):
    """`SyncLock` as an exclusive `flock` on a file (SQLite: one host; freed by the kernel if the process dies)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def for_database(cls, database_url: str, sqlite_path: Path | None) -> FileSyncLock:
        """Beside the SQLite file, or in the temp dir keyed by the URL (in-memory SQLite)."""
        if sqlite_path is not None:
            return cls(sqlite_path.with_name(sqlite_path.name + ".sync.lock"))
        digest = hashlib.sha256(database_url.encode()).hexdigest()[:16]
        return cls(Path(tempfile.gettempdir()) / f"secapi-vulndb-sync-{digest}.lock")

    @asynccontextmanager
    async def hold(self) -> AsyncIterator[bool]:
        """Yield whether the lock was taken without waiting (flock: two opens in one process exclude each other too)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
