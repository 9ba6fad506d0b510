"""Whether a package version is affected by an OSV `affected` entry.

Follows the OSV schema's Evaluation section: a version is affected when it is
listed in `versions` or falls in a range. For a range, events are sorted by
version (`introduced: "0"` lowest) and walked in order: reaching an
`introduced` makes the version vulnerable, a `fixed` at or below it or a
`last_affected` below it makes it safe again. `limit` events cap the range
(the version must be below one of them; `*` is infinity). ECOSYSTEM ranges use
the ecosystem's version order, SEMVER ranges always SemVer order, and GIT
ranges (commit hashes) cannot be evaluated for a version string and are
skipped. The shapes mirror OSV's JSON, so `msgspec.convert` builds them
straight from a record.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cmp_to_key, lru_cache
from typing import Any, Literal

import msgspec

from secapi.domain.versions import SEMVER, VersionScheme, ecosystem_base, scheme_for_ecosystem

EventKind = Literal["introduced", "fixed", "last_affected", "limit"]


class Event(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True, gc=False):
    """One range event; OSV allows exactly one of the four fields per event."""

    introduced: str | None = None
    fixed: str | None = None
    last_affected: str | None = None
    limit: str | None = None

    @property
    def kind_and_version(self) -> tuple[EventKind, str] | None:
        """The event's kind and version, the first set field winning; None when empty."""
        if self.introduced is not None:
            return "introduced", self.introduced
        if self.fixed is not None:
            return "fixed", self.fixed
        if self.last_affected is not None:
            return "last_affected", self.last_affected
        if self.limit is not None:
            return "limit", self.limit
        return None


class Range(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True, gc=False):
    """One OSV range: its type (ECOSYSTEM, SEMVER or GIT) and its events."""

    type: str
    events: tuple[Event, ...] = ()
    repo: str | None = None


class AffectedRanges(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True, gc=False):
    """The version part of one OSV `affected` entry: listed versions and ranges."""

    versions: tuple[str, ...] = ()
    ranges: tuple[Range, ...] = ()


@dataclass(frozen=True, slots=True)
class _CompiledRange:
    scheme: VersionScheme
    # (kind, parsed version), sorted; None stands for introduced "0".
    events: tuple[tuple[EventKind, Any], ...]
    # None: no limit events, so no cap; otherwise parsed limits, None for "*".
    limits: tuple[Any, ...] | None


@dataclass(frozen=True, slots=True)
class _CompiledAffected:
    scheme: VersionScheme
    listed: frozenset[Any]
    ranges: tuple[_CompiledRange, ...]


def _compile_range(scheme: VersionScheme, events: tuple[Event, ...]) -> _CompiledRange:
    steps: list[tuple[EventKind, Any]] = []
    limits: list[Any] = []
    for event in events:
        kind_and_version = event.kind_and_version
        if kind_and_version is None:
            continue
        kind, version = kind_and_version
        if kind == "limit":
            limits.append(None if "*" in version else scheme.parse(version))
        elif kind == "introduced" and version == "0":
            steps.append((kind, None))
        else:
            steps.append((kind, scheme.parse(version)))

    def by_version(left: tuple[EventKind, Any], right: tuple[EventKind, Any]) -> int:
        if left[1] is None:
            return 0 if right[1] is None else -1
        if right[1] is None:
            return 1
        return scheme.compare_parsed(left[1], right[1])

    # A stable sort keeps the record's order between events of equal version.
    steps.sort(key=cmp_to_key(by_version))
    return _CompiledRange(scheme, tuple(steps), tuple(limits) if limits else None)


@lru_cache(maxsize=16384)
def _compile(scheme: VersionScheme, affected: AffectedRanges) -> _CompiledAffected:
    ranges = tuple(
        _compile_range(SEMVER if rng.type == "SEMVER" else scheme, rng.events)
        for rng in affected.ranges
        if rng.type in ("ECOSYSTEM", "SEMVER")
    )
    listed = frozenset(scheme.parse(version) for version in affected.versions)
    return _CompiledAffected(scheme, listed, ranges)


def _in_range(compiled: _CompiledRange, version: str) -> bool:
    compare = compiled.scheme.compare_parsed
    parsed = compiled.scheme.parse(version)
    if compiled.limits is not None and not any(
        limit is None or compare(parsed, limit) < 0 for limit in compiled.limits
    ):
        return False
    vulnerable = False
    for kind, boundary in compiled.events:
        order = 1 if boundary is None else compare(parsed, boundary)
        if order < 0:
            # No event applies above the version. Not a `break`: Maven's order
            # is not transitive on odd strings, so "sorted" may not be monotone.
            continue
        if kind == "introduced":
            vulnerable = True
        elif kind == "fixed" or (kind == "last_affected" and order > 0):
            vulnerable = False
    return vulnerable


def is_affected(ecosystem: str, version: str, affected: AffectedRanges) -> bool:
    """True if `version` of a package in `ecosystem` is affected per OSV's evaluation rules."""
    compiled = _compile(scheme_for_ecosystem(ecosystem), affected)
    if compiled.listed and compiled.scheme.parse(version) in compiled.listed:
        return True
    return any(_in_range(rng, version) for rng in compiled.ranges)


def fixed_versions(affected: AffectedRanges) -> tuple[str, ...]:
    """Versions that fix the issue, from ECOSYSTEM and SEMVER ranges, in record order, once each."""
    found: dict[str, None] = {}
    for rng in affected.ranges:
        if rng.type == "GIT":
            continue
        for event in rng.events:
            if event.fixed is not None:
                found.setdefault(event.fixed)
    return tuple(found)


_PYPI_SEPARATORS = re.compile(r"[-_.]+")
# PyPI names follow PEP 503 (lower case, runs of "-_." become "-"), as OSV.dev
# itself normalises them. Debian policy allows only lower-case names, and
# Alpine (with Wolfi and Chainguard), Composer and NuGet match names without
# regard to case, so those are lower-cased. The rest stay as published: npm,
# RubyGems and Go names are case-sensitive (`JSONStream` and `jsonstream` are
# different npm packages), Cargo.lock and RustSec both carry a crate's
# canonical name, and Maven's `group:artifact` is case-sensitive.
_CASE_INSENSITIVE = frozenset({"debian", "ubuntu", "alpine", "wolfi", "chainguard", "packagist", "nuget"})


def normalize_package_name(ecosystem: str, name: str) -> str:
    """The form of `name` under which an installed package and an advisory's package match."""
    base = ecosystem_base(ecosystem)
    stripped = name.strip()
    if base == "pypi":
        return _PYPI_SEPARATORS.sub("-", stripped).lower()
    if base in _CASE_INSENSITIVE:
        return stripped.lower()
    return stripped
