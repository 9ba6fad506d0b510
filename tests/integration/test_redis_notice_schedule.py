"""The reset-notice schedule's three-key scripts on a single node and on a cluster (one hash tag, one slot)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from secapi.adapters.redis.client import RedisClient
from secapi.adapters.redis.notice_schedule import RedisNoticeSchedule
from secapi.domain.notifications import NoticeScheduleUnavailable, ResetNotice

from support.redis_targets import RedisTarget

pytestmark = pytest.mark.integration

NOW = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
async def redis(redis_target: RedisTarget) -> AsyncIterator[RedisClient]:
    client = await redis_target.client()
    yield client
    await client.aclose()


def _notice(window: str = "hour") -> ResetNotice:
    return ResetNotice(
        id=uuid4(),
        user_id=uuid4(),
        window=window,
        quota="scans_per_hour",
        limit=10,
        reset_at=NOW + timedelta(minutes=5),
        created_at=NOW,
    )


async def test_schedule_claim_reschedule_and_drop(redis: RedisClient) -> None:
    schedule = RedisNoticeSchedule(redis)
    notice = _notice()

    assert await schedule.schedule(notice)
    assert not await schedule.schedule(_notice_for(notice))  # the (user, window) slot is held
    assert await schedule.due(NOW, 10) == []
    claimed = await schedule.due(NOW + timedelta(minutes=5), 10)
    assert [n.id for n in claimed] == [notice.id]
    assert await schedule.due(NOW + timedelta(minutes=5), 10) == []  # leased, not claimed twice
    await schedule.reschedule(notice, NOW + timedelta(minutes=6), attempt=1)
    assert [n.attempt for n in await schedule.due(NOW + timedelta(minutes=6), 10)] == [1]
    await schedule.drop(notice)
    assert await schedule.schedule(_notice_for(notice))  # the slot is free again


def _notice_for(notice: ResetNotice) -> ResetNotice:
    """Another notice for the same user and window."""
    return ResetNotice(**{**{f: getattr(notice, f) for f in notice.__struct_fields__}, "id": uuid4()})


async def test_keys_without_a_common_hash_tag_fail_on_a_cluster_only(
    redis: RedisClient, redis_target: RedisTarget
) -> None:
    """Why the keys carry `{notices}`: the same scripts over untagged keys are refused by a cluster."""
    untagged = RedisNoticeSchedule(redis, prefix="secapi:notices")
    if not redis_target.cluster:
        assert await untagged.schedule(_notice())
        return
    with pytest.raises(NoticeScheduleUnavailable):
        await untagged.schedule(_notice())
