"""Lockfiles: the parser port, what a parse yields, and why a lockfile is refused."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from fnmatch import fnmatchcase
from typing import Protocol

import msgspec

from secapi.domain.errors import InvalidInput
from secapi.domain.packages import Package, UnscannableEntry, UnscannedItem
from secapi.domain.text import NUL, without_nul

LOCKFILE_NAMES: frozenset[str] = frozenset(
    {
        "Cargo.lock",
        "Gemfile.lock",
        "Package.resolved",
        "Pipfile.lock",
        "bun.lock",
        "buildscript-gradle.lockfile",
        "cabal.project.freeze",
        "composer.lock",
        "conan.lock",
        "go.mod",
        "gradle.lockfile",
        "mix.lock",
        "npm-shrinkwrap.json",
        "package-lock.json",
        "packages.config",
        "packages.lock.json",
        "pnpm-lock.yaml",
        "poetry.lock",
        "pom.xml",
        "pubspec.lock",
        "renv.lock",
        "stack.yaml.lock",
        "uv.lock",
        "verification-metadata.xml",
        "yarn.lock",
    }
)
"""The lockfile formats SecAPI reads that have one fixed base name (the parser registry maps each to its parser;
the `secapi scan` client recognises a lockfile by the same names)."""
# pip has no fixed name; these are the spellings projects use (`requirements-dev.txt`, `dev-requirements.txt`, ...).
REQUIREMENTS_PATTERNS = (
    "requirements.txt",
    "requirements-*.txt",
    "requirements_*.txt",
    "requirements.*.txt",
    "*-requirements.txt",
    "*_requirements.txt",
    "*.requirements.txt",
)
# .NET names the runtime manifest after the application (`Contoso.Api.deps.json`).
DEPS_JSON_PATTERN = "*.deps.json"
SUPPORTED_LOCKFILES: tuple[str, ...] = (
    *sorted(LOCKFILE_NAMES, key=str.lower),
    *REQUIREMENTS_PATTERNS,
    DEPS_JSON_PATTERN,
)
COMPANION_NAMES: dict[str, frozenset[str]] = {"go.mod": frozenset({"go.sum"})}
"""Files that complete a lockfile when sent with it, by the lockfile's base name (`go.sum` for `go.mod`)."""


def lockfile_base_name(filename: str) -> str:
    """The last component of a path, whichever separator the client used."""
    return filename.replace("\\", "/").rsplit("/", 1)[-1]


def is_lockfile_name(filename: str) -> bool:
    """Whether SecAPI reads a lockfile of this name (its base name, case-sensitively, as the parsers match it)."""
    name = lockfile_base_name(filename)
    if name in LOCKFILE_NAMES:
        return True
    return any(fnmatchcase(name, pattern) for pattern in (*REQUIREMENTS_PATTERNS, DEPS_JSON_PATTERN))


class ParsedLockfile(msgspec.Struct, frozen=True, kw_only=True):
    """The packages one lockfile pins, in one OSV ecosystem, plus what could not be pinned."""

    ecosystem: str
    packages: tuple[Package, ...] = ()
    unscannable: tuple[UnscannableEntry, ...] = ()
    unscanned: tuple[UnscannedItem, ...] = ()
    """What the file cannot show at all (e.g. transitive modules of a pre-1.17 go.mod without its go.sum)."""

    @classmethod
    def of(
        cls,
        ecosystem: str,
        packages: Iterable[Package],
        unscannable: Iterable[UnscannableEntry] = (),
        unscanned: Iterable[UnscannedItem] = (),
    ) -> ParsedLockfile:
        """Build a result with packages deduplicated by (name, version) and sorted.

        The first occurrence of a duplicate wins, so its `location` is the earliest one. A package
        with a NUL character in any field becomes an unscannable entry (no released package has one,
        and no database can store one), whichever parser read it; NULs in reported text become U+FFFD.
        """
        unique: dict[tuple[str, str], Package] = {}
        refused: list[UnscannableEntry] = []
        for package in packages:
            if _holds_nul(package):
                refused.append(_nul_entry(package))
            else:
                unique.setdefault((package.name, package.version), package)
        entries = dict.fromkeys(_printable(entry) for entry in (*unscannable, *refused))  # no repeats, file order
        return cls(
            ecosystem=ecosystem,
            packages=tuple(unique[key] for key in sorted(unique)),
            unscannable=tuple(entries),
            unscanned=tuple(dict.fromkeys(_printable_item(item) for item in unscanned)),
        )


def _holds_nul(package: Package) -> bool:
    texts = (package.name, package.version, package.purl, package.location, package.source_name, package.source_version)
    return any(text is not None and NUL in text for text in texts)


def _nul_entry(package: Package) -> UnscannableEntry:
    field = "name" if NUL in package.name else "version" if NUL in package.version else "metadata"
    return UnscannableEntry(
        name=without_nul(package.name),
        reason=f"its {field} contains a NUL character (U+0000, shown as \ufffd), which no released package has",
        location=None if package.location is None else without_nul(package.location),
    )


def _printable(entry: UnscannableEntry) -> UnscannableEntry:
    if NUL not in entry.name and NUL not in entry.reason and NUL not in (entry.location or ""):
        return entry
    location = None if entry.location is None else without_nul(entry.location)
    return UnscannableEntry(name=without_nul(entry.name), reason=without_nul(entry.reason), location=location)


def _printable_item(item: UnscannedItem) -> UnscannedItem:
    if NUL not in item.path and NUL not in item.reason and NUL not in item.kind:
        return item
    return UnscannedItem(path=without_nul(item.path), kind=without_nul(item.kind), reason=without_nul(item.reason))


class LockfileParser(Protocol):
    """Reads the text of one lockfile format into the packages it pins."""

    def parse(self, content: str) -> ParsedLockfile:
        """Parse `content`; raise `MalformedLockfile` when it is not valid for the format."""
        ...


class LockfileError(InvalidInput):
    """A lockfile that SecAPI cannot turn into packages (a 422 at the HTTP edge)."""


class UnsupportedLockfile(LockfileError):
    """The file name is not one of the lockfile formats SecAPI reads."""

    def __init__(self, filename: str, supported: Sequence[str]) -> None:
        self.filename = filename
        self.supported = tuple(supported)
        message = f"{filename!r} is not a supported lockfile; supported names are: " + ", ".join(self.supported)
        super().__init__(message, field="filename")


class MalformedLockfile(LockfileError):
    """The lockfile's name is supported but its content does not follow the format."""

    def __init__(self, filename: str, location: str | None, reason: str) -> None:
        self.filename = filename
        self.location = location
        self.reason = reason
        where = f" at {location}" if location else ""
        super().__init__(f"{filename} is malformed{where}: {reason}", field="content")


class EmptyLockfile(MalformedLockfile):
    """The lockfile has no content at all: refused rather than answered "no packages, no vulnerabilities"."""

    def __init__(self, filename: str) -> None:
        super().__init__(filename, None, "the file is empty")
        self.args = (f"the file is empty: {filename} has no content, so there is nothing to scan",)
