"""Batched writer of API usage rows, with its own short-lived sessions."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from secapi.adapters.sql.repositories import SqlUsageRepository
from secapi.domain.model import UsageRecord


class SqlUsageWriter:
    """Writes each batch in a session of its own (it runs outside any request)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def add_many(self, records: Sequence[UsageRecord]) -> None:
        """Insert the batch in one executemany."""
        async with self._sessions() as session:
            await SqlUsageRepository(session).add_many(records)
