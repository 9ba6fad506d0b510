"""Sliding-window quotas in process memory: the embedded default, the unit tests' fake, the Lua script's reference.

The arithmetic (time in ms, validation, result assembly) is the domain's `secapi.domain.sliding_window`,
shared with the Redis adapter so both answer identically; `sliding_window.lua` does the same arithmetic as
`_Series` and `_outcome`.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from uuid import UUID

from secapi.domain.ports import Clock
from secapi.domain.rate_limits import RateLimitResult, Window, request_windows
from secapi.domain.services.quotas import HydratableLimiter
from secapi.domain.sliding_window import WindowOutcome, bucket_ms, now_ms, oldest_counted, summarize, validate
from secapi.domain.tiers import Tier


@dataclass(slots=True)
class _Series:
    """One window's buckets for one user: bucket index → count."""

    width: int
    buckets: int
    counts: dict[int, int] = field(default_factory=dict)

    def prune(self, now: int) -> int:
        """Drop buckets that left the window; the sum of those left."""
        oldest = now // self.width - self.buckets
        for index in [i for i, c in self.counts.items() if i < oldest or c <= 0]:
            del self.counts[index]
        return sum(self.counts.values())

    def leaves_at(self, index: int) -> int:
        """When bucket `index` stops overlapping the window (Unix ms)."""
        return (index + self.buckets + 1) * self.width


def _outcome(series: _Series, window: Window, used: int, cost: int, violated: bool, now: int) -> WindowOutcome:
    ordered = sorted(series.counts.items())
    reset = series.leaves_at(ordered[0][0]) if ordered else now + series.width
    free_at: int | None = None
    if violated:
        need, freed = used + cost - window.limit, 0
        for index, count in ordered:  # the oldest bucket leaves first
            freed += count
            if freed >= need:
                free_at = series.leaves_at(index)
                break
    return WindowOutcome(used, reset, free_at, violated)


class InMemoryRateLimiter(HydratableLimiter):
    """`RateLimitPolicy` over dicts; atomic per call (no await inside), recording what it consumed and refused."""

    def __init__(self, clock: Clock, *, sweep_every: int = 1024) -> None:
        self._clock = clock
        self._sweep_every = sweep_every
        self._calls = 0
        self._series: dict[UUID, dict[str, _Series]] = {}
        self.consumed: defaultdict[UUID, Counter[str]] = defaultdict(Counter)
        """Units admitted per user and quota (`consumed[user_id]["scans_per_hour"]`); dropped with idle users."""
        self.refused: defaultdict[UUID, Counter[str]] = defaultdict(Counter)
        """Refusals per user and quota of the window that refused."""

    async def check_rate_limit(self, user_id: UUID, tier: Tier, endpoint: str) -> RateLimitResult:
        """Consume one API request in the tier's request windows if allowed."""
        return self._apply(user_id, request_windows(tier), 1, force=False)

    async def check_and_peek(
        self, user_id: UUID, tier: Tier, endpoint: str, peek: tuple[Window, ...]
    ) -> tuple[RateLimitResult, RateLimitResult]:
        """`check_rate_limit` and `peek(peek)` at once (the peeked windows never refuse the request)."""
        windows = request_windows(tier)
        validate((*windows, *peek), 0)
        return self._apply(user_id, windows, 1, force=False), self._apply(user_id, peek, 0, force=False)

    async def record_request(self, user_id: UUID, endpoint: str) -> None:
        """Count one request in the request windows without checking (limits only name the windows here)."""
        self._apply(user_id, request_windows(Tier.FREE), 1, force=True)

    async def consume(self, user_id: UUID, windows: tuple[Window, ...], cost: int = 1) -> RateLimitResult:
        """Consume `cost` in every window, or in none."""
        return self._apply(user_id, windows, cost, force=False)

    async def peek(self, user_id: UUID, windows: tuple[Window, ...]) -> RateLimitResult:
        """The windows' state (a zero-cost check): `allowed` is False only when a window is already over."""
        return self._apply(user_id, windows, 0, force=False)

    async def export_buckets(self, user_id: UUID, window: Window) -> dict[int, int]:
        """The window's live buckets (index → count) for durable storage."""
        series = self._lookup(user_id, window)
        if series is None:
            return {}
        series.prune(now_ms(self._clock))
        return dict(series.counts)

    async def hydrate(self, user_id: UUID, window: Window, buckets: dict[int, int]) -> None:
        """Restore buckets after a loss; each bucket keeps the larger of stored and given, so nothing is lost."""
        for series, index, count in self._live(user_id, window, buckets):
            series.counts[index] = max(series.counts.get(index, 0), count)

    async def replay(self, user_id: UUID, window: Window, buckets: dict[int, int]) -> None:
        """Add counts recorded elsewhere (while the limiter was unavailable) to the live buckets."""
        for series, index, count in self._live(user_id, window, buckets):
            series.counts[index] = series.counts.get(index, 0) + count

    def _live(self, user_id: UUID, window: Window, buckets: dict[int, int]) -> list[tuple[_Series, int, int]]:
        """(series, index, count) for the given buckets still inside `window`; no series is made for none."""
        validate((window,), 0)
        oldest = oldest_counted(window, now_ms(self._clock))
        fresh = {i: c for i, c in buckets.items() if i >= oldest and c > 0}
        if not fresh:
            return []
        series = self._series_for(self._series.setdefault(user_id, {}), window)
        return [(series, index, count) for index, count in fresh.items()]

    async def exists(self, user_id: UUID, window: Window) -> bool:
        """Whether the window holds any live bucket for the user."""
        series = self._lookup(user_id, window)
        return series is not None and series.prune(now_ms(self._clock)) > 0

    @property
    def tracked_users(self) -> int:
        """Users with any state held (for tests and gauges)."""
        return len(self._series)

    @property
    def stored_buckets(self) -> int:
        """Bucket counters held across all users (for tests and gauges)."""
        return sum(len(s.counts) for mine in self._series.values() for s in mine.values())

    def _apply(self, user_id: UUID, windows: Sequence[Window], cost: int, *, force: bool) -> RateLimitResult:
        validate(windows, cost)
        now = now_ms(self._clock)
        self._maybe_sweep(now)
        mine = self._series.setdefault(user_id, {})
        series = [self._series_for(mine, w) for w in windows]
        used = [s.prune(now) for s in series]
        violated = [not force and u + cost > w.limit for u, w in zip(used, windows, strict=True)]
        allowed = not any(violated)
        if allowed and cost > 0:
            for s, w in zip(series, windows, strict=True):
                current = now // s.width
                s.counts[current] = s.counts.get(current, 0) + cost
                self.consumed[user_id][w.quota] += cost
            used = [u + cost for u in used]
        for w, refused in zip(windows, violated, strict=True):
            if refused:
                self.refused[user_id][w.quota] += 1
        outcomes = [_outcome(s, w, u, cost, v, now) for s, w, u, v in zip(series, windows, used, violated, strict=True)]
        self._drop_empty(user_id)
        return summarize(windows, outcomes, now)

    def _lookup(self, user_id: UUID, window: Window) -> _Series | None:
        series = self._series.get(user_id, {}).get(window.name)
        if series is None or (series.width, series.buckets) != (bucket_ms(window), window.buckets):
            return None
        return series

    @staticmethod
    def _series_for(mine: dict[str, _Series], window: Window) -> _Series:
        width = bucket_ms(window)
        series = mine.get(window.name)
        if series is None or (series.width, series.buckets) != (width, window.buckets):
            # A re-shaped window starts afresh: old bucket indices would mean other times.
            series = mine[window.name] = _Series(width, window.buckets)
        return series

    def _drop_empty(self, user_id: UUID) -> None:
        mine = self._series.get(user_id)
        if mine is None:
            return
        for name in [n for n, s in mine.items() if not s.counts]:
            del mine[name]
        if not mine:
            del self._series[user_id]

    def _maybe_sweep(self, now: int) -> None:
        """Every `sweep_every` calls, forget users whose every bucket has left its window (bounded memory)."""
        self._calls += 1
        if self._calls < self._sweep_every:
            return
        self._calls = 0
        for user_id in list(self._series):
            for series in self._series[user_id].values():
                series.prune(now)
            self._drop_empty(user_id)
            if user_id not in self._series:
                self.consumed.pop(user_id, None)
                self.refused.pop(user_id, None)
