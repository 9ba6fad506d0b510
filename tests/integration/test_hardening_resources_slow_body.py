"""Under Granian, a client that sends headers and then stalls mid-body is answered 408 and let go."""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from secapi.config import Settings
from secapi.domain.services.accounts import AccountService
from secapi.domain.tiers import Tier
from secapi.entrypoints.vulndb import import_sample
from secapi.ioc import make_container

from support.server import secapi_server

pytestmark = pytest.mark.integration

TIMEOUT = 1.0
"""SECAPI_BODY_RECEIVE_TIMEOUT for the server under test."""
WAIT = 15.0
"""How long the test waits for an answer: generous, yet far below "never" (the old server's answer)."""


async def _seed(settings: Settings) -> str:
    """Advisories loaded (archive uploads are refused before the body without them) and a business key."""
    container = make_container(settings)
    try:
        await import_sample(container)
        async with container() as request:
            _, issued = await (await request.get(AccountService)).create_user("slow@example.com", Tier.BUSINESS)
    finally:
        await container.close()
    return issued.secret


@pytest.fixture
async def api_key(settings: Settings) -> str:
    return await _seed(settings)


@pytest.fixture
def server(settings: Settings, api_key: str) -> Iterator[tuple[str, int, str]]:
    env = {
        **os.environ,
        "SECAPI_DATABASE_URL": settings.database_url,
        "SECAPI_REDIS_URL": settings.redis_url or "",
        "SECAPI_LOG_LEVEL": "WARNING",
        "SECAPI_BODY_RECEIVE_TIMEOUT": str(TIMEOUT),
        "SECAPI_METRICS_ENABLED": "false",
    }
    with secapi_server(env) as base:
        yield "127.0.0.1", int(base.rsplit(":", 1)[1]), api_key


def _stalled_request(host: str, port: int, key: str, path: str, content_type: str) -> socket.socket:
    """Headers promising 1,000 body bytes, 10 of them sent, then nothing."""
    sock = socket.create_connection((host, port), timeout=WAIT)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {key}\r\n"
        f"Content-Type: {content_type}\r\nContent-Length: 1000\r\n\r\n"
    )
    sock.sendall(head.encode() + b"0123456789")
    return sock


def _read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection; socket.timeout if it never does."""
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/api/v1/scan/dependencies", "application/json"),
        ("/api/v1/scan/docker/archive", "application/x-tar"),
    ],
)
def test_a_client_that_stalls_mid_body_gets_408_and_the_connection_closed(
    server: tuple[str, int, str], path: str, content_type: str
) -> None:
    host, port, key = server
    sock = _stalled_request(host, port, key, path, content_type)
    with sock:
        started = time.monotonic()
        try:
            received = _read_until_closed(sock)
        except TimeoutError:
            pytest.fail(f"the server neither answered nor closed the stalled connection within {WAIT} s")
        elapsed = time.monotonic() - started
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408"), received[:300]
    assert b"application/problem+json" in head.lower()
    problem = json.loads(body)
    assert problem["status"] == 408
    assert "stopped arriving" in problem["detail"]
    assert elapsed >= TIMEOUT * 0.5  # answered because of the timeout, not straight away
    assert httpx.get(f"http://{host}:{port}/health/live", timeout=5).status_code == 200


def test_a_body_sent_slowly_but_steadily_is_not_cut_off(server: tuple[str, int, str]) -> None:
    host, port, key = server
    body = json.dumps({"filename": "requirements.txt", "content": "flask==2.2.4\n"}).encode()
    with socket.create_connection((host, port), timeout=WAIT) as sock:
        sock.sendall(
            f"POST /api/v1/scan/dependencies HTTP/1.1\r\nHost: {host}:{port}\r\n"
            f"Authorization: Bearer {key}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
        )
        half = len(body) // 2
        for part in (body[:half], body[half:]):
            time.sleep(TIMEOUT * 0.6)  # longer in total than the timeout, never idle for as long
            sock.sendall(part)
        received = _read_until_closed(sock)
    assert received.startswith(b"HTTP/1.1 200"), received[:300]
    assert b'"status":"completed"' in received.replace(b" ", b"")
