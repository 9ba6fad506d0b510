"""Keeping the vulnerability database current from an OSV bucket layout: conditional, incremental, safe.

Per ecosystem, a sync asks for `modified_id.csv` with the validators it stored last time. Not modified:
nothing else is fetched. Changed: only the records modified after the stored high-water mark are
fetched one by one, unless there are more than `max_changed_ids`, when the whole `all.zip` is taken
instead (as on the first run). Every download is complete and verified before anything is imported,
and the state (validators, high-water mark) advances only with what was stored, so a failed or
corrupt download leaves the database and the next sync's starting point as they were.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Collection, Iterable, Iterator, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Generic, Protocol, TypeVar

from secapi.domain.advisories import UpsertCounts, VulnDbVersion
from secapi.domain.errors import DomainError
from secapi.domain.ports import Clock, VulnerabilityStore
from secapi.domain.services.vulndb_import import ImportSummary, RawRecord, VulnDbImporter

T = TypeVar("T")
DEFAULT_MAX_CHANGED_IDS = 5_000
"""Beyond this many changed records, one `all.zip` costs less than as many single-record requests."""
SCANNABLE_ECOSYSTEMS = (
    # Language packages: the lockfile parsers and the image catalogers (Python, npm, Go, Rust, Java).
    "PyPI", "npm", "Go", "crates.io", "Maven", "NuGet", "RubyGems", "Packagist", "Pub", "Hex", "Hackage", "CRAN",
    "SwiftURL", "ConanCenter",
    # Distributions whose package databases are read (dpkg, apk, rpm), as `os_release` names their ecosystems.
    "Debian", "Ubuntu", "Alpine", "Wolfi", "Chainguard", "AlmaLinux", "Rocky Linux", "Red Hat", "Azure Linux",
    "Mageia", "Photon OS", "openSUSE", "SUSE",
)  # fmt: skip
"""What `SECAPI_VULNDB_ECOSYSTEMS` means when empty: every OSV ecosystem a scan can produce packages of."""


@dataclass(frozen=True)
class Feed:
    """An extra file the sync keeps current with the same conditional requests (EPSS scores, KEV catalogue)."""

    name: str
    """`epss`, `kev`: used for state, metrics and log lines."""
    location: str
    """URL (http/https) or local file path."""
    apply: Callable[[Path], Awaitable[int]]
    """Imports the downloaded file; returns the rows stored. Called only when the download changed."""


@dataclass(frozen=True, slots=True)
class Validators:
    """HTTP cache validators of a downloaded resource, sent back as If-None-Match / If-Modified-Since."""

    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True, slots=True)
class Fetched(Generic[T]):
    """A conditional download: its content (a verified file, parsed lines), or None when not modified."""

    value: T | None
    validators: Validators
    size: int = 0

    @property
    def not_modified(self) -> bool:
        """The source answered that nothing changed since the validators sent (HTTP 304)."""
        return self.value is None


@dataclass(frozen=True, slots=True)
class ModifiedId:
    """One line of `modified_id.csv`: a record's id and when it last changed."""

    modified: datetime
    id: str


@dataclass(frozen=True, slots=True)
class SyncState:
    """What was last fetched from one resource (URL or path) and stored."""

    resource: str
    last_success: datetime
    etag: str | None = None
    last_modified: str | None = None
    high_water: datetime | None = None
    """The newest `modified` stored from this resource (the ecosystem's zip or its modified_id.csv)."""
    content: str | None = None
    """A small file's text (`ecosystems.txt`), kept so that a 304 for it still answers."""

    @property
    def validators(self) -> Validators:
        """The validators to send on the next request."""
        return Validators(etag=self.etag, last_modified=self.last_modified)


class SyncFailed(DomainError):
    """A download failed, was cut short or is corrupt: nothing from it was imported."""


class NotPublished(SyncFailed):
    """The source has no such file (HTTP 404, or a missing local file)."""


class SyncSource(Protocol):
    """An OSV bucket layout (`<base>/<ECOSYSTEM>/all.zip`, `modified_id.csv`, `<ID>.json`) and feed files."""

    location: str

    def resource(self, ecosystem: str | None, name: str) -> str:
        """The URL or path of `name` (`all.zip`, ...) in `ecosystem` (None: at the top): its state's key."""
        ...

    async def ecosystems(self, validators: Validators | None) -> Fetched[list[str]]:
        """The names listed in `ecosystems.txt`; NotPublished when the source has no such list."""
        ...

    async def modified_ids(self, ecosystem: str, validators: Validators | None) -> Fetched[list[ModifiedId]]:
        """`modified_id.csv`, parsed; NotPublished when absent, SyncFailed when unreadable."""
        ...

    async def archive(self, ecosystem: str, validators: Validators | None) -> Fetched[Path]:
        """`all.zip`, downloaded whole and verified (length, zip structure and CRCs) before it is returned."""
        ...

    def archive_records(self, path: Path) -> Iterator[RawRecord]:
        """The records of an archive `archive` returned (read in the importer's thread)."""
        ...

    async def records(self, ecosystem: str, ids: Sequence[str]) -> list[RawRecord]:
        """`<ID>.json` of each id; an id no longer published comes back as a rejected record."""
        ...

    async def feed(self, location: str, validators: Validators | None) -> Fetched[Path]:
        """A feed file (URL or path), downloaded whole."""
        ...

    def release(self, path: Path) -> None:
        """Delete a downloaded file once it has been imported (a local source's own files are kept)."""
        ...


class SyncStateStore(Protocol):
    """Persisted sync state, one row per resource."""

    async def load(self, resources: Collection[str]) -> dict[str, SyncState]:
        """The stored state of each of `resources` that has one."""
        ...

    async def save(self, states: Sequence[SyncState]) -> None:
        """Store (replace) these states in one transaction."""
        ...


class SyncLock(Protocol):
    """Lets one sync run at a time across every process sharing the database."""

    def hold(self) -> AbstractAsyncContextManager[bool]:
        """Try to take the lock without waiting; yields whether it was taken, and keeps it until the block ends."""
        ...


class SyncMetrics(Protocol):
    """The sync's part of the metrics sink."""

    def vulndb_sync_ecosystem(
        self, ecosystem: str, *, failed: bool, seconds: float, added: int, updated: int, withdrawn: int
    ) -> None:
        """One ecosystem (or feed, as `feed:<name>`) was synced, or failed."""
        ...

    def vulndb_sync_finished(self, *, failed: bool, seconds: float, finished_at: float) -> None:
        """A sync run ended; `finished_at` is Unix time (the last success time when not failed)."""
        ...


class SyncProgress(Protocol):
    """Reports progress to a terminal or a log."""

    def started(self, ecosystem: str) -> None:
        """Work on `ecosystem` (or `feed:<name>`) begins."""
        ...

    def records(self, count: int) -> None:
        """`count` more records were read."""
        ...

    def finished(self, outcome: EcosystemOutcome) -> None:
        """Work on one ecosystem or feed ended."""
        ...


@dataclass(slots=True)
class EcosystemOutcome:
    """What syncing one ecosystem (or feed) did."""

    ecosystem: str
    method: str = "not-modified"
    """`not-modified` (304s only), `incremental` (single records), `archive` (all.zip), `feed`."""
    downloaded_bytes: int = 0
    fetched_records: int = 0
    read: int = 0
    counts: UpsertCounts = field(default_factory=UpsertCounts)
    rejected: int = 0
    seconds: float = 0.0
    error: str | None = None


@dataclass(slots=True)
class SyncReport:
    """What a sync run did: per ecosystem and feed, the version it published and the keys that changed."""

    outcomes: list[EcosystemOutcome] = field(default_factory=list)
    version: VulnDbVersion | None = None
    """The newest version this run stored (None when nothing changed)."""
    changed_keys: set[tuple[str, str]] = field(default_factory=set)
    skipped: bool = False
    """Another sync held the lock: this one did nothing."""

    @property
    def failed(self) -> list[EcosystemOutcome]:
        """The ecosystems and feeds that failed."""
        return [outcome for outcome in self.outcomes if outcome.error is not None]


def configured_ecosystems(setting: str) -> list[str]:
    """The comma-separated setting's names, or `SCANNABLE_ECOSYSTEMS` when it names none."""
    names = [name.strip() for name in setting.split(",") if name.strip()]
    return list(dict.fromkeys(names)) or list(SCANNABLE_ECOSYSTEMS)


def select_ecosystems(wanted: Sequence[str], published: Sequence[str] | None) -> list[str]:
    """The bucket directories to sync for the ecosystems `wanted`.

    Without a published list, `wanted` as given. Otherwise an entry with a suffix (`Debian:12`) selects
    exactly that directory; a bare name (`Debian`) selects its own directory when published (OSV writes
    every release's records there too), else every `Debian:*` directory published. Unpublished names go.
    """
    if published is None:
        return list(dict.fromkeys(wanted))
    available = list(dict.fromkeys(name.strip() for name in published if name.strip()))
    listed = set(available)
    chosen: list[str] = []
    for name in wanted:
        if name in listed:
            chosen.append(name)
        elif ":" not in name:
            chosen.extend(other for other in available if other.startswith(f"{name}:"))
    return list(dict.fromkeys(chosen))


class VulnDbSync:
    """Brings the store up to date with a source, ecosystem by ecosystem, then the feeds."""

    def __init__(
        self,
        source: SyncSource,
        states: SyncStateStore,
        importer: VulnDbImporter,
        store: VulnerabilityStore,
        lock: SyncLock,
        metrics: SyncMetrics,
        clock: Clock,
        feeds: Sequence[Feed] = (),
        *,
        max_changed_ids: int = DEFAULT_MAX_CHANGED_IDS,
    ) -> None:
        self._source = source
        self._states = states
        self._importer = importer
        self._store = store
        self._lock = lock
        self._metrics = metrics
        self._clock = clock
        self._feeds = tuple(feeds)
        self._max_changed = max_changed_ids

    async def run(
        self,
        ecosystems: Sequence[str],
        *,
        progress: SyncProgress | None = None,
        on_published: Callable[[int, set[tuple[str, str]]], Awaitable[None]] | None = None,
    ) -> SyncReport:
        """Sync `ecosystems` (as configured; see `select_ecosystems`) and the feeds, under the lock.

        One failing ecosystem does not stop the others. `on_published(version, changed_keys)` is awaited
        once, after the last change is stored, when anything changed.
        """
        async with self._lock.hold() as held:
            if not held:
                return SyncReport(skipped=True)
            started = time.monotonic()
            report = SyncReport()
            try:
                selected = select_ecosystems(ecosystems, await self._published())
            except (SyncFailed, DomainError) as exc:
                report.outcomes.append(EcosystemOutcome("ecosystems.txt", error=str(exc)))
                selected = []
            for ecosystem in selected:
                report.outcomes.append(await self._step(ecosystem, report, progress, self._ecosystem))
            for feed in self._feeds:
                report.outcomes.append(
                    await self._step(f"feed:{feed.name}", report, progress, partial(self._feed, feed))
                )
            if report.version is not None and on_published is not None:
                await on_published(report.version.version, report.changed_keys)
            self._metrics.vulndb_sync_finished(
                failed=bool(report.failed), seconds=time.monotonic() - started, finished_at=time.time()
            )
            return report

    async def _published(self) -> list[str] | None:
        """`ecosystems.txt`, asked for conditionally (its last text is kept for a 304); None when not published."""
        key = self._source.resource(None, "ecosystems.txt")
        stored = (await self._states.load([key])).get(key)
        known = stored is not None and stored.content is not None
        try:
            fetched = await self._source.ecosystems(stored.validators if stored is not None and known else None)
        except NotPublished:
            return None
        if fetched.value is None and stored is not None and stored.content is not None:
            await self._states.save([self._touched(stored)])
            return stored.content.splitlines()
        names = fetched.value or []
        await self._states.save(
            [SyncState(key, self._clock.now(), *_pair(fetched.validators), content="\n".join(names))]
        )
        return names

    async def _step(
        self,
        name: str,
        report: SyncReport,
        progress: SyncProgress | None,
        work: Callable[[EcosystemOutcome, SyncReport, SyncProgress | None], Awaitable[None]],
    ) -> EcosystemOutcome:
        outcome = EcosystemOutcome(name)
        if progress is not None:
            progress.started(name)
        started = time.monotonic()
        try:
            await work(outcome, report, progress)
        except SyncFailed as exc:
            outcome.error = str(exc)
        except DomainError as exc:  # the store unavailable, a feed that does not parse: this one fails, not the run
            outcome.error = f"{type(exc).__name__}: {exc}"
        outcome.seconds = time.monotonic() - started
        counts = outcome.counts
        self._metrics.vulndb_sync_ecosystem(
            name,
            failed=outcome.error is not None,
            seconds=outcome.seconds,
            added=counts.added,
            updated=counts.updated,
            withdrawn=counts.withdrawn,
        )
        if progress is not None:
            progress.finished(outcome)
        return outcome

    async def _ecosystem(self, outcome: EcosystemOutcome, report: SyncReport, progress: SyncProgress | None) -> None:
        ecosystem = outcome.ecosystem
        zip_key = self._source.resource(ecosystem, "all.zip")
        csv_key = self._source.resource(ecosystem, "modified_id.csv")
        stored = await self._states.load([zip_key, csv_key])
        marks = [state.high_water for state in stored.values() if state.high_water is not None]
        high_water = max(marks) if marks else None
        listing: Fetched[list[ModifiedId]] | None = None
        if high_water is not None:
            csv_state = stored.get(csv_key)
            listing = await self._listing(ecosystem, None if csv_state is None else csv_state.validators)
            if listing is not None and listing.not_modified:
                await self._states.save([self._touched(stored[csv_key])])
                return
            if listing is not None and listing.value is not None:
                outcome.downloaded_bytes += listing.size
                newer = _newer(listing.value, high_water)
                if len(newer) <= self._max_changed:
                    outcome.method = "incremental"
                    await self._catch_up(outcome, report, progress, csv_key, listing, newer, high_water)
                    return
        # First run, no modified_id.csv, or too many changes: the whole archive (conditional only when
        # it is all there is to ask for; a listing that changed means the archive must be taken).
        zip_state = stored.get(zip_key)
        validators = zip_state.validators if zip_state is not None and listing is None else None
        archive = await self._source.archive(ecosystem, validators)
        if archive.value is None:
            if zip_state is not None:
                await self._states.save([self._touched(zip_state)])
            return
        outcome.method = "archive"
        outcome.downloaded_bytes += archive.size
        path = archive.value
        try:
            summary = await self._import(self._source.archive_records(path), ecosystem, "all.zip", outcome, progress)
        finally:
            self._source.release(path)
        self._absorb(summary, outcome, report)
        zip_mark = summary.newest_modified
        now = self._clock.now()
        await self._states.save([SyncState(zip_key, now, *_pair(archive.validators), high_water=zip_mark)])
        # Records changed after the archive was built are in the listing: take them now.
        if listing is None or listing.value is None:
            listing = await self._listing(ecosystem, None)
            if listing is None or listing.value is None:
                return
            outcome.downloaded_bytes += listing.size
        mark = max((m for m in (zip_mark, high_water) if m is not None), default=None)
        newer = [] if mark is None else _newer(listing.value, mark)
        # Still too many (an archive older than its listing): the oldest first, the rest on the next run.
        newer = sorted(newer, key=lambda entry: entry.modified)[: self._max_changed]
        await self._catch_up(outcome, report, progress, csv_key, listing, newer, mark)

    async def _listing(self, ecosystem: str, validators: Validators | None) -> Fetched[list[ModifiedId]] | None:
        try:
            return await self._source.modified_ids(ecosystem, validators)
        except NotPublished:
            return None

    async def _catch_up(
        self,
        outcome: EcosystemOutcome,
        report: SyncReport,
        progress: SyncProgress | None,
        csv_key: str,
        listing: Fetched[list[ModifiedId]],
        newer: list[ModifiedId],
        high_water: datetime | None,
    ) -> None:
        mark = high_water
        if newer:
            ids = list(dict.fromkeys(entry.id for entry in newer))
            raw = await self._source.records(outcome.ecosystem, ids)
            outcome.fetched_records += len(raw)
            outcome.downloaded_bytes += sum(len(record.data) for record in raw if isinstance(record.data, bytes))
            summary = await self._import(raw, outcome.ecosystem, f"{len(ids)} changed", outcome, progress)
            self._absorb(summary, outcome, report)
            newest = max(entry.modified for entry in newer)
            mark = newest if mark is None else max(mark, newest)
        state = SyncState(csv_key, self._clock.now(), *_pair(listing.validators), high_water=mark)
        await self._states.save([state])

    async def _import(
        self,
        records: Iterable[RawRecord],
        ecosystem: str,
        what: str,
        outcome: EcosystemOutcome,
        progress: SyncProgress | None,
    ) -> ImportSummary:
        step = None if progress is None else progress.records
        return await self._importer.run(
            records, source=f"sync {self._source.location} {ecosystem} ({what})", progress=step
        )

    @staticmethod
    def _absorb(summary: ImportSummary, outcome: EcosystemOutcome, report: SyncReport) -> None:
        outcome.read += summary.read
        outcome.rejected += len(summary.rejected)
        outcome.counts.add(summary.counts)
        report.changed_keys |= summary.changed_keys
        if summary.counts.changed and summary.version is not None:
            report.version = summary.version

    async def _feed(
        self, feed: Feed, outcome: EcosystemOutcome, report: SyncReport, _progress: SyncProgress | None
    ) -> None:
        stored = (await self._states.load([feed.location])).get(feed.location)
        fetched = await self._source.feed(feed.location, None if stored is None else stored.validators)
        if fetched.value is None:
            if stored is not None:
                await self._states.save([self._touched(stored)])
            return
        outcome.method = "feed"
        outcome.downloaded_bytes = fetched.size
        try:
            outcome.read = await feed.apply(fetched.value)
        finally:
            self._source.release(fetched.value)
        # Cached results carry enrichment: a new version makes them be computed again.
        report.version = await self._store.advance_version(UpsertCounts(), source=f"feed:{feed.name}")
        await self._states.save([SyncState(feed.location, self._clock.now(), *_pair(fetched.validators))])

    def _touched(self, state: SyncState) -> SyncState:
        return replace(state, last_success=self._clock.now())


def _newer(entries: Iterable[ModifiedId], mark: datetime) -> list[ModifiedId]:
    # Strictly newer: a record at the mark itself was stored by the run that set it.
    return [entry for entry in entries if entry.modified > mark]


def _pair(validators: Validators) -> tuple[str | None, str | None]:
    return validators.etag, validators.last_modified
