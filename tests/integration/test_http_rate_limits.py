"""Tiered quotas through HTTP on real Redis: the seed's loop, headers, 429s, usage, durability, outages."""

from __future__ import annotations

import asyncio

import pytest
from httpx import AsyncClient
from litestar import Litestar
from redis.asyncio import Redis

from secapi.config import Settings
from secapi.domain.tiers import Tier
from secapi.entrypoints.http.app import create_app
from secapi.entrypoints.vulndb import import_sample

from support.http import serve
from support.seed import bearer, container_of, create_user


@pytest.fixture
async def api(app: Litestar, client: AsyncClient) -> tuple[AsyncClient, Litestar]:
    await import_sample(container_of(app))
    return client, app


def lockfile(n: int) -> dict[str, str]:
    return {"filename": "requirements.txt", "content": f"flask==2.2.{n}\n"}


async def test_the_seed_loop_distinct_scans_hit_the_hourly_window_identical_ones_are_cached(
    api: tuple[AsyncClient, Litestar],
) -> None:
    client, app = api
    _, key = await create_user(app, "free@example.com", Tier.FREE)
    first = await client.post("/api/v1/scan/dependencies", json=lockfile(0), headers=bearer(key))
    assert first.headers["x-cache-status"] == "MISS"
    assert first.headers["x-ratelimit-limit"] == "10"
    assert first.headers["x-ratelimit-remaining"] == "9"
    hit = await client.post("/api/v1/scan/dependencies", json=lockfile(0), headers=bearer(key))
    assert hit.headers["x-cache-status"] == "HIT"
    assert hit.headers["x-ratelimit-remaining"] == "9"  # a hit consumes no scan quota
    statuses = []
    for n in range(1, 19):  # 20 requests in all: exactly the free tier's 20 requests a minute
        response = await client.post("/api/v1/scan/dependencies", json=lockfile(n), headers=bearer(key))
        statuses.append(response.status_code)
    assert statuses.count(200) == 9  # 10 distinct scans in all admitted
    assert statuses.count(429) == 9
    refused = response
    assert refused.headers["content-type"] == "application/problem+json"
    assert int(refused.headers["retry-after"]) > 0
    body = refused.json()
    assert body["type"].endswith("/quota-exceeded")
    assert body["violated-policies"] == ["hour"]
    assert "free tier allows 10 scans per hour" in body["detail"]
    assert "starter tier allows 100 scans per hour" in body["detail"]
    assert body["tier"] == "free"
    again = await client.post("/api/v1/scan/dependencies", json=lockfile(0), headers=bearer(key))
    assert again.status_code == 429  # the 21st request of the minute
    assert again.json()["violated-policies"] == ["minute"]


async def test_headers_on_ordinary_requests_and_the_usage_endpoint(api: tuple[AsyncClient, Litestar]) -> None:
    client, app = api
    _, key = await create_user(app, "starter@example.com", Tier.STARTER)
    response = await client.get("/api/v1/scans", headers=bearer(key))
    assert response.headers["x-ratelimit-limit"] == "100"
    assert response.headers["x-ratelimit-remaining"] == "99"
    assert int(response.headers["x-ratelimit-reset"]) > 0
    assert response.headers["ratelimit-policy"] == '"minute";q=100;w=60'
    assert response.headers["ratelimit"].startswith('"minute";r=99;t=')
    await client.post("/api/v1/scan/dependencies", json=lockfile(1), headers=bearer(key))
    usage = (await client.get("/api/v1/usage", headers=bearer(key))).json()
    windows = {w["name"]: w for w in usage["windows"]}
    assert usage["tier"] == "starter"
    assert windows["minute"]["used"] == 3  # the usage request counts itself
    assert windows["hour"] == {**windows["hour"], "limit": 100, "used": 1, "remaining": 99}
    assert windows["month"]["limit"] == 5000
    assert windows["month"]["used"] == 1
    health = await client.get("/health/live")
    assert "x-ratelimit-limit" not in health.headers


async def test_the_monthly_quota_survives_a_redis_flush(api: tuple[AsyncClient, Litestar], settings: Settings) -> None:
    client, app = api
    _, key = await create_user(app, "durable@example.com", Tier.FREE)
    for n in range(3):
        await client.post("/api/v1/scan/dependencies", json=lockfile(n), headers=bearer(key))
    redis = Redis.from_url(settings.redis_url or "")
    try:
        await redis.flushdb()
    finally:
        await redis.aclose()
    response = await client.post("/api/v1/scan/dependencies", json=lockfile(10), headers=bearer(key))
    assert response.status_code == 200
    usage = (await client.get("/api/v1/usage", headers=bearer(key))).json()
    windows = {w["name"]: w for w in usage["windows"]}
    assert windows["month"]["used"] == 4  # rebuilt from PostgreSQL, not restarted at zero
    assert windows["hour"]["used"] == 1  # the hour is not durable: a flush forgets it


async def test_a_tier_change_takes_effect_on_the_next_request(api: tuple[AsyncClient, Litestar]) -> None:
    client, app = api
    _, admin = await create_user(app, "root@example.com", Tier.BUSINESS, admin=True)
    user, key = await create_user(app, "upgrade@example.com", Tier.FREE)
    assert (await client.get("/api/v1/scans", headers=bearer(key))).headers["x-ratelimit-limit"] == "20"
    await client.put(f"/api/v1/admin/users/{user.id}/tier", json={"tier": "pro"}, headers=bearer(admin))
    assert (await client.get("/api/v1/scans", headers=bearer(key))).headers["x-ratelimit-limit"] == "500"


async def test_fail_open_when_redis_is_down(settings: Settings) -> None:
    down = Settings.from_env({}, **{**settings.__dict__, "redis_url": "redis://127.0.0.1:1/0", "redis_timeout": 0.2})
    app = create_app(down)
    async with serve(app) as client:
        await import_sample(container_of(app))
        _, key = await create_user(app, "open@example.com", Tier.FREE)
        responses = [await client.get("/api/v1/scans", headers=bearer(key)) for _ in range(25)]
    assert all(r.status_code == 200 for r in responses)  # more than 20 a minute: nothing could count them
    assert responses[-1].headers["x-ratelimit-degraded"] == "minute"  # the window not enforced


async def test_fail_closed_is_a_503_not_a_500(settings: Settings) -> None:
    down = Settings.from_env(
        {},
        **{
            **settings.__dict__,
            "redis_url": "redis://127.0.0.1:1/0",
            "redis_timeout": 0.2,
            "rate_limit_fail_open": False,
        },
    )
    app = create_app(down)
    async with serve(app) as client:
        _, key = await create_user(app, "closed@example.com", Tier.FREE)
        response = await client.get("/api/v1/scans", headers=bearer(key))
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"


async def test_concurrent_scans_never_exceed_the_hourly_quota(api: tuple[AsyncClient, Litestar]) -> None:
    client, app = api
    _, key = await create_user(app, "burst@example.com", Tier.FREE)
    responses = await asyncio.gather(
        *(client.post("/api/v1/scan/dependencies", json=lockfile(100 + n), headers=bearer(key)) for n in range(18))
    )
    codes = [r.status_code for r in responses]
    assert codes.count(200) == 10
    assert codes.count(429) == 8
