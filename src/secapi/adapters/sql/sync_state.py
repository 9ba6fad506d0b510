"""`secapi vulndb sync`'s state in `vulndb_sync_state`: one row per URL or file of the source."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from sqlalchemy import Table, delete, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from secapi.adapters.sql.errors import translate_db_errors
from secapi.adapters.sql.models import VulnDbSyncStateModel
from secapi.domain.vulndb_sync_ports import SyncState, SyncStateStore

_STATE: Table = VulnDbSyncStateModel.__table__  # type: ignore[assignment]


class SqlSyncStateStore(SyncStateStore):
    """The `SyncStateStore` port over the engine."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def load(self, resources: Collection[str]) -> dict[str, SyncState]:
        """The stored state of each resource that has one."""
        wanted = list(set(resources))
        if not wanted:
            return {}
        async with translate_db_errors(), self._engine.connect() as connection:
            rows = await connection.execute(select(_STATE).where(_STATE.c.resource.in_(wanted)))
            return {
                row.resource: SyncState(
                    resource=row.resource,
                    last_success=row.last_success,
                    etag=row.etag,
                    last_modified=row.last_modified,
                    high_water=row.high_water,
                    content=row.content,
                )
                for row in rows
            }

    async def save(self, states: Sequence[SyncState]) -> None:
        """Replace these rows in one transaction (a portable upsert: delete, then insert)."""
        if not states:
            return
        latest = {state.resource: state for state in states}
        async with translate_db_errors(), self._engine.begin() as connection:
            await connection.execute(delete(_STATE).where(_STATE.c.resource.in_(list(latest))))
            await connection.execute(
                insert(_STATE),
                [
                    {
                        "resource": state.resource,
                        "etag": state.etag,
                        "last_modified": state.last_modified,
                        "high_water": state.high_water,
                        "last_success": state.last_success,
                        "content": state.content,
                    }
                    for state in latest.values()
                ],
            )
