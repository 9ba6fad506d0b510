"""Haskell: cabal's `cabal.project.freeze` and Stack's `stack.yaml.lock`, packages from Hackage."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping

from secapi.adapters.lockfiles._common import (
    Entry,
    EntryParser,
    StructureError,
    as_mapping,
    child,
    line,
    lines,
    optional_field,
    redact,
    unreadable,
)
from secapi.adapters.lockfiles._yaml import YamlReader
from secapi.domain.packages import Package, UnscannableEntry
from secapi.domain.purl import hackage_purl

ECOSYSTEM = "Hackage"
# `any.aeson ==2.1.2.1`, `aeson ==2.1.2.1`, `setup.Cabal ==3.10.1.0`, `any.base installed`, `zlib -bundled +x`.
_CONSTRAINT = re.compile(r"(?:[A-Za-z0-9-]+:)?(?:[A-Za-z]+\.)?(?P<name>[A-Za-z0-9][A-Za-z0-9-]*)\s*(?P<rest>.*)")
_EXACT = re.compile(r"==\s*(?P<version>\d+(?:\.\d+)*)")
_FLAGS = re.compile(r"(?:[+-][A-Za-z0-9_-]+\s*)+")
_HACKAGE_ID = re.compile(r"(?P<name>[A-Za-z0-9][A-Za-z0-9-]*?)-(?P<version>\d+(?:\.\d+)*)(?:@.*)?")


def _constraint(item: str, where: str) -> Entry:
    found = _CONSTRAINT.fullmatch(item)
    if found is None:
        raise StructureError(where, f"not a constraint: {item!r}")
    name, rest = found["name"], found["rest"].strip()
    exact = _EXACT.fullmatch(rest)
    if exact is not None:
        version = exact["version"]
        return Package(
            name=name, version=version, ecosystem=ECOSYSTEM, purl=hackage_purl(name, version), location=where
        )
    if _FLAGS.fullmatch(rest):
        return None  # flag settings for a package pinned on its own line: not an entry
    if rest == "installed":
        reason = "uses the version installed with GHC (a boot package), which the freeze file does not record"
    else:
        reason = f"constrained by {rest!r}, not pinned to one version"
    return UnscannableEntry(name=name, reason=reason, location=where)


def _constraint_items(content: str) -> Iterator[tuple[int, str]]:
    """(line number, text) of each comma-separated item of every top-level `constraints:` field."""
    inside = False
    for number, text in lines(content):
        code = text.split("--", 1)[0].rstrip()
        if not code.strip():
            continue
        if not code[0].isspace():
            field_name, colon, value = code.partition(":")
            inside = bool(colon) and field_name.strip().lower() == "constraints"
            if not inside:
                continue
            code = value
        elif not inside:
            continue
        for item in code.split(","):
            if item.strip():
                yield number, item.strip()


class CabalFreezeParser(EntryParser):
    """Reads `cabal.project.freeze`; `installed` boot packages, ranges and flag-only packages are unscannable."""

    ecosystem = ECOSYSTEM
    default_filename = "cabal.project.freeze"

    def entries(self, content: str) -> Iterator[Entry]:
        """One entry per version constraint; a package given only flags, never a version, is unscannable."""
        named: set[str] = set()
        flagged: dict[str, str] = {}  # package name -> where its first flag-only line is
        for number, item in _constraint_items(content):
            where = line(number)
            try:
                entry = _constraint(item, where)
            except StructureError as error:
                entry = unreadable(where, item.split()[0], error)
            if entry is None:
                found = _CONSTRAINT.fullmatch(item)
                if found is not None:
                    flagged.setdefault(found["name"], where)
                continue
            named.add(entry.name)
            yield entry
        for name, where in flagged.items():
            if name not in named:
                reason = "only flags are set for it; no constraint pins its version"
                yield UnscannableEntry(name=name, reason=reason, location=where)


def _stack_package(raw: Mapping[str, object], where: str) -> Entry:
    completed = as_mapping(raw.get("completed") or {}, child(where, "completed"))
    hackage = optional_field(completed, "hackage", child(where, "completed"))
    if hackage is not None:
        found = _HACKAGE_ID.fullmatch(hackage)
        if found is None:
            raise StructureError(child(where, "completed.hackage"), f"not a name-version: {hackage!r}")
        name, version = found["name"], found["version"]
        return Package(
            name=name, version=version, ecosystem=ECOSYSTEM, purl=hackage_purl(name, version), location=where
        )
    name = optional_field(completed, "name", where) or "(an extra-dep without a name)"
    source = next((key for key in ("git", "url", "archive") if key in completed), None)
    if source is None:
        raise StructureError(where, "expected completed.hackage, git, url or archive")
    target = optional_field(completed, source, child(where, "completed"))
    reason = f"installed from {source} ({redact(target or '?')}), not a release published on Hackage"
    return UnscannableEntry(name=name, reason=reason, location=where)


class StackLockParser(EntryParser):
    """Reads `stack.yaml.lock`: Hackage extra-deps are scanned; each snapshot is reported, its packages unlisted."""

    ecosystem = ECOSYSTEM
    default_filename = "stack.yaml.lock"

    def entries(self, content: str) -> Iterator[Entry]:
        """The `packages` extra-deps, then one entry per resolver snapshot."""
        reader = YamlReader(content)
        for key, where in reader.document():
            if key not in ("packages", "snapshots"):
                reader.skip()
                continue
            items = reader.value(where)
            if isinstance(items, str) and not items:
                continue  # `packages: []` written as empty
            if not isinstance(items, list):
                raise StructureError(where, f"expected a list under {key!r}")
            for index, raw in enumerate(items):
                at = f"{key}[{index}]"
                try:
                    entry = as_mapping(raw, at)
                    yield _stack_package(entry, at) if key == "packages" else _snapshot(entry, at)
                except StructureError as error:
                    yield unreadable(at, None, error)


def _snapshot(raw: Mapping[str, object], where: str) -> UnscannableEntry:
    original = raw.get("original")
    label = original if isinstance(original, str) else None
    if isinstance(original, dict):
        url = original.get("url")
        label = url if isinstance(url, str) else None
    name = label or "(a snapshot)"
    reason = "a Stackage snapshot: the packages it provides are not listed in stack.yaml.lock, so they are not scanned"
    return UnscannableEntry(name=redact(name), reason=reason, location=where)
