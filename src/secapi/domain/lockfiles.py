"""Lockfiles: the parser port, what a parse yields, and why a lockfile is refused."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

import msgspec

from secapi.domain.errors import InvalidInput
from secapi.domain.packages import Package, UnscannableEntry, UnscannedItem


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

        The first occurrence of a duplicate wins, so its `location` is the earliest one.
        """
        unique: dict[tuple[str, str], Package] = {}
        for package in packages:
            unique.setdefault((package.name, package.version), package)
        entries = dict.fromkeys(unscannable)  # drop exact repeats, keep file order
        return cls(
            ecosystem=ecosystem,
            packages=tuple(unique[key] for key in sorted(unique)),
            unscannable=tuple(entries),
            unscanned=tuple(dict.fromkeys(unscanned)),
        )


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
