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

Reading a range. The schema's sort leaves events at one version unordered,
and real records rely on a reading of their own, so SecAPI's rule is:

1. When the events come as pairs in record order (each `introduced`
   followed by the `fixed` or `last_affected` closing it at or above it, an
   open-ended `introduced` last: the shape of nearly every real record), the range is
   the union of those intervals. `introduced X, fixed X` is empty
   (RUSTSEC-2024-0399 writes rustls' unaffected branch so); intervals that
   touch or overlap join (PYSEC-2023-72 lists `[3.1.1, 3.2.0)` after
   `[3.2.0, 3.2.2)`, so pyspark 3.2.0 and 3.2.1 are affected; PYSEC-2021-114
   overlaps `[0, 2.11.6)` with `[2.11, 2.11.7)`). For disjoint intervals this
   is exactly the schema's sorted walk.
2. Any other shape takes the schema's sorted walk, where an `introduced X`
   directly followed by `fixed X` is still dropped as empty, and at one
   version `fixed` sorts before `introduced` before `last_affected`.

docs/osv-range-agreement.md measures this rule against the versions real
records enumerate.

An ecosystem with no known version order (`has_version_order` is False) is
never given a guessed one: its ECOSYSTEM ranges are not evaluated and only the
record's explicit `versions` list (compared as exact strings) matches; SEMVER
ranges still apply, their order being SemVer by definition. Results say so.
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
    # (kind, parsed version), sorted; None stands for introduced "0". Empty when `intervals` is used.
    events: tuple[tuple[EventKind, Any], ...]
    # None: no limit events, so no cap; otherwise parsed limits, None for "*".
    limits: tuple[Any, ...] | None
    # Rule 1: (start or None for "0", end or None for open, end included); None when rule 2 applies.
    intervals: tuple[tuple[Any, Any, bool], ...] | None = None


@dataclass(frozen=True, slots=True)
class _CompiledAffected:
    scheme: VersionScheme
    listed: frozenset[Any]
    """Parsed listed versions; exact strings when the ecosystem has no order."""
    ranges: tuple[_CompiledRange, ...]
    ordered: bool


# Rule 2 of the module docstring: at one version, closing a range comes before opening the next.
_TIE_ORDER: dict[EventKind, int] = {"fixed": 0, "introduced": 1, "last_affected": 2, "limit": 3}


def _without_empty_intervals(scheme: VersionScheme, events: tuple[Event, ...]) -> list[tuple[EventKind, str]]:
    """The events in record order, minus `introduced X` + `fixed X` pairs (rule 1 of the module docstring)."""
    present = [kv for event in events if (kv := event.kind_and_version) is not None]
    kept: list[tuple[EventKind, str]] = []
    position = 0
    while position < len(present):
        kind, version = present[position]
        if kind == "introduced" and position + 1 < len(present):
            next_kind, next_version = present[position + 1]
            if next_kind == "fixed" and (version == next_version or scheme.compare(version, next_version) == 0):
                position += 2
                continue
        kept.append((kind, version))
        position += 1
    return kept


def _paired_intervals(scheme: VersionScheme, events: tuple[Event, ...]) -> tuple[tuple[Any, Any, bool], ...] | None:
    """Rule 1 of the module docstring: the intervals when the events are pairs in record order, else None."""
    present = [kv for event in events if (kv := event.kind_and_version) is not None and kv[0] != "limit"]
    openers, closers = present[0::2], present[1::2]
    if not present or any(kind != "introduced" for kind, _ in openers):
        return None
    if any(kind not in ("fixed", "last_affected") for kind, _ in closers):
        return None
    intervals = []
    for n, (_, start) in enumerate(openers):
        lower = None if start == "0" else scheme.parse(start)
        if n == len(closers):
            intervals.append((lower, None, False))
            continue
        kind, end = closers[n]
        upper = scheme.parse(end)
        if lower is not None and scheme.compare_parsed(lower, upper) > 0:
            return None  # a pair closing below its start is not a pair: the events need the sorted walk
        intervals.append((lower, upper, kind == "last_affected"))
    return tuple(intervals)


def _compile_range(scheme: VersionScheme, events: tuple[Event, ...]) -> _CompiledRange:
    limits: list[Any] = []
    for event in events:
        if event.limit is not None and event.kind_and_version == ("limit", event.limit):
            limits.append(None if "*" in event.limit else scheme.parse(event.limit))
    intervals = _paired_intervals(scheme, events)
    if intervals is not None:
        return _CompiledRange(scheme, (), tuple(limits) if limits else None, intervals)
    steps: list[tuple[EventKind, Any]] = []
    for kind, version in _without_empty_intervals(scheme, events):
        if kind == "limit":
            continue
        if kind == "introduced" and version == "0":
            steps.append((kind, None))
        else:
            steps.append((kind, scheme.parse(version)))

    def by_version(left: tuple[EventKind, Any], right: tuple[EventKind, Any]) -> int:
        if left[1] is None or right[1] is None:
            order = (right[1] is None) - (left[1] is None)
        else:
            order = scheme.compare_parsed(left[1], right[1])
        return order or _TIE_ORDER[left[0]] - _TIE_ORDER[right[0]]

    steps.sort(key=cmp_to_key(by_version))
    return _CompiledRange(scheme, tuple(steps), tuple(limits) if limits else None)


@lru_cache(maxsize=16384)
def _compile(scheme: VersionScheme, affected: AffectedRanges) -> _CompiledAffected:
    ordered = scheme.ordered
    evaluable = ("ECOSYSTEM", "SEMVER") if ordered else ("SEMVER",)
    ranges = tuple(
        _compile_range(SEMVER if rng.type == "SEMVER" else scheme, rng.events)
        for rng in affected.ranges
        if rng.type in evaluable
    )
    listed = frozenset(scheme.parse(v) if ordered else v.strip() for v in affected.versions)
    return _CompiledAffected(scheme, listed, ranges, ordered)


def _in_range(compiled: _CompiledRange, version: str) -> bool:
    compare = compiled.scheme.compare_parsed
    parsed = compiled.scheme.parse(version)
    if compiled.limits is not None and not any(
        limit is None or compare(parsed, limit) < 0 for limit in compiled.limits
    ):
        return False
    if compiled.intervals is not None:
        return any(
            (lower is None or compare(parsed, lower) >= 0)
            and (upper is None or compare(parsed, upper) < (1 if included else 0))
            for lower, upper, included in compiled.intervals
        )
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
    if compiled.listed:
        key = compiled.scheme.parse(version) if compiled.ordered else version.strip()
        if key in compiled.listed:
            return True
    return any(_in_range(rng, version) for rng in compiled.ranges)


def fixed_versions(
    affected: AffectedRanges, ecosystem: str | None = None, installed: str | None = None
) -> tuple[str, ...]:
    """Versions that fix the issue, from ECOSYSTEM and SEMVER ranges, once each.

    Given the ecosystem and the installed version, the fixes above it come
    first, nearest first (urllib3 1.24.1: `1.26.17` before `2.0.6`), then the
    fixes on other branches; otherwise (or with no version order) record order.
    """
    found: dict[str, None] = {}
    for rng in affected.ranges:
        if rng.type == "GIT":
            continue
        for event in rng.events:
            if event.fixed is not None:
                found.setdefault(event.fixed)
    fixes = tuple(found)
    if ecosystem is None or installed is None or len(fixes) < 2:
        return fixes
    scheme = scheme_for_ecosystem(ecosystem)
    if not scheme.ordered:
        return fixes
    current = scheme.parse(installed)

    def nearest_upgrade_first(left: str, right: str) -> int:
        left_key, right_key = scheme.parse(left), scheme.parse(right)
        left_above = scheme.compare_parsed(left_key, current) > 0
        right_above = scheme.compare_parsed(right_key, current) > 0
        if left_above != right_above:
            return -1 if left_above else 1
        return scheme.compare_parsed(left_key, right_key)

    return tuple(sorted(fixes, key=cmp_to_key(nearest_upgrade_first)))


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
