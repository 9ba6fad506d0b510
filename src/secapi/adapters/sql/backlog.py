"""The scan backlog, counted where it is recorded: scans still queued in the database."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from secapi.adapters.sql.errors import translate_db_errors
from secapi.adapters.sql.models import ScanModel
from secapi.domain.metrics import ScanBacklog
from secapi.domain.model import ScanStatus


class SqlScanBacklog(ScanBacklog):
    """Counts queued scans (served by the `idx_scans_status_type` index)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def queued_count(self) -> int:
        """Scans with status `queued`, whichever process will run them."""
        query = select(func.count()).select_from(ScanModel).where(ScanModel.status == ScanStatus.QUEUED.value)
        async with translate_db_errors(), self._sessions() as session:
            return int(await session.scalar(query) or 0)
