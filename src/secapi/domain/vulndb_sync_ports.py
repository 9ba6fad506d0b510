"""The types and ports of `secapi vulndb sync` (the service is `secapi.domain.services.vulndb_sync`).

A `SyncSource` is OSV's bucket layout; `SyncStateStore` keeps what was fetched (validators, high-water
marks); `SyncLock` lets one sync run at a time; `Feed` is an extra file kept current the same way.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Iterator, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Generic, Protocol, TypeVar

from secapi.domain.advisories import UpsertCounts, VulnDbVersion
from secapi.domain.errors import DomainError
from secapi.domain.osv_imports import RawRecord

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
LAST_FULL_SUCCESS = "run:last_success"
"""The `SyncStateStore` resource whose `last_success` is when the last run in which every ecosystem and feed
succeeded ended. Kept with the data, not in a process, so every process (the API too) and a restarted
worker export it. Not a URL or a path of any source, so no source's state can take its place."""


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


async def last_full_success(states: SyncStateStore) -> datetime | None:
    """When the last sync run in which every ecosystem and feed succeeded ended; None if none ever did."""
    stored = (await states.load([LAST_FULL_SUCCESS])).get(LAST_FULL_SUCCESS)
    return None if stored is None else stored.last_success


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
    every release's records there too), else every `Debian:*` directory published. Unpublished names go,
    and so do names that are not one path segment (`..`, `a/b`): a mirror's list must not lead elsewhere.
    """
    if published is None:
        return list(dict.fromkeys(name for name in wanted if _one_segment(name)))
    available = list(dict.fromkeys(name.strip() for name in published if _one_segment(name.strip())))
    listed = set(available)
    chosen: list[str] = []
    for name in wanted:
        if name in listed:
            chosen.append(name)
        elif ":" not in name:
            chosen.extend(other for other in available if other.startswith(f"{name}:"))
    return list(dict.fromkeys(chosen))


def _one_segment(name: str) -> bool:
    return bool(name) and "/" not in name and "\\" not in name and name not in (".", "..")
