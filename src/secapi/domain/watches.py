"""Watched targets: an inventory kept and re-matched after every database update, and the events that come of it.

A watch is taken on a finished scan of the caller (a lockfile, a registry image or an uploaded archive)
or on an image reference (`nginx:1.24`), which is scanned first. Its baseline inventory is the scan
result's `packages`. The store keeps, per watch and per lookup key (`matching.lookup_keys`), the packages
filed under that key and the findings last matched through it, so after an update only the keys that
changed are re-matched. A difference becomes an event: `new_findings` (delivered to the tenant's webhook
as `scan.new_findings`) or `resolved_findings` (a record withdrawn or fixed; listed, not posted).

The webhook body, signed and retried exactly like `rate_limit.reset` (`secapi.domain.notifications`):

    {"type": "scan.new_findings", "id": "<event id>", "watch_id": "<uuid>", "user_id": "<uuid>",
     "target": "docker.io/library/nginx:1.24", "advisories": ["GHSA-..."],
     "findings": [{"id": "GHSA-...", "package": {"name": ..., "version": ..., "ecosystem": ..., "purl": ...},
                   "installed_version": "...", "fixed_versions": ["..."], "severity": "high"}],
     "vulndb_version": 12, "created_at": "<RFC 3339>"}

with `SecAPI-Event: scan.new_findings` and `SecAPI-Delivery: <event id>` (the same across retries).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Final, Protocol
from uuid import UUID

import msgspec

from secapi.domain.errors import Conflict, InvalidInput, NotFound
from secapi.domain.findings import Finding, PackageRef
from secapi.domain.model import PageCursor, Scan
from secapi.domain.notifications import WebhookEvent
from secapi.domain.packages import Package
from secapi.domain.rate_limits import RateLimitExceeded
from secapi.domain.severity import Severity

NEW_FINDINGS_EVENT: Final = "scan.new_findings"
LookupKey = tuple[str, str]
"""(ecosystem, normalised name): what `matching.lookup_keys` returns and the store's affected packages use."""
FindingIdentity = tuple[str, str, str, str]
"""(advisory id, package ecosystem, package name, package version): what makes two findings the same."""


class WatchKind(StrEnum):
    """What a watch follows: an image reference (re-resolved, rescanned when its tag moves) or a scan's inventory."""

    IMAGE = "image"
    SCAN = "scan"


class WatchStatus(StrEnum):
    """`pending` until the baseline scan finishes, then `active`; `failed` if that scan failed."""

    PENDING = "pending"
    ACTIVE = "active"
    RESCANNING = "rescanning"
    """An image watch whose tag moved: the new digest is being scanned; the old baseline is still re-matched."""
    FAILED = "failed"


MATCHED_STATUSES: Final = (WatchStatus.ACTIVE, WatchStatus.RESCANNING)
"""Watches whose baseline is re-matched after an update."""


class EventKind(StrEnum):
    """What an event reports."""

    NEW_FINDINGS = "new_findings"
    RESOLVED_FINDINGS = "resolved_findings"


class WatchedFinding(msgspec.Struct, frozen=True, kw_only=True):
    """A finding as a watch keeps it and an event reports it."""

    id: str
    package: PackageRef
    installed_version: str
    fixed_versions: tuple[str, ...]
    severity: Severity

    @property
    def identity(self) -> FindingIdentity:
        """Advisory id and package ecosystem, name and version."""
        return (self.id, self.package.ecosystem, self.package.name, self.package.version)

    @classmethod
    def of(cls, finding: Finding) -> WatchedFinding:
        """The parts of a scan finding a watch keeps."""
        return cls(
            id=finding.id,
            package=finding.package,
            installed_version=finding.installed_version,
            fixed_versions=finding.fixed_versions,
            severity=finding.severity,
        )


class KeyState(msgspec.Struct, frozen=True, kw_only=True):
    """One lookup key of a watch: the packages filed under it and the findings last matched through it."""

    key: LookupKey
    packages: tuple[Package, ...]
    findings: tuple[WatchedFinding, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Watch:
    """A watched target of one tenant."""

    id: UUID
    user_id: UUID
    kind: WatchKind
    target: str
    """The image reference (canonical) or the watched scan's target (a lockfile name, an image)."""
    status: WatchStatus
    created_at: datetime
    platform: str | None = None
    scan_id: UUID | None = None
    """The scan the baseline comes (or will come) from; for an image, the latest scan of its digest."""
    image_digest: str | None = None
    packages: int = 0
    findings: int = 0
    vulndb_version: int = 0
    """The database version the findings were last matched against."""
    matched_at: datetime | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class WatchEvent:
    """Findings a watch gained or lost at one database version."""

    id: UUID
    watch_id: UUID
    user_id: UUID
    kind: EventKind
    target: str
    advisories: tuple[str, ...]
    findings: tuple[WatchedFinding, ...]
    vulndb_version: int
    created_at: datetime
    attempts: int = 0
    delivered_at: datetime | None = None
    given_up: str | None = None
    """Why delivery stopped (no endpoint, retries exhausted, the receiver refused); None while it goes on."""


@dataclass(frozen=True, slots=True, kw_only=True)
class WatchPage:
    """One page of watches and the cursor of the next."""

    items: list[Watch]
    next_cursor: PageCursor | None


@dataclass(frozen=True, slots=True, kw_only=True)
class EventPage:
    """One page of a watch's events (newest first) and the cursor of the next."""

    items: list[WatchEvent]
    next_cursor: PageCursor | None


@dataclass(frozen=True, slots=True, kw_only=True)
class WatchUpdate:
    """A watch's new state after a match: replaced key rows, removed keys, counters, and the events to write."""

    watch_id: UUID
    keys: Sequence[KeyState]
    removed_keys: Collection[LookupKey] = ()
    replace_all: bool = False
    """True for a new baseline: every key row of the watch is replaced by `keys`."""
    vulndb_version: int
    matched_at: datetime
    events: Sequence[WatchEvent] = ()
    findings: int | None = None
    """The watch's finding count when all its keys are rewritten (`replace_all`); else `findings_delta` applies."""
    findings_delta: int = 0
    status: WatchStatus | None = None
    scan_id: UUID | None = None
    image_digest: str | None = None
    packages: int | None = None
    error: str | None = None


class WatchNotFound(NotFound):
    """No watch with this id belongs to the caller."""

    def __init__(self) -> None:
        super().__init__("no watch with this id belongs to you")


class ScanNotWatchable(Conflict):
    """The scan has no inventory to watch yet (still queued or running)."""


class FailedScanNotWatchable(InvalidInput):
    """The scan failed: it has no inventory to watch."""


class WatchLimitExceeded(RateLimitExceeded):
    """A new watch would exceed the tier's watch limit (a 429 like any quota, with the same headers)."""


class SuppressedFindings(Protocol):
    """Which new findings the tenant's ignore rules or VEX statements cover: they are not announced."""

    async def covered(self, user_id: UUID, findings: Sequence[WatchedFinding]) -> set[FindingIdentity]:
        """The identities of the covered findings among `findings`."""
        ...


class ImageRescanner(Protocol):
    """Starts a scan of a watched image on behalf of its owner (a rescan after the tag moved)."""

    async def rescan(self, watch: Watch) -> Scan:
        """The scan of the image as it is now: finished (from the cache) or queued."""
        ...


class WatchLimitReached(Exception):
    """The store refused a new watch: the tenant already has `count` (the limit)."""

    def __init__(self, count: int) -> None:
        super().__init__(f"{count} watches already")
        self.count = count


class WatchRepository(Protocol):
    """Stores watches, their per-key state and their events; every tenant-facing read is scoped to one tenant."""

    async def add(self, watch: Watch, keys: Sequence[KeyState], *, limit: int) -> int:
        """Insert the watch unless the user already has `limit` (`WatchLimitReached`), atomically, without a race
        between counting and inserting; returns the user's count after the insert."""
        ...

    async def count(self, user_id: UUID) -> int:
        """How many watches the user has."""
        ...

    async def get(self, user_id: UUID, watch_id: UUID) -> Watch | None:
        """The user's watch, or None."""
        ...

    async def page(self, user_id: UUID, *, limit: int, after: PageCursor | None) -> WatchPage:
        """The user's watches, newest first."""
        ...

    async def delete(self, user_id: UUID, watch_id: UUID) -> bool:
        """Remove the watch with its keys and events; False if the user has no such watch."""
        ...

    async def events(self, user_id: UUID, watch_id: UUID, *, limit: int, after: PageCursor | None) -> EventPage:
        """The watch's events, newest first (the caller checked that the watch is the user's)."""
        ...

    async def affected(self, keys: Collection[LookupKey]) -> Mapping[UUID, Sequence[KeyState]]:
        """For every active watch with a key among `keys`: those keys' state, in one indexed query."""
        ...

    async def key_states(self, watch_id: UUID) -> Sequence[KeyState]:
        """Every key row of one watch (its whole inventory and findings)."""
        ...

    async def watches(self, ids: Collection[UUID]) -> Sequence[Watch]:
        """The watches with these ids (any tenant: for the re-matcher)."""
        ...

    async def by_status(self, status: WatchStatus, *, kind: WatchKind | None = None, limit: int) -> Sequence[Watch]:
        """Watches in `status` (optionally of one kind), oldest first."""
        ...

    async def apply(self, updates: Sequence[WatchUpdate]) -> None:
        """Write the new states and insert the events, in one transaction."""
        ...


class EventOutbox(Protocol):
    """The `new_findings` events waiting for delivery (a durable outbox)."""

    async def claim(self, now: datetime, lease_until: datetime, limit: int) -> Sequence[WatchEvent]:
        """Up to `limit` events due by `now`, made due again only at `lease_until` (so no other claimer sends them
        meanwhile), atomically; several processes never claim one event at once."""
        ...

    async def delivered(self, event_id: UUID, at: datetime, attempts: int) -> None:
        """Mark an event delivered."""
        ...

    async def retry(self, event_id: UUID, at: datetime, attempts: int) -> None:
        """Make a claimed event due again at `at` after `attempts` failed deliveries."""
        ...

    async def give_up(self, event_id: UUID, reason: str, attempts: int) -> None:
        """Stop delivering an event, recording why."""
        ...


class FindingsDiff(msgspec.Struct, frozen=True, kw_only=True):
    """What changed between two sets of findings."""

    new: tuple[WatchedFinding, ...]
    resolved: tuple[WatchedFinding, ...]


def diff_findings(old: Iterable[WatchedFinding], new: Iterable[WatchedFinding]) -> FindingsDiff:
    """Findings in `new` but not in `old`, and in `old` but not in `new`, by identity (advisory and package).

    A finding whose fixed versions or severity changed is the same finding: not reported again.
    """
    before = {f.identity: f for f in old}
    after = {f.identity: f for f in new}
    return FindingsDiff(
        new=tuple(sorted((f for i, f in after.items() if i not in before), key=_order)),
        resolved=tuple(sorted((f for i, f in before.items() if i not in after), key=_order)),
    )


def _order(finding: WatchedFinding) -> tuple[str, str, str, str]:
    return (finding.package.ecosystem, finding.package.name, finding.package.version, finding.id)


class NewFindingsBody(msgspec.Struct, frozen=True, kw_only=True):
    """The JSON body of a `scan.new_findings` webhook, in the documented field order."""

    type: str
    id: UUID
    watch_id: UUID
    user_id: UUID
    target: str
    advisories: tuple[str, ...]
    findings: tuple[WatchedFinding, ...]
    vulndb_version: int
    created_at: datetime


def new_findings_event(event: WatchEvent) -> WebhookEvent:
    """The signed-to-be webhook for a `new_findings` event; the event id is the delivery id."""
    body = NewFindingsBody(
        type=NEW_FINDINGS_EVENT,
        id=event.id,
        watch_id=event.watch_id,
        user_id=event.user_id,
        target=event.target,
        advisories=event.advisories,
        findings=event.findings,
        vulndb_version=event.vulndb_version,
        created_at=event.created_at,
    )
    return WebhookEvent(id=event.id, type=NEW_FINDINGS_EVENT, body=msgspec.json.encode(body))
