"""`HttpWebhookSender`: one signed POST per attempt, within the address policy and hard time and size limits."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import httpx

from secapi.adapters.outbound.transport import PinnedTransport
from secapi.adapters.webhooks.url_policy import INTERNAL_ADDRESS, WebhookAddressPolicy
from secapi.domain.images import RegistryNotAllowed, RegistryUnavailable
from secapi.domain.notifications import (
    DeliveryResult,
    InvalidWebhookUrl,
    WebhookEvent,
    WebhookSender,
    result_for_status,
)
from secapi.domain.webhook_signing import sign

MAX_RESPONSE_BYTES = 64 * 1024
_EXCERPT_CHARS = 200


class HttpWebhookSender(WebhookSender):
    """`WebhookSender` over httpx and the pinned transport: connects only to the addresses it has just checked.

    Redirects are not followed (a 3xx gives up: register the final URL), proxies from the environment are
    ignored (they would bypass the address policy), and at most `max_response_bytes` of a response are read.
    """

    def __init__(
        self,
        policy: WebhookAddressPolicy,
        *,
        connect_timeout: float = 5.0,
        total_timeout: float = 10.0,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
        transport: httpx.AsyncBaseTransport | None = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._policy = policy
        self._total_timeout = total_timeout
        self._max_response_bytes = max_response_bytes
        self._wall_clock = wall_clock
        self._client = httpx.AsyncClient(
            transport=transport or PinnedTransport(policy.addresses),
            timeout=httpx.Timeout(total_timeout, connect=connect_timeout),
            follow_redirects=False,
            trust_env=False,
            headers={"User-Agent": "SecAPI-Webhooks/1", "Accept-Encoding": "identity"},
        )

    async def send(self, url: str, secret: str, payload: WebhookEvent) -> DeliveryResult:
        """POST the event once; every failure becomes a `DeliveryResult` saying whether to retry."""
        try:
            # Settings may have changed since registration (an allowlist entry removed): check again.
            self._policy.target(url)
        except InvalidWebhookUrl as exc:
            return _give_up(str(exc))
        timestamp = int(self._wall_clock())
        headers = {
            "Content-Type": "application/json",
            "SecAPI-Event": payload.type,
            "SecAPI-Delivery": str(payload.id),
            "SecAPI-Timestamp": str(timestamp),
            "SecAPI-Signature": sign(secret, timestamp, payload.body),
        }
        try:
            # httpx's timeouts bound each phase; this bounds the attempt as a whole (a slow drip of bytes).
            async with asyncio.timeout(self._total_timeout):
                return await self._post(url, payload.body, headers)
        except (TimeoutError, httpx.TimeoutException):
            return _retry(f"no answer within {self._total_timeout:g} s")
        except RegistryNotAllowed:
            return _give_up(f"the URL's host now {INTERNAL_ADDRESS}")
        except RegistryUnavailable:
            return _retry("the URL's host does not resolve")
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
            return _give_up(f"the URL cannot be requested: {exc}")
        except httpx.TransportError as exc:
            return _retry(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)

    async def aclose(self) -> None:
        """Close pooled connections."""
        await self._client.aclose()

    async def _post(self, url: str, body: bytes, headers: dict[str, str]) -> DeliveryResult:
        async with self._client.stream("POST", url, content=body, headers=headers) as response:
            excerpt = await self._excerpt(response) if not response.is_success else ""
        return result_for_status(response.status_code, excerpt)

    async def _excerpt(self, response: httpx.Response) -> str:
        """The start of an error body for the log; raw bytes (no decompression), never more than the limit."""
        received = bytearray()
        async for chunk in response.aiter_raw():
            received += chunk
            if len(received) >= self._max_response_bytes:
                break  # leaving the stream unread closes the connection instead of draining it
        text = bytes(received[: self._max_response_bytes]).decode("utf-8", "replace")
        return "".join(c if c.isprintable() else " " for c in text[:_EXCERPT_CHARS]).strip()


def _retry(reason: str) -> DeliveryResult:
    return DeliveryResult(ok=False, retry=True, status=None, reason=reason)


def _give_up(reason: str) -> DeliveryResult:
    return DeliveryResult(ok=False, retry=False, status=None, reason=reason)
