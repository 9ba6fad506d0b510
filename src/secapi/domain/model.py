"""Entities of accounts and scans. Frozen: a change is a new value written through a port."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID, uuid4

from secapi.domain.findings import ScanResult
from secapi.domain.scan_inputs import ScanInput
from secapi.domain.scan_inputs import ScanType as ScanType
from secapi.domain.tiers import Tier


@dataclass(frozen=True, slots=True, kw_only=True)
class User:
    """A tenant: everything they own hangs off `id`."""

    id: UUID
    email: str
    tier: Tier
    is_admin: bool
    created_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiKey:
    """An API key's record; the secret itself is never stored, only its hash."""

    id: UUID
    user_id: UUID
    prefix: str
    key_hash: str
    name: str | None
    created_at: datetime
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None

    @property
    def is_revoked(self) -> bool:
        """True once the key has been revoked."""
        return self.revoked_at is not None


@dataclass(frozen=True, slots=True, kw_only=True)
class IssuedKey:
    """A freshly created key: the only moment the plaintext secret exists."""

    record: ApiKey
    secret: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Principal:
    """The authenticated caller of one request."""

    user: User
    key_id: UUID

    @property
    def user_id(self) -> UUID:
        """The caller's tenant id."""
        return self.user.id


class ScanStatus(StrEnum):
    """Lifecycle of a scan: queued → running → completed | failed."""

    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


@dataclass(frozen=True, slots=True, kw_only=True)
class Scan:
    """One scan a tenant asked for, with its outcome once finished."""

    id: UUID
    user_id: UUID
    scan_type: ScanType
    status: ScanStatus
    input_data: ScanInput
    """What the scan keeps of its input (its kind says what was scanned)."""
    input_hash: str
    created_at: datetime
    result: ScanResult | None = None
    """The result of a completed scan; None before then, for a cache hit's row not yet read back, or when a
    stored result no longer fits `ScanResult` (then `error` says so, see `unreadable_result`)."""
    error: str | None = None
    """Why the scan failed; on a completed scan, why its stored result cannot be read."""
    started_at: datetime | None = None
    finished_at: datetime | None = None
    duration_ms: float | None = None
    attempts: int = 0
    lease_expires_at: datetime | None = None

    @property
    def is_finished(self) -> bool:
        """True once completed or failed."""
        return self.status in (ScanStatus.COMPLETED, ScanStatus.FAILED)

    @classmethod
    def queued(cls, user_id: UUID, scan_type: ScanType, input_data: ScanInput, input_hash: str, at: datetime) -> Scan:
        """A new scan waiting for a worker (or, refused at once, for `failed`)."""
        return cls(
            id=uuid4(),
            user_id=user_id,
            scan_type=scan_type,
            status=ScanStatus.QUEUED,
            input_data=input_data,
            input_hash=input_hash,
            created_at=at,
        )

    @classmethod
    def running(cls, user_id: UUID, scan_type: ScanType, input_data: ScanInput, input_hash: str, at: datetime) -> Scan:
        """A new scan run at once where it was asked (no queue, no lease): it started when it was created."""
        return dataclasses.replace(
            cls.queued(user_id, scan_type, input_data, input_hash, at), status=ScanStatus.RUNNING, started_at=at
        )

    @classmethod
    def answered_from_cache(
        cls, user_id: UUID, scan_type: ScanType, input_data: ScanInput, input_hash: str, at: datetime
    ) -> Scan:
        """The caller's own scan of a cache hit: completed the moment it was asked (its result is the entry's).

        Built in one step (not `running(...).completed(...)`): it is on every cache hit's path."""
        return cls(
            id=uuid4(),
            user_id=user_id,
            scan_type=scan_type,
            status=ScanStatus.COMPLETED,
            input_data=input_data,
            input_hash=input_hash,
            created_at=at,
            started_at=at,
            finished_at=at,
            duration_ms=0.0,
        )

    def claimed(self, at: datetime, lease_until: datetime) -> Scan:
        """Taken by a worker until `lease_until` (renewed while it runs); each claim is one more attempt."""
        return dataclasses.replace(
            self, status=ScanStatus.RUNNING, started_at=at, lease_expires_at=lease_until, attempts=self.attempts + 1
        )

    def completed(self, result: ScanResult | None, at: datetime, *, duration_ms: float | None = None) -> Scan:
        """Finished with `result` at `at`; its duration is `duration_ms` if the run measured it, else since start."""
        started = self.started_at or at
        return dataclasses.replace(
            self,
            status=ScanStatus.COMPLETED,
            result=result,
            error=None,
            started_at=started,
            finished_at=at,
            duration_ms=_elapsed_ms(started, at) if duration_ms is None else duration_ms,
            lease_expires_at=None,
        )

    def failed(self, reason: str, at: datetime) -> Scan:
        """Ended at `at` without a result, for `reason` (a scan refused before any work took no time)."""
        started = self.started_at or at
        return dataclasses.replace(
            self,
            status=ScanStatus.FAILED,
            result=None,
            error=reason,
            started_at=started,
            finished_at=at,
            duration_ms=_elapsed_ms(started, at),
            lease_expires_at=None,
        )

    def abandoned(self, reason: str, at: datetime) -> Scan:
        """Given up at `at` by the sweeper, for `reason`: no run finished, so it has no duration."""
        return dataclasses.replace(
            self,
            status=ScanStatus.FAILED,
            result=None,
            error=reason,
            finished_at=at,
            duration_ms=None,
            lease_expires_at=None,
        )

    def with_result(self, result: ScanResult) -> Scan:
        """The same scan carrying `result` (a cache hit's, decoded only where a row needs it)."""
        return dataclasses.replace(self, result=result)

    def unreadable_result(self, reason: str) -> Scan:
        """The same scan, its stored result dropped because it cannot be read (`reason` goes in `error`)."""
        return dataclasses.replace(self, result=None, error=f"the stored result cannot be read: {reason}")


def _elapsed_ms(start: datetime, end: datetime) -> float:
    return round((end - start).total_seconds() * 1000, 3)


@dataclass(frozen=True, slots=True, kw_only=True)
class PageCursor:
    """Position after the last item of a page: newest-first order is (created_at, id) descending."""

    created_at: datetime
    id: UUID


@dataclass(frozen=True, slots=True, kw_only=True)
class ScanPage:
    """One page of a tenant's scans and the cursor of the next page, if any."""

    items: list[Scan]
    next_cursor: PageCursor | None


@dataclass(frozen=True, slots=True, kw_only=True)
class UsageRecord:
    """One API request, for billing and the usage endpoint."""

    user_id: UUID
    endpoint: str
    method: str
    status_code: int
    timestamp: datetime
    duration_ms: float
