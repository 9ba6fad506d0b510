"""Request media types: an operation reads what it documents and refuses the rest with a problem."""

from __future__ import annotations

import pytest
from httpx import AsyncClient
from litestar import Litestar

from secapi.domain.tiers import Tier
from secapi.entrypoints.vulndb import import_sample

from support.seed import bearer, container_of, create_user

PROBLEM = "application/problem+json"
REQUIREMENTS = b"flask==2.2.4\n"


@pytest.fixture
async def api_key(app: Litestar, client: AsyncClient) -> str:
    await import_sample(container_of(app))
    _, key = await create_user(app, "media@example.com", Tier.PRO, admin=True)
    return key


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/api/v1/scan/docker", "text/plain"),
        ("/api/v1/scan/docker", "application/x-www-form-urlencoded"),
        ("/api/v1/scan/dependencies", "text/plain"),
        ("/api/v1/scan/dependencies", "application/xml"),
        ("/api/v1/admin/users", "text/plain"),
        ("/api/v1/admin/cache/invalidate", "multipart/form-data; boundary=x"),
        ("/api/v1/scan/docker/archive", "text/plain"),
        ("/api/v1/scan/docker/archive", "application/json"),
    ],
)
async def test_a_body_of_another_media_type_is_a_415_problem(
    client: AsyncClient, api_key: str, path: str, content_type: str
) -> None:
    response = await client.post(
        path, content=b'{"image": "nginx:1.24"}', headers={**bearer(api_key), "content-type": content_type}
    )
    assert response.status_code == 415, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    problem = response.json()
    assert problem["status"] == 415
    assert problem["type"].endswith("/unsupported-media-type")
    assert content_type.split(";")[0] in problem["detail"]


async def test_a_body_without_content_type_is_a_415(client: AsyncClient, api_key: str) -> None:
    request = client.build_request("PUT", "/api/v1/account/notifications", content=b'{"url": "https://x.example"}')
    request.headers.pop("content-type", None)
    request.headers.update(bearer(api_key))
    response = await client.send(request)
    assert response.status_code == 415, response.text
    assert "no Content-Type" in response.json()["detail"]


async def test_json_with_a_charset_or_a_json_suffix_is_read(client: AsyncClient, api_key: str) -> None:
    for content_type in ("application/json; charset=utf-8", "Application/JSON", "application/vnd.secapi+json"):
        response = await client.post(
            "/api/v1/scan/dependencies",
            content=b'{"filename": "requirements.txt", "content": "flask==2.2.4"}',
            headers={**bearer(api_key), "content-type": content_type},
        )
        assert response.status_code == 200, (content_type, response.text)


async def test_an_optional_json_body_may_be_absent(app: Litestar, client: AsyncClient, api_key: str) -> None:
    user, _ = await create_user(app, "keys@example.com")
    response = await client.post(f"/api/v1/admin/users/{user.id}/keys", headers=bearer(api_key))
    assert response.status_code == 201, response.text


async def test_a_second_file_part_is_a_400(client: AsyncClient, api_key: str) -> None:
    files = [
        ("file", ("requirements.txt", REQUIREMENTS, "text/plain")),
        ("file", ("poetry.lock", b"", "text/plain")),
    ]
    response = await client.post("/api/v1/scan/dependencies", files=files, headers=bearer(api_key))
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    problem = response.json()
    assert [param["name"] for param in problem["invalid-params"]] == ["file"]
    assert "exactly one" in problem["invalid-params"][0]["reason"]


@pytest.mark.parametrize("field", ["file", "files"])
async def test_a_part_without_a_filename_is_a_422_that_says_why_it_needs_one(
    client: AsyncClient, api_key: str, field: str
) -> None:
    boundary = "secapi-boundary"
    parts = []
    if field == "files":
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="go.mod"\r\n\r\n'
            "module example.com/x\n\ngo 1.16\n\r\n"
        )
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"\r\n\r\nflask==2.2.4\n\r\n')
    body = ("".join(parts) + f"--{boundary}--\r\n").encode()
    response = await client.post(
        "/api/v1/scan/dependencies",
        content=body,
        headers={**bearer(api_key), "content-type": f"multipart/form-data; boundary={boundary}"},
    )
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["invalid-params"][0]["name"] == field
    assert f"the {field!r} part needs a filename" in problem["detail"]
    assert "from it" in problem["detail"]
