"""Tier policy: what each plan sells (seed section 5)."""

from __future__ import annotations

from enum import StrEnum
from typing import Final


class Tier(StrEnum):
    """A subscription tier, from cheapest to largest."""

    FREE = "free"
    STARTER = "starter"
    PRO = "pro"
    BUSINESS = "business"


RATE_LIMITS: Final[dict[str, dict[str, int]]] = {
    "free": {"scans_per_hour": 10, "scans_per_month": 100, "api_requests_per_minute": 20},
    "starter": {"scans_per_hour": 100, "scans_per_month": 5000, "api_requests_per_minute": 100},
    "pro": {"scans_per_hour": 500, "scans_per_month": 50000, "api_requests_per_minute": 500},
    "business": {"scans_per_hour": 2000, "scans_per_month": 500000, "api_requests_per_minute": 2000},
}

CACHE_TTL: Final[dict[str, int]] = {"free": 3600, "starter": 86400, "pro": 86400, "business": 604800}

WATCH_LIMITS: Final[dict[str, int]] = {"free": 3, "starter": 25, "pro": 250, "business": 2500}
"""How many watched targets (`POST /api/v1/watches`) a tenant may hold at once."""


def parse_tier(value: str) -> Tier:
    """The tier named `value` (case-insensitive), or ValueError listing the valid names."""
    try:
        return Tier(value.strip().lower())
    except ValueError:
        names = ", ".join(t.value for t in Tier)
        raise ValueError(f"unknown tier {value!r}; expected one of {names}") from None


def next_tier(tier: Tier) -> Tier | None:
    """The tier above `tier`, or None for the largest."""
    order = list(Tier)
    index = order.index(tier)
    return order[index + 1] if index + 1 < len(order) else None
