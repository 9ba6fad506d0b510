"""The HTTP sender: signed headers, no redirects, bounded reads, and failures classified for retry."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from uuid import uuid4

import httpx
import pytest

from secapi.adapters.webhooks.sender import MAX_RESPONSE_BYTES, HttpWebhookSender
from secapi.adapters.webhooks.url_policy import WebhookAddressPolicy
from secapi.domain.notifications import WebhookEvent
from secapi.domain.webhook_signing import verify

SECRET = "a-shared-secret-for-tests"
NOW = 1_767_225_600.0
EVENT = WebhookEvent(id=uuid4(), type="rate_limit.reset", body=b'{"type":"rate_limit.reset","limit":10}')


async def streamed(body: bytes) -> AsyncIterator[bytes]:
    yield body


async def public(host: str, port: int) -> list[str]:
    return ["93.184.216.34"]


def sender_for(handler: Callable[[httpx.Request], httpx.Response], **kwargs: float) -> HttpWebhookSender:
    policy = WebhookAddressPolicy(resolver=public)
    return HttpWebhookSender(policy, transport=httpx.MockTransport(handler), wall_clock=lambda: NOW, **kwargs)  # type: ignore[arg-type]


async def test_the_request_is_a_signed_json_post_with_the_event_headers() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    result = await sender_for(handler).send("https://hooks.example/in", SECRET, EVENT)
    assert (result.ok, result.status) == (True, 204)
    (request,) = seen
    assert request.method == "POST"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["secapi-event"] == "rate_limit.reset"
    assert request.headers["secapi-delivery"] == str(EVENT.id)
    assert request.headers["secapi-timestamp"] == "1767225600"
    assert request.content == EVENT.body
    assert json.loads(request.content)["limit"] == 10
    assert verify(
        SECRET, request.headers["secapi-timestamp"], request.content, request.headers["secapi-signature"], now=NOW
    )


async def test_redirects_are_not_followed_and_give_up() -> None:
    seen: list[httpx.URL] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url)
        # A streamed body, as from the network (MockTransport reads plain bytes bodies ahead).
        return httpx.Response(302, headers={"Location": "http://169.254.169.254/"}, content=streamed(b"moved"))

    result = await sender_for(handler).send("https://hooks.example/in", SECRET, EVENT)
    assert (result.ok, result.retry, result.status) == (False, False, 302)
    assert seen == [httpx.URL("https://hooks.example/in")]


async def test_an_error_body_is_read_only_up_to_the_limit_and_excerpted() -> None:
    pulled = 0

    async def endless() -> AsyncIterator[bytes]:
        nonlocal pulled
        while True:
            pulled += 8192
            yield b"x" * 8192

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, content=endless())

    result = await sender_for(handler).send("https://hooks.example/in", SECRET, EVENT)
    assert (result.ok, result.retry, result.status) == (False, True, 503)
    assert pulled <= MAX_RESPONSE_BYTES + 8192
    assert result.reason.endswith("x" * 200)
    assert len(result.reason) < 300


@pytest.mark.parametrize(
    ("error", "retry"),
    [
        (httpx.ConnectError("refused"), True),
        (httpx.ReadTimeout("slow"), True),
        (httpx.RemoteProtocolError("garbage"), True),
        (httpx.UnsupportedProtocol("gopher"), False),
    ],
)
async def test_transport_failures_become_results(error: Exception, retry: bool) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise error

    result = await sender_for(handler).send("https://hooks.example/in", SECRET, EVENT)
    assert (result.ok, result.retry, result.status) == (False, retry, None)


async def test_a_url_no_longer_allowed_is_given_up_without_a_request() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200)

    result = await sender_for(handler).send("http://hooks.example/in", SECRET, EVENT)
    assert (result.ok, result.retry) == (False, False)
    assert "https://" in result.reason
    assert seen == []
