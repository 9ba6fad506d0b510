"""Liveness and readiness against real and unreachable dependencies."""

from __future__ import annotations

from httpx import AsyncClient
from litestar import Litestar

from secapi.config import Settings
from secapi.entrypoints.http.app import create_app
from secapi.entrypoints.vulndb import import_sample

from support.http import serve
from support.seed import container_of


async def test_live_and_ready_with_real_postgres_and_redis(app: Litestar, client: AsyncClient) -> None:
    assert (await client.get("/health/live")).json() == {"status": "ok"}
    # Without advisories every scan would answer a false "clean": not ready, naming the database.
    empty = await client.get("/health/ready")
    assert empty.status_code == 503
    assert empty.json()["detail"] == "not ready: vulnerability-database unavailable"
    assert "no advisories" in empty.json()["checks"]["vulnerability-database"]
    await import_sample(container_of(app))
    ready = await client.get("/health/ready")
    assert ready.status_code == 200
    assert ready.json() == {
        "status": "ready",
        "checks": {"database": "ok", "vulnerability-database": "ok", "redis": "ok"},
    }


async def test_ready_is_503_naming_the_database_when_it_points_at_nothing(settings: Settings) -> None:
    broken = Settings.from_env(
        {}, **{**settings.__dict__, "database_url": "postgresql+asyncpg://postgres@127.0.0.1:1/nothing"}
    )
    async with serve(create_app(broken)) as client:
        assert (await client.get("/health/live")).status_code == 200
        response = await client.get("/health/ready")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["detail"] == "not ready: database, vulnerability-database unavailable"
    assert body["checks"]["redis"] == "ok"
    assert "unreachable" in body["checks"]["database"]
    assert response.headers["retry-after"] == "5"


async def test_ready_is_503_naming_redis_when_it_is_down(app: Litestar, settings: Settings) -> None:
    await import_sample(container_of(app))
    broken = Settings.from_env({}, **{**settings.__dict__, "redis_url": "redis://127.0.0.1:1/0"})
    async with serve(create_app(broken)) as client:
        response = await client.get("/health/ready")
    assert response.status_code == 503
    assert response.json()["detail"] == "not ready: redis unavailable"
    assert response.json()["checks"]["database"] == "ok"


async def test_api_requests_fail_cleanly_when_the_database_is_down(settings: Settings) -> None:
    broken = Settings.from_env(
        {}, **{**settings.__dict__, "database_url": "postgresql+asyncpg://postgres@127.0.0.1:1/nothing"}
    )
    async with serve(create_app(broken)) as client:
        response = await client.get("/api/v1/scans", headers={"Authorization": "Bearer sk_abcdefgh_" + "A" * 43})
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert "database" in response.json()["detail"]
