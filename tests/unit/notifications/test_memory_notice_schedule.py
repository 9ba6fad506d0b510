"""The in-process schedule: one pending notice per (user, window), atomic claims with a lease, reschedule, drop."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

from secapi.adapters.memory.notice_schedule import InMemoryNoticeSchedule
from secapi.domain.notifications import ResetNotice

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def notice(user: UUID, window: str = "hour", *, reset_in: float = 60.0, created: datetime = T0) -> ResetNotice:
    return ResetNotice(
        id=uuid4(),
        user_id=user,
        window=window,
        quota=f"scans_per_{window}",
        limit=10,
        reset_at=created + timedelta(seconds=reset_in),
        created_at=created,
    )


async def test_a_second_notice_for_the_same_user_and_window_is_refused_while_one_is_pending() -> None:
    schedule, user = InMemoryNoticeSchedule(), uuid4()
    assert await schedule.schedule(notice(user))
    assert not await schedule.schedule(notice(user, created=T0 + timedelta(seconds=5)))
    assert await schedule.schedule(notice(user, "month"))
    assert await schedule.schedule(notice(uuid4()))
    assert len(schedule.pending()) == 3


async def test_dropping_frees_the_slot() -> None:
    schedule, user = InMemoryNoticeSchedule(), uuid4()
    first = notice(user)
    await schedule.schedule(first)
    await schedule.drop(first)
    assert await schedule.schedule(notice(user))
    assert schedule.dropped == [first.id]


async def test_nothing_is_claimed_before_it_is_due() -> None:
    schedule = InMemoryNoticeSchedule()
    await schedule.schedule(notice(uuid4(), reset_in=60))
    assert await schedule.due(T0 + timedelta(seconds=59), 10) == []
    assert len(await schedule.due(T0 + timedelta(seconds=60), 10)) == 1


async def test_claims_are_earliest_first_and_limited() -> None:
    schedule = InMemoryNoticeSchedule()
    notices = [notice(uuid4(), reset_in=seconds) for seconds in (30, 10, 20)]
    for n in notices:
        await schedule.schedule(n)
    claimed = await schedule.due(T0 + timedelta(minutes=5), 2)
    assert [n.id for n in claimed] == [notices[1].id, notices[2].id]


async def test_concurrent_claimers_never_get_the_same_notice() -> None:
    schedule = InMemoryNoticeSchedule()
    for _ in range(50):
        await schedule.schedule(notice(uuid4()))
    now = T0 + timedelta(minutes=1)
    batches = await asyncio.gather(*(schedule.due(now, 7) for _ in range(10)))
    ids = [n.id for batch in batches for n in batch]
    assert len(ids) == len(set(ids)) == 50


async def test_a_claimed_notice_comes_due_again_when_its_lease_runs_out() -> None:
    schedule = InMemoryNoticeSchedule(lease_seconds=60)
    n = notice(uuid4(), reset_in=0)
    await schedule.schedule(n)
    assert await schedule.due(T0, 10) == [n]
    assert await schedule.due(T0 + timedelta(seconds=59), 10) == []
    assert await schedule.due(T0 + timedelta(seconds=60), 10) == [n]


async def test_reschedule_records_the_attempt_and_the_new_due_time() -> None:
    schedule, user = InMemoryNoticeSchedule(), uuid4()
    n = notice(user, reset_in=0)
    await schedule.schedule(n)
    (claimed,) = await schedule.due(T0, 10)
    await schedule.reschedule(claimed, T0 + timedelta(seconds=10), 1)
    assert await schedule.due(T0 + timedelta(seconds=9), 10) == []
    (again,) = await schedule.due(T0 + timedelta(seconds=10), 10)
    assert again.id == n.id
    assert again.attempt == 1
    assert not await schedule.schedule(notice(user)), "a notice being retried still holds its slot"


async def test_rescheduling_a_dropped_notice_does_not_revive_it() -> None:
    schedule = InMemoryNoticeSchedule()
    n = notice(uuid4(), reset_in=0)
    await schedule.schedule(n)
    await schedule.drop(n)
    await schedule.reschedule(n, T0, 1)
    assert await schedule.due(T0 + timedelta(days=1), 10) == []


async def test_a_slot_whose_notice_was_lost_lapses_a_day_after_its_reset() -> None:
    schedule, user = InMemoryNoticeSchedule(), uuid4()
    await schedule.schedule(notice(user, reset_in=60))
    late = T0 + timedelta(days=1, seconds=61)
    assert await schedule.schedule(notice(user, created=late))
