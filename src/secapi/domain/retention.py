"""Retention by tier (issue 17): how long scans and API usage rows are kept, and the job that removes the rest.

Every tier keeps its tenants' scans and usage rows for its own number of days (settings
`SECAPI_RETENTION_DAYS_<TIER>`, 0: forever), judged by the tier a tenant has when the job runs. The job works in
small batches, each its own short transaction, so that it never holds locks for long nor competes with requests
for more than a moment: whole months of usage older than the longest retention, then expired scans and usage rows
per tier (a page of the tier's users at a time), then result documents no scan references any more.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol
from uuid import UUID

from secapi.domain.ports import Clock
from secapi.domain.tiers import Tier

log = logging.getLogger(__name__)

DEFAULT_RETENTION_DAYS: Mapping[Tier, int] = {Tier.FREE: 30, Tier.STARTER: 90, Tier.PRO: 365, Tier.BUSINESS: 730}


def month_start(at: datetime) -> datetime:
    """Midnight on the first day of `at`'s month, in `at`'s timezone (UTC for SecAPI's times)."""
    return at.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def next_month(at: datetime) -> datetime:
    """The start of the month after `at`'s."""
    start = month_start(at)
    return start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(month=start.month + 1)


@dataclass(frozen=True)
class RetentionPolicy:
    """Days each tier's scans and usage rows are kept (0: forever)."""

    days: Mapping[Tier, int] = field(default_factory=lambda: dict(DEFAULT_RETENTION_DAYS))

    def cutoff(self, tier: Tier, now: datetime) -> datetime | None:
        """Rows of `tier` created before this have expired (None: the tier keeps everything)."""
        days = self.days.get(tier, 0)
        return None if days <= 0 else now - timedelta(days=days)

    def oldest_kept(self, now: datetime) -> datetime | None:
        """Before this nothing is kept for any tier (None when a tier keeps everything)."""
        cutoffs = [self.cutoff(tier, now) for tier in Tier]
        return None if any(c is None for c in cutoffs) else min(c for c in cutoffs if c is not None)


@dataclass(frozen=True)
class UsagePurge:
    """What one `drop_usage_before` step removed."""

    partitions: tuple[str, ...]
    """Monthly partitions dropped whole (PostgreSQL)."""
    rows: int
    """Rows deleted one by one (outside any dropped partition); a full batch means call again."""


@dataclass(frozen=True)
class ResultSweep:
    """One window of the unreferenced-results sweep."""

    deleted: int
    last: str | None
    """The window's last digest, where the next window starts (None: the window was the last, not full)."""


class RetentionStore(Protocol):
    """Deletes expired rows, each call one short batch (its own transaction)."""

    async def users_of_tier(self, tier: Tier, *, after: UUID | None, limit: int) -> Sequence[UUID]:
        """Up to `limit` ids of the tier's users after `after`, in id order (keyset paging)."""
        ...

    async def delete_scans(self, users: Sequence[UUID], *, before: datetime, limit: int) -> int:
        """Delete up to `limit` scans of these users created before `before`; how many went."""
        ...

    async def delete_usage(self, users: Sequence[UUID], *, before: datetime, limit: int) -> int:
        """Delete up to `limit` usage rows of these users timestamped before `before`; how many went."""
        ...

    async def drop_usage_before(self, before: datetime, *, limit: int) -> UsagePurge:
        """Remove usage rows of every tier in whole months (UTC) that ended by `before`'s month: PostgreSQL drops
        those months' partitions, other rows go up to `limit` at a time."""
        ...

    async def prepare_usage_months(self, start: datetime, end: datetime) -> Sequence[str]:
        """Make storage ready for usage rows of every month from `start`'s to `end`'s (PostgreSQL: the monthly
        partitions not there yet, with rows the DEFAULT partition held for them); the names of those made."""
        ...

    async def delete_unreferenced_results(self, *, after: str | None, limit: int) -> ResultSweep:
        """Look at the next `limit` result documents after digest `after` and delete those no scan references."""
        ...


@dataclass
class RetentionReport:
    """What one run removed, and in how many batches."""

    scans: dict[Tier, int] = field(default_factory=dict)
    usage: dict[Tier, int] = field(default_factory=dict)
    usage_rows_dropped: int = 0
    partitions_dropped: tuple[str, ...] = ()
    partitions_made: tuple[str, ...] = ()
    results: int = 0
    batches: int = 0


class RetentionService:
    """Applies the retention policy, batch by batch (the worker's `retention` cron job)."""

    def __init__(
        self, store: RetentionStore, clock: Clock, policy: RetentionPolicy, *, batch: int = 2_000, users: int = 500
    ) -> None:
        self._store = store
        self._clock = clock
        self._policy = policy
        self._batch = batch
        self._users = users

    async def run(self) -> RetentionReport:
        """One pass: the coming months' partitions, old months, expired scans and usage per tier, orphaned results."""
        now = self._clock.now()
        report = RetentionReport()
        report.partitions_made = tuple(await self._store.prepare_usage_months(now, next_month(now)))
        oldest = self._policy.oldest_kept(now)
        while oldest is not None:  # whole months first: what they hold need not be deleted row by row
            purge = await self._store.drop_usage_before(oldest, limit=self._batch)
            report.batches += 1
            report.partitions_dropped += purge.partitions
            report.usage_rows_dropped += purge.rows
            if purge.rows < self._batch:
                break
        for tier in Tier:
            cutoff = self._policy.cutoff(tier, now)
            if cutoff is not None:
                await self._expire_tier(tier, cutoff, report)
        after: str | None = None
        while True:
            sweep = await self._store.delete_unreferenced_results(after=after, limit=self._batch)
            report.batches += 1
            report.results += sweep.deleted
            if sweep.last is None:
                break
            after = sweep.last
        log.info(
            "retention: %d scans, %d usage rows, %d partitions, %d result documents removed in %d batches",
            sum(report.scans.values()),
            sum(report.usage.values()) + report.usage_rows_dropped,
            len(report.partitions_dropped),
            report.results,
            report.batches,
        )
        return report

    async def _expire_tier(self, tier: Tier, cutoff: datetime, report: RetentionReport) -> None:
        report.scans[tier] = report.usage[tier] = 0
        after: UUID | None = None
        while users := await self._store.users_of_tier(tier, after=after, limit=self._users):
            report.scans[tier] += await self._drain(self._store.delete_scans, users, cutoff, report)
            report.usage[tier] += await self._drain(self._store.delete_usage, users, cutoff, report)
            after = users[-1]

    async def _drain(self, delete: _Delete, users: Sequence[UUID], cutoff: datetime, report: RetentionReport) -> int:
        total = 0
        while True:
            deleted = await delete(users, before=cutoff, limit=self._batch)
            report.batches += 1
            total += deleted
            if deleted < self._batch:
                return total


class _Delete(Protocol):
    async def __call__(self, users: Sequence[UUID], *, before: datetime, limit: int) -> int: ...
