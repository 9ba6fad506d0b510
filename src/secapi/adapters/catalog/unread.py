"""What a layer holds that SecAPI cannot read yet, so a clean answer can say it did not look there.

Found by name (RPM databases, Java archives) or by sniffing executables (Go, Rust); listed, never parsed,
except a Go ELF executable's build info, whose modules become packages (what of it is no package is listed).
"""

from __future__ import annotations

import tarfile
from dataclasses import dataclass

from secapi.adapters.catalog.binaries import GO_BINARY, RUST_BINARY, Executable, examine_binary
from secapi.adapters.catalog.gobuildinfo import GoPackages, go_packages
from secapi.domain.inventory import PackageRecord
from secapi.domain.packages import UnscannedItem

RPM_DB, JAVA_ARCHIVE = "rpm-db", "java-archive"
GO_MODULE_LOCAL, GO_DEVEL_TOOLCHAIN = "go-module-local", "go-devel-toolchain"
MAX_LISTED = 200
"""Items of one kind listed per layer; a layer of 5,000 jars gets 200 and one item counting the rest."""
RPM_DATABASES = {
    "var/lib/rpm/Packages": "Berkeley DB",
    "var/lib/rpm/rpmdb.sqlite": "SQLite",
    "usr/lib/sysimage/rpm/Packages.db": "NDB",
    "usr/lib/sysimage/rpm/rpmdb.sqlite": "SQLite",
}
RPM_TAILS = ("/Packages", "/Packages.db", "/rpmdb.sqlite")
JAVA_ARCHIVES = (".jar", ".war", ".ear")
_MIN_EXECUTABLE = 64
"""No ELF, PE or Mach-O executable is smaller than its 64-byte ELF header, the smallest of the three."""
_REASONS = {
    RUST_BINARY: "a Rust executable with a cargo-auditable dependency list: Rust binaries are not read yet, "
    "so the crates built into it were not scanned",
    JAVA_ARCHIVE: "a Java archive: archives are not opened yet, so the libraries in it were not scanned",
}
_PLURALS = {GO_BINARY: "Go executables", RUST_BINARY: "Rust executables", JAVA_ARCHIVE: "Java archives"}
_MAX_NAMED = 20
"""Local replacements named in one item's reason; the rest are counted."""


@dataclass(frozen=True, slots=True)
class Examined:
    """What one member yields: packages read from it (a Go executable), an item for what was not read, or both."""

    item: UnscannedItem | None = None
    packages: tuple[PackageRecord, ...] | None = None


def examine_member(tar: tarfile.TarFile, member: tarfile.TarInfo, path: str) -> Examined | None:
    """What a regular file SecAPI reads little of yields; None for any other (reads at most the member itself)."""
    if path in RPM_DATABASES:
        reason = (
            f"an RPM database ({RPM_DATABASES[path]}): RPM databases are not read yet, "
            "so the packages it lists were not scanned"
        )
        return Examined(item=UnscannedItem(path=path, kind=RPM_DB, reason=reason))
    if path.endswith(JAVA_ARCHIVES):
        return Examined(item=UnscannedItem(path=path, kind=JAVA_ARCHIVE, reason=_REASONS[JAVA_ARCHIVE]))
    if member.mode & 0o111 and member.size >= _MIN_EXECUTABLE:
        data = tar.extractfile(member)
        found = examine_binary(data.read) if data is not None else None
        if found is not None:
            return _executable(path, found)
    return None


def _executable(path: str, found: Executable) -> Examined:
    if found.go_build_info is not None:
        go = go_packages(found.go_build_info)
        return Examined(item=_go_note(path, go), packages=go.records)
    if found.unread_because is not None:
        reason = f"a Go executable: {found.unread_because}; the modules built into it were not scanned"
        return Examined(item=UnscannedItem(path=path, kind=found.kind, reason=reason))
    return Examined(item=UnscannedItem(path=path, kind=found.kind, reason=_REASONS[found.kind]))


def _go_note(path: str, go: GoPackages) -> UnscannedItem | None:
    """One item per executable (items are keyed by path) for what its build info names but is no package."""
    reasons = []
    if go.local_replacements:
        named = "; ".join(go.local_replacements[:_MAX_NAMED])
        more = len(go.local_replacements) - _MAX_NAMED
        named += f"; and {more} more" if more > 0 else ""
        reasons.append(f"Go modules replaced by local directories (no version to match) were not scanned: {named}")
    if go.devel_toolchain is not None:
        reasons.append(
            f"built by the development Go toolchain {go.devel_toolchain!r}, so its standard library was not scanned"
        )
    if not reasons:
        return None
    kind = GO_MODULE_LOCAL if go.local_replacements else GO_DEVEL_TOOLCHAIN
    return UnscannedItem(path=path, kind=kind, reason="; ".join(reasons))


def might_be_unread(member: tarfile.TarInfo) -> bool:
    """A cheap first filter on a member header: could `examine_member` list or read it?"""
    if not member.isreg():  # links are listed where their targets are; the rest hold nothing to read
        return False
    name = member.name
    return bool(member.mode & 0o111) or name.endswith(JAVA_ARCHIVES) or name.endswith(RPM_TAILS)


def unlisted_item(kind: str, count: int) -> UnscannedItem:
    """The whole-layer item (empty path) counting what `MAX_LISTED` left out."""
    noun = _PLURALS.get(kind, f"{kind} items")
    return UnscannedItem(path="", kind=kind, reason=f"{count} more {noun} in this layer were not listed")
