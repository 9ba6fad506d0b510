"""Batched writers (API usage rows, cache-hit scans), each batch in a short-lived session of its own."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import msgspec
from sqlalchemy import Table, Text, bindparam, insert, type_coerce
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from secapi.adapters.sql.errors import driver_values_redacted, translate_db_errors
from secapi.adapters.sql.models import ApiUsageModel, ScanModel
from secapi.adapters.sql.results import WRITE_ATTEMPTS, digest_of_encoded, document_taken, store_documents
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
        async with translate_db_errors(), driver_values_redacted(), self._sessions() as session:
            if await _copied(session, "api_usage", _USAGE_COLUMNS, rows):
                return
            await session.execute(insert(API_USAGE), [dict(zip(_USAGE_COLUMNS, row, strict=True)) for row in rows])
            await session.commit()


REMEMBERED_DOCUMENTS = 4096
"""Result digests a scan writer remembers as stored (64 hex characters each, ~0.5 MB in all)."""


class SqlScanWriter(ScanArchive):
    """Writes batches of finished scans (cache hits), their documents and rows together.

    On PostgreSQL one statement through the driver (`_WRITE_SCANS`): a hit answered alone waits for one round
    trip, where a session's BEGIN, document INSERT, COPY and COMMIT took four and ~3.4 ms of a 6.3 ms hit
    (`benchmarks/hit_stages.py`). Elsewhere one executemany in a session.
    """

    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, remembered: int = REMEMBERED_DOCUMENTS) -> None:
        self._sessions = sessions
        self._remembered = remembered
        self._stored: OrderedDict[str, None] = OrderedDict()
        """Digests of documents this writer stored or found stored lately, most recent last (PostgreSQL only)."""

    async def add_many(self, scans: Sequence[tuple[Scan, bytes]]) -> None:
        """Insert the batch; results go in as the JSON text they arrived as (never decoded and re-encoded).

        Each result is stored once by content (`scan_results`, keyed by the SHA-256 of that text), in the same
        statement or transaction as the scans that reference it.
        """
        if not scans:
            return
        # Keyed by the cached bytes themselves: a hit's text is decoded only if it has to be sent.
        documents = [(digest_of_encoded(raw), raw) for _, raw in scans]
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
                await self._write(documents, rows)
                break
            except Exception as exc:  # the driver's own error, not SQLAlchemy's
                if attempt == WRITE_ATTEMPTS or not document_taken(exc):
                    raise
                for digest, _ in documents:  # swept since: send it again
                    self._stored.pop(digest, None)
        for digest, _ in documents:
            self._stored[digest] = None
            self._stored.move_to_end(digest)
        while len(self._stored) > self._remembered:
            self._stored.popitem(last=False)

    async def _write(self, documents: list[tuple[str, bytes]], rows: list[tuple[Any, ...]]) -> None:
        async with translate_db_errors(), driver_values_redacted(), self._sessions() as session:
            connection = await session.connection()
            if connection.dialect.name == "postgresql":
                raw = (await connection.get_raw_connection()).driver_connection
                assert raw is not None
                # A cache hit's result is nearly always stored already: its text is sent only when this writer has
                # not seen it stored lately. Should the retention sweep have taken it since, the scan's foreign key
                # fails and `add_many` sends it again (SQLite keeps no such key, so there it is always sent).
                unique = sorted((d, t) for d, t in dict(documents).items() if d not in self._stored)
                columns = (list(column) for column in zip(*rows, strict=True))
                await raw.execute(_WRITE_SCANS, [d for d, _ in unique], [t.decode() for _, t in unique], *columns)
                return
            await store_documents(session, [(digest, text.decode()) for digest, text in documents])
            # SQLite's JSON columns hold the text itself.
            text = {"input_data": type_coerce(bindparam("input_data"), Text)}
            statement = insert(SCANS).values(**text)
            await session.execute(statement, [dict(zip(_SCAN_COLUMNS, row, strict=True)) for row in rows])
            await session.commit()


_WRITE_SCANS = """
WITH stored AS (
    INSERT INTO scan_results (digest, document)
    SELECT digest, document::jsonb FROM unnest($1::text[], $2::text[]) AS d(digest, document)
    ON CONFLICT (digest) DO NOTHING
)
INSERT INTO scans (id, user_id, scan_type, status, input_data, input_hash, result_digest, error,
                   created_at, started_at, finished_at, duration_ms, attempts)
SELECT id, user_id, scan_type, status, input_data::jsonb, input_hash, result_digest, error,
       created_at, started_at, finished_at, duration_ms, attempts
FROM unnest($3::uuid[], $4::uuid[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[],
            $11::timestamptz[], $12::timestamptz[], $13::timestamptz[], $14::float8[], $15::int4[])
    AS s(id, user_id, scan_type, status, input_data, input_hash, result_digest, error,
         created_at, started_at, finished_at, duration_ms, attempts)
"""
"""One statement, one round trip, no BEGIN/COMMIT: the documents not stored yet and the scans referencing
them. A data-modifying CTE always runs to completion, and the foreign key's check runs at the end of the
statement, so it sees the documents the CTE stored."""

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
