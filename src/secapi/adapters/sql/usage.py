"""Batched writers (API usage rows, cache-hit scans), each batch in a short-lived session of its own."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec
from sqlalchemy import Table, Text, bindparam, insert, type_coerce
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from secapi.adapters.sql.errors import translate_db_errors
from secapi.adapters.sql.models import ApiUsageModel, ScanModel
from secapi.adapters.sql.results import WRITE_ATTEMPTS, digest_of, document_taken, store_documents
from secapi.domain.model import Scan, UsageRecord
from secapi.domain.ports import UsageRepository
from secapi.domain.services.scan_recorder import ScanArchive

SCANS: Table = ScanModel.__table__  # type: ignore[assignment]  # a Table at runtime
API_USAGE: Table = ApiUsageModel.__table__  # type: ignore[assignment]


class SqlUsageWriter(UsageRepository):
    """Writes each batch in a session of its own (it runs outside any request)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def add_many(self, records: Sequence[UsageRecord]) -> None:
        """Insert the batch: COPY on PostgreSQL, one executemany elsewhere."""
        if not records:
            return
        rows = [(r.user_id, r.endpoint, r.method, r.status_code, r.timestamp, r.duration_ms) for r in records]
        async with translate_db_errors(), self._sessions() as session:
            if await _copied(session, "api_usage", _USAGE_COLUMNS, rows):
                return
            await session.execute(insert(API_USAGE), [dict(zip(_USAGE_COLUMNS, row, strict=True)) for row in rows])
            await session.commit()


class SqlScanWriter(ScanArchive):
    """Writes batches of finished scans (cache hits): COPY on PostgreSQL, one executemany elsewhere."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def add_many(self, scans: Sequence[tuple[Scan, bytes]]) -> None:
        """Insert the batch; results go in as the JSON text they arrived as (never decoded and re-encoded).

        Each result is stored once by content (`scan_results`, keyed by the SHA-256 of that text), in the same
        transaction as the scans that reference it.
        """
        if not scans:
            return
        documents = [(digest_of(text), text) for text in (raw.decode() for _, raw in scans)]
        rows = [
            (
                scan.id,
                scan.user_id,
                scan.scan_type.value,
                scan.status.value,
                _json_text(scan.input_data),
                scan.input_hash,
                digest,
                scan.error,
                scan.created_at,
                scan.started_at,
                scan.finished_at,
                scan.duration_ms,
                0,
            )
            for (scan, _), (digest, _) in zip(scans, documents, strict=True)
        ]
        for attempt in range(1, WRITE_ATTEMPTS + 1):
            try:
                return await self._write(documents, rows)
            except Exception as exc:  # COPY raises the driver's error itself
                if attempt == WRITE_ATTEMPTS or not document_taken(exc):
                    raise

    async def _write(self, documents: list[tuple[str, str]], rows: list[tuple[Any, ...]]) -> None:
        async with translate_db_errors(), self._sessions() as session:
            await store_documents(session, documents)
            if await _copied(session, "scans", _SCAN_COLUMNS, rows):
                return
            # SQLite's JSON columns hold the text itself.
            text = {"input_data": type_coerce(bindparam("input_data"), Text)}
            statement = insert(SCANS).values(**text)
            await session.execute(statement, [dict(zip(_SCAN_COLUMNS, row, strict=True)) for row in rows])
            await session.commit()


_USAGE_COLUMNS = ("user_id", "endpoint", "method", "status_code", "timestamp", "duration_ms")
_SCAN_COLUMNS = (
    "id",
    "user_id",
    "scan_type",
    "status",
    "input_data",
    "input_hash",
    "result_digest",
    "error",
    "created_at",
    "started_at",
    "finished_at",
    "duration_ms",
    "attempts",
)


async def _copied(session: AsyncSession, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> bool:
    """COPY the rows on PostgreSQL (one round trip, no per-row statement work) and commit; False elsewhere."""
    connection = await session.connection()
    if connection.dialect.name != "postgresql":
        return False
    raw = (await connection.get_raw_connection()).driver_connection
    assert raw is not None
    await raw.copy_records_to_table(table, records=rows, columns=list(columns))
    await session.commit()
    return True


def _json_text(value: Any) -> str:
    return msgspec.json.encode(value).decode()
