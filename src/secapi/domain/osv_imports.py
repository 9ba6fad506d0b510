"""What an import of OSV records reads, refuses and reports (shared by the importer, the sync and the readers)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from secapi.domain.advisories import UpsertCounts, VulnDbVersion


@dataclass(frozen=True, slots=True)
class RawRecord:
    """One record as read from a source: its JSON bytes (or a decoded object), or why it could not be read."""

    source: str
    data: bytes | dict[str, Any] | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Rejection:
    """A record the import refused."""

    source: str
    record_id: str | None
    reason: str


@dataclass(slots=True)
class ImportSummary:
    """What an import did."""

    counts: UpsertCounts = field(default_factory=UpsertCounts)
    rejected: list[Rejection] = field(default_factory=list)
    read: int = 0
    version: VulnDbVersion | None = None
    newest_modified: datetime | None = None
    """The latest `modified` among the records read (a sync's high-water mark after importing a whole dump)."""

    @property
    def changed_keys(self) -> set[tuple[str, str]]:
        """(ecosystem, normalised name) keys of every affected entry the import added, updated or withdrawn."""
        return self.counts.changed_keys


class RecordImporter(Protocol):
    """Stores records read from a source (`VulnDbImporter`); what `VulnDbSync` hands its downloads to."""

    async def run(
        self,
        records: Iterable[RawRecord],
        *,
        source: str,
        progress: Callable[[int], object] | None = None,
    ) -> ImportSummary:
        """Import every record, rejecting malformed ones with a reason; advance the version if anything changed."""
        ...
