"""In-process single flight: one computation per key; followers read the outcome, and never hang or fail with it."""

from __future__ import annotations

import asyncio

import pytest

from secapi.adapters.memory.single_flight import InMemorySingleFlight


class Flight:
    """A computation that stores its value where `check` finds it, counting calls."""

    def __init__(self, *, delay: float = 0.05, failures: int = 0) -> None:
        self.delay = delay
        self.failures = failures
        self.computes = 0
        self.stored: str | None = None

    async def compute(self) -> str:
        self.computes += 1
        await asyncio.sleep(self.delay)
        if self.failures:
            self.failures -= 1
            raise RuntimeError("scan failed")
        self.stored = "shared result"
        # The leader's own answer differs from what followers read: they must not get it.
        return "leader's private result"

    async def check(self) -> str | None:
        return self.stored


async def _settle(calls: list[asyncio.Task[tuple[str, bool]]]) -> list[tuple[str, bool] | BaseException]:
    return list(await asyncio.gather(*calls, return_exceptions=True))


async def test_twenty_identical_calls_compute_once() -> None:
    flight, work = InMemorySingleFlight(), Flight()

    outcomes = await asyncio.gather(*(flight.run("scan:t:k", work.compute, work.check, 5.0) for _ in range(20)))

    assert work.computes == 1
    assert outcomes.count(("leader's private result", True)) == 1
    assert outcomes.count(("shared result", False)) == 19


async def test_different_keys_do_not_wait_for_each_other() -> None:
    flight, first, second = InMemorySingleFlight(), Flight(), Flight()
    outcomes = await asyncio.gather(
        flight.run("scan:t:1", first.compute, first.check, 5.0),
        flight.run("scan:t:2", second.compute, second.check, 5.0),
    )
    assert [leader for _, leader in outcomes] == [True, True]


async def test_when_the_leader_fails_one_follower_computes_instead() -> None:
    flight, work = InMemorySingleFlight(), Flight(failures=1)

    outcomes = await _settle(
        [asyncio.create_task(flight.run("scan:t:k", work.compute, work.check, 5.0)) for _ in range(20)]
    )

    errors = [o for o in outcomes if isinstance(o, BaseException)]
    assert [str(e) for e in errors] == ["scan failed"]  # only the failed leader sees its error
    assert work.computes == 2
    assert outcomes.count(("leader's private result", True)) == 1
    assert outcomes.count(("shared result", False)) == 18


async def test_follower_computes_itself_after_waiting_too_long() -> None:
    flight, release = InMemorySingleFlight(), asyncio.Event()
    calls: list[str] = []

    async def stuck() -> str:
        calls.append("stuck")
        await release.wait()
        return "late"

    async def own() -> str:
        calls.append("own")
        return "mine"

    async def nothing() -> str | None:
        return None

    leader = asyncio.create_task(flight.run("scan:t:k", stuck, nothing, 5.0))
    await asyncio.sleep(0)
    assert await flight.run("scan:t:k", own, nothing, 0.05) == ("mine", True)
    release.set()
    assert await leader == ("late", True)
    assert calls == ["stuck", "own"]


async def test_a_cancelled_leader_lets_the_next_caller_lead() -> None:
    flight, work = InMemorySingleFlight(), Flight(delay=10)
    leader = asyncio.create_task(flight.run("scan:t:k", work.compute, work.check, 5.0))
    await asyncio.sleep(0)
    leader.cancel()
    with pytest.raises(asyncio.CancelledError):
        await leader

    quick = Flight(delay=0)
    assert await flight.run("scan:t:k", quick.compute, quick.check, 5.0) == ("leader's private result", True)
