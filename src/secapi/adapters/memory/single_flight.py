"""Single flight inside one process: identical concurrent computations run once."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from secapi.domain.caching import SingleFlight

T = TypeVar("T")


class InMemorySingleFlight(SingleFlight):
    """`SingleFlight` over a dict of futures that say "the leader has finished".

    Followers never receive the leader's return value (it may hold the leader's own
    scan row); they read the outcome through `check`, as with Redis. A leader that
    fails or stores nothing leaves followers without a value: one of them then leads.
    """

    def __init__(self) -> None:
        self._running: dict[str, asyncio.Future[None]] = {}

    async def run(
        self, key: str, compute: Callable[[], Awaitable[T]], check: Callable[[], Awaitable[T | None]], wait: float
    ) -> tuple[T, bool]:
        """`(value, leader)`: see `SingleFlight.run`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        while True:
            running = self._running.get(key)
            if running is None:
                return await self._lead(key, compute), True
            remaining = deadline - loop.time()
            if remaining > 0:
                await asyncio.wait({running}, timeout=remaining)
            value = await check()
            if value is not None:
                return value, False
            if not running.done():
                # Waited `wait` seconds for a slow leader: computing beats failing the request.
                return await compute(), True

    async def _lead(self, key: str, compute: Callable[[], Awaitable[T]]) -> T:
        finished: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._running[key] = finished
        try:
            return await compute()
        finally:
            if self._running.get(key) is finished:
                del self._running[key]
            finished.set_result(None)
