"""Reset notices in Redis: a ZSET of ids scored by due time, a hash of payloads, a slot key per (user, window).

Keys share the `{notices}` hash tag, so the Lua scripts (each one atomic) also run on Redis Cluster.
Claiming re-scores the due members a lease into the future instead of removing them: two workers never
claim the same notice, and a notice whose worker died comes due again when the lease runs out.
Scores are Unix seconds from the caller's clock (the domain's), never Redis's own time.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec
from redis.commands.core import AsyncScript

from secapi.adapters.redis.client import REDIS_FAILURES, RedisClient
from secapi.domain.notifications import (
    NOTICE_LEASE_SECONDS,
    NOTICE_SLOT_SLACK,
    NoticeSchedule,
    NoticeScheduleUnavailable,
    ResetNotice,
)

# KEYS: slot, due, payloads. ARGV: id, slot ttl (s), due score, payload.
_SCHEDULE = """
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) then return 0 end
redis.call('HSET', KEYS[3], ARGV[1], ARGV[4])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
return 1
"""

# KEYS: due, payloads. ARGV: now, limit, lease-until score. Members without a payload are stale: removed.
_CLAIM = """
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
local claimed = {}
for _, id in ipairs(ids) do
  local payload = redis.call('HGET', KEYS[2], id)
  if payload then
    redis.call('ZADD', KEYS[1], ARGV[3], id)
    claimed[#claimed + 1] = payload
  else
    redis.call('ZREM', KEYS[1], id)
  end
end
return claimed
"""

# KEYS: due, payloads. ARGV: id, due score, payload. A notice dropped meanwhile stays dropped.
_RESCHEDULE = """
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
return 1
"""

# KEYS: slot, due, payloads. ARGV: id. The slot is freed only if it still names this notice.
_DROP = """
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
"""

_decoder = msgspec.json.Decoder(ResetNotice)


class RedisNoticeSchedule(NoticeSchedule):
    """`NoticeSchedule` shared by every API process and worker; Redis failures become `NoticeScheduleUnavailable`."""

    def __init__(
        self, redis: RedisClient, *, prefix: str = "secapi:{notices}", lease_seconds: float = NOTICE_LEASE_SECONDS
    ) -> None:
        self._redis = redis
        self._prefix = prefix
        self._due_key = f"{prefix}:due"
        self._payloads_key = f"{prefix}:payloads"
        self._lease = lease_seconds
        self._schedule = redis.register_script(_SCHEDULE)
        self._claim = redis.register_script(_CLAIM)
        self._reschedule = redis.register_script(_RESCHEDULE)
        self._drop = redis.register_script(_DROP)

    async def schedule(self, notice: ResetNotice) -> bool:
        """Add the notice due at `reset_at` unless its (user, window) slot is held."""
        # The slot outlives the notice's whole retry schedule; it lapses on its own only if the notice is lost.
        ttl = max(1, math.ceil((notice.reset_at - notice.created_at + NOTICE_SLOT_SLACK).total_seconds()))
        keys = [self._slot_key(notice.user_id, notice.window), self._due_key, self._payloads_key]
        args = [str(notice.id), ttl, repr(notice.reset_at.timestamp()), msgspec.json.encode(notice)]
        added = await self._run(self._schedule, keys, args, "schedule")
        return bool(added)

    async def due(self, now: datetime, limit: int) -> list[ResetNotice]:
        """Claim up to `limit` notices due by `now`, earliest first, hiding them for a lease."""
        stamp = now.timestamp()
        keys = [self._due_key, self._payloads_key]
        payloads = await self._run(self._claim, keys, [repr(stamp), limit, repr(stamp + self._lease)], "claim")
        return [_decoder.decode(payload) for payload in payloads]

    async def reschedule(self, notice: ResetNotice, at: datetime, attempt: int) -> None:
        """Make the notice due at `at` with `attempt` failed deliveries."""
        payload = msgspec.json.encode(msgspec.structs.replace(notice, attempt=attempt))
        args = [str(notice.id), repr(at.timestamp()), payload]
        await self._run(self._reschedule, [self._due_key, self._payloads_key], args, "reschedule")

    async def drop(self, notice: ResetNotice) -> None:
        """Forget the notice; free its slot if the slot is still this notice's."""
        keys = [self._slot_key(notice.user_id, notice.window), self._due_key, self._payloads_key]
        await self._run(self._drop, keys, [str(notice.id)], "drop")

    def _slot_key(self, user_id: UUID, window: str) -> str:
        return f"{self._prefix}:slot:{user_id}:{window}"

    async def _run(self, script: AsyncScript, keys: list[str], args: list[Any], operation: str) -> Any:
        try:
            return await script(keys=keys, args=args)
        except REDIS_FAILURES as exc:
            raise NoticeScheduleUnavailable(f"redis {operation} of reset notices failed: {type(exc).__name__}") from exc
