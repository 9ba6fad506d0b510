"""Request counts of shareable inputs in Redis (a sorted set and a hash per scan type), bounded."""

from __future__ import annotations

import logging
from typing import Any, cast

import msgspec

from secapi.adapters.redis.client import RedisClient
from secapi.adapters.redis.scan_cache import BATCH, unavailable_on_failure
from secapi.domain.caching import PopularInputs

log = logging.getLogger(__name__)

PREFIX = "secapi:popular:"

_decoder = msgspec.json.Decoder(dict[str, Any])


class RedisPopularInputs(PopularInputs):
    """`PopularInputs` as `ZINCRBY` on `secapi:popular:{type}` plus the input in `secapi:popular:{type}:inputs`.

    Every `trim_every` touches (per process) the ranking is cut back to `max_tracked`,
    so between trims it may briefly hold a few hundred more. As with the in-memory
    variant, a new input must out-count the tail between two trims to stay tracked.
    """

    def __init__(self, redis: RedisClient, *, max_tracked: int = 10_000, trim_every: int = 100) -> None:
        self._redis = redis
        self._max_tracked = max_tracked
        self._trim_every = trim_every
        self._touches = 0

    async def touch(self, scan_type: str, input_hash: str, data: dict[str, Any]) -> None:
        """Count one request: one pipelined round trip (plus an occasional trim)."""
        ranking, inputs = _keys(scan_type)
        with unavailable_on_failure("popular inputs update"):
            pipe = self._redis.pipeline(transaction=False)
            pipe.zincrby(ranking, 1, input_hash)
            pipe.hsetnx(inputs, input_hash, msgspec.json.encode(data))
            await pipe.execute()
            self._touches += 1
            if self._touches % self._trim_every == 0:
                await self._trim(ranking, inputs)

    async def top(self, scan_type: str, limit: int) -> list[dict[str, Any]]:
        """The most requested inputs, most popular first."""
        if limit <= 0:
            return []
        ranking, inputs = _keys(scan_type)
        with unavailable_on_failure("popular inputs read"):
            # Without scores ZREVRANGE answers a flat list of members (the stubs also allow the scored shapes).
            hashes = cast("list[bytes | str]", await self._redis.zrevrange(ranking, 0, limit - 1))
            raws = await self._redis.hmget(inputs, hashes) if hashes else []
        found: list[dict[str, Any]] = []
        for input_hash, raw in zip(hashes, raws, strict=True):
            # A missing input was trimmed while being touched: its next touch stores it again.
            if raw is None:
                continue
            try:
                found.append(_decoder.decode(raw))
            except msgspec.DecodeError as exc:
                log.warning("skipping undecodable popular input %r: %s", input_hash, exc)
        return found

    async def _trim(self, ranking: str, inputs: str) -> None:
        """Drop all but the `max_tracked` best-ranked inputs, from both keys.

        Plain commands rather than a two-key script keep this usable on Redis Cluster; a
        member touched between ZRANGE and ZREM is dropped anyway, which a popularity
        estimate can afford.
        """
        doomed = await self._redis.zrange(ranking, 0, -(self._max_tracked + 1))
        for start in range(0, len(doomed), BATCH):
            chunk = doomed[start : start + BATCH]
            pipe = self._redis.pipeline(transaction=False)
            pipe.zrem(ranking, *chunk)
            pipe.hdel(inputs, *chunk)
            await pipe.execute()


def _keys(scan_type: str) -> tuple[str, str]:
    ranking = f"{PREFIX}{scan_type}"
    return ranking, f"{ranking}:inputs"
