"""When each load-test user sends: Poisson arrivals at a target rate (no Locust import, so tests can load it)."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

CATCH_UP_SECONDS = 1.0
"""A user this far behind its schedule (a long poll of a new image's scan) drops the missed arrivals."""


def poisson_arrivals(
    per_user_rate: float, *, clock: Callable[[], float] = time.monotonic, draw: Callable[[float], float] | None = None
) -> Callable[[Any], float]:
    """A Locust `wait_time`: each user sends on a schedule whose gaps are drawn from an exponential distribution
    of mean 1/rate, so the users are independent clients, their arrivals Poisson and their total rate the target.

    Locust's `constant_throughput` keeps every user on a fixed period from its start, and users spawned together
    stay in step: at a target of 12 req/s the 100 users arrived as bursts of 20 simultaneous requests every
    ~1.7 s, and the p99 measured was those bursts' queueing (~100 ms) rather than the service at 12 req/s.
    The wait runs to the next scheduled send, so the time a request takes does not lower the rate.
    """
    gap = draw or random.expovariate

    def wait(user: Any) -> float:
        now = clock()
        due = getattr(user, "next_send", now)
        if now - due > CATCH_UP_SECONDS:
            due = now
        user.next_send = due + gap(per_user_rate)
        return max(0.0, user.next_send - now)

    return wait
