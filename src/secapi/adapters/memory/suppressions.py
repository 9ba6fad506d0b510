"""`InMemorySuppressionRepository`: ignore rules and VEX documents in process (unit tests, embedded use)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TypeVar
from uuid import UUID

from secapi.domain.model import PageCursor
from secapi.domain.suppressions import (
    IgnoreRule,
    RulePage,
    StoredVex,
    SuppressionLimitReached,
    SuppressionRepository,
    VexPage,
)

T = TypeVar("T", IgnoreRule, StoredVex)


class InMemorySuppressionRepository(SuppressionRepository):
    """The same contract as `SqlSuppressionRepository`: per-tenant, newest first, limits checked atomically."""

    def __init__(self) -> None:
        self.rules_by_id: dict[UUID, IgnoreRule] = {}
        self.vex_by_id: dict[UUID, StoredVex] = {}
        self._lock = asyncio.Lock()

    async def add_rule(self, rule: IgnoreRule, *, limit: int) -> None:
        """Insert unless the tenant holds `limit` rules."""
        async with self._lock:
            if sum(1 for r in self.rules_by_id.values() if r.user_id == rule.user_id) >= limit:
                raise SuppressionLimitReached(f"this account holds {limit} ignore rules, the most allowed")
            self.rules_by_id[rule.id] = rule

    async def rules(self, user_id: UUID, *, limit: int, after: PageCursor | None) -> RulePage:
        """The tenant's rules, newest first."""
        items, cursor = _page([r for r in self.rules_by_id.values() if r.user_id == user_id], limit, after)
        return RulePage(items=items, next_cursor=cursor)

    async def delete_rule(self, user_id: UUID, rule_id: UUID) -> bool:
        """Remove the tenant's rule."""
        rule = self.rules_by_id.get(rule_id)
        if rule is None or rule.user_id != user_id:
            return False
        del self.rules_by_id[rule_id]
        return True

    async def add_vex(self, vex: StoredVex, *, limit: int) -> None:
        """Insert unless the tenant holds `limit` documents."""
        async with self._lock:
            if sum(1 for v in self.vex_by_id.values() if v.user_id == vex.user_id) >= limit:
                raise SuppressionLimitReached(f"this account holds {limit} VEX documents, the most allowed")
            self.vex_by_id[vex.id] = vex

    async def vex_documents(self, user_id: UUID, *, limit: int, after: PageCursor | None) -> VexPage:
        """The tenant's documents, newest first."""
        items, cursor = _page([v for v in self.vex_by_id.values() if v.user_id == user_id], limit, after)
        return VexPage(items=items, next_cursor=cursor)

    async def get_vex(self, user_id: UUID, vex_id: UUID) -> StoredVex | None:
        """The tenant's document, or None."""
        vex = self.vex_by_id.get(vex_id)
        return vex if vex is not None and vex.user_id == user_id else None

    async def delete_vex(self, user_id: UUID, vex_id: UUID) -> bool:
        """Remove the tenant's document."""
        if await self.get_vex(user_id, vex_id) is None:
            return False
        del self.vex_by_id[vex_id]
        return True

    async def everything(self, user_id: UUID) -> tuple[Sequence[IgnoreRule], Sequence[StoredVex]]:
        """All the tenant's rules and documents."""
        rules = [r for r in self.rules_by_id.values() if r.user_id == user_id]
        return rules, [v for v in self.vex_by_id.values() if v.user_id == user_id]


def _page(items: list[T], limit: int, after: PageCursor | None) -> tuple[list[T], PageCursor | None]:
    ordered = sorted(items, key=lambda item: (item.created_at, item.id), reverse=True)
    if after is not None:
        ordered = [item for item in ordered if (item.created_at, item.id) < (after.created_at, after.id)]
    page = ordered[:limit]
    cursor = PageCursor(created_at=page[-1].created_at, id=page[-1].id) if len(ordered) > limit else None
    return page, cursor
