"""X-RateLimit-* name the most restrictive window the request saw, whichever check it came from."""

from __future__ import annotations

from secapi.domain.rate_limits import QuotaLedger, RateLimitResult, WindowState
from secapi.entrypoints.http.rate_limit_headers import rate_limit_headers


def window(name: str, limit: int, used: int, reset_at: float, seconds: int) -> WindowState:
    return WindowState(
        name=name, quota=name, limit=limit, used=used, remaining=limit - used, reset_at=reset_at, seconds=seconds
    )


def result(*windows: WindowState) -> RateLimitResult:
    tightest = min(windows, key=lambda w: w.remaining)
    return RateLimitResult(
        allowed=True, limit=tightest.limit, remaining=tightest.remaining, reset_at=tightest.reset_at, windows=windows
    )


def test_a_tighter_minute_window_heads_a_scan_response() -> None:
    ledger = QuotaLedger(
        requests=result(window("minute", 20, 17, 1_000_060, 60)),
        scans=result(window("hour", 10, 1, 1_003_600, 3600), window("month", 100, 1, 3_592_000, 2_592_000)),
    )
    headers = rate_limit_headers(ledger, now=1_000_000)
    assert (headers["X-RateLimit-Limit"], headers["X-RateLimit-Remaining"]) == ("20", "3")
    assert headers["X-RateLimit-Reset"] == "1000060"


def test_a_tighter_scan_window_still_heads_a_scan_response() -> None:
    ledger = QuotaLedger(
        requests=result(window("minute", 20, 2, 1_000_060, 60)),
        scans=result(window("hour", 10, 9, 1_003_600, 3600), window("month", 100, 9, 3_592_000, 2_592_000)),
    )
    headers = rate_limit_headers(ledger, now=1_000_000)
    assert (headers["X-RateLimit-Limit"], headers["X-RateLimit-Remaining"]) == ("10", "1")


def test_a_tie_goes_to_the_window_that_resets_soonest() -> None:
    ledger = QuotaLedger(
        requests=result(window("minute", 20, 15, 1_000_060, 60)),
        scans=result(window("hour", 10, 5, 1_003_600, 3600), window("month", 100, 5, 3_592_000, 2_592_000)),
    )
    headers = rate_limit_headers(ledger, now=1_000_000)
    assert (headers["X-RateLimit-Limit"], headers["X-RateLimit-Remaining"]) == ("20", "5")
    assert headers["X-RateLimit-Reset"] == "1000060"
