"""The scan cache through HTTP on real Redis: hits, TTLs, keys, privacy, single flight, freshness, outages."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from pathlib import Path

import pytest
from httpx import AsyncClient
from litestar import Litestar
from redis.asyncio import Redis

from secapi.adapters.redis.scan_cache import STATS_KEY
from secapi.config import Settings
from secapi.entrypoints.http.app import create_app
from secapi.entrypoints.vulndb import import_paths, import_sample

from support.http import serve
from support.seed import bearer, container_of, create_user

REQUIREMENTS = "flask==2.2.4\njinja2==3.1.2\n"
TIER_TTL = {"free": 3600, "starter": 86400, "pro": 86400, "business": 604800}


@pytest.fixture
async def api(app: Litestar, client: AsyncClient) -> tuple[AsyncClient, Litestar]:
    await import_sample(container_of(app))
    return client, app


async def test_miss_then_hit_with_the_same_result(api: tuple[AsyncClient, Litestar]) -> None:
    from secapi.domain.tiers import Tier

    client, app = api
    _, key = await create_user(app, "a@example.com", Tier.BUSINESS)
    first = await client.post(
        "/api/v1/scan/dependencies", json={"filename": "requirements.txt", "content": REQUIREMENTS}, headers=bearer(key)
    )
    second = await client.post(
        "/api/v1/scan/dependencies", json={"content": REQUIREMENTS, "filename": "requirements.txt"}, headers=bearer(key)
    )
    assert first.headers["x-cache-status"] == "MISS"
    assert second.headers["x-cache-status"] == "HIT"
    assert first.json()["result"] == second.json()["result"]
    assert first.headers["etag"] == second.headers["etag"]
    assert second.headers["cache-control"].startswith("private, max-age=")
    assert int(second.headers["age"]) >= 0
    assert first.json()["id"] != second.json()["id"]  # each request is the caller's own scan
    # A hit's own scan row is in the database before the hit is answered.
    stored = await client.get(f"/api/v1/scans/{second.json()['id']}", headers=bearer(key))
    assert stored.status_code == 200
    assert stored.json()["result"] == first.json()["result"]


async def test_a_hit_s_scan_row_is_stored_before_it_is_answered_whatever_the_flush_interval(
    settings: Settings,
) -> None:
    """An instance killed right after answering a hit must not lose the scan id it gave (the soak's finding):
    the row is written before the answer, many concurrent hits to one INSERT, not by the periodic flush."""
    from secapi.domain.tiers import Tier

    app = create_app(dataclasses.replace(settings, usage_flush_interval=3600.0))
    async with serve(app) as client:
        await import_sample(container_of(app))
        _, key = await create_user(app, "durable@example.com", Tier.BUSINESS)
        body = {"filename": "requirements.txt", "content": REQUIREMENTS}
        assert (await client.post("/api/v1/scan/dependencies", json=body, headers=bearer(key))).status_code == 200
        hits = await asyncio.gather(
            *(client.post("/api/v1/scan/dependencies", json=body, headers=bearer(key)) for _ in range(20))
        )
        assert {hit.headers["x-cache-status"] for hit in hits} == {"HIT"}
        for hit in hits:
            stored = await client.get(f"/api/v1/scans/{hit.json()['id']}", headers=bearer(key))
            assert stored.status_code == 200
            assert stored.json()["result"] == hit.json()["result"]


async def test_a_hit_costs_one_limiter_call_and_one_lookup(settings: Settings) -> None:
    """The hot path: the per-minute check also notes the scan windows, and hit counts are batched."""
    from secapi.domain.tiers import Tier

    app = create_app(dataclasses.replace(settings, usage_flush_interval=60.0))
    redis = Redis.from_url(settings.redis_url or "")
    async with serve(app) as client:
        await import_sample(container_of(app))
        _, key = await create_user(app, "hot@example.com", Tier.BUSINESS)
        body = {"filename": "requirements.txt", "content": REQUIREMENTS, "shared": True}
        assert (await client.post("/api/v1/scan/dependencies", json=body, headers=bearer(key))).status_code == 200

        async def evalsha_calls() -> int:
            return int((await redis.info("commandstats")).get("cmdstat_evalsha", {}).get("calls", 0))

        async def counted_hits() -> int:
            return int(await redis.hget(STATS_KEY, "dependencies:hits") or 0)

        before, hits_before = await evalsha_calls(), await counted_hits()
        for _ in range(10):
            hit = await client.post("/api/v1/scan/dependencies", json=body, headers=bearer(key))
            assert hit.headers["x-cache-status"] == "HIT"
            assert hit.headers["x-ratelimit-limit"] == "2000"  # the scan hour, from the same call
        after, hits_after = await evalsha_calls(), await counted_hits()
    hits_at_shutdown = await counted_hits()
    await redis.aclose()
    assert after - before == 10  # one script call per hit: the minute check, with the scan windows peeked
    assert hits_after == hits_before  # hit counts wait in process for the flush interval ...
    assert hits_at_shutdown == hits_before + 10  # ... or for shutdown, and none is lost


@pytest.mark.parametrize("tier", ["free", "starter", "pro", "business"])
async def test_ttl_follows_the_tier_of_the_request(
    api: tuple[AsyncClient, Litestar], settings: Settings, tier: str
) -> None:
    from secapi.domain.tiers import Tier

    client, app = api
    _, key = await create_user(app, f"{tier}@example.com", Tier(tier))
    response = await client.post(
        "/api/v1/scan/dependencies",
        json={"filename": "requirements.txt", "content": REQUIREMENTS, "shared": True},
        headers=bearer(key),
    )
    assert response.status_code == 200
    redis = Redis.from_url(settings.redis_url or "")
    try:
        keys = [k async for k in redis.scan_iter("scan:dependencies:*")]
        assert len(keys) == 1
        ttl = await redis.ttl(keys[0])
        value = json.loads(await redis.get(keys[0]))
    finally:
        await redis.aclose()
    assert TIER_TTL[tier] - 5 <= ttl <= TIER_TTL[tier]
    assert value["scan_type"] == "dependencies"
    assert value["result"]["vulnerabilities"]


async def test_private_lockfiles_are_per_tenant_and_shared_ones_are_not(api: tuple[AsyncClient, Litestar]) -> None:
    client, app = api
    _, alice = await create_user(app, "alice@example.com")
    _, bob = await create_user(app, "bob@example.com")
    body = {"filename": "requirements.txt", "content": REQUIREMENTS}
    await client.post("/api/v1/scan/dependencies", json=body, headers=bearer(alice))
    private = await client.post("/api/v1/scan/dependencies", json=body, headers=bearer(bob))
    assert private.headers["x-cache-status"] == "MISS"  # alice's private result is never bob's
    shared = {**body, "content": REQUIREMENTS + "pyyaml==5.3\n", "shared": True}
    await client.post("/api/v1/scan/dependencies", json=shared, headers=bearer(alice))
    again = await client.post("/api/v1/scan/dependencies", json=shared, headers=bearer(bob))
    assert again.headers["x-cache-status"] == "HIT"


async def test_different_inputs_have_different_keys(api: tuple[AsyncClient, Litestar], settings: Settings) -> None:
    client, app = api
    _, key = await create_user(app, "a@example.com")
    for content in (REQUIREMENTS, REQUIREMENTS + "urllib3==1.26.0\n"):
        response = await client.post(
            "/api/v1/scan/dependencies",
            json={"filename": "requirements.txt", "content": content, "shared": True},
            headers=bearer(key),
        )
        assert response.headers["x-cache-status"] == "MISS"
    redis = Redis.from_url(settings.redis_url or "")
    try:
        assert len([k async for k in redis.scan_iter("scan:dependencies:*")]) == 2
    finally:
        await redis.aclose()


async def test_twenty_identical_concurrent_requests_run_one_scan(api: tuple[AsyncClient, Litestar]) -> None:
    client, app = api
    _, key = await create_user(app, "a@example.com")
    content = "".join(f"pkg{n}==1.0.{n}\n" for n in range(300)) + REQUIREMENTS
    responses = await asyncio.gather(
        *(
            client.post(
                "/api/v1/scan/dependencies",
                json={"filename": "requirements.txt", "content": content},
                headers=bearer(key),
            )
            for _ in range(20)
        )
    )
    statuses = [r.headers["x-cache-status"] for r in responses]
    assert all(r.status_code == 200 for r in responses)
    assert statuses.count("MISS") == 1, statuses
    assert statuses.count("HIT") == 19


async def test_a_vulnerability_import_makes_older_results_unservable(
    api: tuple[AsyncClient, Litestar], tmp_path: Path
) -> None:
    client, app = api
    _, key = await create_user(app, "a@example.com")
    body = {"filename": "requirements.txt", "content": "requests==2.30.0\n"}
    first = await client.post("/api/v1/scan/dependencies", json=body, headers=bearer(key))
    assert (await client.post("/api/v1/scan/dependencies", json=body, headers=bearer(key))).headers[
        "x-cache-status"
    ] == "HIT"
    advisory = {
        "id": "TEST-2026-0001",
        "modified": "2026-11-01T00:00:00Z",
        "summary": "requests leaks headers",
        "affected": [
            {
                "package": {"ecosystem": "PyPI", "name": "requests"},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.32.0"}]}],
            }
        ],
    }
    (tmp_path / "TEST-2026-0001.json").write_text(json.dumps(advisory))
    summary = await import_paths(container_of(app), [tmp_path], show_progress=False)
    assert summary.counts.added == 1
    await asyncio.sleep(1.1)  # the version is memoised for at most a second per process
    fresh = await client.post("/api/v1/scan/dependencies", json=body, headers=bearer(key))
    assert fresh.headers["x-cache-status"] == "MISS"
    assert fresh.json()["result"]["vulndb_version"] > first.json()["result"]["vulndb_version"]
    assert "TEST-2026-0001" in {v["id"] for v in fresh.json()["result"]["vulnerabilities"]}


async def test_no_cache_bypasses_and_refreshes(api: tuple[AsyncClient, Litestar]) -> None:
    client, app = api
    _, key = await create_user(app, "a@example.com")
    body = {"filename": "requirements.txt", "content": REQUIREMENTS}
    await client.post("/api/v1/scan/dependencies", json=body, headers=bearer(key))
    bypass = await client.post(
        "/api/v1/scan/dependencies", json=body, headers={**bearer(key), "Cache-Control": "no-cache"}
    )
    assert bypass.headers["x-cache-status"] == "BYPASS"
    assert bypass.json()["result"]["timings"]["total_ms"] > 0


async def test_if_none_match_on_a_scan_is_304(api: tuple[AsyncClient, Litestar]) -> None:
    client, app = api
    _, key = await create_user(app, "a@example.com")
    created = await client.post(
        "/api/v1/scan/dependencies", json={"filename": "requirements.txt", "content": REQUIREMENTS}, headers=bearer(key)
    )
    url = f"/api/v1/scans/{created.json()['id']}"
    first = await client.get(url, headers=bearer(key))
    etag = first.headers["etag"]
    again = await client.get(url, headers={**bearer(key), "If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    other = await client.get(url, headers={**bearer(key), "If-None-Match": 'W/"something-else"'})
    assert other.status_code == 200


async def test_scans_still_work_when_redis_is_down(settings: Settings) -> None:
    down = Settings.from_env({}, **{**settings.__dict__, "redis_url": "redis://127.0.0.1:1/0", "redis_timeout": 0.2})
    app = create_app(down)
    async with serve(app) as client:
        await import_sample(container_of(app))
        _, key = await create_user(app, "a@example.com")
        body = {"filename": "requirements.txt", "content": REQUIREMENTS}
        first = await client.post("/api/v1/scan/dependencies", json=body, headers=bearer(key))
        second = await client.post("/api/v1/scan/dependencies", json=body, headers=bearer(key))
    assert first.status_code == 200, first.text
    assert second.status_code == 200
    assert second.headers["x-cache-status"] == "MISS"
    assert {v["id"] for v in second.json()["result"]["vulnerabilities"]} >= {"GHSA-m2qf-hxjv-5gpq"}


async def test_admin_stats_and_invalidation(api: tuple[AsyncClient, Litestar]) -> None:
    client, app = api
    _, admin = await create_user(app, "root@example.com", admin=True)
    body = {"filename": "requirements.txt", "content": REQUIREMENTS}
    for _ in range(3):
        await client.post("/api/v1/scan/dependencies", json=body, headers=bearer(admin))
    stats = (await client.get("/api/v1/admin/cache/stats", headers=bearer(admin))).json()
    assert stats["hits"]["dependencies"] == 2
    assert stats["misses"]["dependencies"] == 1
    assert stats["hit_rate"]["dependencies"] == pytest.approx(2 / 3)
    assert stats["keys"] >= 1
    assert stats["available"] is True
    removed = await client.post(
        "/api/v1/admin/cache/invalidate", json={"scan_type": "dependencies"}, headers=bearer(admin)
    )
    assert removed.json() == {"removed": 1, "pattern": "scan:dependencies:*"}
    after = await client.post("/api/v1/scan/dependencies", json=body, headers=bearer(admin))
    assert after.headers["x-cache-status"] == "MISS"
    refused = await client.post("/api/v1/admin/cache/invalidate", json={"pattern": "rl:*"}, headers=bearer(admin))
    assert refused.status_code == 400
