"""Retention over in-process rows: the same contract as the SQL store, for unit tests of the policy."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from secapi.domain.retention import ResultSweep, RetentionStore, UsagePurge, month_start, next_month
from secapi.domain.tiers import Tier


@dataclass
class StoredScan:
    """What retention needs of a scan: owner, age, result document."""

    user_id: UUID
    created_at: datetime
    result_digest: str | None = None


@dataclass
class InMemoryRetentionStore(RetentionStore):
    """Users, scans, result documents and usage rows in dicts; records the batches it was asked for."""

    users: dict[UUID, Tier] = field(default_factory=dict)
    scans: dict[UUID, StoredScan] = field(default_factory=dict)
    results: dict[str, Any] = field(default_factory=dict)
    usage: dict[int, tuple[UUID, datetime]] = field(default_factory=dict)
    months: set[datetime] = field(default_factory=set)
    """Months made ready for usage rows (their first instant)."""
    batches: list[tuple[str, int]] = field(default_factory=list)
    """(operation, rows removed) of each call."""

    async def users_of_tier(self, tier: Tier, *, after: UUID | None, limit: int) -> Sequence[UUID]:
        """Up to `limit` ids of the tier's users after `after`, in id order."""
        ids = sorted(u for u, t in self.users.items() if t == tier and (after is None or u > after))
        return ids[:limit]

    async def delete_scans(self, users: Sequence[UUID], *, before: datetime, limit: int) -> int:
        """Delete up to `limit` of these users' scans created before `before`."""
        owners = set(users)
        doomed = [i for i, s in self.scans.items() if s.user_id in owners and s.created_at < before][:limit]
        for scan_id in doomed:
            del self.scans[scan_id]
        self.batches.append(("scans", len(doomed)))
        return len(doomed)

    async def delete_usage(self, users: Sequence[UUID], *, before: datetime, limit: int) -> int:
        """Delete up to `limit` of these users' usage rows before `before`."""
        owners = set(users)
        doomed = [i for i, (u, at) in self.usage.items() if u in owners and at < before][:limit]
        for row in doomed:
            del self.usage[row]
        self.batches.append(("usage", len(doomed)))
        return len(doomed)

    async def drop_usage_before(self, before: datetime, *, limit: int) -> UsagePurge:
        """Delete up to `limit` usage rows of any tier before `before`'s month."""
        start = month_start(before)
        doomed = [i for i, (_, at) in self.usage.items() if at < start][:limit]
        for row in doomed:
            del self.usage[row]
        self.batches.append(("old months", len(doomed)))
        return UsagePurge(partitions=(), rows=len(doomed))

    async def prepare_usage_months(self, start: datetime, end: datetime) -> Sequence[str]:
        """Note the months as ready (nothing to make in memory)."""
        made: list[str] = []
        month = month_start(start)
        while month <= end:
            if month not in self.months:
                self.months.add(month)
                made.append(f"{month:%Y-%m}")
            month = next_month(month)
        return made

    async def delete_unreferenced_results(self, *, after: str | None, limit: int) -> ResultSweep:
        """Delete the unreferenced documents among the next `limit` digests after `after`."""
        window = sorted(d for d in self.results if after is None or d > after)[:limit]
        referenced = {s.result_digest for s in self.scans.values()}
        doomed = [d for d in window if d not in referenced]
        for digest in doomed:
            del self.results[digest]
        self.batches.append(("results", len(doomed)))
        return ResultSweep(deleted=len(doomed), last=window[-1] if len(window) == limit else None)
