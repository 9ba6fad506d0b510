"""Accounting seen through HTTP: which window heads the headers, cache headers by the caller's tier, usage."""

from __future__ import annotations

from pathlib import Path

import pytest
from httpx import AsyncClient
from litestar import Litestar

from secapi.domain.tiers import CACHE_TTL, Tier
from secapi.entrypoints.vulndb import import_sample

from support.images import debian_image, oci_layout_tar
from support.seed import bearer, container_of, create_user

pytestmark = pytest.mark.integration


@pytest.fixture
async def api(app: Litestar, client: AsyncClient) -> tuple[AsyncClient, Litestar]:
    await import_sample(container_of(app))
    return client, app


def lockfile(n: int, *, shared: bool = False) -> dict[str, object]:
    return {"filename": "requirements.txt", "content": f"flask==2.2.{n}\n", "shared": shared}


async def test_a_tighter_minute_window_heads_the_headers_of_a_scan_that_ran(
    api: tuple[AsyncClient, Litestar],
) -> None:
    client, app = api
    _, key = await create_user(app, "minute@example.com", Tier.FREE)
    for _ in range(15):
        assert (await client.get("/api/v1/scans", headers=bearer(key))).status_code == 200
    response = await client.post("/api/v1/scan/dependencies", json=lockfile(1), headers=bearer(key))
    assert response.headers["x-cache-status"] == "MISS"
    # minute: 16 of 20 used (4 left); hour: 1 of 10 (9 left); month: 1 of 100: the minute is tightest.
    assert response.headers["x-ratelimit-limit"] == "20"
    assert response.headers["x-ratelimit-remaining"] == "4"
    hit = await client.post("/api/v1/scan/dependencies", json=lockfile(1), headers=bearer(key))
    assert hit.headers["x-cache-status"] == "HIT"
    assert (hit.headers["x-ratelimit-limit"], hit.headers["x-ratelimit-remaining"]) == ("20", "3")


async def test_a_free_callers_cache_hit_carries_the_free_tiers_max_age(api: tuple[AsyncClient, Litestar]) -> None:
    client, app = api
    _, pro = await create_user(app, "pro@example.com", Tier.PRO)
    _, free = await create_user(app, "free@example.com", Tier.FREE)
    first = await client.post("/api/v1/scan/dependencies", json=lockfile(2, shared=True), headers=bearer(pro))
    assert first.headers["cache-control"] == f"private, max-age={CACHE_TTL['pro']}"
    hit = await client.post("/api/v1/scan/dependencies", json=lockfile(2, shared=True), headers=bearer(free))
    assert hit.headers["x-cache-status"] == "HIT"
    assert hit.headers["cache-control"] == f"private, max-age={CACHE_TTL['free']}"
    assert 0 <= int(hit.headers["age"]) <= 5
    own = await client.post("/api/v1/scan/dependencies", json=lockfile(2, shared=True), headers=bearer(pro))
    assert own.headers["cache-control"] == f"private, max-age={CACHE_TTL['pro']}"


async def test_archive_scans_say_miss_or_bypass(api: tuple[AsyncClient, Litestar], tmp_path: Path) -> None:
    client, app = api
    _, key = await create_user(app, "archive@example.com", Tier.STARTER)
    archive = oci_layout_tar(debian_image(), tmp_path / "oci.tar")
    files = {"file": (archive.name, archive.read_bytes(), "application/x-tar")}
    first = await client.post("/api/v1/scan/docker/archive", files=files, headers=bearer(key))
    assert first.status_code == 200, first.text
    assert first.headers["x-cache-status"] == "MISS"
    assert first.headers["cache-control"] == f"private, max-age={CACHE_TTL['starter']}"
    assert first.headers["etag"]
    fresh = await client.post(
        "/api/v1/scan/docker/archive", files=files, headers={**bearer(key), "Cache-Control": "no-cache"}
    )
    assert fresh.status_code == 200, fresh.text
    assert fresh.headers["x-cache-status"] == "BYPASS"
    # Each upload ran, so each took one unit of the hour, like any scan that runs.
    usage = (await client.get("/api/v1/usage", headers=bearer(key))).json()
    assert {w["name"]: w["used"] for w in usage["windows"]}["hour"] == 2


async def test_usage_answers_when_the_minute_is_spent_and_does_not_count_then(
    api: tuple[AsyncClient, Litestar],
) -> None:
    client, app = api
    _, key = await create_user(app, "limited@example.com", Tier.FREE)
    for _ in range(20):
        await client.get("/api/v1/scans", headers=bearer(key))
    assert (await client.get("/api/v1/scans", headers=bearer(key))).status_code == 429
    for _ in range(3):
        usage = await client.get("/api/v1/usage", headers=bearer(key))
        assert usage.status_code == 200, usage.text
        minute = {w["name"]: w for w in usage.json()["windows"]}["minute"]
        assert (minute["used"], minute["remaining"]) == (20, 0)  # answered, not counted: no longer limited
    assert usage.headers["x-ratelimit-remaining"] == "0"


@pytest.mark.parametrize(
    ("image", "reason"),
    [
        ("10.1.2.3:5000/x/y:1", "SECAPI_REGISTRY_ALLOWLIST"),  # the SSRF guard: an internal address
        ("nonexistent-registry.invalid/x/y:1", "cannot resolve registry host"),
        ("docker.io/UPPER/case", "repository name must be lowercase"),  # not a reference at all
    ],
)
async def test_an_image_scan_refused_before_any_work_costs_no_quota(
    api: tuple[AsyncClient, Litestar], image: str, reason: str
) -> None:
    client, app = api
    _, key = await create_user(app, f"refused-{abs(hash(image))}@example.com", Tier.FREE)
    response = await client.post("/api/v1/scan/docker", json={"image": image}, headers=bearer(key))
    usage = (await client.get("/api/v1/usage", headers=bearer(key))).json()
    used = {w["name"]: w["used"] for w in usage["windows"]}
    assert (used["hour"], used["month"]) == (0, 0)
    assert response.status_code == 422, response.text  # at once, not after a queued scan's wait
    assert reason in response.json()["detail"]
    for scan in (await client.get("/api/v1/scans", headers=bearer(key))).json()["items"]:
        assert scan["status"] == "failed"  # recorded with its reason, never queued
