"""Result documents stored once by content (`scan_results`), referenced by each scan's `result_digest`.

The key is the SHA-256 of the document's JSON text as SecAPI encodes it (msgspec, the struct's field order: the
same bytes the result cache holds), so the scans of one input that found the same thing share one row. Writes are
idempotent (`INSERT ... ON CONFLICT DO NOTHING`), in the transaction that writes the scans referencing them: the
foreign key's check locks the row, so the retention job's `FOR UPDATE SKIP LOCKED` sweep passes it by.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, Table, Text, bindparam, cast, select, type_coerce
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from secapi.adapters.sql.engine import json_text
from secapi.adapters.sql.errors import sqlstate
from secapi.adapters.sql.models import ScanResultModel

SCAN_RESULTS: Table = ScanResultModel.__table__  # type: ignore[assignment]  # a Table at runtime
DOCUMENT_FK = "fk_scans_result_digest_scan_results"
WRITE_ATTEMPTS = 3
"""Tries of a scan write whose document the retention sweep took between storing and referencing it."""


def document_taken(exc: BaseException) -> bool:
    """True when a scan's write failed because its document was deleted after `store_documents` saw it.

    The sweep locks an unreferenced document, then deletes it; a writer whose `ON CONFLICT DO NOTHING` saw it
    just before waits at its foreign key check, then finds it gone. Writing again stores it anew.
    """
    return sqlstate(exc) == "23503" and DOCUMENT_FK in str(exc)


def digest_of(text: str) -> str:
    """The key of a result document whose JSON text is `text`."""
    return digest_of_encoded(text.encode())


def digest_of_encoded(encoded: bytes) -> str:
    """The key of a result document whose JSON text, UTF-8 encoded, is `encoded` (the result cache's bytes)."""
    return hashlib.sha256(encoded).hexdigest()


def encoded(result: Any) -> tuple[str, str]:
    """(digest, JSON text) of a result as the engine would store it (NUL characters replaced)."""
    text = json_text(result)
    return digest_of(text), text


async def store_documents(session: AsyncSession, documents: Iterable[tuple[str, str]]) -> None:
    """Insert the (digest, JSON text) documents not stored yet, in the session's transaction.

    In digest order: two batches sharing documents then wait for each other instead of deadlocking.
    """
    unique = dict(documents)
    if not unique:
        return
    dialect = (await session.connection()).dialect.name
    document: ColumnElement[Any]
    if dialect == "postgresql":
        document = cast(bindparam("document", type_=Text), JSONB)
        statement = postgresql.insert(SCAN_RESULTS).values(digest=bindparam("digest"), document=document)
    else:  # SQLite's JSON column holds the text itself
        document = type_coerce(bindparam("document"), Text)
        statement = sqlite.insert(SCAN_RESULTS).values(digest=bindparam("digest"), document=document)  # type: ignore[assignment]
    rows = [{"digest": digest, "document": text} for digest, text in sorted(unique.items())]
    await session.execute(statement.on_conflict_do_nothing(index_elements=["digest"]), rows)


async def load_documents(session: AsyncSession, digests: Iterable[str | None]) -> dict[str, Any]:
    """The stored documents of these digests (decoded JSON), by digest."""
    wanted = sorted({d for d in digests if d is not None})
    if not wanted:
        return {}
    rows = await session.execute(
        select(ScanResultModel.digest, ScanResultModel.document).where(ScanResultModel.digest.in_(wanted))
    )
    return {str(digest): document for digest, document in rows.tuples()}
