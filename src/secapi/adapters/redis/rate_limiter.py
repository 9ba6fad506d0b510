"""Sliding-window quotas in Redis: one Lua script checks and consumes every window in one round trip.

Keys are `rl:{<user_id>}:<window name>`, one hash per window (bucket index → count); the `{user_id}` hash tag
keeps a user's windows in one Cluster slot so the multi-key script runs there. Time is the injected clock's,
passed to the script, so API instances and tests agree on it without Redis TIME.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib import resources
from uuid import UUID

from redis.exceptions import NoScriptError

from secapi.adapters.redis.client import REDIS_FAILURES, RedisClient
from secapi.adapters.redis.pipelining import AutoPipeline
from secapi.domain.ports import Clock
from secapi.domain.rate_limits import RateLimitResult, RateLimitUnavailable, Window, request_windows
from secapi.domain.services.quotas import HydratableLimiter
from secapi.domain.sliding_window import WindowOutcome, bucket_ms, now_ms, oldest_counted, summarize, validate
from secapi.domain.tiers import Tier

SLIDING_WINDOW_SCRIPT = (
    resources.files("secapi.adapters.redis").joinpath("sliding_window.lua").read_text(encoding="utf-8")
)

# Each bucket keeps the larger of its stored and restored count: a consume that raced ahead of the rebuild
# and the durable history both survive (a plain "only if the key is absent" would drop the history then).
HYDRATE_SCRIPT = """
for i = 2, #ARGV, 2 do
  local stored = tonumber(redis.call('HGET', KEYS[1], ARGV[i])) or 0
  if tonumber(ARGV[i + 1]) > stored then
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
  end
end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
"""

# Counts admitted while Redis was unreachable, added to their buckets once Redis is back (the durable store
# hands each count out once, so adding cannot count it twice).
REPLAY_SCRIPT = """
for i = 2, #ARGV, 2 do
  redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1])
end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
"""

_NOT_VIOLATED, _NEVER_FITS = -1, -2


def window_key(user_id: UUID, window: Window) -> str:
    """The hash holding one user's buckets for one window."""
    return f"rl:{{{user_id}}}:{window.name}"


@contextmanager
def _unavailable() -> Iterator[None]:
    """Translate any Redis or network failure into the domain's `RateLimitUnavailable`."""
    try:
        yield
    except REDIS_FAILURES as exc:
        raise RateLimitUnavailable(f"redis is unavailable for rate limits: {type(exc).__name__}: {exc}") from exc


class RedisRateLimiter(HydratableLimiter):
    """`RateLimitPolicy` on Redis: atomic check-and-consume across windows, N + 1 fields per window and user."""

    def __init__(self, redis: RedisClient, clock: Clock, *, pipeline: AutoPipeline | None = None) -> None:
        self._redis = redis
        self._clock = clock
        self._pipeline = pipeline or AutoPipeline(redis)
        # Script objects send EVALSHA and reload the source on NOSCRIPT (after a restart or SCRIPT FLUSH).
        self._sliding_window = redis.register_script(SLIDING_WINDOW_SCRIPT)
        self._hydrate = redis.register_script(HYDRATE_SCRIPT)
        self._replay = redis.register_script(REPLAY_SCRIPT)

    async def check_rate_limit(self, user_id: UUID, tier: Tier, endpoint: str) -> RateLimitResult:
        """Consume one API request in the tier's request windows if allowed."""
        result, _ = await self._run(user_id, request_windows(tier), 1, force=False)
        return result

    async def check_and_peek(
        self, user_id: UUID, tier: Tier, endpoint: str, peek: tuple[Window, ...]
    ) -> tuple[RateLimitResult, RateLimitResult]:
        """`check_rate_limit` and `peek(peek)` in one EVALSHA (the peeked windows never refuse the request)."""
        result, peeked = await self._run(user_id, request_windows(tier), 1, force=False, peek=peek)
        assert peeked is not None
        return result, peeked

    async def record_request(self, user_id: UUID, endpoint: str) -> None:
        """Count one request in the request windows without checking (limits only name the windows here)."""
        await self._run(user_id, request_windows(Tier.FREE), 1, force=True)

    async def consume(self, user_id: UUID, windows: tuple[Window, ...], cost: int = 1) -> RateLimitResult:
        """Consume `cost` in every window, or in none (one EVALSHA)."""
        result, _ = await self._run(user_id, windows, cost, force=False)
        return result

    async def peek(self, user_id: UUID, windows: tuple[Window, ...]) -> RateLimitResult:
        """The windows' state (a zero-cost check): `allowed` is False only when a window is already over."""
        result, _ = await self._run(user_id, windows, 0, force=False)
        return result

    async def export_buckets(self, user_id: UUID, window: Window) -> dict[int, int]:
        """The window's live buckets (index → count) for durable storage."""
        with _unavailable():
            raw = await self._redis.hgetall(window_key(user_id, window))
        oldest = oldest_counted(window, now_ms(self._clock))
        buckets = {int(index): int(count) for index, count in raw.items()}
        return {i: c for i, c in buckets.items() if i >= oldest and c > 0}

    async def hydrate(self, user_id: UUID, window: Window, buckets: dict[int, int]) -> None:
        """Restore buckets after a loss; each bucket keeps the larger of stored and given, so nothing is lost."""
        args = self._bucket_args(window, buckets)
        if args:
            with _unavailable():
                await self._hydrate(keys=[window_key(user_id, window)], args=args)

    async def replay(self, user_id: UUID, window: Window, buckets: dict[int, int]) -> None:
        """Add counts recorded while Redis was unavailable to the window's live buckets (one EVALSHA)."""
        args = self._bucket_args(window, buckets)
        if args:
            with _unavailable():
                await self._replay(keys=[window_key(user_id, window)], args=args)

    def _bucket_args(self, window: Window, buckets: dict[int, int]) -> list[int]:
        """The scripts' arguments for the window's live, non-empty buckets: [ttl ms, index, count, ...]; [] if none."""
        validate((window,), 0)
        oldest = oldest_counted(window, now_ms(self._clock))
        fresh = sorted((i, c) for i, c in buckets.items() if i >= oldest and c > 0)
        if not fresh:
            return []
        args: list[int] = [window.seconds * 1000 + bucket_ms(window)]
        for index, count in fresh:
            args += (index, count)
        return args

    async def exists(self, user_id: UUID, window: Window) -> bool:
        """Whether Redis holds the window's hash for the user (False after a flush or once it expired)."""
        with _unavailable():
            found = await self._redis.exists(window_key(user_id, window))
        return bool(found)

    async def _run(
        self, user_id: UUID, windows: Sequence[Window], cost: int, *, force: bool, peek: Sequence[Window] = ()
    ) -> tuple[RateLimitResult, RateLimitResult | None]:
        everything = (*windows, *peek)
        validate(windows, cost)
        if peek:
            validate(everything, 0)
        now = now_ms(self._clock)
        args: list[int] = [now, cost, 1 if force else 0, len(peek)]
        for w in everything:
            args += (w.seconds * 1000, w.buckets, w.limit)
        keys = [window_key(user_id, w) for w in everything]
        with _unavailable():
            reply = await self._evaluate(keys, args)
        outcomes = []
        for i in range(len(everything)):
            used, reset, free_at = (int(v) for v in reply[1 + 3 * i : 4 + 3 * i])
            outcomes.append(
                WindowOutcome(
                    used=used,
                    reset_ms=reset,
                    free_at_ms=None if free_at in (_NOT_VIOLATED, _NEVER_FITS) else free_at,
                    violated=free_at != _NOT_VIOLATED,
                )
            )
        result = summarize(windows, outcomes[: len(windows)], now)
        return result, (summarize(peek, outcomes[len(windows) :], now) if peek else None)

    async def _evaluate(self, keys: list[str], args: list[int]) -> list[int]:
        """EVALSHA through the auto-pipeline; the script is loaded again after a Redis restart or SCRIPT FLUSH."""
        sha = self._sliding_window.sha
        try:
            reply: list[int] = await self._pipeline.execute("EVALSHA", sha, len(keys), *keys, *args)
        except NoScriptError:
            await self._redis.script_load(SLIDING_WINDOW_SCRIPT)
            reply = await self._pipeline.execute("EVALSHA", sha, len(keys), *keys, *args)
        return reply
