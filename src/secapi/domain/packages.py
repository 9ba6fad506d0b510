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
    """An entry that names a package SecAPI could not scan: no exact version (`flask>=2`), a local path,
    a git source, a line it could not parse. `location` says where (`line 12`, `packages/foo`)."""

    name: str
    reason: str
    location: str | None = None


class UnscannedItem(msgspec.Struct, frozen=True, kw_only=True):
    """Content that was seen but not looked into, so no finding can come from it.

    A Rust binary, a Go binary whose build info was not read,
    a Go module replaced by a local directory, a Go main module or standard library
    without a version (`(devel)`), a Java archive, an OS with no known advisories, or
    the transitive modules a pre-1.17 `go.mod` does not list. `kind` is a short
    stable token (`go-binary`, `go-module-local`, `go-devel-toolchain`, `go-main-devel`,
    `rust-binary`, `java-archive`, `unknown-os`, `go-transitive`, ...); `reason`
    a sentence.
    """

    path: str
    kind: str
    reason: str
