"""The production-shaped load test's `--rate` users arrive as independent clients (Poisson), not in step."""

from __future__ import annotations

import importlib.util
import random
from pathlib import Path
from types import ModuleType, SimpleNamespace

ARRIVALS = Path(__file__).parents[2] / "load" / "arrivals.py"


def _arrivals() -> ModuleType:
    spec = importlib.util.spec_from_file_location("load_arrivals", ARRIVALS)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _sends(users: int, rate: float, seconds: float, request_seconds: float = 0.0) -> list[float]:
    """When `users` users spawned at the same moment send, each request taking `request_seconds`."""
    now = 0.0
    rng = random.Random(7)
    wait = _arrivals().poisson_arrivals(rate / users, clock=lambda: now, draw=rng.expovariate)
    clients = [SimpleNamespace() for _ in range(users)]
    ready = [(wait(client), n) for n, client in enumerate(clients)]  # the first send on the schedule too
    sends: list[float] = []
    while ready:
        ready.sort()
        at, n = ready.pop(0)
        if at >= seconds:
            continue
        sends.append(at)
        now = at + request_seconds
        ready.append((now + wait(clients[n]), n))
    return sends


def test_users_spawned_together_do_not_send_in_bursts() -> None:
    """constant_throughput kept 100 users in step: 20 requests within 250 ms, then none for ~1.7 s."""
    sends = _sends(users=100, rate=12.0, seconds=600.0)
    per_window: dict[int, int] = {}
    for at in sends:
        per_window[int(at * 4)] = per_window.get(int(at * 4), 0) + 1

    # Poisson at 3 per 250 ms window: 12 or more in one window has a chance of ~5e-5 per window.
    assert max(per_window.values()) < 12
    assert len(per_window) > 0.9 * 600 * 4 * (1 - 2.718**-3)  # windows with at least one send, as Poisson's


def test_the_total_rate_is_the_target_whatever_the_requests_take() -> None:
    for request_seconds in (0.0, 0.05):
        sends = _sends(users=100, rate=50.0, seconds=300.0, request_seconds=request_seconds)
        assert abs(len(sends) / 300.0 - 50.0) < 2.5


def test_a_user_far_behind_its_schedule_drops_the_missed_sends() -> None:
    """A user that polled a scan for 30 s does not then send its 30 s of arrivals at once."""
    now = 0.0
    wait = _arrivals().poisson_arrivals(1.0, clock=lambda: now, draw=lambda rate: 1 / rate)
    user = SimpleNamespace()
    assert wait(user) == 1.0
    now = 31.0
    assert wait(user) == 1.0, "rescheduled from now, not from 29 missed sends"
