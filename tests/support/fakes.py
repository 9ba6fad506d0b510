"""Honest in-memory implementations of the domain ports, recording what happened."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from uuid import UUID

import msgspec

from secapi.domain.errors import Conflict, DependencyUnavailable
from secapi.domain.model import ApiKey, PageCursor, Scan, ScanPage, UsageRecord, User
from secapi.domain.tiers import Tier


class FakeClock:
    """A clock that only moves when told to."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 1, tzinfo=UTC)
        self._monotonic = 1000.0

    def now(self) -> datetime:
        return self._now

    def monotonic(self) -> float:
        return self._monotonic

    def advance(self, seconds: float) -> None:
        self._now += timedelta(seconds=seconds)
        self._monotonic += seconds


class InMemoryUsers:
    """Users; a user's first key goes to `keys` (give it the `InMemoryKeys` the service reads)."""

    def __init__(self, keys: InMemoryKeys | None = None) -> None:
        self.rows: dict[UUID, User] = {}
        self.reads = 0
        self.keys = keys if keys is not None else InMemoryKeys()

    async def add(self, user: User) -> None:
        if any(u.email == user.email for u in self.rows.values()):
            raise Conflict(f"a user with email {user.email} already exists")
        self.rows[user.id] = user

    async def add_with_first_key(self, user: User, key: ApiKey) -> None:
        await self.add(user)
        try:
            await self.keys.add(key)
        except BaseException:
            del self.rows[user.id]  # all or nothing, as the SQL transaction
            raise

    async def get(self, user_id: UUID) -> User | None:
        self.reads += 1
        return self.rows.get(user_id)

    async def get_by_email(self, email: str) -> User | None:
        self.reads += 1
        return next((u for u in self.rows.values() if u.email == email.lower()), None)

    async def set_tier(self, user_id: UUID, tier: Tier) -> User | None:
        user = self.rows.get(user_id)
        if user is None:
            return None
        self.rows[user_id] = replace(user, tier=tier)
        return self.rows[user_id]


class InMemoryKeys:
    def __init__(self) -> None:
        self.rows: dict[UUID, ApiKey] = {}
        self.lookups = 0

    async def add(self, key: ApiKey) -> None:
        if any(k.prefix == key.prefix for k in self.rows.values()):
            raise Conflict("an API key with this prefix already exists")
        self.rows[key.id] = key

    async def get(self, key_id: UUID) -> ApiKey | None:
        return self.rows.get(key_id)

    async def find_by_prefix(self, prefix: str) -> ApiKey | None:
        self.lookups += 1
        return next((k for k in self.rows.values() if k.prefix == prefix), None)

    async def list_for_user(self, user_id: UUID) -> Sequence[ApiKey]:
        keys = [k for k in self.rows.values() if k.user_id == user_id]
        return sorted(keys, key=lambda k: k.created_at, reverse=True)

    async def revoke(self, key_id: UUID, at: datetime) -> ApiKey | None:
        key = self.rows.get(key_id)
        if key is None:
            return None
        if key.revoked_at is None:
            self.rows[key_id] = replace(key, revoked_at=at)
        return self.rows[key_id]

    async def touch(self, key_id: UUID, at: datetime) -> None:
        if key_id in self.rows:
            self.rows[key_id] = replace(self.rows[key_id], last_used_at=at)


class InMemoryScans:
    def __init__(self) -> None:
        self.rows: dict[UUID, Scan] = {}

    async def add(self, scan: Scan) -> None:
        self.rows[scan.id] = scan

    async def update(self, scan: Scan) -> None:
        self.rows[scan.id] = scan

    async def get(self, scan_id: UUID) -> Scan | None:
        return self.rows.get(scan_id)

    async def claim(self, scan_id: UUID, *, now: datetime, lease_until: datetime) -> Scan | None:
        from secapi.domain.model import ScanStatus

        scan = self.rows.get(scan_id)
        if scan is None:
            return None
        expired = (
            scan.status is ScanStatus.RUNNING and scan.lease_expires_at is not None and scan.lease_expires_at < now
        )
        if scan.status is not ScanStatus.QUEUED and not expired:
            return None
        claimed = scan.claimed(now, lease_until)
        self.rows[scan_id] = claimed
        return claimed

    async def renew_lease(self, scan_id: UUID, lease_until: datetime) -> bool:
        from secapi.domain.model import ScanStatus

        scan = self.rows.get(scan_id)
        if scan is None or scan.status is not ScanStatus.RUNNING:
            return False
        self.rows[scan_id] = replace(scan, lease_expires_at=lease_until)
        return True

    async def release(self, scan_id: UUID) -> bool:
        from secapi.domain.model import ScanStatus

        scan = self.rows.get(scan_id)
        if scan is None or scan.status is not ScanStatus.RUNNING:
            return False
        self.rows[scan_id] = replace(
            scan, status=ScanStatus.QUEUED, started_at=None, lease_expires_at=None, attempts=max(scan.attempts - 1, 0)
        )
        return True

    async def stale(self, *, now: datetime, queued_before: datetime, limit: int) -> list[Scan]:
        from secapi.domain.model import ScanStatus

        found = [
            s
            for s in self.rows.values()
            if (s.status is ScanStatus.QUEUED and s.created_at < queued_before)
            or (s.status is ScanStatus.RUNNING and s.lease_expires_at is not None and s.lease_expires_at < now)
        ]
        return sorted(found, key=lambda s: s.created_at)[:limit]

    async def get_for_user(self, scan_id: UUID, user_id: UUID) -> Scan | None:
        scan = self.rows.get(scan_id)
        return scan if scan is not None and scan.user_id == user_id else None

    async def list_for_user(self, user_id: UUID, *, limit: int, after: PageCursor | None) -> ScanPage:
        mine = sorted(
            (s for s in self.rows.values() if s.user_id == user_id),
            key=lambda s: (s.created_at, s.id),
            reverse=True,
        )
        if after is not None:
            mine = [s for s in mine if (s.created_at, s.id) < (after.created_at, after.id)]
        page = mine[:limit]
        cursor = PageCursor(created_at=page[-1].created_at, id=page[-1].id) if len(mine) > limit else None
        return ScanPage(items=page, next_cursor=cursor)


class InMemoryUsage:
    def __init__(self) -> None:
        self.rows: list[UsageRecord] = []
        self.failing = False

    async def add_many(self, records: Sequence[UsageRecord]) -> None:
        if self.failing:
            raise DependencyUnavailable("the database is unavailable")
        self.rows.extend(records)


class InMemoryVulnerabilityStore:
    """The vulnerability store port over dicts, with the same upsert rules as SQL."""

    def __init__(self) -> None:
        from secapi.domain.advisories import Advisory, VulnDbVersion

        self.advisories: dict[str, Advisory] = {}
        self.versions: list[VulnDbVersion] = []
        self.candidate_queries = 0
        self.related_queries = 0

    async def upsert(self, advisories):  # type: ignore[no-untyped-def]
        from secapi.domain.advisories import UpsertCounts

        counts = UpsertCounts()
        for advisory in advisories:
            stored = self.advisories.get(advisory.id)
            if stored is not None and advisory.modified <= stored.modified:
                counts.unchanged += 1
                continue
            if stored is None:
                counts.added += 1
            else:
                counts.updated += 1
            if advisory.withdrawn is not None:
                counts.withdrawn += 1
            for replaced in (stored, advisory):
                if replaced is not None:
                    counts.changed_keys.update((entry.ecosystem, entry.name) for entry in replaced.affected)
            self.advisories[advisory.id] = advisory
        return counts

    async def candidates(self, keys):  # type: ignore[no-untyped-def]
        from secapi.domain.advisories import AdvisorySummary, Candidate

        self.candidate_queries += 1
        wanted = set(keys)
        out = []
        for advisory in self.advisories.values():
            if advisory.withdrawn is not None:
                continue
            summary = AdvisorySummary(
                id=advisory.id,
                aliases=advisory.aliases,
                summary=advisory.summary,
                severity=advisory.severity,
                score=advisory.score,
                vector=advisory.vector,
                references=advisory.references,
                published=advisory.published,
                modified=advisory.modified,
                informational=advisory.informational,
            )
            for entry in advisory.affected:
                if (entry.ecosystem, entry.name) in wanted:
                    out.append(
                        Candidate(ecosystem=entry.ecosystem, name=entry.name, ranges=entry.ranges, advisory=summary)
                    )
        return out

    async def related_severities(self, identifiers):  # type: ignore[no-untyped-def]
        from secapi.domain.advisories import RelatedSeverity

        self.related_queries += 1
        wanted = set(identifiers)
        return [
            RelatedSeverity(id=a.id, aliases=a.aliases, severity=a.severity, score=a.score, vector=a.vector)
            for a in self.advisories.values()
            if a.withdrawn is None and (a.id in wanted or not wanted.isdisjoint(a.aliases))
        ]

    async def current_version(self):  # type: ignore[no-untyped-def]
        from secapi.domain.advisories import VulnDbVersion

        return self.versions[-1] if self.versions else VulnDbVersion(version=0, updated_at=None)

    async def advance_version(self, counts, source):  # type: ignore[no-untyped-def]
        from secapi.domain.advisories import VulnDbVersion

        live = [a for a in self.advisories.values() if a.withdrawn is None]
        ecosystems: dict[str, int] = {}
        for advisory in live:
            for ecosystem in {entry.ecosystem for entry in advisory.affected}:
                ecosystems[ecosystem] = ecosystems.get(ecosystem, 0) + 1
        version = VulnDbVersion(
            version=len(self.versions) + 1, updated_at=datetime.now(UTC), advisories=len(live), ecosystems=ecosystems
        )
        self.versions.append(version)
        return version

    async def get_record(self, advisory_id):  # type: ignore[no-untyped-def]
        advisory = self.advisories.get(advisory_id)
        return None if advisory is None else msgspec.json.decode(advisory.record)  # a dict, as the port says

    async def get_records(self, advisory_ids):  # type: ignore[no-untyped-def]
        return {i: msgspec.json.decode(self.advisories[i].record) for i in advisory_ids if i in self.advisories}


class RecordingQueue:
    """A `ScanQueue` that records what was enqueued and never runs anything."""

    def __init__(self) -> None:
        self.enqueued: list[UUID] = []

    async def enqueue(self, scan_id: UUID) -> None:
        self.enqueued.append(scan_id)

    async def wait(self, scan_id: UUID, seconds: float) -> None:
        return None


class InMemoryInventoryCache:
    """The inventory cache port over dicts, counting hits."""

    def __init__(self) -> None:
        self.layers: dict[tuple[str, int], object] = {}
        self.images: dict[tuple[str, int], object] = {}

    async def get_layer(self, digest, cataloger_version):  # type: ignore[no-untyped-def]
        return self.layers.get((digest, cataloger_version))

    async def put_layer(self, inventory):  # type: ignore[no-untyped-def]
        self.layers.setdefault((inventory.digest, inventory.cataloger_version), inventory)

    async def get_image(self, manifest_digest, cataloger_version):  # type: ignore[no-untyped-def]
        return self.images.get((manifest_digest, cataloger_version))

    async def put_image(self, manifest_digest, cataloger_version, inventory):  # type: ignore[no-untyped-def]
        self.images.setdefault((manifest_digest, cataloger_version), inventory)
