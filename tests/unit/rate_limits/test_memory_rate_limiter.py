"""The in-process sliding-window limiter: limits, sliding, all-or-nothing, retry times, bounded memory."""

from __future__ import annotations

from uuid import UUID, uuid4

import pytest

from secapi.adapters.memory.rate_limiter import InMemoryRateLimiter
from secapi.domain.rate_limits import Window, request_windows, scan_windows
from secapi.domain.tiers import Tier

from support.fakes import FakeClock

# FakeClock starts at 2026-01-01T00:00:00Z: a boundary of every bucket (5 s, 1 min, 1 day).
START = 1_767_225_600.0
MINUTE = Window(name="minute", quota="api_requests_per_minute", seconds=60, buckets=12, limit=20)
HOUR = Window(name="hour", quota="scans_per_hour", seconds=3600, buckets=60, limit=10)
MONTH = Window(name="month", quota="scans_per_month", seconds=30 * 86400, buckets=30, limit=15)


@pytest.fixture
def limiter(clock: FakeClock) -> InMemoryRateLimiter:
    return InMemoryRateLimiter(clock)


async def admitted(limiter: InMemoryRateLimiter, user: UUID, windows: tuple[Window, ...], calls: int) -> int:
    return sum([(await limiter.consume(user, windows)).allowed for _ in range(calls)])


async def test_the_limit_is_reached_exactly(limiter: InMemoryRateLimiter) -> None:
    user = uuid4()
    results = [await limiter.consume(user, (MINUTE,)) for _ in range(21)]
    assert [r.allowed for r in results] == [True] * 20 + [False]
    assert [r.remaining for r in results[:3]] == [19, 18, 17]
    assert results[19].remaining == 0
    assert results[19].limit == 20
    assert results[20].violated == ("minute",)
    assert results[20].remaining == 0
    assert limiter.consumed[user]["api_requests_per_minute"] == 20
    assert limiter.refused[user]["api_requests_per_minute"] == 1


async def test_no_burst_across_a_minute_boundary(limiter: InMemoryRateLimiter, clock: FakeClock) -> None:
    user = uuid4()
    clock.advance(59)
    assert await admitted(limiter, user, (MINUTE,), 20) == 20
    clock.advance(2)  # t = 61 s: a fixed window would have reset here
    refused = await limiter.consume(user, (MINUTE,))
    assert not refused.allowed
    # The bucket [55 s, 60 s) overlaps the window until 60 s after its end.
    assert refused.retry_after == pytest.approx(59.0)
    assert refused.reset_at == pytest.approx(START + 120)
    clock.advance(58.999)
    assert not (await limiter.consume(user, (MINUTE,))).allowed
    clock.advance(0.001)  # t = 120 s, more than 60 s after every admitted request
    assert await admitted(limiter, user, (MINUTE,), 21) == 20


async def test_room_frees_bucket_by_bucket(limiter: InMemoryRateLimiter, clock: FakeClock) -> None:
    user = uuid4()
    assert await admitted(limiter, user, (MINUTE,), 5) == 5  # bucket [0, 5)
    clock.advance(10)
    assert await admitted(limiter, user, (MINUTE,), 5) == 5  # bucket [10, 15)
    clock.advance(10)
    assert await admitted(limiter, user, (MINUTE,), 10) == 10  # bucket [20, 25)
    clock.advance(10)
    refused = await limiter.consume(user, (MINUTE,), cost=7)
    assert refused.retry_after == pytest.approx(75 - 30)  # both older buckets must leave: 5 + 5 ≥ 7
    assert (await limiter.consume(user, (MINUTE,))).retry_after == pytest.approx(65 - 30)
    clock.advance(35)  # t = 65: the first bucket left
    assert await admitted(limiter, user, (MINUTE,), 6) == 5
    clock.advance(10)  # t = 75: the second left
    assert await admitted(limiter, user, (MINUTE,), 6) == 5


async def test_scan_windows_are_consumed_both_or_neither(limiter: InMemoryRateLimiter, clock: FakeClock) -> None:
    user, windows = uuid4(), (HOUR, MONTH)
    assert await admitted(limiter, user, windows, 11) == 10
    hour_full = await limiter.consume(user, windows)
    assert hour_full.violated == ("hour",)
    clock.advance(2 * 3600)
    assert await admitted(limiter, user, windows, 5) == 5  # the month holds 15 now
    month_full = await limiter.consume(user, windows)
    assert month_full.violated == ("month",)
    assert not month_full.allowed
    state = {w.name: w.used for w in (await limiter.peek(user, windows)).windows}
    assert state == {"hour": 5, "month": 15}  # the hour was not charged for the refused scan
    assert limiter.consumed[user] == {"scans_per_hour": 15, "scans_per_month": 15}
    assert month_full.retry_after == pytest.approx(31 * 86400 - 2 * 3600)


async def test_cost_counts_as_that_many_units(limiter: InMemoryRateLimiter) -> None:
    user = uuid4()
    assert (await limiter.consume(user, (MINUTE,), cost=15)).remaining == 5
    refused = await limiter.consume(user, (MINUTE,), cost=6)
    assert not refused.allowed
    assert refused.windows[0].used == 15
    assert (await limiter.consume(user, (MINUTE,), cost=5)).remaining == 0


async def test_a_cost_above_the_limit_never_fits(limiter: InMemoryRateLimiter) -> None:
    refused = await limiter.consume(uuid4(), (MINUTE,), cost=21)
    assert not refused.allowed
    assert refused.retry_after is None


async def test_peek_does_not_consume(limiter: InMemoryRateLimiter, clock: FakeClock) -> None:
    user = uuid4()
    empty = await limiter.peek(user, (MINUTE,))
    assert empty.allowed
    assert empty.remaining == 20
    assert empty.reset_at == START + 5
    assert limiter.tracked_users == 0  # a peek at a stranger leaves nothing behind
    await limiter.consume(user, (MINUTE,), cost=3)
    for _ in range(10):
        peeked = await limiter.peek(user, (MINUTE,))
    assert peeked.windows[0].used == 3
    assert peeked.remaining == 17
    assert limiter.consumed[user]["api_requests_per_minute"] == 3


async def test_the_most_restrictive_window_heads_the_result(limiter: InMemoryRateLimiter) -> None:
    user = uuid4()
    month_of_ten = Window(name="month", quota="scans_per_month", seconds=MONTH.seconds, buckets=30, limit=10)
    tie = await limiter.consume(user, (HOUR, month_of_ten))
    month = tie.windows[1]
    assert tie.remaining == 9
    assert tie.reset_at == month.reset_at
    tighter = await limiter.consume(user, (HOUR, MONTH))
    assert tighter.limit == 10
    assert tighter.remaining == 8


async def test_record_request_counts_without_checking(limiter: InMemoryRateLimiter) -> None:
    user = uuid4()
    for _ in range(25):
        await limiter.record_request(user, "/api/v1/scans")
    result = await limiter.check_rate_limit(user, Tier.FREE, "/api/v1/scans")
    assert not result.allowed
    assert result.windows[0].used == 25
    assert result.remaining == 0
    assert result.windows == (await limiter.peek(user, request_windows(Tier.FREE))).windows


async def test_check_rate_limit_uses_the_tier_minute_window(limiter: InMemoryRateLimiter) -> None:
    user = uuid4()
    results = [await limiter.check_rate_limit(user, Tier.FREE, "/x") for _ in range(21)]
    assert [r.allowed for r in results].count(True) == 20
    assert results[0].windows[0].name == "minute"


async def test_memory_stays_bounded_whatever_the_traffic(limiter: InMemoryRateLimiter, clock: FakeClock) -> None:
    user, windows = uuid4(), (Window(name="minute", quota="q", seconds=60, buckets=12, limit=10**9),)
    for n in range(10_000):
        await limiter.consume(user, windows)
        clock.advance(0.37 + (n % 7) * 0.2)
        assert limiter.stored_buckets <= 13
    assert len(await limiter.export_buckets(user, windows[0])) <= 13


async def test_idle_users_are_swept(clock: FakeClock) -> None:
    limiter = InMemoryRateLimiter(clock, sweep_every=100)
    for _ in range(500):
        await limiter.consume(uuid4(), scan_windows(Tier.FREE))
    assert limiter.tracked_users == 500
    clock.advance(32 * 86400)  # longer than the month window and its bucket
    await limiter.consume(uuid4(), (MINUTE,))
    for _ in range(100):
        await limiter.peek(uuid4(), (MINUTE,))
    assert limiter.tracked_users == 1
    assert len(limiter.consumed) == 1


async def test_export_then_hydrate_restores_the_window(limiter: InMemoryRateLimiter, clock: FakeClock) -> None:
    user = uuid4()
    for _ in range(5):
        await limiter.consume(user, (HOUR, MONTH), cost=2)
        clock.advance(86400)
    exported = await limiter.export_buckets(user, MONTH)
    day = int(START // 86400)
    assert exported == {day + n: 2 for n in range(5)}  # month bucket index = UTC day number
    rebuilt = InMemoryRateLimiter(clock)
    assert not await rebuilt.exists(user, MONTH)
    await rebuilt.hydrate(user, MONTH, exported)
    assert await rebuilt.exists(user, MONTH)
    assert (await rebuilt.peek(user, (MONTH,))).windows == (await limiter.peek(user, (MONTH,))).windows


async def test_hydrate_keeps_the_larger_count_of_each_bucket(limiter: InMemoryRateLimiter, clock: FakeClock) -> None:
    user, day = uuid4(), int(START // 86400)
    await limiter.consume(user, (MONTH,), cost=3)  # raced ahead of the rebuild
    await limiter.hydrate(user, MONTH, {day - 40: 9, day - 1: 4, day: 1})
    assert await limiter.export_buckets(user, MONTH) == {day - 1: 4, day: 3}  # 40 days ago left the window


@pytest.mark.parametrize(
    ("windows", "cost", "reason"),
    [
        ((), 1, "at least one window"),
        ((MINUTE, MINUTE), 1, "unique"),
        ((Window(name="odd", quota="q", seconds=60, buckets=7, limit=1),), 1, "whole-ms buckets"),
        ((MINUTE,), -1, "negative"),
    ],
)
async def test_unrepresentable_checks_are_refused(
    limiter: InMemoryRateLimiter, windows: tuple[Window, ...], cost: int, reason: str
) -> None:
    with pytest.raises(ValueError, match=reason):
        await limiter.consume(uuid4(), windows, cost)
