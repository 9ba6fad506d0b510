"""`SqlSuppressionRepository`: ignore rules and OpenVEX documents in SQL (PostgreSQL or SQLite).

A VEX document is stored as the JSON of its validated `VexDocument` and decoded back on reading. Adding
counts the tenant's rows under the user's row lock, so two concurrent adds at the limit cannot both pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

import msgspec
from sqlalchemy import Table, and_, delete, func, or_, select, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from secapi.adapters.sql.errors import translate_db_errors
from secapi.adapters.sql.models import IgnoreRuleModel, UserModel, VexDocumentModel
from secapi.domain.model import PageCursor
from secapi.domain.openvex import VexDocument
from secapi.domain.suppressions import (
    IgnoreRule,
    RulePage,
    StoredVex,
    SuppressionLimitReached,
    SuppressionRepository,
    VexPage,
)

_RULES: Table = IgnoreRuleModel.__table__  # type: ignore[assignment]
_VEX: Table = VexDocumentModel.__table__  # type: ignore[assignment]
_USERS: Table = UserModel.__table__  # type: ignore[assignment]


class SqlSuppressionRepository(SuppressionRepository):
    """`SuppressionRepository` over the engine: one short transaction per call."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def add_rule(self, rule: IgnoreRule, *, limit: int) -> None:
        """Count and insert under the user's row lock."""
        async with translate_db_errors(), self._engine.begin() as connection:
            await _lock_user(connection, rule.user_id)
            if await _count(connection, _RULES, rule.user_id) >= limit:
                raise SuppressionLimitReached(f"this account holds {limit} ignore rules, the most allowed")
            await connection.execute(
                _RULES.insert().values(
                    id=rule.id,
                    user_id=rule.user_id,
                    advisory=rule.advisory,
                    package=rule.package,
                    reason=rule.reason,
                    created_at=rule.created_at,
                    expires_at=rule.expires_at,
                )
            )

    async def rules(self, user_id: UUID, *, limit: int, after: PageCursor | None) -> RulePage:
        """Keyset pagination on (created_at, id) descending."""
        rows = await self._page(_RULES, user_id, limit, after)
        items = [_rule(row) for row in rows[:limit]]
        return RulePage(items=items, next_cursor=_cursor(items, len(rows) > limit))

    async def delete_rule(self, user_id: UUID, rule_id: UUID) -> bool:
        """Remove the tenant's rule."""
        return await self._delete(_RULES, user_id, rule_id)

    async def add_vex(self, vex: StoredVex, *, limit: int) -> None:
        """Count and insert under the user's row lock."""
        async with translate_db_errors(), self._engine.begin() as connection:
            await _lock_user(connection, vex.user_id)
            if await _count(connection, _VEX, vex.user_id) >= limit:
                raise SuppressionLimitReached(f"this account holds {limit} VEX documents, the most allowed")
            await connection.execute(
                _VEX.insert().values(
                    id=vex.id,
                    user_id=vex.user_id,
                    document_id=vex.document.id,
                    document=msgspec.json.encode(vex.document),
                    created_at=vex.created_at,
                )
            )

    async def vex_documents(self, user_id: UUID, *, limit: int, after: PageCursor | None) -> VexPage:
        """Keyset pagination on (created_at, id) descending."""
        rows = await self._page(_VEX, user_id, limit, after)
        items = [_vex(row) for row in rows[:limit]]
        return VexPage(items=items, next_cursor=_cursor(items, len(rows) > limit))

    async def get_vex(self, user_id: UUID, vex_id: UUID) -> StoredVex | None:
        """The tenant's document, or None."""
        query = select(_VEX).where(_VEX.c.id == vex_id, _VEX.c.user_id == user_id)
        async with translate_db_errors(), self._engine.connect() as connection:
            row = (await connection.execute(query)).first()
        return None if row is None else _vex(row)

    async def delete_vex(self, user_id: UUID, vex_id: UUID) -> bool:
        """Remove the tenant's document."""
        return await self._delete(_VEX, user_id, vex_id)

    async def everything(self, user_id: UUID) -> tuple[Sequence[IgnoreRule], Sequence[StoredVex]]:
        """All the tenant's rules and documents, in one connection (two indexed reads)."""
        async with translate_db_errors(), self._engine.connect() as connection:
            rules = (await connection.execute(select(_RULES).where(_RULES.c.user_id == user_id))).all()
            documents = (await connection.execute(select(_VEX).where(_VEX.c.user_id == user_id))).all()
        return [_rule(row) for row in rules], [_vex(row) for row in documents]

    async def _page(self, table: Table, user_id: UUID, limit: int, after: PageCursor | None) -> Sequence[Row[Any]]:
        query = select(table).where(table.c.user_id == user_id)
        if after is not None:
            query = query.where(
                or_(
                    table.c.created_at < after.created_at,
                    and_(table.c.created_at == after.created_at, table.c.id < after.id),
                )
            )
        query = query.order_by(table.c.created_at.desc(), table.c.id.desc()).limit(limit + 1)
        async with translate_db_errors(), self._engine.connect() as connection:
            return (await connection.execute(query)).all()

    async def _delete(self, table: Table, user_id: UUID, item_id: UUID) -> bool:
        async with translate_db_errors(), self._engine.begin() as connection:
            result = await connection.execute(delete(table).where(table.c.id == item_id, table.c.user_id == user_id))
        return bool(result.rowcount)


async def _lock_user(connection: AsyncConnection, user_id: UUID) -> None:
    # A no-op write takes the user's row lock (PostgreSQL) or the database's write lock (SQLite) before counting.
    await connection.execute(update(_USERS).where(_USERS.c.id == user_id).values(tier=_USERS.c.tier))


async def _count(connection: AsyncConnection, table: Table, user_id: UUID) -> int:
    return int(await connection.scalar(select(func.count()).select_from(table).where(table.c.user_id == user_id)) or 0)


def _cursor(items: Sequence[IgnoreRule] | Sequence[StoredVex], more: bool) -> PageCursor | None:
    return PageCursor(created_at=items[-1].created_at, id=items[-1].id) if more and items else None


def _rule(row: Row[Any]) -> IgnoreRule:
    return IgnoreRule(
        id=row.id,
        user_id=row.user_id,
        advisory=row.advisory,
        package=row.package,
        reason=row.reason,
        created_at=row.created_at,
        expires_at=row.expires_at,
    )


def _vex(row: Row[Any]) -> StoredVex:
    document = msgspec.json.decode(row.document, type=VexDocument)
    return StoredVex(id=row.id, user_id=row.user_id, document=document, created_at=row.created_at)
