"""Every error is RFC 9457 problem+json with a helpful detail; bad input never yields a 500."""

from __future__ import annotations

import pytest
from httpx import AsyncClient, Response
from litestar import Litestar

from support.seed import bearer, create_user


def _assert_problem(response: Response, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status
    assert str(body["type"]).startswith("https://")
    assert body["title"]
    assert isinstance(body["detail"], str)
    assert len(body["detail"]) > 10
    return dict(body)


async def test_unknown_route_is_404_problem(client: AsyncClient) -> None:
    body = _assert_problem(await client.get("/api/v1/nothing-here"), 404)
    assert body["instance"] == "/api/v1/nothing-here"


async def test_wrong_method_is_405_problem(client: AsyncClient) -> None:
    body = _assert_problem(await client.post("/health/live"), 405)
    assert "POST" in str(body["detail"])


@pytest.mark.parametrize(
    "payload",
    [
        b"{not json",
        b'{"email": 5}',
        b'{"email": "a@example.com", "unexpected": true}',
        b'{"tier": "pro"}',
        b"[]",
        b"\xff\xfe",
    ],
)
async def test_invalid_bodies_are_400_with_offending_fields(client: AsyncClient, app: Litestar, payload: bytes) -> None:
    _, admin_key = await create_user(app, "admin@example.com", admin=True)
    response = await client.post(
        "/api/v1/admin/users",
        content=payload,
        headers={**bearer(admin_key), "Content-Type": "application/json"},
    )
    body = _assert_problem(response, 400)
    assert "invalid-params" in body


async def test_body_over_the_limit_is_413_problem(client: AsyncClient, app: Litestar) -> None:
    _, admin_key = await create_user(app, "admin@example.com", admin=True)
    huge = b'{"email": "' + b"a" * (65 * 1024) + b'@example.com"}'
    response = await client.post(
        "/api/v1/admin/users", content=huge, headers={**bearer(admin_key), "Content-Type": "application/json"}
    )
    body = _assert_problem(response, 413)
    assert "65536" in str(body["detail"])


async def test_invalid_email_is_422_naming_the_field(client: AsyncClient, app: Litestar) -> None:
    _, admin_key = await create_user(app, "admin@example.com", admin=True)
    response = await client.post("/api/v1/admin/users", json={"email": "nope at all"}, headers=bearer(admin_key))
    body = _assert_problem(response, 422)
    assert body["invalid-params"] == [{"name": "email", "reason": "'nope at all' is not an email address"}]


async def test_openapi_schema_and_ui_are_served(client: AsyncClient) -> None:
    schema = await client.get("/schema/openapi.json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert "/api/v1/scans" in paths
    assert "/api/v1/admin/users" in paths
    ui = await client.get("/schema")
    assert ui.status_code == 200
    assert "text/html" in ui.headers["content-type"]
