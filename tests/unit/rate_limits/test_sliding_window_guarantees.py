"""The documented error bound, checked on random traffic: never over the limit, refused at most a bucket early."""

from __future__ import annotations

import asyncio
from uuid import uuid4

from hypothesis import given, settings
from hypothesis import strategies as st

from secapi.adapters.memory.rate_limiter import InMemoryRateLimiter
from secapi.domain.rate_limits import Window

from support.fakes import FakeClock

WINDOW = Window(name="minute", quota="q", seconds=60, buckets=12, limit=10)
WINDOW_MS, BUCKET_MS = 60_000, 5_000

# Gaps near bucket and window lengths are where an off-by-one-bucket error shows.
gaps = st.one_of(st.integers(0, 2_000), st.sampled_from([4_999, 5_000, 5_001, 54_999, 55_000, 59_999, 60_000, 65_000]))
steps = st.lists(st.tuples(gaps, st.integers(1, 4)), min_size=1, max_size=120)


async def _replay(traffic: list[tuple[int, int]]) -> list[tuple[int, int, bool]]:
    clock = FakeClock()
    limiter = InMemoryRateLimiter(clock)
    user, now, seen = uuid4(), 0, []
    for gap, cost in traffic:
        clock.advance(gap / 1000)
        now += gap
        seen.append((now, cost, (await limiter.consume(user, (WINDOW,), cost)).allowed))
    return seen


@settings(max_examples=300, deadline=None)
@given(steps)
def test_no_span_of_one_window_admits_more_than_the_limit(traffic: list[tuple[int, int]]) -> None:
    seen = asyncio.run(_replay(traffic))
    admitted = [(t, c) for t, c, ok in seen if ok]
    for t, _ in admitted:
        assert sum(c for u, c in admitted if t - WINDOW_MS < u <= t) <= WINDOW.limit


@settings(max_examples=300, deadline=None)
@given(steps)
def test_a_refusal_is_at_most_one_bucket_early(traffic: list[tuple[int, int]]) -> None:
    seen = asyncio.run(_replay(traffic))
    admitted = [(t, c) for t, c, ok in seen if ok]
    for t, cost, ok in seen:
        if not ok:
            # Counting one bucket more than the window (and the start of the current one) justifies it.
            since = (t // BUCKET_MS) * BUCKET_MS - WINDOW_MS
            assert sum(c for u, c in admitted if since <= u <= t) + cost > WINDOW.limit
