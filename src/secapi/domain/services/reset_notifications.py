"""Reset notifications: schedule one per refusing window, then deliver, retry with backoff, or give up."""

from __future__ import annotations

import asyncio
import logging
import math
import random
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar
from uuid import UUID, uuid4

from secapi.domain.errors import DependencyUnavailable
from secapi.domain.notifications import (
    NoticeSchedule,
    NotificationEndpoints,
    ResetNotice,
    WebhookSender,
    reset_event,
    retry_at,
)
from secapi.domain.ports import Clock
from secapi.domain.rate_limits import RateLimitResult, WindowState

log = logging.getLogger(__name__)
K = TypeVar("K")
V = TypeVar("V")


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """What one `deliver_due` pass did."""

    claimed: int = 0
    delivered: int = 0
    retried: int = 0
    dropped: int = 0
    deferred: int = 0
    """Left claimed because a backend failed; their lease runs out and they come due again."""


class ResetNotifier:
    """Turns quota refusals into scheduled reset notices and delivers the due ones."""

    def __init__(
        self,
        endpoints: NotificationEndpoints,
        schedule: NoticeSchedule,
        sender: WebhookSender,
        clock: Clock,
        *,
        batch: int = 20,
        refusal_budget: float = 0.5,
        memo_ttl: float = 30.0,
        memo_size: int = 10_000,
        windows: Collection[str] | None = None,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self._endpoints = endpoints
        self._schedule = schedule
        self._sender = sender
        self._clock = clock
        self._batch = batch
        self._refusal_budget = refusal_budget
        self._memo_ttl = memo_ttl
        self._memo_size = memo_size
        self._windows = None if windows is None else frozenset(windows)
        self._jitter = jitter
        # Refusals come in floods (a client hammering a full window), so the 429 path keeps two small memos:
        # whether the user has an endpoint (monotonic expiry), and which windows this process already scheduled.
        self._presence: dict[UUID, tuple[bool, float]] = {}
        self._scheduled: dict[tuple[UUID, str], float] = {}

    async def on_refusal(self, user_id: UUID, result: RateLimitResult) -> int:
        """Schedule a notice for each refusing window if the user has an endpoint; never raises on backend failure."""
        now = self._clock.now()
        states = [s for s in result.windows if s.name in result.violated and self._wanted(s.name)]
        states = [s for s in states if self._scheduled.get((user_id, s.name), 0.0) <= now.timestamp()]
        if not states:
            return 0
        added = 0
        try:
            # A refusal must stay a quick 429, not become a 503 or a slow answer, whatever the backends do.
            async with asyncio.timeout(self._refusal_budget):
                if not await self._has_endpoint(user_id):
                    return 0
                for state in states:
                    notice = self._notice(user_id, state, result, now)
                    added += await self._schedule.schedule(notice)
                    self._remember(self._scheduled, (user_id, state.name), notice.reset_at.timestamp())
        except (DependencyUnavailable, TimeoutError) as exc:
            log.warning("could not schedule reset notices for user %s: %s", user_id, str(exc) or "timed out")
        return added

    def forget(self, user_id: UUID) -> None:
        """Drop what this process remembers about the user's endpoint (after it changed)."""
        self._presence.pop(user_id, None)

    async def deliver_due(self, now: datetime) -> DeliveryReport:
        """Claim due notices and deliver them concurrently: drop on success or give-up, else reschedule."""
        notices = await self._schedule.due(now, self._batch)
        outcomes = await asyncio.gather(*(self._deliver(notice) for notice in notices))
        return DeliveryReport(
            claimed=len(notices),
            delivered=outcomes.count("delivered"),
            retried=outcomes.count("retried"),
            dropped=outcomes.count("dropped"),
            deferred=outcomes.count("deferred"),
        )

    async def deliver_forever(self, interval: float = 1.0) -> None:
        """The worker loop: deliver due notices, waiting `interval` seconds whenever a pass left none behind."""
        while True:
            try:
                report = await self.deliver_due(self._clock.now())
            except Exception:  # the loop must outlive a Redis or database hiccup
                log.exception("reset notice delivery failed")
                report = DeliveryReport()
            if report.claimed < self._batch:
                await asyncio.sleep(interval)

    async def _deliver(self, notice: ResetNotice) -> str:
        try:
            endpoint = await self._endpoints.get(notice.user_id)
            if endpoint is None:
                await self._schedule.drop(notice)
                return "dropped"
            result = await self._sender.send(endpoint.url, endpoint.secret, reset_event(notice))
            attempt = notice.attempt + 1
            if result.ok:
                await self._schedule.drop(notice)
                log.info("delivered reset notice %s to user %s (%s window)", notice.id, notice.user_id, notice.window)
                return "delivered"
            at = retry_at(result, attempt, self._clock.now(), self._jitter())
            if at is None:
                await self._schedule.drop(notice)
                log.warning(
                    "gave up on reset notice %s for user %s (%s window) after %d attempt(s): %s",
                    notice.id,
                    notice.user_id,
                    notice.window,
                    attempt,
                    result.reason,
                )
                return "dropped"
            await self._schedule.reschedule(notice, at, attempt)
            log.info("reset notice %s attempt %d failed (%s); retrying at %s", notice.id, attempt, result.reason, at)
            return "retried"
        except DependencyUnavailable as exc:
            log.warning("reset notice %s deferred: %s", notice.id, exc)
            return "deferred"

    def _notice(self, user_id: UUID, state: WindowState, result: RateLimitResult, now: datetime) -> ResetNotice:
        # Whole seconds, rounded up: at that moment the window has room, and the event reads cleanly.
        reset = math.ceil(state.reset_at)
        if reset <= now.timestamp():
            reset = math.ceil(now.timestamp() + (result.retry_after or 1.0))
        return ResetNotice(
            id=uuid4(),
            user_id=user_id,
            window=state.name,
            quota=state.quota,
            limit=state.limit,
            reset_at=datetime.fromtimestamp(reset, UTC),
            created_at=now,
        )

    async def _has_endpoint(self, user_id: UUID) -> bool:
        cached = self._presence.get(user_id)
        if cached is not None and cached[1] > self._clock.monotonic():
            return cached[0]
        present = await self._endpoints.get(user_id) is not None
        self._remember(self._presence, user_id, (present, self._clock.monotonic() + self._memo_ttl))
        return present

    def _wanted(self, window: str) -> bool:
        return self._windows is None or window in self._windows

    def _remember(self, memo: dict[K, V], key: K, value: V) -> None:
        memo.pop(key, None)
        if len(memo) >= self._memo_size:
            del memo[next(iter(memo))]  # the oldest insertion: good enough as an LRU for a short-lived memo
        memo[key] = value
