"""What a layer holds that SecAPI cannot read yet, so a clean answer can say it did not look there.

Found by name (Java archives) or by sniffing executables (Go, Rust). Java archives are opened (java.py), their
Maven packages kept and what of them has no identity listed; the rest is listed, never parsed,
except a Go executable's build info and a Rust one's cargo-auditable dependency list, whose modules and crates
become packages (what of them is no package is listed).
"""

from __future__ import annotations

import tarfile
from dataclasses import dataclass

from secapi.adapters.catalog.binaries import GO_BINARY, RUST_BINARY, Executable, examine_binary
from secapi.adapters.catalog.gobuildinfo import GoPackages, go_packages
from secapi.adapters.catalog.java import (
    DEFAULT_JAVA_LIMITS,
    JAVA_ARCHIVE,
    is_java_archive,
    read_java_archive,
    too_large,
)
from secapi.adapters.catalog.lockfiles import UNSCANNABLE_ENTRY
from secapi.adapters.catalog.rustaudit import RustPackages
from secapi.domain.inventory import PackageRecord
from secapi.domain.packages import UnscannedItem

GO_MODULE_LOCAL, GO_DEVEL_TOOLCHAIN, GO_MAIN_DEVEL = "go-module-local", "go-devel-toolchain", "go-main-devel"
RPM_WAL = "rpm-wal"
_RPM_WAL_SUFFIX = "/rpmdb.sqlite-wal"
MAX_LISTED = 200
"""Items of one kind listed per layer; a layer of 5,000 jars gets 200 and one item counting the rest."""
_MIN_EXECUTABLE = 64
"""No ELF, PE or Mach-O executable is smaller than its 64-byte ELF header, the smallest of the three."""
_UNREAD = {GO_BINARY: ("a Go executable", "modules"), RUST_BINARY: ("a Rust executable", "crates")}
_PLURALS = {
    GO_BINARY: "Go executables",
    RUST_BINARY: "Rust executables",
    JAVA_ARCHIVE: "Java archives",
    UNSCANNABLE_ENTRY: "lockfile entries that could not be scanned",
}
_MAX_NAMED = 20
"""Local replacements named in one item's reason; the rest are counted."""


@dataclass(frozen=True, slots=True)
class Examined:
    """What one member yields: packages read from it (a Go executable), an item for what was not read, or both."""

    item: UnscannedItem | None = None
    packages: tuple[PackageRecord, ...] | None = None
    located: dict[str, tuple[PackageRecord, ...]] | None = None
    """A Java archive's packages by location: its path, or `<path>/<inner path>` for a nested archive."""
    items: tuple[UnscannedItem, ...] = ()
    """More items, each at its own path (a Java archive's nested archives)."""


def examine_member(tar: tarfile.TarFile, member: tarfile.TarInfo, path: str) -> Examined | None:
    """What a regular file SecAPI reads little of yields; None for any other (reads at most the member itself)."""
    if is_java_archive(path):
        return _java_archive(tar, member, path)
    if path.endswith(_RPM_WAL_SUFFIX):
        return _rpm_wal(path, member.size)
    if member.mode & 0o111 and member.size >= _MIN_EXECUTABLE:
        data = tar.extractfile(member)
        found = examine_binary(data.read) if data is not None else None
        if found is not None:
            return _executable(path, found)
    return None


def _rpm_wal(path: str, size: int) -> Examined | None:
    """rpm checkpoints its SQLite write-ahead log on close, so the database is read without it (rpm/sqlite.py);
    a log left with content means it was not closed cleanly, and what the log holds was not read."""
    if size == 0:
        return None
    reason = (
        f"a write-ahead log of {size:,} bytes beside the rpm database was not applied: "
        "packages installed or removed since rpm's last checkpoint may be missing from this scan"
    )
    return Examined(item=UnscannedItem(path=path, kind=RPM_WAL, reason=reason))


def _java_archive(tar: tarfile.TarFile, member: tarfile.TarInfo, path: str) -> Examined:
    if member.size > DEFAULT_JAVA_LIMITS.max_archive_bytes:
        return Examined(item=too_large(path, member.size), located={})
    data = tar.extractfile(member)
    found = read_java_archive(path, data.read() if data is not None else b"")
    return Examined(located=found.packages, items=found.unscanned)


def _executable(path: str, found: Executable) -> Examined:
    if found.go_build_info is not None:
        go = go_packages(found.go_build_info)
        return Examined(item=_go_note(path, go), packages=go.records)
    if found.rust_packages is not None:
        return Examined(item=_rust_note(path, found.rust_packages), packages=found.rust_packages.records)
    what, parts = _UNREAD[found.kind]
    because = found.unread_because or "it could not be read"
    reason = f"{what}: {because}; the {parts} built into it were not scanned"
    return Examined(item=UnscannedItem(path=path, kind=found.kind, reason=reason))


def _named(items: tuple[str, ...]) -> str:
    """The first `_MAX_NAMED` items joined, the rest counted."""
    more = len(items) - _MAX_NAMED
    return "; ".join(items[:_MAX_NAMED]) + (f"; and {more} more" if more > 0 else "")


def _rust_note(path: str, rust: RustPackages) -> UnscannedItem | None:
    """One item per executable for its crates that are not crates.io releases (no advisory source to match)."""
    if not rust.unmatchable:
        return None
    reason = f"Rust crates not from crates.io (no advisories to match) were not scanned: {_named(rust.unmatchable)}"
    return UnscannedItem(path=path, kind=RUST_BINARY, reason=reason)


def _go_note(path: str, go: GoPackages) -> UnscannedItem | None:
    """One item per executable (items are keyed by path) for what its build info names but is no package."""
    reasons = []
    if go.local_replacements:
        named = _named(go.local_replacements)
        reasons.append(f"Go modules replaced by local directories (no version to match) were not scanned: {named}")
    if go.devel_toolchain is not None:
        reasons.append(
            f"built by the development Go toolchain {go.devel_toolchain!r}, so its standard library was not scanned"
        )
    if go.unversioned_main is not None:
        # Go before 1.24 stamps `(devel)` on every `go build` in a checkout; advisories for the program itself
        # (an old etcd, an old esbuild) then have no version to match, which a clean answer must not hide.
        reasons.append(
            f"its main module {go.unversioned_main} was built without a version ((devel)), "
            "so advisories for the program itself were not checked"
        )
    if go.outside_modules:
        reasons.append(
            "its build info names no main module (built outside module mode), so the packages built into it "
            "other than the standard library are not recorded and were not scanned"
        )
    if not reasons:
        return None
    kind = (
        GO_MODULE_LOCAL
        if go.local_replacements
        else GO_DEVEL_TOOLCHAIN
        if go.devel_toolchain
        else GO_MAIN_DEVEL
        if go.unversioned_main
        else GO_BINARY
    )
    return UnscannedItem(path=path, kind=kind, reason="; ".join(reasons))


def might_be_unread(member: tarfile.TarInfo) -> bool:
    """A cheap first filter on a member header: could `examine_member` list or read it?"""
    if not member.isreg():  # links are listed where their targets are; the rest hold nothing to read
        return False
    name = member.name
    return bool(member.mode & 0o111) or is_java_archive(name) or name.endswith(_RPM_WAL_SUFFIX)


def unlisted_item(kind: str, count: int) -> UnscannedItem:
    """The whole-layer item (empty path) counting what `MAX_LISTED` left out."""
    noun = _PLURALS.get(kind, f"{kind} items")
    return UnscannedItem(path="", kind=kind, reason=f"{count} more {noun} in this layer were not listed")
