"""Rate-limit headers on every API response, from what this request's quota checks found.

`X-RateLimit-Limit/Remaining/Reset` describe the most restrictive window that
applied to the request (DESIGN.md section 4): of every window the request's
checks saw (the per-minute window, and on scan endpoints the scan windows it
consumed or peeked), the one with the fewest remaining, a tie going to the
one that resets soonest. The IETF `RateLimit-Policy` and `RateLimit` fields
list every window; `X-RateLimit-Degraded` names the windows that were not
enforced because the limiter was unavailable.
"""

from __future__ import annotations

import math
import time

from secapi.domain.rate_limits import QuotaLedger, RateLimitResult, WindowState

LEDGER_KEY = "quota_ledger"


def most_restrictive(windows: tuple[WindowState, ...]) -> WindowState:
    """The window with the fewest remaining; a tie goes to the one that frees up soonest."""
    return min(windows, key=lambda w: (w.remaining, w.reset_at))


def rate_limit_headers(ledger: QuotaLedger, now: float | None = None) -> dict[str, str]:
    """The header fields for a request whose checks are in `ledger` (empty when nothing was checked)."""
    now = time.time() if now is None else now
    results: list[RateLimitResult] = [r for r in (ledger.requests, ledger.scans, ledger.watches) if r is not None]
    if not results:
        return {}
    windows = tuple(w for result in results for w in result.windows)
    primary = most_restrictive(windows)
    headers = {
        "X-RateLimit-Limit": str(primary.limit),
        "X-RateLimit-Remaining": str(primary.remaining),
        "X-RateLimit-Reset": str(math.ceil(primary.reset_at)),
        "RateLimit-Policy": ", ".join(f'"{w.name}";q={w.limit};w={w.seconds}' for w in windows),
        "RateLimit": ", ".join(f'"{w.name}";r={w.remaining};t={max(0, math.ceil(w.reset_at - now))}' for w in windows),
    }
    return headers


def rate_limit_header_pairs(ledger: QuotaLedger) -> list[tuple[bytes, bytes]]:
    """The fields of `rate_limit_headers`, plus `X-RateLimit-Degraded` when a window was not enforced, as the
    raw lowercase pairs an ASGI `http.response.start` message carries."""
    fields = rate_limit_headers(ledger)
    if ledger.degraded:
        fields["X-RateLimit-Degraded"] = ",".join(ledger.degraded)
    return [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in fields.items()]
