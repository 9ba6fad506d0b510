"""The domain's sliding-window arithmetic, which the in-memory limiter and the Redis script both follow."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from secapi.domain.rate_limits import Window
from secapi.domain.sliding_window import WindowOutcome, bucket_ms, now_ms, oldest_counted, summarize

from support.fakes import FakeClock

MINUTE = Window(name="minute", quota="api_requests_per_minute", seconds=60, buckets=12, limit=20)
HOUR = Window(name="hour", quota="scans_per_hour", seconds=3600, buckets=60, limit=10)
NOW = 1_767_225_600_000  # 2026-01-01T00:00:00Z in Unix ms


def test_time_is_whole_unix_milliseconds() -> None:
    clock = FakeClock(datetime(2026, 1, 1, tzinfo=UTC) + timedelta(microseconds=1_999))
    assert now_ms(clock) == NOW + 1  # truncated, never rounded up into the next bucket


def test_buckets_and_the_oldest_bucket_still_counted() -> None:
    assert bucket_ms(MINUTE) == 5_000
    assert bucket_ms(HOUR) == 60_000
    # 12 buckets cover the last minute, plus the partly overlapping one before them.
    assert oldest_counted(MINUTE, NOW + 7_000) == (NOW + 7_000) // 5_000 - 12


def test_a_refusal_names_the_window_and_waits_for_the_latest_to_free_up() -> None:
    outcomes = [
        WindowOutcome(used=20, reset_ms=NOW + 5_000, free_at_ms=NOW + 2_000, violated=True),
        WindowOutcome(used=10, reset_ms=NOW + 60_000, free_at_ms=NOW + 30_000, violated=True),
    ]
    result = summarize((MINUTE, HOUR), outcomes, NOW)
    assert not result.allowed
    assert result.violated == ("minute", "hour")
    assert result.retry_after == 30.0
    # Both have nothing left: the longer window is the headline.
    assert (result.limit, result.remaining, result.reset_at) == (10, 0, (NOW + 60_000) / 1000)


def test_a_cost_that_never_fits_has_no_retry_time() -> None:
    outcomes = [
        WindowOutcome(used=3, reset_ms=NOW + 5_000, free_at_ms=None, violated=True),
        WindowOutcome(used=1, reset_ms=NOW + 60_000, free_at_ms=None, violated=False),
    ]
    result = summarize((MINUTE, HOUR), outcomes, NOW)
    assert not result.allowed
    assert result.retry_after is None
    assert [(w.name, w.remaining) for w in result.windows] == [("minute", 17), ("hour", 9)]
    assert (result.limit, result.remaining) == (10, 9)  # the tightest window by what is left


def test_an_admitted_check_has_no_retry_time() -> None:
    outcomes = [WindowOutcome(used=1, reset_ms=NOW + 5_000, free_at_ms=None, violated=False)]
    result = summarize((MINUTE,), outcomes, NOW)
    assert result.allowed
    assert result.violated == ()
    assert result.retry_after is None
