"""OSV advisories as the domain keeps them: what matching needs, plus the full record.

`secapi.domain.osv_records.parse_osv_record` builds them from OSV JSON.
"""

from __future__ import annotations

from datetime import datetime

import msgspec

from secapi.domain.osv_ranges import AffectedRanges
from secapi.domain.severity import Severity


class AffectedEntry(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One `affected[]` item: the package it names and the versions it covers."""

    ecosystem: str
    name: str
    """Normalised per ecosystem (PEP 503 for PyPI, ...), as lookups use it."""
    ranges: AffectedRanges


class Advisory(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """An OSV record reduced to what findings show, plus the record itself."""

    id: str
    modified: datetime
    published: datetime | None = None
    withdrawn: datetime | None = None
    aliases: tuple[str, ...] = ()
    summary: str = ""
    severity: Severity = Severity.UNKNOWN
    score: float | None = None
    vector: str | None = None
    references: tuple[str, ...] = ()
    affected: tuple[AffectedEntry, ...] = ()
    informational: str | None = None
    """RustSec's `informational` kind (`unmaintained`, `unsound`, `notice`): not a vulnerability; None otherwise."""
    record: bytes = b"{}"
    """The OSV record's JSON exactly as published (bytes: no re-encoding, invisible to the GC)."""


class OsvRecordError(ValueError):
    """A record that does not follow the OSV schema; `record_id` is None when even the id is missing."""

    def __init__(self, record_id: str | None, reason: str) -> None:
        self.record_id = record_id
        self.reason = reason
        super().__init__(f"{record_id or '<no id>'}: {reason}")


def normalize_ecosystem(ecosystem: str) -> str:
    """The ecosystem key lookups use: OSV's name, without Ubuntu's `:LTS` / `:Pro` qualifiers, and Red Hat's
    cut to product and major (`Red Hat:enterprise_linux:9::appstream` → `Red Hat:enterprise_linux:9`): an
    installed package's rpmdb entry does not say which repository stream it came from."""
    parts = ecosystem.strip().split(":")
    if parts[0] == "Ubuntu":
        parts = [p for p in parts if p not in ("LTS", "Pro", "FIPS")]
    elif parts[0] == "Red Hat" and len(parts) >= 3:
        parts = [*parts[:2], parts[2].partition(".")[0]]
    return ":".join(parts)


class AdvisorySummary(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """The part of an advisory a finding shows."""

    id: str
    aliases: tuple[str, ...] = ()
    summary: str = ""
    severity: Severity = Severity.UNKNOWN
    score: float | None = None
    vector: str | None = None
    references: tuple[str, ...] = ()
    published: datetime | None = None
    modified: datetime | None = None
    informational: str | None = None


class RelatedSeverity(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """The severity of an imported record, with its aliases: what records sharing an alias can borrow."""

    id: str
    aliases: tuple[str, ...] = ()
    severity: Severity = Severity.UNKNOWN
    score: float | None = None
    vector: str | None = None


class Candidate(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """An affected entry whose (ecosystem, name) matches an installed package; versions decide."""

    ecosystem: str
    name: str
    ranges: AffectedRanges
    advisory: AdvisorySummary


class UpsertCounts(msgspec.Struct, kw_only=True):
    """What one batch (or a whole import) changed in the store."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    withdrawn: int = 0
    changed_keys: set[tuple[str, str]] = msgspec.field(default_factory=set)
    """(ecosystem, normalised name) of every affected entry of the records added, updated or withdrawn,
    the replaced versions' entries included (a package dropped from a record must be re-matched too)."""

    @property
    def changed(self) -> int:
        """Records added or updated."""
        return self.added + self.updated

    def add(self, other: UpsertCounts) -> None:
        """Accumulate another batch's counts."""
        self.added += other.added
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.withdrawn += other.withdrawn
        self.changed_keys |= other.changed_keys


class VulnDbVersion(msgspec.Struct, frozen=True, kw_only=True):
    """The vulnerability database's version: advanced by every import that changes data."""

    version: int
    updated_at: datetime | None
    advisories: int = 0
    ecosystems: dict[str, int] | None = None
    """Non-withdrawn advisories per ecosystem (as stored, e.g. `Debian:12`); None when not known for this version."""
