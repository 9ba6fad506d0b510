"""Suppressions: the tenant's ignore rules and VEX documents, and what applies to its answers now.

Answers call `active_for` on the hot path (every cache hit), so a tenant's rules are memoised in process for
`memo_ttl` seconds: a tenant without any costs a dictionary lookup. A change made through this process drops
the tenant's memo at once; other processes see it within `memo_ttl`. While the database is unavailable a
tenant's last known set keeps applying; a tenant with none known gets the store's `DependencyUnavailable`
(503). An expiry needs no job: what applies is worked out against the clock, and the memo is rebuilt when its
earliest expiry passes.
"""

from __future__ import annotations

import logging
import uuid
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final
from uuid import UUID

from secapi.domain.errors import DependencyUnavailable, InvalidInput
from secapi.domain.model import PageCursor, Principal
from secapi.domain.openvex import VexDocument, check_document
from secapi.domain.package_patterns import PackagePattern, advisory_id
from secapi.domain.ports import Clock
from secapi.domain.suppressions import (
    MAX_IGNORE_RULES,
    MAX_VEX_DOCUMENTS,
    ActiveSuppressions,
    IgnoreRule,
    RulePage,
    StoredVex,
    SuppressionNotFound,
    SuppressionRepository,
    VexPage,
)

log = logging.getLogger(__name__)

MEMO_TTL: Final = 5.0
"""Seconds a tenant's rules are memoised in process (how long another process may apply the old set)."""
MEMO_SIZE: Final = 10_000
MAX_REASON: Final = 1000


@dataclass(slots=True)
class _Memo:
    loaded: float
    rules: Sequence[IgnoreRule]
    documents: Sequence[StoredVex]
    active: ActiveSuppressions
    valid_until: datetime | None


class SuppressionService:
    """Creates, lists and deletes a tenant's ignore rules and VEX documents; says what applies to its answers."""

    def __init__(
        self,
        store: SuppressionRepository,
        clock: Clock,
        *,
        default_limit: int,
        max_limit: int,
        memo_ttl: float = MEMO_TTL,
        max_rules: int = MAX_IGNORE_RULES,
        max_documents: int = MAX_VEX_DOCUMENTS,
    ) -> None:
        self._store = store
        self._clock = clock
        self._default_limit = default_limit
        self._max_limit = max_limit
        self._memo_ttl = memo_ttl
        self._max_rules = max_rules
        self._max_documents = max_documents
        self._memo: OrderedDict[UUID, _Memo] = OrderedDict()

    async def add_rule(
        self, principal: Principal, *, advisory: str, package: str | None, reason: str, expires_at: datetime | None
    ) -> IgnoreRule:
        """Validate and store a rule (`InvalidInput`, `SuppressionLimitReached`)."""
        now = self._clock.now()
        text = reason.strip()
        if not text or len(text) > MAX_REASON:
            raise InvalidInput(f"reason must say why, in 1-{MAX_REASON} characters", field="reason")
        if expires_at is not None and expires_at <= now:
            raise InvalidInput("expires_at must be in the future", field="expires_at")
        pattern = PackagePattern.parse(package).text if package is not None else None
        rule = IgnoreRule(
            id=uuid.uuid4(),
            user_id=principal.user_id,
            advisory=advisory_id(advisory),
            package=pattern,
            reason=text,
            created_at=now,
            expires_at=expires_at,
        )
        await self._store.add_rule(rule, limit=self._max_rules)
        self._forget(principal.user_id)
        return rule

    async def rules(self, principal: Principal, *, limit: int | None, after: PageCursor | None) -> RulePage:
        """A page of the caller's rules, newest first (expired ones included, marked by `expires_at`)."""
        return await self._store.rules(principal.user_id, limit=self._page_size(limit), after=after)

    async def delete_rule(self, principal: Principal, rule_id: UUID) -> None:
        """Remove a rule of the caller; `SuppressionNotFound` otherwise."""
        if not await self._store.delete_rule(principal.user_id, rule_id):
            raise SuppressionNotFound(f"no ignore rule with id {rule_id} exists for this account")
        self._forget(principal.user_id)

    async def add_vex(self, principal: Principal, document: VexDocument) -> StoredVex:
        """Check (`openvex.check_document`; the types were checked by decoding) and store an OpenVEX document."""
        check_document(document)
        vex = StoredVex(id=uuid.uuid4(), user_id=principal.user_id, document=document, created_at=self._clock.now())
        await self._store.add_vex(vex, limit=self._max_documents)
        self._forget(principal.user_id)
        return vex

    async def vex_documents(self, principal: Principal, *, limit: int | None, after: PageCursor | None) -> VexPage:
        """A page of the caller's VEX documents, newest first."""
        return await self._store.vex_documents(principal.user_id, limit=self._page_size(limit), after=after)

    async def get_vex(self, principal: Principal, vex_id: UUID) -> StoredVex:
        """One of the caller's VEX documents; `SuppressionNotFound` otherwise."""
        vex = await self._store.get_vex(principal.user_id, vex_id)
        if vex is None:
            raise SuppressionNotFound(f"no VEX document with id {vex_id} exists for this account")
        return vex

    async def delete_vex(self, principal: Principal, vex_id: UUID) -> None:
        """Remove a VEX document of the caller; `SuppressionNotFound` otherwise."""
        if not await self._store.delete_vex(principal.user_id, vex_id):
            raise SuppressionNotFound(f"no VEX document with id {vex_id} exists for this account")
        self._forget(principal.user_id)

    async def active_for(self, principal: Principal) -> ActiveSuppressions:
        """What applies to the caller's answers now (`NO_SUPPRESSIONS` for a tenant with none)."""
        return await self.active_for_user(principal.user_id)

    async def active_for_user(self, user_id: UUID) -> ActiveSuppressions:
        """What applies to this tenant now (its answers, its watch events)."""
        memo = self._memo.get(user_id)
        if memo is None or self._clock.monotonic() - memo.loaded >= self._memo_ttl:
            try:
                rules, documents = await self._store.everything(user_id)
            except DependencyUnavailable:
                if memo is None:
                    raise
                # Keep answering with the last set known (as keys stay cached), asking again after the TTL.
                log.warning("suppressions of user %s could not be refreshed: the database is unavailable", user_id)
                memo.loaded = self._clock.monotonic()
            else:
                memo = self._remember(user_id, rules, documents)
        now = self._clock.now()
        if memo.valid_until is not None and now >= memo.valid_until:
            memo.active, memo.valid_until = _active(memo.rules, memo.documents, now)
        self._memo.move_to_end(user_id)
        return memo.active

    def _remember(self, user_id: UUID, rules: Sequence[IgnoreRule], documents: Sequence[StoredVex]) -> _Memo:
        active, valid_until = _active(rules, documents, self._clock.now())
        memo = _Memo(self._clock.monotonic(), rules, documents, active, valid_until)
        self._memo[user_id] = memo
        while len(self._memo) > MEMO_SIZE:
            self._memo.popitem(last=False)
        return memo

    def _forget(self, user_id: UUID) -> None:
        self._memo.pop(user_id, None)

    def _page_size(self, limit: int | None) -> int:
        size = self._default_limit if limit is None else limit
        if not 1 <= size <= self._max_limit:
            raise InvalidInput(f"limit must be between 1 and {self._max_limit}", field="limit")
        return size


def _active(
    rules: Sequence[IgnoreRule], documents: Sequence[StoredVex], now: datetime
) -> tuple[ActiveSuppressions, datetime | None]:
    """What applies at `now`, and when that next changes by itself (the earliest expiry still ahead)."""
    ahead = [rule.expires_at for rule in rules if rule.expires_at is not None and rule.expires_at > now]
    return ActiveSuppressions.of(rules, documents, now), min(ahead, default=None)
