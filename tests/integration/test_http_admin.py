"""Admin endpoints: users, keys, tiers — and 403 for everyone else."""

from __future__ import annotations

import uuid

import pytest
from httpx import AsyncClient
from litestar import Litestar

from support.seed import bearer, create_user

ADMIN_ROUTES = [
    ("POST", "/api/v1/admin/users", {"email": "x@example.com"}),
    ("GET", "/api/v1/admin/users/{uid}", None),
    ("PUT", "/api/v1/admin/users/{uid}/tier", {"tier": "business"}),
    ("GET", "/api/v1/admin/users/{uid}/keys", None),
    ("POST", "/api/v1/admin/users/{uid}/keys", {"name": "ci"}),
    ("DELETE", "/api/v1/admin/keys/{kid}", None),
]


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_ROUTES)
async def test_non_admins_get_403_on_every_admin_route(
    client: AsyncClient, app: Litestar, method: str, path: str, body: dict[str, str] | None
) -> None:
    user, key = await create_user(app, "plain@example.com")
    url = path.format(uid=user.id, kid=uuid.uuid4())
    response = await client.request(method, url, json=body, headers=bearer(key))
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    assert "administrators" in response.json()["detail"]


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_ROUTES)
async def test_anonymous_callers_get_401_on_admin_routes(
    client: AsyncClient, method: str, path: str, body: dict[str, str] | None
) -> None:
    url = path.format(uid=uuid.uuid4(), kid=uuid.uuid4())
    response = await client.request(method, url, json=body)
    assert response.status_code == 401


async def test_admin_creates_a_user_whose_key_works_then_changes_tier_and_rotates_keys(
    client: AsyncClient, app: Litestar
) -> None:
    _, admin_key = await create_user(app, "admin@example.com", admin=True)
    created = await client.post(
        "/api/v1/admin/users", json={"email": "New@Example.com", "tier": "starter"}, headers=bearer(admin_key)
    )
    assert created.status_code == 201
    body = created.json()
    assert body["user"]["email"] == "new@example.com"
    assert body["user"]["tier"] == "starter"
    assert body["api_key"].startswith(f"sk_{body['key']['prefix']}_")
    uid = body["user"]["id"]
    assert (await client.get("/api/v1/scans", headers=bearer(body["api_key"]))).status_code == 200

    tier = await client.put(f"/api/v1/admin/users/{uid}/tier", json={"tier": "business"}, headers=bearer(admin_key))
    assert tier.status_code == 200
    assert tier.json()["tier"] == "business"
    assert (await client.get(f"/api/v1/admin/users/{uid}", headers=bearer(admin_key))).json()["tier"] == "business"

    second = await client.post(f"/api/v1/admin/users/{uid}/keys", json={"name": "ci"}, headers=bearer(admin_key))
    assert second.status_code == 201
    listing = (await client.get(f"/api/v1/admin/users/{uid}/keys", headers=bearer(admin_key))).json()
    assert len(listing) == 2
    assert all("api_key" not in key and "key_hash" not in key for key in listing)
    assert (await client.get("/api/v1/scans", headers=bearer(second.json()["api_key"]))).status_code == 200


async def test_duplicate_email_is_409(client: AsyncClient, app: Litestar) -> None:
    _, admin_key = await create_user(app, "admin@example.com", admin=True)
    await create_user(app, "taken@example.com")
    response = await client.post("/api/v1/admin/users", json={"email": "TAKEN@example.com"}, headers=bearer(admin_key))
    assert response.status_code == 409
    assert "already exists" in response.json()["detail"]


async def test_unknown_tier_and_unknown_user_are_problems(client: AsyncClient, app: Litestar) -> None:
    user, admin_key = await create_user(app, "admin@example.com", admin=True)
    bad_tier = await client.put(f"/api/v1/admin/users/{user.id}/tier", json={"tier": "gold"}, headers=bearer(admin_key))
    assert bad_tier.status_code == 400
    assert bad_tier.json()["invalid-params"][0]["name"] == "tier"
    missing = await client.get(f"/api/v1/admin/users/{uuid.uuid4()}", headers=bearer(admin_key))
    assert missing.status_code == 404
    unknown_key = await client.delete(f"/api/v1/admin/keys/{uuid.uuid4()}", headers=bearer(admin_key))
    assert unknown_key.status_code == 404
