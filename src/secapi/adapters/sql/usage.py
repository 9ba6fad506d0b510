"""Batched writers (API usage rows, cache-hit scans), each batch in a short-lived session of its own."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Table, Text, bindparam, cast, insert
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from secapi.adapters.sql.errors import translate_db_errors
from secapi.adapters.sql.models import ScanModel
from secapi.adapters.sql.repositories import SqlUsageRepository
from secapi.domain.model import Scan, UsageRecord

SCANS: Table = ScanModel.__table__  # type: ignore[assignment]  # a Table at runtime


class SqlUsageWriter:
    """Writes each batch in a session of its own (it runs outside any request)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def add_many(self, records: Sequence[UsageRecord]) -> None:
        """Insert the batch in one executemany."""
        async with self._sessions() as session:
            await SqlUsageRepository(session).add_many(records)


class SqlScanWriter:
    """Writes batches of finished scans (cache hits) in one executemany."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def add_many(self, scans: Sequence[tuple[Scan, bytes]]) -> None:
        """Insert the batch; results go in as the JSON text they arrived as (never decoded and re-encoded)."""
        if not scans:
            return
        rows = [
            {
                "id": scan.id,
                "user_id": scan.user_id,
                "scan_type": scan.scan_type.value,
                "status": scan.status.value,
                "input_data": scan.input_data,
                "input_hash": scan.input_hash,
                "result_json": raw.decode(),
                "error": scan.error,
                "created_at": scan.created_at,
                "started_at": scan.started_at,
                "finished_at": scan.finished_at,
                "duration_ms": scan.duration_ms,
                "attempts": 0,
            }
            for scan, raw in scans
        ]
        async with translate_db_errors(), self._sessions() as session:
            text = bindparam("result_json", type_=Text)
            # PostgreSQL parses the text into jsonb itself; SQLite's JSON column is that text.
            result = cast(text, JSONB) if session.get_bind().dialect.name == "postgresql" else text
            await session.execute(insert(SCANS).values(result=result), rows)
            await session.commit()
