"""Sliding-window arithmetic shared by every `RateLimitPolicy` adapter, so they answer identically.

Time is whole Unix milliseconds; a window of `seconds` splits into `buckets` equal buckets, and bucket
index × `bucket_ms` is the bucket's start. The in-memory limiter and the Redis Lua script
(`adapters/redis/sliding_window.lua`) both count with these rules and assemble their answer with
`summarize`.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from secapi.domain.ports import Clock
from secapi.domain.rate_limits import RateLimitResult, Window, WindowState

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND = timedelta(milliseconds=1)


def now_ms(clock: Clock) -> int:
    """The clock's time in whole Unix milliseconds (integer arithmetic: no float rounding at bucket edges)."""
    return (clock.now() - _EPOCH) // _MILLISECOND


def bucket_ms(window: Window) -> int:
    """One bucket's length; bucket index × this is the bucket's start in Unix ms (a month bucket is a UTC day)."""
    return window.seconds * 1000 // window.buckets


def oldest_counted(window: Window, now: int) -> int:
    """The oldest bucket index still counted: N + 1 buckets overlap the last window, the oldest counted whole."""
    return now // bucket_ms(window) - window.buckets


def validate(windows: Sequence[Window], cost: int) -> None:
    """Refuse what the algorithm cannot represent, before anything is counted."""
    if cost < 0:
        raise ValueError("cost must not be negative")
    _validate_windows(tuple(windows))


@functools.lru_cache(maxsize=256)
def _validate_windows(windows: tuple[Window, ...]) -> None:
    # Tiers have a handful of window shapes: each is checked once per process (on every request otherwise).
    if not windows:
        raise ValueError("a rate limit check needs at least one window")
    if len({w.name for w in windows}) != len(windows):
        raise ValueError("window names must be unique: the name is the storage key")
    for w in windows:
        if w.seconds < 1 or w.buckets < 1 or (w.seconds * 1000) % w.buckets:
            raise ValueError(f"window {w.name!r}: {w.seconds} s does not split into {w.buckets} whole-ms buckets")


class WindowOutcome(NamedTuple):
    """What the algorithm found for one window."""

    used: int
    reset_ms: int
    free_at_ms: int | None
    """For a refusing window, when the cost would fit (Unix ms); None when it never can."""
    violated: bool


def summarize(windows: Sequence[Window], outcomes: Sequence[WindowOutcome], now: int) -> RateLimitResult:
    """The port's result: per-window states, and the headline of the most restrictive window."""
    states = tuple(
        WindowState(
            name=w.name,
            quota=w.quota,
            limit=w.limit,
            used=o.used,
            remaining=max(0, w.limit - o.used),
            reset_at=o.reset_ms / 1000,
            seconds=w.seconds,
        )
        for w, o in zip(windows, outcomes, strict=True)
    )
    tightest = min(states, key=lambda s: (s.remaining, -s.seconds))
    violated = tuple(s.name for s, o in zip(states, outcomes, strict=True) if o.violated)
    retry_after: float | None = None
    if violated:
        frees = [o.free_at_ms for o in outcomes if o.violated]
        # Waiting never makes a window that admitted refuse, so the latest refusing window decides.
        if all(f is not None for f in frees):
            retry_after = (max(f for f in frees if f is not None) - now) / 1000
    return RateLimitResult(
        allowed=not violated,
        limit=tightest.limit,
        remaining=tightest.remaining,
        reset_at=tightest.reset_at,
        windows=states,
        retry_after=retry_after,
        violated=violated,
    )
