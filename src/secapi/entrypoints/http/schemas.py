"""The HTTP contract: msgspec Structs at the edge, converted from and to domain entities."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec

from secapi.domain.errors import InvalidInput
from secapi.domain.findings import ScanResult
from secapi.domain.model import ApiKey, IssuedKey, PageCursor, Scan, ScanPage, User
from secapi.domain.scan_inputs import encode_scan_input
from secapi.domain.tiers import Tier


class _Schema(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Base of request and response bodies: unknown fields are an error, not ignored."""


class UserView(_Schema):
    """A tenant."""

    id: UUID
    email: str
    tier: Tier
    is_admin: bool
    created_at: datetime

    @classmethod
    def of(cls, user: User) -> UserView:
        return cls(id=user.id, email=user.email, tier=user.tier, is_admin=user.is_admin, created_at=user.created_at)


class ApiKeyView(_Schema):
    """An API key's record; never the secret."""

    id: UUID
    user_id: UUID
    prefix: str
    name: str | None
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, key: ApiKey) -> ApiKeyView:
        return cls(
            id=key.id,
            user_id=key.user_id,
            prefix=key.prefix,
            name=key.name,
            created_at=key.created_at,
            last_used_at=key.last_used_at,
            revoked_at=key.revoked_at,
        )


class IssuedKeyView(_Schema):
    """A new key: `api_key` is shown here once and cannot be retrieved again."""

    api_key: str
    key: ApiKeyView

    @classmethod
    def of(cls, issued: IssuedKey) -> IssuedKeyView:
        return cls(api_key=issued.secret, key=ApiKeyView.of(issued.record))


class CreatedUserView(_Schema):
    """A new user with their first key."""

    user: UserView
    api_key: str
    key: ApiKeyView


Email = Annotated[str, msgspec.Meta(min_length=3, max_length=320, examples=["dev@example.com"])]


class CreateUserRequest(_Schema):
    """Body of `POST /api/v1/admin/users`."""

    email: Email
    tier: Tier = Tier.FREE
    is_admin: bool = False


class CreateKeyRequest(_Schema):
    """Body of `POST /api/v1/admin/users/{id}/keys`."""

    name: Annotated[str, msgspec.Meta(min_length=1, max_length=100)] | None = None


class SetTierRequest(_Schema):
    """Body of `PUT /api/v1/admin/users/{id}/tier`."""

    tier: Tier


class ScanView(_Schema):
    """One scan as the API shows it."""

    id: UUID
    scan_type: str
    status: str
    input: dict[str, Any]
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    duration_ms: float | None
    result: ScanResult | None
    error: str | None
    """Why the scan failed; on a completed scan without a result, why its stored result cannot be read."""

    @classmethod
    def of(cls, scan: Scan) -> ScanView:
        return cls(
            id=scan.id,
            scan_type=scan.scan_type.value,
            status=scan.status.value,
            input=encode_scan_input(scan.input_data),
            created_at=scan.created_at,
            started_at=scan.started_at,
            finished_at=scan.finished_at,
            duration_ms=scan.duration_ms,
            result=scan.result,
            error=scan.error,
        )


class ScanListView(_Schema):
    """A page of scans, newest first; pass `next_cursor` as `cursor` for the next page."""

    items: list[ScanView]
    next_cursor: str | None

    @classmethod
    def of(cls, page: ScanPage) -> ScanListView:
        cursor = encode_cursor(page.next_cursor) if page.next_cursor else None
        return cls(items=[ScanView.of(scan) for scan in page.items], next_cursor=cursor)


def encode_cursor(cursor: PageCursor) -> str:
    """An opaque, URL-safe token for a page position."""
    raw = f"{cursor.created_at.isoformat()}|{cursor.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(token: str) -> PageCursor:
    """The page position in `token`; `InvalidInput` if it was not made by `encode_cursor`."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        stamp, _, ident = raw.partition("|")
        created_at = datetime.fromisoformat(stamp)
        if created_at.tzinfo is None:
            raise ValueError("naive timestamp")
        return PageCursor(created_at=created_at, id=UUID(ident))
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        message = "cursor is not a valid page cursor; use next_cursor from a previous page"
        raise InvalidInput(message, field="cursor") from exc


MAX_COMPANIONS = 4
"""How many companion files one lockfile scan accepts."""
LockfileName = Annotated[str, msgspec.Meta(min_length=1, max_length=255, examples=["package-lock.json"])]


class CompanionFile(_Schema):
    """A file that completes the lockfile (a `go.sum` next to a `go.mod`)."""

    filename: LockfileName
    content: str


# Litestar drops a falsy bound (`ge=0.0`) from the OpenAPI schema: `minimum` is restated as schema extra.
MinEpss = Annotated[float, msgspec.Meta(ge=0.0, le=1.0, examples=[0.1], extra_json_schema={"extra": {"minimum": 0.0}})]
"""`min_epss`: show only findings whose EPSS score is at least this (0..1); findings without a score are hidden."""


class DependencyScanRequest(_Schema):
    """Body of `POST /api/v1/scan/dependencies` as JSON; the ecosystem comes from `filename`."""

    filename: LockfileName
    content: str
    shared: bool = False
    """Share the result with other tenants (a public project's lockfile): a higher cache hit rate, no privacy."""
    files: Annotated[list[CompanionFile], msgspec.Meta(max_length=MAX_COMPANIONS)] = []
    """Files that complete the lockfile: a `go.sum` with a `go.mod` whose `go` directive is older than 1.17."""
    min_epss: MinEpss | None = None
    """Show only findings with an EPSS score of at least this (0..1) in the response; the stored result keeps all."""
    kev_only: bool = False
    """Show only findings in CISA's KEV catalogue in the response; the stored result keeps all."""


ImageName = Annotated[str, msgspec.Meta(min_length=1, max_length=512, examples=["nginx:1.24"])]
PlatformName = Annotated[str, msgspec.Meta(min_length=3, max_length=64, examples=["linux/amd64"])]


class DockerScanRequest(_Schema):
    """Body of `POST /api/v1/scan/docker`."""

    image: ImageName
    platform: PlatformName | None = None
    min_epss: MinEpss | None = None
    """Show only findings with an EPSS score of at least this (0..1) in the response; the stored result keeps all."""
    kev_only: bool = False
    """Show only findings in CISA's KEV catalogue in the response; the stored result keeps all."""


class CacheStatsView(_Schema):
    """`GET /api/v1/admin/cache/stats`: global across API instances."""

    hits: dict[str, int]
    misses: dict[str, int]
    hit_rate: dict[str, float]
    keys: int
    memory_bytes: int | None
    """Bytes the cache's store uses: on Redis, `used_memory` summed over every master of a cluster."""
    memory_by_node: dict[str, int]
    """Redis `used_memory` by `host:port`, one entry per master (a single node: one entry; in process: none)."""
    available: bool


class InvalidateRequest(_Schema):
    """Body of `POST /api/v1/admin/cache/invalidate`: a scan type, or a `scan:`-prefixed glob pattern."""

    scan_type: Literal["docker", "dependencies", "sbom"] | None = None
    pattern: Annotated[str, msgspec.Meta(pattern=r"^scan:", max_length=300)] | None = None


class InvalidateView(_Schema):
    """How many cache entries were removed."""

    removed: int
    pattern: str


class WarmImage(_Schema):
    """One image to warm."""

    image: ImageName
    platform: PlatformName | None = None


class WarmRequestBody(_Schema):
    """Body of `POST /api/v1/admin/cache/warm`: given images, and/or the `popular` most requested ones."""

    images: list[WarmImage] = msgspec.field(default_factory=list)
    popular: Annotated[int, msgspec.Meta(ge=0, le=1000)] = 0


class WarmView(_Schema):
    """Scans queued to warm the cache, and images refused with the reason."""

    queued: list[UUID]
    rejected: dict[str, str]


class WindowView(_Schema):
    """One quota window of the caller's tier."""

    name: str
    quota: str
    limit: int
    used: int
    remaining: int
    reset_at: datetime
    window_seconds: int


class UsageView(_Schema):
    """`GET /api/v1/usage`: every quota window, without consuming any."""

    tier: Tier
    windows: list[WindowView]
    available: bool
