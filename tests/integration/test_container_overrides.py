"""Swapping one adapter is one line: only the scan cache replaced, everything else the real Redis/SQL wiring."""

from __future__ import annotations

from litestar import Litestar
from redis.asyncio import Redis

from secapi.adapters.memory.scan_cache import InMemoryScanCache
from secapi.adapters.redis.rate_limiter import RedisRateLimiter
from secapi.adapters.redis.single_flight import RedisSingleFlight
from secapi.config import Settings
from secapi.domain.caching import ScanCache, SingleFlight
from secapi.domain.clock import SystemClock
from secapi.domain.services.quotas import HydratableLimiter
from secapi.domain.tiers import Tier
from secapi.entrypoints.http.app import create_app
from secapi.entrypoints.vulndb import import_sample

from support import overrides
from support.http import serve
from support.seed import bearer, container_of, create_user

REQUIREMENTS = "flask==2.2.4\njinja2==3.1.2\n"


async def test_swapping_only_the_cache_is_what_scans_use(settings: Settings) -> None:
    cache = InMemoryScanCache(SystemClock())
    app: Litestar = create_app(settings, overrides.scan_cache(cache))
    container = container_of(app)
    redis = Redis.from_url(settings.redis_url or "")
    try:
        async with serve(app) as client:
            assert await container.get(ScanCache) is cache
            # The rest is the configured wiring: Redis for the limiter and single flight.
            assert isinstance(await container.get(HydratableLimiter), RedisRateLimiter)
            assert isinstance(await container.get(SingleFlight), RedisSingleFlight)

            await import_sample(container)
            _, key = await create_user(app, "swap@example.com", Tier.BUSINESS)
            body = {"filename": "requirements.txt", "content": REQUIREMENTS, "shared": True}
            first = await client.post("/api/v1/scan/dependencies", json=body, headers=bearer(key))
            second = await client.post("/api/v1/scan/dependencies", json=body, headers=bearer(key))

            assert (first.status_code, second.status_code) == (200, 200)
            assert (first.headers["x-cache-status"], second.headers["x-cache-status"]) == ("MISS", "HIT")
            assert second.json()["result"] == first.json()["result"]
            # The result went into the swapped cache and was read back from it ...
            assert cache.sets == 1
            stored = cache.keys()
            assert [k for k in stored if k.startswith("scan:dependencies:")] != []
            assert cache.hits["dependencies"] == 1
            # ... and never into Redis, while the real Redis limiter still counted both requests.
            assert [k async for k in redis.scan_iter("scan:dependencies:*")] == []
            assert second.headers["x-ratelimit-limit"] == "2000"
    finally:
        await redis.aclose()
