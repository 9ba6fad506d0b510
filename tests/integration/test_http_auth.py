"""Authentication through the real HTTP app on PostgreSQL and Redis."""

from __future__ import annotations

import asyncio

import pytest
from httpx import AsyncClient
from litestar import Litestar

from secapi.config import Settings
from secapi.domain.services.accounts import AccountService
from secapi.domain.tiers import Tier
from secapi.ioc import make_container

from support.http import serve
from support.seed import bearer, create_user

Client = AsyncClient


def _assert_401(response: object, detail_fragment: str) -> None:
    from httpx import Response

    assert isinstance(response, Response)
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"].startswith("Bearer")
    body = response.json()
    assert body["status"] == 401
    assert body["type"].endswith("/unauthenticated")
    assert detail_fragment in body["detail"]


async def test_missing_key_is_401_with_bearer_challenge(client: Client) -> None:
    response = await client.get("/api/v1/scans")
    _assert_401(response, "needs an API key")
    assert response.headers["www-authenticate"] == 'Bearer realm="secapi"'


@pytest.mark.parametrize(
    ("header", "fragment"),
    [
        ("Basic dXNlcjpwYXNz", "Bearer"),
        ("Bearer not-a-key", "malformed"),
        ("Bearer sk_abcdefgh_" + "x" * 43, "not valid"),
        ("Bearer", "needs an API key"),
    ],
)
async def test_bad_keys_are_401(client: Client, header: str, fragment: str) -> None:
    _assert_401(await client.get("/api/v1/scans", headers={"Authorization": header}), fragment)


async def test_valid_key_is_accepted(client: Client, app: Litestar) -> None:
    _, key = await create_user(app, "a@example.com")
    response = await client.get("/api/v1/scans", headers=bearer(key))
    assert response.status_code == 200
    assert response.json() == {"items": [], "next_cursor": None}


async def test_revoked_key_is_401_at_once_in_the_revoking_process(client: Client, app: Litestar) -> None:
    _, admin_key = await create_user(app, "admin@example.com", admin=True)
    user_response = await client.post("/api/v1/admin/users", json={"email": "u@example.com"}, headers=bearer(admin_key))
    created = user_response.json()
    assert (await client.get("/api/v1/scans", headers=bearer(created["api_key"]))).status_code == 200
    revoke = await client.delete(f"/api/v1/admin/keys/{created['key']['id']}", headers=bearer(admin_key))
    assert revoke.status_code == 200
    assert revoke.json()["revoked_at"] is not None
    _assert_401(await client.get("/api/v1/scans", headers=bearer(created["api_key"])), "revoked")


async def test_revocation_elsewhere_applies_within_the_cache_ttl(settings: Settings) -> None:
    from secapi.entrypoints.http.app import create_app

    app = create_app(Settings.from_env({}, **{**settings.__dict__, "auth_cache_ttl": 0.5}))
    async with serve(app) as client:
        user, key = await create_user(app, "a@example.com")
        assert (await client.get("/api/v1/scans", headers=bearer(key))).status_code == 200
        # Another API instance (its own container and cache) revokes the key.
        other = make_container(settings)
        try:
            async with other() as request:
                accounts = await request.get(AccountService)
                for record in await accounts.list_keys(user.id):
                    await accounts.revoke_key(record.id)
        finally:
            await other.close()
        assert (await client.get("/api/v1/scans", headers=bearer(key))).status_code == 200  # cached
        await asyncio.sleep(0.6)
        _assert_401(await client.get("/api/v1/scans", headers=bearer(key)), "revoked")


async def test_keys_are_never_stored_in_plaintext(client: Client, app: Litestar, settings: Settings) -> None:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    _, key = await create_user(app, "a@example.com", Tier.PRO)
    engine = create_async_engine(settings.database_url)
    try:
        async with engine.connect() as connection:
            rows = (await connection.execute(text("SELECT prefix, key_hash FROM api_keys"))).all()
    finally:
        await engine.dispose()
    assert rows
    for prefix, key_hash in rows:
        assert key not in (prefix, key_hash)
        assert len(key_hash) == 64


async def test_requests_are_recorded_in_api_usage(client: Client, app: Litestar, settings: Settings) -> None:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    user, key = await create_user(app, "a@example.com")
    for _ in range(3):
        await client.get("/api/v1/scans", headers=bearer(key))
    await client.get("/api/v1/scans/00000000-0000-0000-0000-000000000000", headers=bearer(key))
    await client.get("/api/v1/scans")  # unauthenticated: nobody to attribute it to
    engine = create_async_engine(settings.database_url)
    try:
        for _ in range(50):
            await asyncio.sleep(0.05)
            async with engine.connect() as connection:
                rows = (
                    await connection.execute(
                        text("SELECT endpoint, method, status_code, user_id FROM api_usage ORDER BY id")
                    )
                ).all()
            if len(rows) >= 4:
                break
    finally:
        await engine.dispose()
    assert [(r.endpoint, r.method, r.status_code) for r in rows] == [
        ("/api/v1/scans", "GET", 200),
        ("/api/v1/scans", "GET", 200),
        ("/api/v1/scans", "GET", 200),
        ("/api/v1/scans/{scan_id}", "GET", 404),
    ]
    assert {str(r.user_id) for r in rows} == {str(user.id)}
