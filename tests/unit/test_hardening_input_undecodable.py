"""Only invalid UTF-8 in the request body is the caller's fault; a decoding bug elsewhere stays a 500."""

from __future__ import annotations

from typing import Any

from litestar import Litestar, Request, post
from litestar.testing import TestClient

from secapi.entrypoints.http.problems import exception_handlers


@post("/echo")
async def echo(request: Request[Any, Any, Any]) -> dict[str, Any]:
    data: dict[str, Any] = await request.json()
    if data.get("decode_other"):
        b"\xfe\xfe".decode()  # a bug of ours, on bytes the client never sent
    return data


def _client() -> TestClient[Litestar]:
    return TestClient(Litestar([echo], exception_handlers=exception_handlers(1024)))


def test_invalid_utf8_in_the_body_is_a_400_naming_its_offset() -> None:
    with _client() as client:
        response = client.post("/echo", content=b'{"a":"ok\xff"}', headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert "the byte at offset 8 (0xff)" in response.json()["detail"]


def test_a_decoding_error_on_other_bytes_is_still_a_500() -> None:
    with _client() as client:
        response = client.post("/echo", json={"decode_other": True})
    assert response.status_code == 500
    assert response.json()["type"].endswith("/internal-error")
