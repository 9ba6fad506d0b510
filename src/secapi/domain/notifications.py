"""Quota-reset notifications: the webhook endpoint, the notice, their ports, and the retry policy.

When a quota window refuses a request of a user who registered a webhook, one `ResetNotice` per
refusing window is scheduled for the moment that window frees up; a worker then POSTs this JSON:

    {"type": "rate_limit.reset", "id": "<uuid>", "user_id": "<uuid>", "window": "hour",
     "quota": "scans_per_hour", "limit": 10, "reset_at": "<RFC 3339>", "created_at": "<RFC 3339>"}

with `Content-Type: application/json`, `SecAPI-Event: rate_limit.reset`, `SecAPI-Delivery: <id>`,
`SecAPI-Timestamp` and `SecAPI-Signature` (the scheme is in `secapi.domain.webhook_signing`).
Delivery is at least once; the delivery id stays the same across retries.

The same endpoint receives `scan.new_findings` events of watched targets, with the same headers, signature
and retry rules (`retry_delay`, `result_for_status`); their body is documented in `secapi.domain.watches`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol
from urllib.parse import urlsplit
from uuid import UUID

import msgspec

from secapi.domain.errors import DependencyUnavailable, InvalidInput, NotFound
from secapi.domain.rate_limits import RateLimitResult

RESET_EVENT = "rate_limit.reset"
RETRY_DELAYS: tuple[float, ...] = (10.0, 30.0, 120.0, 600.0, 1800.0)
"""Seconds before each retry after a failed delivery: up to five retries, about 43 minutes in all."""
MAX_URL_LENGTH, MIN_SECRET_LENGTH, MAX_SECRET_LENGTH = 2000, 16, 200


NOTICE_LEASE_SECONDS = 60.0
"""How long a claimed reset notice stays hidden; longer than one delivery attempt can take (about 15 s)."""
NOTICE_SLOT_SLACK = timedelta(days=1)
"""How long past its reset time a (user, window) slot is held at most, should its notice be lost."""


class NotificationEndpoint(msgspec.Struct, frozen=True, kw_only=True):
    """A user's webhook: where reset events go and the shared secret that signs them."""

    user_id: UUID
    url: str
    secret: str
    created_at: datetime


class ResetNotice(msgspec.Struct, frozen=True, kw_only=True):
    """A pending "your quota window has room again" event for one user and window."""

    id: UUID
    user_id: UUID
    window: str
    quota: str
    limit: int
    reset_at: datetime
    created_at: datetime
    attempt: int = 0
    """Deliveries already tried and failed."""


class ResetEvent(msgspec.Struct, frozen=True, kw_only=True):
    """The JSON body of a `rate_limit.reset` event, in the documented field order."""

    type: str
    id: UUID
    user_id: UUID
    window: str
    quota: str
    limit: int
    reset_at: datetime
    created_at: datetime


class WebhookEvent(msgspec.Struct, frozen=True, kw_only=True):
    """What a sender posts: the event id and type (for headers) and the exact body that is signed."""

    id: UUID
    type: str
    body: bytes


class DeliveryResult(msgspec.Struct, frozen=True, kw_only=True):
    """One delivery attempt: delivered, worth retrying, or given up, with the receiver's status."""

    ok: bool
    retry: bool
    status: int | None
    reason: str


class InvalidWebhookUrl(InvalidInput):
    """A webhook URL that SecAPI will not call; `str()` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason, field="url")


class NotificationEndpointNotFound(NotFound):
    """The caller has no notification endpoint registered."""


class NoticeScheduleUnavailable(DependencyUnavailable):
    """The notice schedule's backend cannot be reached."""


class NotificationEndpoints(Protocol):
    """Stores each user's single webhook endpoint."""

    async def get(self, user_id: UUID) -> NotificationEndpoint | None:
        """The user's endpoint, or None."""
        ...

    async def put(self, endpoint: NotificationEndpoint) -> None:
        """Create or replace the user's endpoint."""
        ...

    async def delete(self, user_id: UUID) -> bool:
        """Remove the user's endpoint; False if there was none."""
        ...


class NoticeSchedule(Protocol):
    """Reset notices waiting for their time, at most one pending per (user, window)."""

    async def schedule(self, notice: ResetNotice) -> bool:
        """Add the notice, due at `reset_at`, unless its (user, window) has one pending; True if added."""
        ...

    async def due(self, now: datetime, limit: int) -> list[ResetNotice]:
        """Claim up to `limit` notices due by `now`, hidden from other claimers for a lease, atomically."""
        ...

    async def reschedule(self, notice: ResetNotice, at: datetime, attempt: int) -> None:
        """Make a claimed notice due again at `at`, recording `attempt` failed deliveries."""
        ...

    async def drop(self, notice: ResetNotice) -> None:
        """Forget the notice and free its (user, window) slot."""
        ...


class WebhookSender(Protocol):
    """Posts a signed event to a URL, within the outbound address policy and time limits."""

    async def send(self, url: str, secret: str, payload: WebhookEvent) -> DeliveryResult:
        """Deliver once; network failures become a `DeliveryResult`, never an exception."""
        ...


class WebhookUrlPolicy(Protocol):
    """Decides whether a webhook URL may be called (scheme, allowlist, resolved addresses)."""

    async def check(self, url: str) -> None:
        """Return if allowed; raise `InvalidWebhookUrl` with the reason otherwise."""
        ...


class RefusalListener(Protocol):
    """Told about each quota refusal (for reset notifications); must never raise."""

    async def on_refusal(self, user_id: UUID, result: RateLimitResult) -> int:
        """React to a refusal; returns how many notices were scheduled."""
        ...


class EndpointMemo(Protocol):
    """Remembers users' endpoints for a while (`ResetNotifier`); told when one changes."""

    def forget(self, user_id: UUID) -> None:
        """Drop what this process remembers about the user's endpoint (after it changed)."""
        ...


def retry_delay(failed_attempts: int) -> float | None:
    """Seconds to wait after the `failed_attempts`-th failed delivery; None when no retry is left."""
    if 1 <= failed_attempts <= len(RETRY_DELAYS):
        return RETRY_DELAYS[failed_attempts - 1]
    return None


def retry_at(result: DeliveryResult, failed_attempts: int, now: datetime, jitter: float) -> datetime | None:
    """When to deliver again after a failed attempt, or None to give up (not worth retrying, or out of retries).

    Up to 10 % jitter (`jitter` in [0, 1)) spreads deliveries that failed together (a receiver outage), so
    they do not retry in lockstep. Reset notices and `scan.new_findings` events share this rule.
    """
    delay = retry_delay(failed_attempts) if result.retry else None
    return None if delay is None else now + timedelta(seconds=delay * (1 + 0.1 * jitter))


def result_for_status(status: int, detail: str = "") -> DeliveryResult:
    """2xx delivered; 408, 429 and 5xx retried; anything else (3xx: redirects are not followed, 4xx) given up."""
    suffix = f": {detail}" if detail else ""
    if 200 <= status < 300:
        return DeliveryResult(ok=True, retry=False, status=status, reason=f"HTTP {status}")
    retry = status in (408, 429) or status >= 500
    return DeliveryResult(ok=False, retry=retry, status=status, reason=f"receiver answered HTTP {status}{suffix}")


def reset_event(notice: ResetNotice) -> WebhookEvent:
    """The signed-to-be event for a notice; the notice id is the delivery id."""
    event = ResetEvent(
        type=RESET_EVENT,
        id=notice.id,
        user_id=notice.user_id,
        window=notice.window,
        quota=notice.quota,
        limit=notice.limit,
        reset_at=notice.reset_at,
        created_at=notice.created_at,
    )
    return WebhookEvent(id=notice.id, type=RESET_EVENT, body=msgspec.json.encode(event))


def check_webhook_url(url: str) -> None:
    """The URL's shape: absolute http(s), a host, no credentials or fragment; addresses are the policy's job."""
    if len(url) > MAX_URL_LENGTH:
        raise InvalidWebhookUrl(f"the URL is longer than {MAX_URL_LENGTH} characters")
    if not url.isprintable() or any(c.isspace() for c in url):
        raise InvalidWebhookUrl("the URL contains whitespace or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise InvalidWebhookUrl(f"the URL cannot be parsed: {exc}") from None
    if parts.scheme not in ("https", "http"):
        raise InvalidWebhookUrl("the URL must start with https://")
    if not parts.hostname:
        raise InvalidWebhookUrl("the URL has no host")
    if parts.username is not None or parts.password is not None:
        raise InvalidWebhookUrl("the URL must not carry credentials; authenticate requests by their signature")
    if parts.fragment or url.endswith("#"):
        raise InvalidWebhookUrl("the URL must not have a #fragment")
    if port == 0:
        raise InvalidWebhookUrl("the URL's port must be between 1 and 65535")


def check_webhook_secret(secret: str) -> None:
    """16 to 200 printable characters."""
    if not MIN_SECRET_LENGTH <= len(secret) <= MAX_SECRET_LENGTH:
        raise InvalidInput(
            f"the secret must be {MIN_SECRET_LENGTH} to {MAX_SECRET_LENGTH} characters long", field="secret"
        )
    if not secret.isprintable():
        raise InvalidInput("the secret must not contain control characters", field="secret")
