"""Packages found in a lockfile or an image: what the matcher looks up."""

from __future__ import annotations

import msgspec


class Package(msgspec.Struct, frozen=True, kw_only=True):
    """One installed package: an OSV ecosystem, a name and an exact version.

    `ecosystem` uses OSV ecosystem names (`PyPI`, `npm`, `Debian:12`, ...).
    For distro packages `source_name`/`source_version` carry the source
    package (dpkg `Source:`, apk origin) that distro advisories are keyed by.
    """

    name: str
    version: str
    ecosystem: str
    purl: str | None = None
    source_name: str | None = None
    source_version: str | None = None
    location: str | None = None
    """Where it was found: a lockfile path (`packages/node_modules/x`) or an image layer digest."""


class UnscannableEntry(msgspec.Struct, frozen=True, kw_only=True):
    """A lockfile entry that names a package but no exact version (e.g. `flask>=2`)."""

    name: str
    reason: str
    location: str | None = None
