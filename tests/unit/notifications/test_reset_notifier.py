"""ResetNotifier: refusals schedule notices for users with a webhook; due notices are delivered, retried, dropped."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import datetime, timedelta
from uuid import UUID, uuid4

import pytest

from secapi.adapters.memory.notice_schedule import InMemoryNoticeSchedule
from secapi.domain.errors import DependencyUnavailable
from secapi.domain.notifications import DeliveryResult, NotificationEndpoint, ResetNotice, WebhookEvent
from secapi.domain.rate_limits import RateLimitResult, WindowState
from secapi.domain.services.reset_notifications import ResetNotifier

from support.fakes import FakeClock

OK = DeliveryResult(ok=True, retry=False, status=204, reason="HTTP 204")
BUSY = DeliveryResult(ok=False, retry=True, status=503, reason="receiver answered HTTP 503")
GONE = DeliveryResult(ok=False, retry=False, status=410, reason="receiver answered HTTP 410")


class FakeEndpoints:
    def __init__(self) -> None:
        self.rows: dict[UUID, NotificationEndpoint] = {}
        self.reads = 0
        self.failing = False

    async def get(self, user_id: UUID) -> NotificationEndpoint | None:
        self.reads += 1
        if self.failing:
            raise DependencyUnavailable("the database is unavailable")
        return self.rows.get(user_id)

    async def put(self, endpoint: NotificationEndpoint) -> None:
        self.rows[endpoint.user_id] = endpoint

    async def delete(self, user_id: UUID) -> bool:
        return self.rows.pop(user_id, None) is not None


class ScriptedSender:
    def __init__(self, *results: DeliveryResult) -> None:
        self.results = list(results)
        self.sent: list[tuple[str, str, WebhookEvent]] = []

    async def send(self, url: str, secret: str, payload: WebhookEvent) -> DeliveryResult:
        self.sent.append((url, secret, payload))
        return self.results.pop(0) if self.results else OK


def refusal(
    clock: FakeClock, *violated: str, hour_reset_in: float = 600.5, month_reset_in: float = 86400
) -> RateLimitResult:
    now = clock.now().timestamp()
    states = (
        WindowState(
            name="hour",
            quota="scans_per_hour",
            limit=10,
            used=10,
            remaining=0,
            reset_at=now + hour_reset_in,
            seconds=3600,
        ),
        WindowState(
            name="month",
            quota="scans_per_month",
            limit=100,
            used=100,
            remaining=0,
            reset_at=now + month_reset_in,
            seconds=2592000,
        ),
    )
    return RateLimitResult(
        allowed=False,
        limit=10,
        remaining=0,
        reset_at=states[0].reset_at,
        windows=states,
        retry_after=hour_reset_in,
        violated=violated,
    )


@pytest.fixture
def endpoints() -> FakeEndpoints:
    return FakeEndpoints()


@pytest.fixture
def schedule() -> InMemoryNoticeSchedule:
    return InMemoryNoticeSchedule()


def notifier_with(
    endpoints: FakeEndpoints, schedule: InMemoryNoticeSchedule, sender: ScriptedSender, clock: FakeClock
) -> ResetNotifier:
    return ResetNotifier(endpoints, schedule, sender, clock, jitter=lambda: 0.0)


async def register(endpoints: FakeEndpoints, clock: FakeClock) -> UUID:
    user = uuid4()
    await endpoints.put(
        NotificationEndpoint(user_id=user, url="https://hooks.example/x", secret="s" * 20, created_at=clock.now())
    )
    return user


async def test_a_refusal_schedules_one_notice_per_refusing_window_at_its_reset(
    endpoints: FakeEndpoints, schedule: InMemoryNoticeSchedule, clock: FakeClock
) -> None:
    user = await register(endpoints, clock)
    notifier = notifier_with(endpoints, schedule, ScriptedSender(), clock)
    assert await notifier.on_refusal(user, refusal(clock, "hour", "month")) == 2
    (hour, _), (month, _) = schedule.pending()
    assert (hour.window, hour.quota, hour.limit) == ("hour", "scans_per_hour", 10)
    assert hour.reset_at == clock.now() + timedelta(seconds=601), "rounded up to whole seconds"
    assert (month.window, month.reset_at) == ("month", clock.now() + timedelta(days=1))


async def test_windows_that_did_not_refuse_get_no_notice(
    endpoints: FakeEndpoints, schedule: InMemoryNoticeSchedule, clock: FakeClock
) -> None:
    user = await register(endpoints, clock)
    await notifier_with(endpoints, schedule, ScriptedSender(), clock).on_refusal(user, refusal(clock, "month"))
    assert [n.window for n, _ in schedule.pending()] == ["month"]


async def test_users_without_an_endpoint_cost_one_lookup_per_memo_period(
    endpoints: FakeEndpoints, schedule: InMemoryNoticeSchedule, clock: FakeClock
) -> None:
    notifier, user = notifier_with(endpoints, schedule, ScriptedSender(), clock), uuid4()
    for _ in range(100):
        assert await notifier.on_refusal(user, refusal(clock, "hour")) == 0
    assert endpoints.reads == 1
    clock.advance(31)
    await notifier.on_refusal(user, refusal(clock, "hour"))
    assert endpoints.reads == 2
    assert schedule.pending() == []


async def test_repeated_refusals_schedule_once(
    endpoints: FakeEndpoints, schedule: InMemoryNoticeSchedule, clock: FakeClock
) -> None:
    user = await register(endpoints, clock)
    notifier = notifier_with(endpoints, schedule, ScriptedSender(), clock)
    other_process = notifier_with(endpoints, schedule, ScriptedSender(), clock)
    assert await notifier.on_refusal(user, refusal(clock, "hour")) == 1
    assert await notifier.on_refusal(user, refusal(clock, "hour")) == 0
    assert await other_process.on_refusal(user, refusal(clock, "hour")) == 0, "the schedule deduplicates too"
    assert len(schedule.scheduled) == 1


async def test_forget_makes_a_new_endpoint_count_at_once(
    endpoints: FakeEndpoints, schedule: InMemoryNoticeSchedule, clock: FakeClock
) -> None:
    notifier, user = notifier_with(endpoints, schedule, ScriptedSender(), clock), uuid4()
    await notifier.on_refusal(user, refusal(clock, "hour"))
    await endpoints.put(
        NotificationEndpoint(user_id=user, url="https://a.example", secret="s" * 16, created_at=clock.now())
    )
    notifier.forget(user)
    assert await notifier.on_refusal(user, refusal(clock, "hour")) == 1


async def test_a_failing_backend_never_turns_a_refusal_into_an_error(
    endpoints: FakeEndpoints, schedule: InMemoryNoticeSchedule, clock: FakeClock
) -> None:
    endpoints.failing = True
    notifier = notifier_with(endpoints, schedule, ScriptedSender(), clock)
    assert await notifier.on_refusal(uuid4(), refusal(clock, "hour")) == 0


async def test_a_due_notice_is_delivered_signed_for_the_current_endpoint_and_dropped(
    endpoints: FakeEndpoints, schedule: InMemoryNoticeSchedule, clock: FakeClock
) -> None:
    user, sender = await register(endpoints, clock), ScriptedSender(OK)
    notifier = notifier_with(endpoints, schedule, sender, clock)
    await notifier.on_refusal(user, refusal(clock, "hour", hour_reset_in=60))
    assert (await notifier.deliver_due(clock.now())).claimed == 0
    clock.advance(60)
    report = await notifier.deliver_due(clock.now())
    assert (report.claimed, report.delivered) == (1, 1)
    url, secret, event = sender.sent[0]
    assert (url, secret) == ("https://hooks.example/x", "s" * 20)
    assert json.loads(event.body)["window"] == "hour"
    assert schedule.pending() == []


async def test_failures_are_retried_with_backoff_then_dropped_after_the_last_attempt(
    endpoints: FakeEndpoints, schedule: InMemoryNoticeSchedule, clock: FakeClock
) -> None:
    user, sender = await register(endpoints, clock), ScriptedSender(*[BUSY] * 6)
    notifier = notifier_with(endpoints, schedule, sender, clock)
    await notifier.on_refusal(user, refusal(clock, "hour", hour_reset_in=0))
    clock.advance(1)
    waits = []
    for _ in range(5):
        assert (await notifier.deliver_due(clock.now())).retried == 1
        ((pending, due_at),) = schedule.pending()
        waits.append((due_at - clock.now()).total_seconds())
        clock.advance(waits[-1])
    assert waits == [10, 30, 120, 600, 1800]
    assert pending.attempt == 5
    assert (await notifier.deliver_due(clock.now())).dropped == 1
    assert len(sender.sent) == 6
    assert schedule.pending() == []
    assert await notifier.on_refusal(user, refusal(clock, "hour")) == 1, "the slot is free again"


async def test_a_permanent_failure_is_dropped_at_once(
    endpoints: FakeEndpoints, schedule: InMemoryNoticeSchedule, clock: FakeClock
) -> None:
    user, sender = await register(endpoints, clock), ScriptedSender(GONE)
    notifier = notifier_with(endpoints, schedule, sender, clock)
    await notifier.on_refusal(user, refusal(clock, "hour", hour_reset_in=0))
    clock.advance(1)
    assert (await notifier.deliver_due(clock.now())).dropped == 1
    assert schedule.pending() == []


async def test_a_notice_whose_endpoint_was_removed_is_dropped_unsent(
    endpoints: FakeEndpoints, schedule: InMemoryNoticeSchedule, clock: FakeClock
) -> None:
    user, sender = await register(endpoints, clock), ScriptedSender()
    notifier = notifier_with(endpoints, schedule, sender, clock)
    await notifier.on_refusal(user, refusal(clock, "hour", hour_reset_in=0))
    await endpoints.delete(user)
    clock.advance(1)
    assert (await notifier.deliver_due(clock.now())).dropped == 1
    assert sender.sent == []


async def test_a_backend_failure_during_delivery_leaves_the_notice_to_come_due_again(
    endpoints: FakeEndpoints, schedule: InMemoryNoticeSchedule, clock: FakeClock
) -> None:
    user, sender = await register(endpoints, clock), ScriptedSender()
    notifier = notifier_with(endpoints, schedule, sender, clock)
    await notifier.on_refusal(user, refusal(clock, "hour", hour_reset_in=0))
    clock.advance(1)
    endpoints.failing = True
    assert (await notifier.deliver_due(clock.now())).deferred == 1
    endpoints.failing = False
    clock.advance(60)
    assert (await notifier.deliver_due(clock.now())).delivered == 1


async def test_a_slow_backend_cannot_hold_up_the_429(
    endpoints: FakeEndpoints, schedule: InMemoryNoticeSchedule, clock: FakeClock
) -> None:
    class SlowEndpoints(FakeEndpoints):
        async def get(self, user_id: UUID) -> NotificationEndpoint | None:
            await asyncio.sleep(10)
            return None

    notifier = ResetNotifier(SlowEndpoints(), schedule, ScriptedSender(), clock, refusal_budget=0.05)
    started = time.monotonic()
    assert await notifier.on_refusal(uuid4(), refusal(clock, "hour")) == 0
    assert time.monotonic() - started < 1


async def test_the_delivery_loop_outlives_a_failing_pass(
    endpoints: FakeEndpoints, schedule: InMemoryNoticeSchedule, clock: FakeClock
) -> None:
    class FlakySchedule(InMemoryNoticeSchedule):
        failures = 2

        async def due(self, now: datetime, limit: int) -> list[ResetNotice]:
            if self.failures:
                self.failures -= 1
                raise RuntimeError("redis went away")
            return await super().due(now, limit)

    user, sender, flaky = await register(endpoints, clock), ScriptedSender(OK), FlakySchedule()
    notifier = notifier_with(endpoints, flaky, sender, clock)
    await notifier.on_refusal(user, refusal(clock, "hour", hour_reset_in=0))
    clock.advance(1)
    loop = asyncio.create_task(notifier.deliver_forever(interval=0.01))
    try:
        for _ in range(200):
            if sender.sent:
                break
            await asyncio.sleep(0.01)
    finally:
        loop.cancel()
    assert len(sender.sent) == 1
    assert flaky.failures == 0
