"""Ports: what the domain services need from the outside world, as small Protocols.

Only domain types cross these boundaries. Adapters live in `secapi.adapters`.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol
from uuid import UUID

from secapi.domain.advisories import Advisory, Candidate, RelatedSeverity, UpsertCounts, VulnDbVersion
from secapi.domain.model import ApiKey, PageCursor, Scan, ScanPage, UsageRecord, User
from secapi.domain.tiers import Tier


class Clock(Protocol):
    """Tells the time; a fake clock lets tests move it."""

    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes backwards (for TTLs and durations)."""
        ...


class UserRepository(Protocol):
    """Stores tenants."""

    async def add(self, user: User) -> None:
        """Insert a new user; raises `Conflict` if the email is taken."""
        ...

    async def add_with_first_key(self, user: User, key: ApiKey) -> None:
        """Insert a new user and their first API key in one transaction: both are stored, or neither.

        Raises `Conflict` if the email or the key's prefix is taken (then no user without a key remains).
        """
        ...

    async def get(self, user_id: UUID) -> User | None:
        """The user with this id, or None."""
        ...

    async def get_by_email(self, email: str) -> User | None:
        """The user with this (case-insensitive) email, or None."""
        ...

    async def set_tier(self, user_id: UUID, tier: Tier) -> User | None:
        """Change a user's tier; None if there is no such user."""
        ...


class ApiKeyRepository(Protocol):
    """Stores API key records (hashes, never secrets)."""

    async def add(self, key: ApiKey) -> None:
        """Insert a new key record."""
        ...

    async def get(self, key_id: UUID) -> ApiKey | None:
        """The key with this id, or None."""
        ...

    async def find_by_prefix(self, prefix: str) -> ApiKey | None:
        """The key whose visible prefix is `prefix`, or None."""
        ...

    async def list_for_user(self, user_id: UUID) -> Sequence[ApiKey]:
        """Every key of a user, newest first."""
        ...

    async def revoke(self, key_id: UUID, at: datetime) -> ApiKey | None:
        """Mark a key revoked (idempotent); None if there is no such key."""
        ...

    async def touch(self, key_id: UUID, at: datetime) -> None:
        """Record that the key was used at `at`."""
        ...


class ScanRepository(Protocol):
    """Stores scans; every read is scoped to one tenant."""

    async def add(self, scan: Scan) -> None:
        """Insert a new scan."""
        ...

    async def update(self, scan: Scan) -> None:
        """Write a scan's status, result, error and timings."""
        ...

    async def get_for_user(self, scan_id: UUID, user_id: UUID) -> Scan | None:
        """The scan if it exists and belongs to `user_id`, else None."""
        ...

    async def list_for_user(self, user_id: UUID, *, limit: int, after: PageCursor | None) -> ScanPage:
        """The user's scans, newest first, starting after `after`."""
        ...

    async def get(self, scan_id: UUID) -> Scan | None:
        """Any scan by id (for workers; never exposed to tenants)."""
        ...

    async def claim(self, scan_id: UUID, *, now: datetime, lease_until: datetime) -> Scan | None:
        """Atomically mark a queued scan (or a running one whose lease expired) running for this worker."""
        ...

    async def renew_lease(self, scan_id: UUID, lease_until: datetime) -> bool:
        """Extend a running scan's lease; False if it is no longer running."""
        ...

    async def release(self, scan_id: UUID) -> bool:
        """Put a running scan back to queued, giving back the attempt its claim took; False if not running."""
        ...

    async def stale(self, *, now: datetime, queued_before: datetime, limit: int) -> Sequence[Scan]:
        """Scans queued since before `queued_before`, or running with an expired lease."""
        ...


class ResultFormat(Protocol):
    """Writes a finished scan in one of the ecosystem's formats (CycloneDX, SPDX, SARIF, an HTML page).

    The native JSON is not one of these: it is the scan view the HTTP layer has always answered with.
    `secapi.domain.result_formats.ResultFormats` holds the formats a server offers.
    """

    name: str
    """What `?format=` calls it: `cyclonedx`, `spdx`, `sarif`, `html`."""
    media_type: str
    """Its `Content-Type`, the media type an `Accept` header names to ask for it."""
    any_state: bool
    """True when it also writes a scan that has no result to show (queued, running, failed, unreadable): a
    page for people says what happened. False: only a completed scan with its result."""

    def render(self, scan: Scan) -> bytes:
        """The document of `scan`: a completed scan whose `result` is set, or any scan when `any_state`."""
        ...


class ScanQueue(Protocol):
    """Hands scans to workers; the scan's row in the database stays the source of truth."""

    async def enqueue(self, scan_id: UUID) -> None:
        """Ask a worker to run the scan (idempotent: a scan already waiting is not queued twice)."""
        ...

    async def wait(self, scan_id: UUID, seconds: float) -> None:
        """Return when the scan's job has finished, or after `seconds` seconds, whichever is first."""
        ...


@dataclass(frozen=True, slots=True)
class StoredArchive:
    """An uploaded image archive on this process's disk, as received: where it is, its name, digest and size."""

    path: Path
    filename: str
    sha256: str
    size: int


class ArchiveRuns(Protocol):
    """Runs scans of uploaded archives here, in this process: the upload is on its disk, no worker can reach it."""

    def start(self, scan_id: UUID, archive: StoredArchive) -> None:
        """Run the recorded scan on `archive` in the background; the run owns the file from now and deletes it."""
        ...

    async def wait(self, scan_id: UUID, seconds: float) -> None:
        """Return when the scan's run has finished, or after `seconds` seconds (the run goes on either way)."""
        ...

    async def discard(self, archive: StoredArchive) -> None:
        """Delete an upload that will not be scanned (refused before its run started)."""
        ...


class UsageRepository(Protocol):
    """Stores API usage rows in batches."""

    async def add_many(self, records: Sequence[UsageRecord]) -> None:
        """Insert a batch of usage records."""
        ...


class HealthProbe(Protocol):
    """Checks that one backing service answers."""

    name: str

    async def check(self) -> None:
        """Return if healthy; raise `DependencyUnavailable` with the reason otherwise."""
        ...


class VulnerabilityStore(Protocol):
    """The local copy of the OSV database."""

    async def upsert(self, advisories: Sequence[Advisory]) -> UpsertCounts:
        """Insert new records and replace older ones (by `modified`); keep newer ones as they are."""
        ...

    async def candidates(self, keys: Collection[tuple[str, str]]) -> Sequence[Candidate]:
        """Affected entries of non-withdrawn advisories for these (ecosystem, normalised name) keys, in one query."""
        ...

    async def related_severities(self, identifiers: Collection[str]) -> Sequence[RelatedSeverity]:
        """Non-withdrawn records whose id, or one of whose aliases, is among `identifiers`, in one query."""
        ...

    async def current_version(self) -> VulnDbVersion:
        """The version in force now (0 before any import), with its per-ecosystem counts when known."""
        ...

    async def advance_version(self, counts: UpsertCounts, source: str) -> VulnDbVersion:
        """Record an import that changed data, making it the new version."""
        ...

    async def get_record(self, advisory_id: str) -> dict[str, Any] | None:
        """The full OSV record, or None."""
        ...
